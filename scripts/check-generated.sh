#!/usr/bin/env bash
# Fails when generated code differs from what its sources generate
# (api/api.gen.go, the server, and internal/client/client.gen.go, the
# typed client, from openapi.yaml).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for pair in api:api/api.gen.go internal/client:internal/client/client.gen.go; do
  pkg=${pair%%:*} file=${pair#*:}
  cp "$file" "$tmp/committed.go"
  go generate "./$pkg"
  if ! cmp -s "$file" "$tmp/committed.go"; then
    diff -u "$tmp/committed.go" "$file" | head -40 >&2 || true
    echo "check-generated: $file is stale; run 'go generate ./$pkg' and commit it" >&2
    status=1
  fi
done
exit $status
