# Roster's everyday commands. `make test` is what CI runs.
.PHONY: demo test build generate bench

demo:
	go run ./cmd/roster demo

test:
	scripts/test.sh

build:
	go build -o bin/ ./cmd/roster ./cmd/roster-inventory

generate:
	go generate ./...

bench:
	scripts/bench.sh
