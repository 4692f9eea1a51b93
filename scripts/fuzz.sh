#!/usr/bin/env bash
# Runs every Go fuzz target (every "func FuzzX(f *testing.F)" in a _test.go
# file) for a short, fixed time each: one `go test -fuzz` per target, as Go
# requires. A failure fails the script; Go has then written the input to
# <package>/testdata/fuzz/FuzzX/, where the next `go test` runs it as a
# failing test until it is fixed. scripts/test.sh (make test) runs this
# after the tests; `make fuzz` runs it alone.
#   scripts/fuzz.sh                       every target, 10s each
#   FUZZTIME=2m scripts/fuzz.sh           longer
#   scripts/fuzz.sh ./sources/construct   the targets of some packages
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime=${FUZZTIME:-10s}

# The targets, as "package target" lines, found without building anything.
targets=$(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "${@:-.}" |
	sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sed -E 's#^\./##; s#^#./#' | sort -u)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# fuzz_one fuzzes one target. As scripts/test.sh runs the tests: without
# the variables that choose trusted CAs. -fuzzminimizetime bounds the time
# a failure adds.
fuzz_one() {
	env -u AWS_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR -u REQUESTS_CA_BUNDLE \
		-u CURL_CA_BUNDLE -u NIX_SSL_CERT_FILE \
		go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s "$1"
}

# inputs lists the failing inputs Go has written for a target.
inputs() { ls "$1/testdata/fuzz/$2" 2>/dev/null | sort || true; }

start=$SECONDS
failed=()
while read -r pkg target; do
	echo "fuzz: $pkg $target for $fuzztime"
	before=$(inputs "$pkg" "$target")
	if fuzz_one "$pkg" "$target"; then
		continue
	fi
	# Go's fuzz coordinator can fail a target with a bare "context deadline
	# exceeded" as -fuzztime ends, on a loaded machine, without any failing
	# input (go.dev/issue/75804, fixed in Go 1.27). A failure that wrote no
	# input is tried once more; a second failure, or any failing input,
	# fails the script.
	if [ "$(inputs "$pkg" "$target")" = "$before" ]; then
		echo "fuzz: $pkg $target failed without a failing input (go.dev/issue/75804?): once more"
		if fuzz_one "$pkg" "$target"; then
			continue
		fi
	fi
	failed+=("$pkg $target")
done <<<"$targets"

echo "fuzz: $(wc -l <<<"$targets") targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
	echo "fuzz: the failing inputs (run them with go test -run 'FuzzX/<name>' <package>):" >&2
	git status --porcelain --untracked-files=all -- '*/testdata/fuzz/*' >&2 || true
	exit 1
fi
