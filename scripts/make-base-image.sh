#!/usr/bin/env bash
# Make nslocate-base:local, a base image for the Dockerfile that needs no registry: FROM scratch with
# this machine's node (and the libraries `ldd` lists for it) and Debian's static busybox as /bin/sh,
# /usr/bin/env and the usual applets.
#
#   bash scripts/make-base-image.sh [--force] [TAG]      (default TAG: nslocate-base:local)
#
# The image carries the label nslocate.inputs=<sha256 of node, its libraries, busybox and this
# script>; when an image with the same inputs exists, nothing is built (--force rebuilds).
# Builds run with --network=none and never pull.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
force=0
[ "${1:-}" = --force ] && { force=1; shift; }
tag=${1:-nslocate-base:local}

node=$(readlink -f "$(command -v node)") || { echo "make-base-image: node not found" >&2; exit 1; }
busybox=$(readlink -f /bin/busybox 2>/dev/null || true)
# ldd fails on a static executable: that is the busybox we want (it needs no libraries in the image).
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "make-base-image: a static /bin/busybox is needed (Debian: apt-get install busybox-static)" >&2
  exit 1
fi

# Libraries as ldd prints them: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
# "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
mapfile -t libs < <(ldd "$node" | awk '/=>/ {print $3; next} $1 ~ /^\// {print $1}' | grep '^/' | sort -u)

# One build at a time (parallel test workers call this too).
exec 9>"${TMPDIR:-/tmp}/nslocate-image-build.lock"
flock 9

inputs=$( { sha256sum "$node" "$busybox" "${libs[@]}" "$0" | awk '{print $1}'; } | sha256sum | cut -c1-16)
current=$(docker image inspect --format '{{index .Config.Labels "nslocate.inputs"}}' "$tag" 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$current" = "$inputs" ]; then
  echo "make-base-image: $tag is up to date ($inputs)"
  exit 0
fi

old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
fs="$ctx/rootfs"
mkdir -p "$fs"/{bin,usr/bin,usr/local/bin,etc,tmp,root,run,proc,sys,dev}
chmod 1777 "$fs/tmp"
cp "$node" "$fs/usr/bin/node"
for lib in "${libs[@]}"; do
  mkdir -p "$fs$(dirname "$lib")"
  cp -L "$lib" "$fs$lib"
done
cp "$busybox" "$fs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || [ -e "$fs/bin/$applet" ] || ln -s busybox "$fs/bin/$applet"
done
ln -s /bin/busybox "$fs/usr/bin/env"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$fs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$fs/etc/group"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
LABEL nslocate.image=base nslocate.inputs=$inputs \
      org.opencontainers.image.description="node $("$node" --version) and busybox from the build machine, for nslocate's offline builds"
CMD ["/bin/sh"]
DOCKERFILE
# DOCKER_BUILDKIT=0: the engine here has no buildx; the classic builder honours --network=none.
DOCKER_BUILDKIT=0 docker build --network=none -t "$tag" "$ctx" >"$ctx/build.log" 2>&1 ||
  { cat "$ctx/build.log" >&2; echo "make-base-image: docker build failed" >&2; exit 1; }
# The image this tag pointed to before, if we made it and nothing uses it any more.
new=$(docker image inspect --format '{{.Id}}' "$tag")
if [ -n "$old" ] && [ "$old" != "$new" ] &&
   [ "$(docker image inspect --format '{{index .Config.Labels "nslocate.image"}}' "$old" 2>/dev/null)" = base ]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
echo "make-base-image: built $tag ($inputs)"
