#!/usr/bin/env bash
# Prepare the build context of the Dockerfile: CTX/app is nslocate staged as installed
# (scripts/stage-app.sh: npm pack, npm install --omit=dev on this machine, build/nslocate.node).
#
#   bash scripts/image-context.sh CTX     (CTX must not exist or be empty; run `npm run build` first)
#   docker build --network=none -f Dockerfile CTX
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ctx=${1:?usage: image-context.sh CTX}
if [ -e "$ctx" ] && [ -n "$(ls -A "$ctx")" ]; then
  echo "image-context: $ctx is not empty; give a new directory." >&2
  exit 1
fi
mkdir -p "$ctx"
bash "$root/scripts/stage-app.sh" "$ctx/app"
cp "$root/Dockerfile" "$ctx/Dockerfile"
