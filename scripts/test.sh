#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (README: "make test").
#   1. installs what the integration tests need on a fresh Debian machine
#      (ansible-core, postgresql, slapd, a Vault 1.14.2 server built from
#      the Go module proxy, the modules of the OIDC test provider; see
#      scripts/install-test-deps.sh),
#   2. fails when api/api.gen.go or internal/client/client.gen.go is not
#      what openapi.yaml generates,
#   3. vets, and
#   4. runs every test with ROSTER_REQUIRE_INTEGRATION=1: a missing
#      dependency fails a test instead of skipping it, and without the
#      variables that choose trusted CAs, which CI and development machines
#      export and users' machines lack (a bug hidden by AWS_CA_BUNDLE once
#      reached main). testenv.Main, in a package's TestMain, removes the same
#      list when `go test` is run by hand (internal/testenv/userworld.go);
#   5. runs every fuzz target for a short, fixed time (scripts/fuzz.sh): an
#      input that fails one fails the build.
# Extra arguments go to `go test` (e.g. -run TestEndToEnd), and then the
# fuzz targets are not run: a run of some tests is not CI's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

eval "$(scripts/install-test-deps.sh --env)"
export ROSTER_PG_BIN ROSTER_VAULT_BIN ROSTER_SLAPD_BIN ROSTER_NGIRCD_BIN ROSTER_RSYSLOGD_BIN

scripts/check-generated.sh
go vet ./...
env -u AWS_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR -u REQUESTS_CA_BUNDLE \
	-u CURL_CA_BUNDLE -u NIX_SSL_CERT_FILE \
	ROSTER_REQUIRE_INTEGRATION=1 go test -race -count=1 -timeout 45m ./... "$@"
if [ $# -eq 0 ]; then
	scripts/fuzz.sh
fi
