#!/usr/bin/env bash
# Build the nslocate image (default tag nslocate:local) from the Dockerfile, offline.
#
#   npm run build && bash scripts/build-image.sh [--force] [TAG]
#
# BASE_IMAGE (default nslocate-base:local, made here by scripts/make-base-image.sh when missing; set
# BASE_IMAGE=node:22-bookworm-slim on a machine that can pull it). The build runs with --network=none.
#
# Cached: the image carries the label nslocate.inputs, a hash of what `npm pack` would ship, the
# lockfile, the addon, the Dockerfile, these scripts and the base image's id. When the existing image
# has the same hash nothing is built (--force rebuilds). The container tests call this (ensureImages).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
force=0
[ "${1:-}" = --force ] && { force=1; shift; }
tag=${1:-nslocate:local}
base=${BASE_IMAGE:-nslocate-base:local}
cd "$root"

for f in dist/commands build/nslocate.node oclif.manifest.json; do
  [ -e "$f" ] || { echo "build-image: $f is missing: run \`npm run build\` first." >&2; exit 1; }
done
if [ "$base" = nslocate-base:local ]; then
  bash scripts/make-base-image.sh "$base"
fi
base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null) ||
  { echo "build-image: base image $base is not here, and nothing is pulled (docker pull $base, or use BASE_IMAGE=nslocate-base:local)." >&2; exit 1; }

exec 9>"${TMPDIR:-/tmp}/nslocate-image-build.lock"
flock 9

# The files npm pack ships (package.json "files"), as it would list them.
mapfile -t shipped < <(npm pack --dry-run --json --ignore-scripts 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const f of JSON.parse(s)[0].files)console.log(f.path)})')
[ "${#shipped[@]}" -gt 0 ] || { echo "build-image: npm pack --dry-run listed no files" >&2; exit 1; }
inputs=$( { printf '%s\n' "$base_id"; sha256sum "${shipped[@]}" package-lock.json build/nslocate.node Dockerfile \
  scripts/build-image.sh scripts/image-context.sh scripts/stage-app.sh; } | sha256sum | cut -c1-16)
current=$(docker image inspect --format '{{index .Config.Labels "nslocate.inputs"}}' "$tag" 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$current" = "$inputs" ]; then
  echo "build-image: $tag is up to date ($inputs)"
  exit 0
fi

old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
bash scripts/image-context.sh "$ctx/context"
version=$(node -p "require('./package.json').version")
DOCKER_BUILDKIT=0 docker build --network=none --force-rm -f Dockerfile \
  --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$version" \
  --label "nslocate.image=app" --label "nslocate.inputs=$inputs" \
  -t "$tag" "$ctx/context" >"$ctx/build.log" 2>&1 ||
  { cat "$ctx/build.log" >&2; echo "build-image: docker build failed" >&2; exit 1; }
# Remove only what this script made and nothing uses: the untagged stage-1 image, and the image this
# tag pointed to before (when no container holds it).
docker image prune -f --filter label=nslocate.stage=app >/dev/null 2>&1 || true
new=$(docker image inspect --format '{{.Id}}' "$tag")
if [ -n "$old" ] && [ "$old" != "$new" ] &&
   [ "$(docker image inspect --format '{{index .Config.Labels "nslocate.image"}}' "$old" 2>/dev/null)" = app ]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
echo "build-image: built $tag from $base ($inputs)"
