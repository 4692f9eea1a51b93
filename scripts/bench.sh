#!/usr/bin/env bash
# Runs the scale benchmarks (100,000 instances over 16 regions) and prints
# medians with benchstat. Figures go in BENCHMARKS.md with this command.
#   scripts/bench.sh            all benchmarks, 5 runs each
#   COUNT=3 scripts/bench.sh    fewer runs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
count=${COUNT:-5}
out=$(mktemp "${TMPDIR:-/tmp}/roster-bench.XXXXXX")
go test -run '^$' -bench 'BenchmarkSync|BenchmarkAnsibleList' -benchtime 1x -count "$count" -timeout 60m ./cmd/roster | tee "$out"
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$out" 2>/dev/null || true
echo "raw results: $out"
