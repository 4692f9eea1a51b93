# Roster's everyday commands. `make test` is what CI runs.
.PHONY: demo test fuzz build generate bench

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

generate:
	go generate ./...

bench:
	scripts/bench.sh
