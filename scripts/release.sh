#!/usr/bin/env bash
# Release archives (make release): for each of linux/amd64 and linux/arm64,
# static (CGO_ENABLED=0: modernc's SQLite is pure Go), stripped (-s -w)
# roster and roster-inventory binaries that print their version, commit and
# date (`roster version`), packed with the README and deploy/ into
#   $DIST/roster_<version>_linux_<arch>.tar.gz
# and $DIST/SHA256SUMS over the archives (check with `sha256sum -c SHA256SUMS`).
#
# VERSION, COMMIT and DATE come from the environment (the Makefile sets
# them from git); they are stamped with -ldflags -X, not the toolchain's
# VCS stamp, which -buildvcs=false (CI) and a tree without .git leave out.
# Archives are reproducible: sorted, owned by 0:0, files dated DATE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${VERSION:?VERSION is not set (make release sets it)}"
: "${COMMIT:?COMMIT is not set}"
: "${DATE:?DATE is not set}"
DIST=${DIST:-dist}
ARCHES=${ARCHES:-amd64 arm64}

case $VERSION in
*[!A-Za-z0-9._+-]*) echo "release: VERSION $VERSION: only letters, digits and . _ + - make a file name" >&2; exit 1 ;;
esac

mkdir -p "$DIST"
ldflags="-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"
archives=()
for arch in $ARCHES; do
	name="roster_${VERSION}_linux_${arch}"
	stage="$DIST/$name"
	rm -rf "$stage"
	mkdir -p "$stage"
	echo "release: building $name" >&2
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false -ldflags "$ldflags" \
		-o "$stage/" ./cmd/roster ./cmd/roster-inventory
	cp README.md "$stage/"
	cp -r deploy "$stage/"
	# Identical bytes from identical inputs: names sorted, owners, modes
	# (not the builder's umask) and times fixed, no time in gzip's header.
	tar --sort=name --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' --mtime="$DATE" \
		-C "$DIST" -cf - "$name" | gzip -n -9 >"$DIST/$name.tar.gz"
	rm -rf "$stage"
	archives+=("$name.tar.gz")
done
(cd "$DIST" && sha256sum "${archives[@]}" >SHA256SUMS)
echo "release: $(cd "$DIST" && pwd)" >&2
cat "$DIST/SHA256SUMS" >&2
