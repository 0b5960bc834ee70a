#!/usr/bin/env bash
# Stage nslocate as it is installed: the files `npm pack` ships (bin, dist, docs/nslocate.1,
# oclif.manifest.json, package.json, ...), the production node_modules, and the native addon built on
# this machine (build/nslocate.node; the package's prebuilds/ for every CPU are left out). Used by
# scripts/build-deb.sh (-> /usr/lib/nslocate) and
# scripts/image-context.sh (-> the image's /opt/nslocate).
#
#   bash scripts/stage-app.sh OUTDIR      (OUTDIR must not exist or be empty; run `npm run build` first)
#
# Offline-friendly: dependencies come from the npm cache when it has them (--prefer-offline), else from
# the registry, at the versions of package-lock.json. No install script runs (--ignore-scripts): the
# addon is copied, not compiled again, and dockerode's optional native helpers (ssh2, cpu-features) are
# not built; they have pure-JS fallbacks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: stage-app.sh OUTDIR}

for f in dist/commands build/nslocate.node oclif.manifest.json docs/nslocate.1; do
  [ -e "$root/$f" ] || { echo "stage-app: $f is missing: run \`npm run build\` first." >&2; exit 1; }
done
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "stage-app: $out is not empty; give a new directory." >&2
  exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# npm pack --ignore-scripts: the tree is already built; `prepare` would rebuild it for nothing.
(cd "$root" && npm pack --ignore-scripts --silent --pack-destination "$tmp" >/dev/null 2>"$tmp/pack.log") ||
  { cat "$tmp/pack.log" >&2; echo "stage-app: npm pack failed" >&2; exit 1; }
tar -xzf "$tmp"/nslocate-*.tgz -C "$out" --strip-components=1 --no-same-owner

cp "$root/package-lock.json" "$out/"
(cd "$out" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline \
  --loglevel=error >"$tmp/install.log" 2>&1) ||
  { cat "$tmp/install.log" >&2; echo "stage-app: npm install --omit=dev failed in $out" >&2; exit 1; }
rm -f "$out/package-lock.json" "$out/node_modules/.package-lock.json"

# This machine's addon in build/, which the loader tries before prebuilds/; the package's prebuilds
# (every CPU) are dropped: the staged app is for this CPU only (an arm64 file in an amd64 .deb is an
# error for lintian).
mkdir -p "$out/build"
cp "$root/build/nslocate.node" "$out/build/nslocate.node"
rm -rf "$out/prebuilds"

# What a running CLI never reads: type declarations and source maps.
find "$out/dist" "$out/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete
node "$out/bin/run.js" --version >/dev/null ||
  { echo "stage-app: the staged CLI does not start: node $out/bin/run.js --version" >&2; exit 1; }
