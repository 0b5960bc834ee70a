#!/usr/bin/env bash
# Machine set-up for nslocate's development and tests (Debian 12 or 13). Idempotent.
#
#   bash scripts/setup.sh        as root, or as a user with sudo (the script re-runs itself with sudo)
#
#  - Debian packages: docker.io (engine for the container tier), busybox-static (the offline base
#    image), libbsd-dev (libbsd pidfile(3) interop tests), daemon (supervisor holding a POSIX lock),
#    nginx-light (a real daemon with an unlocked pidfile), gcc and libc6-dev (the native addon, the C
#    test holders; --no-install-recommends leaves libc6-dev out of gcc), procps/util-linux
#    (pgrep, lslocks, unshare, flock for tests and bench), uidmap (newuidmap: user namespaces with
#    a mapped range, as LXC and userns-remap make them), dpkg-dev/binutils/lintian/debootstrap (the
#    .deb: shlibs, strip, checks, and the packaging tier's bookworm root), man-db, python3, ca-certificates.
#    hyperfine (bench/: whole-command timings) and strace (bench/: system calls per locate()).
#    The runtime tier's engines (issue 19): podman, crun, conmon, catatonit, slirp4netns,
#    fuse-overlayfs (rootful and rootless Podman; its tests start their own `podman system service`),
#    containerd (a second instance with the CRI plugin, started by the tests, Docker's left alone)
#    and kubectl (kubernetes-client, when no kubectl is installed: docs/kubernetes.md's manifests).
#  - Node.js >= 22.12: when the machine's node is missing or older, installs Node 24 LTS from the npm
#    registry into /opt/nslocate/node-24 (scripts/install-node.sh) and links node, npm and npx into
#    /usr/local/bin, which comes before /usr/bin on Debian's PATH (and sudo's secure_path). The
#    system's /usr/bin/node is left as it is. A /usr/local/bin/node that is not ours is never replaced:
#    then `. scripts/node-env.sh` puts Node 24 first on PATH for one shell.
#  - Starts dockerd if no engine answers, with no bridge and no iptables: containers get no network.
#    The pid of a dockerd started here is written to /run/nslocate-ci-dockerd.pid so .ci/run can stop it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run this as root (no sudo on this machine)" >&2; exit 1; }
  exec sudo -- bash "$here/setup.sh" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
pkgs=(docker.io busybox-static libbsd-dev daemon nginx-light gcc libc6-dev procps util-linux uidmap python3 man-db hyperfine strace
  ca-certificates dpkg-dev binutils lintian debootstrap podman crun conmon catatonit slirp4netns fuse-overlayfs containerd runc)
# kubectl: Debian's kubernetes-client, unless a kubectl is already there (another package may own /usr/bin/kubectl).
command -v kubectl >/dev/null || pkgs+=(kubernetes-client)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js: the first node on PATH must be >= 22.12 (package.json engines).
node_ok() { "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null; }
node_bin=/opt/nslocate/node-24/bin
if command -v node >/dev/null && node_ok "$(command -v node)"; then
  echo "setup: node $(node --version) at $(command -v node)"
else
  bash "$here/install-node.sh" 24 >/dev/null
  for tool in node npm npx; do
    link=/usr/local/bin/$tool
    # Ours (a link into /opt/nslocate) or nothing there: (re)link. Anything else stays.
    if { [ -L "$link" ] && [[ $(readlink "$link") == /opt/nslocate/node-* ]]; } || { [ ! -e "$link" ] && [ ! -L "$link" ]; }; then
      ln -sfn "$node_bin/$tool" "$link"
    else
      echo "setup: $link exists and is not nslocate's; left alone. Use: . scripts/node-env.sh" >&2
    fi
  done
  hash -r
  echo "setup: node $("$node_bin/node" --version) in ${node_bin%/bin}, linked from /usr/local/bin (system node: $(/usr/bin/node --version 2>/dev/null || echo none))"
fi

bash "$(dirname "$0")/setup-daemons.sh"  # the daemons tier's Debian packages, kept from starting
if ! docker version >/dev/null 2>&1; then
  echo "setup: starting dockerd --bridge=none --iptables=false"
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --pidfile /run/nslocate-ci-dockerd.pid \
    >/var/log/nslocate-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
  docker version >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/nslocate-dockerd.log" >&2; tail -20 /var/log/nslocate-dockerd.log >&2; exit 1; }
fi
echo "setup: engine $(docker version --format '{{.Server.Version}}'), packages ok"
