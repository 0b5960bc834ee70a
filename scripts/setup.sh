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
#    attr (getfattr/setfattr: the identity record's xattr) and jq (the man page's `find --json | jq` examples), issue 20.
#  - util-linux >= 2.42's getino and waitpid (issue 20: the interop tests compare pidfs ids with them)
#    in /opt/nslocate/util-linux-2.42/bin. Debian 12 and 13 ship older ones, so unless the system's
#    are new enough they come from Debian sid's util-linux-extra, fetched by apt-get from the archive
#    apt already uses, through a source list of its own (signed index; the system's sources and
#    package state are untouched), and unpacked beside sid's libc6, which they need (glibc >= 2.38)
#    and are run with through its ld.so. Nothing is installed into the system. A failure stops
#    setup: CI must not skip those tests.
#  - The packaging tier (issue 21): sudo (the sudo-user install tests; README: `bash scripts/setup.sh` as root
#    needs no sudo), the other CPU's cross compiler and C library (gcc-aarch64-linux-gnu and
#    libc6-dev-arm64-cross on amd64, gcc-x86-64-linux-gnu and libc6-dev-amd64-cross on arm64: `npm run build`
#    makes the prebuilt addon for both CPUs) and qemu-user (runs the other CPU's Node.js on that prebuild).
#    chromium (the home page test, headless), tmux (the terminal tests: a real pseudo-terminal) and zsh
#    (the completion test runs bash and zsh under tmux).
#  - Node.js >= 22.12: unless the first node on PATH is new enough and not nslocate's own, installs
#    Node 24 LTS from the npm registry into /opt/nslocate/node-24 (scripts/install-node.sh --link) and
#    links node, npm and npx into /usr/local/bin, which comes before /usr/bin on Debian's PATH (and
#    sudo's secure_path). Its npm's global prefix is /usr/local (/opt/nslocate/node-24/etc/npmrc), as
#    with Debian's npm: `sudo npm install -g nslocate` puts `nslocate` in /usr/local/bin and its man
#    page in /usr/local/share/man, on every user's PATH and manpath. The system's /usr/bin/node is left
#    as it is. A /usr/local/bin/node that is not ours is never replaced: then `. scripts/node-env.sh`
#    puts Node 24 first on PATH for one shell.
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
  ca-certificates dpkg-dev binutils lintian debootstrap podman crun conmon catatonit slirp4netns fuse-overlayfs containerd runc attr jq
  sudo qemu-user chromium tmux zsh)
# The other CPU's cross compiler and C library (the prebuilt addons; qemu-user -L /usr/TRIPLET runs on it).
case "$(dpkg --print-architecture)" in
  amd64) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
  arm64) pkgs+=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
  *) echo "setup: no prebuilt addon is made for $(dpkg --print-architecture); the packaging tier needs amd64 or arm64" >&2 ;;
esac
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
first=$(command -v node || true)
if [ -n "$first" ] && node_ok "$first" && [[ $(readlink -f "$first") != /opt/nslocate/node-* ]]; then
  echo "setup: node $(node --version) at $first (not nslocate's; npm install -g goes to its npm's prefix: $(npm prefix -g 2>/dev/null || echo unknown))"
else
  bin=$(bash "$here/install-node.sh" --link 24 | tail -1)
  hash -r
  echo "setup: node $("$bin/node" --version) in ${bin%/bin}, linked from /usr/local/bin; npm install -g: /usr/local (system node: $(/usr/bin/node --version 2>/dev/null || echo none))"
fi

bash "$(dirname "$0")/setup-daemons.sh"  # the daemons tier's Debian packages, kept from starting

# util-linux >= 2.42 getino/waitpid (PID:INODE), for test/ns/pidfs-interop.test.ts.
ul_dir=/opt/nslocate/util-linux-2.42
ul_version() { "$1" --version 2>/dev/null | sed -n 's/^.* from util-linux \([0-9][0-9.]*\).*$/\1/p'; }
ul_ok() { # $1: a bin dir; prints the version of its getino when >= 2.42, it prints PID:INODE, and waitpid runs
  local v out
  v=$(ul_version "$1/getino") && [ -n "$v" ] && dpkg --compare-versions "$v" ge 2.42 || return 1
  out=$("$1/getino" --pidfs -p $$ 2>&1) && [[ $out =~ ^$$:[0-9]+$ ]] || { echo "setup: $1/getino --pidfs -p $$ said: $out" >&2; return 1; }
  "$1/waitpid" --version >/dev/null 2>&1 || { echo "setup: $1/waitpid --version failed" >&2; return 1; }
  echo "$v"
}
ul_wrapper() { # $1: the wrapper's path; $2: the command line it runs before "$@"
  printf '#!/bin/sh\n# Written by nslocate scripts/setup.sh (util-linux >= 2.42 for the interop tests).\nexec %s "$@"\n' "$2" >"$1"
  chmod 755 "$1"
}
if v=$(ul_ok "$ul_dir/bin" 2>/dev/null); then
  echo "setup: util-linux $v getino/waitpid in $ul_dir/bin"
