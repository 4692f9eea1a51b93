# Roster's everyday commands. `make test` is what CI runs.
.PHONY: demo test fuzz build release generate bench

demo:
	go run ./cmd/roster demo

test:
	scripts/test.sh

# Every fuzz target for 10s (FUZZTIME=1m make fuzz for longer); make test
# runs it too.
fuzz:
	scripts/fuzz.sh

# -s -w leave out the symbol table and DWARF (stack traces keep their
# function names and lines); -trimpath, the builder's paths. The roster
# binary built so must stay under 80 MB (TestBinarySize in cmd/roster).
BUILDFLAGS = -trimpath -ldflags="-s -w"

build:
	go build $(BUILDFLAGS) -o bin/ ./cmd/roster ./cmd/roster-inventory

# Versioned release archives for linux/amd64 and linux/arm64 in $(DIST),
# with SHA256SUMS (scripts/release.sh; TestRelease in cmd/roster).
# Without tags the version is the commit (`make release VERSION=v1.2.0`
# names one); DATE is the commit's time, so a rebuild is identical.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
DIST ?= dist

release:
	VERSION=$(VERSION) COMMIT=$(COMMIT) DATE=$(DATE) DIST=$(DIST) scripts/release.sh

generate:
	go generate ./...

bench:
	scripts/bench.sh
