#!/usr/bin/env bash
# Fails when generated code differs from what its sources generate
# (api/api.gen.go from openapi.yaml).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp api/api.gen.go "$tmp/committed.go"
go generate ./api
if ! cmp -s api/api.gen.go "$tmp/committed.go"; then
  diff -u "$tmp/committed.go" api/api.gen.go | head -40 >&2 || true
  echo "check-generated: api/api.gen.go is stale; run 'go generate ./api' and commit it" >&2
  exit 1
fi