else
  new="$ul_dir.new"
  rm -rf "$new" && mkdir -p "$new/bin"
  if ul_ok /usr/bin >/dev/null 2>&1; then # the system's own are new enough (Debian 14 and later)
    for tool in getino waitpid; do ul_wrapper "$new/bin/$tool" "/usr/bin/$tool"; done
  else
    arch=$(dpkg --print-architecture)
    apt_dir=$(mktemp -d /tmp/nslocate-sid-apt.XXXXXX)
    trap 'rm -rf "$apt_dir"' EXIT
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    # The Debian archive this machine's apt already uses (its main suite: not -security, -updates, ...).
    archive() { apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null | awk '$2 !~ /[-\/]/ {print $1; exit}'; }
    uri=$(archive)
    if [ -z "$uri" ]; then apt-get update -qq && uri=$(archive); fi # indextargets lists what update fetched
    [ -n "$uri" ] || { echo "setup: no Debian archive in apt's sources (apt-get indextargets): cannot fetch util-linux >= 2.42" >&2; exit 1; }
    echo "deb ${uri%/} sid main" >"$apt_dir/sources.list"
    apt_sid=(-q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Acquire::Languages=none
      -o "APT::Architectures=$arch" -o APT::Sandbox::User=root)
    echo "setup: fetching util-linux-extra and libc6 ($arch) from Debian sid for getino/waitpid >= 2.42"
    { apt-get "${apt_sid[@]}" update && (cd "$apt_dir" && apt-get "${apt_sid[@]}" download "util-linux-extra:$arch" "libc6:$arch"); } \
      >"$apt_dir/log" 2>&1 || { echo "setup: could not fetch util-linux-extra/libc6 from Debian sid:" >&2; tail -20 "$apt_dir/log" >&2; exit 1; }
    dpkg-deb -x "$apt_dir"/util-linux-extra_*.deb "$new/ul"
    dpkg-deb -x "$apt_dir"/libc6_*.deb "$new/libc"
    rm -rf "$apt_dir"
    ld_so=$(ls "$new"/libc/usr/lib/*-linux-gnu*/ld-linux*.so.* 2>/dev/null | head -1)
    [ -n "$ld_so" ] || { echo "setup: sid's libc6 has no ld.so under usr/lib/*-linux-gnu*" >&2; exit 1; }
    ld_so=$ul_dir${ld_so#"$new"} # the paths the wrappers run from, once $new is renamed to $ul_dir
    for tool in getino waitpid; do
      ul_wrapper "$new/bin/$tool" "$ld_so --library-path ${ld_so%/*} --argv0 $tool $ul_dir/ul/usr/bin/$tool"
    done
  fi
  rm -rf "$ul_dir.old"
  if [ -e "$ul_dir" ]; then mv "$ul_dir" "$ul_dir.old"; fi
  mv "$new" "$ul_dir"
  rm -rf "$ul_dir.old"
  v=$(ul_ok "$ul_dir/bin") || { echo "setup: $ul_dir/bin/getino or waitpid does not run, or is older than 2.42 (see above)" >&2; exit 1; }
  echo "setup: util-linux $v getino/waitpid installed in $ul_dir/bin"
fi
if ! docker version >/dev/null 2>&1; then
  echo "setup: starting dockerd --bridge=none --iptables=false"
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --pidfile /run/nslocate-ci-dockerd.pid \
    >/var/log/nslocate-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
  docker version >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/nslocate-dockerd.log" >&2; tail -20 /var/log/nslocate-dockerd.log >&2; exit 1; }
fi
echo "setup: engine $(docker version --format '{{.Server.Version}}'), packages ok"
