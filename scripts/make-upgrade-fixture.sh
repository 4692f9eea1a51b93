#!/usr/bin/env bash
# Rebuilds the upgrade fixture of TestUpgradeFromOldestSchema
# (cmd/roster/testdata/upgrade): a database made by a roster built from an
# old commit of this repository, with what that roster served from it.
#
#   scripts/make-upgrade-fixture.sh [COMMIT [NAME]]
#
# The default, 3b6f642, is the last commit whose schema is only migration
# 0001 (0002 arrives in c06ca58): the oldest schema Roster ever shipped.
# f0eadc9, the first commit with cmd/roster, does not build (its demo
# imports sources/aws/awssim, added later). The old tree is built from
# `git archive`, so the worktree is not touched; it takes a minute or two
# with a warm module cache.
#
# It writes NAME.db (the database, checkpointed and vacuumed), NAME.token
# (the demo's admin token), NAME.ansible.json (the demo inventory's Ansible
# document as the old roster served it) and NAME.runs.json (its sync runs).
set -euo pipefail

commit=${1:-3b6f642}
name=${2:-schema-0001}
repo=$(git rev-parse --show-toplevel)
out="$repo/cmd/roster/testdata/upgrade"
tmp=$(mktemp -d)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/src" "$tmp/data" "$out"
git -C "$repo" archive "$commit" | tar -x -C "$tmp/src"
echo "building roster at $commit" >&2
(cd "$tmp/src" && CGO_ENABLED=0 go build -o "$tmp/roster" ./cmd/roster)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$tmp/roster" demo --size 50 --data-dir "$tmp/data" --listen "127.0.0.1:$port" >"$tmp/demo.out" 2>"$tmp/demo.err" &
pid=$!
for _ in $(seq 120); do
	grep -q 'Ctrl-C stops the demo' "$tmp/demo.out" && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/demo.out" "$tmp/demo.err" >&2; exit 1; }
	sleep 0.5
done
grep -q 'Ctrl-C stops the demo' "$tmp/demo.out" || { echo "the demo did not come up" >&2; exit 1; }

token=$(tr -d '\n' <"$tmp/data/demo-token")
api="http://127.0.0.1:$port/api/v1"
get() { curl -fsS -H "Authorization: Bearer $token" "$api/$1"; }
get inventories/demo/ansible >"$out/$name.ansible.json"
source_id=$(get inventories/demo/sources | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("items", d); print(d[0]["id"])')
get "sources/$source_id/syncs" >"$out/$name.runs.json"
printf '%s\n' "$token" >"$out/$name.token"

kill -INT "$pid"
wait "$pid" || true
pid=
rm -f "$out/$name.db"
sqlite3 "$tmp/data/roster.db" "PRAGMA wal_checkpoint(TRUNCATE); VACUUM INTO '$out/$name.db';"
echo "$commit" >"$out/$name.commit"
sqlite3 "$out/$name.db" 'SELECT group_concat(version) FROM schema_migrations; SELECT count(*) || " hosts" FROM hosts;' >&2
