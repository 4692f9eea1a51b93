#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (README: "make test").
#   1. installs what the integration tests need on a fresh Debian machine
#      (ansible-core, postgresql, a Vault 1.14.2 server built from the Go
#      module proxy; see scripts/install-test-deps.sh),
#   2. fails when api/api.gen.go is not what openapi.yaml generates,
#   3. vets, and
#   4. runs every test with ROSTER_REQUIRE_INTEGRATION=1: a missing
#      dependency fails a test instead of skipping it.
# Extra arguments go to `go test` (e.g. -run TestEndToEnd).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

eval "$(scripts/install-test-deps.sh --env)"
export ROSTER_PG_BIN ROSTER_VAULT_BIN

scripts/check-generated.sh
go vet ./...
ROSTER_REQUIRE_INTEGRATION=1 go test -race -count=1 -timeout 45m ./... "$@"
