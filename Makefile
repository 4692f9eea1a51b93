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

build:
	go build -o bin/ ./cmd/roster ./cmd/roster-inventory

generate:
	go generate ./...

bench:
	scripts/bench.sh
