#!/usr/bin/env bash
# Machine set-up for nslocate's development and tests (Debian 12, as root). Idempotent.
#  - Debian packages: docker.io (engine for the container tier), busybox-static (the offline base
#    image), libbsd-dev (libbsd pidfile(3) interop tests), daemon (supervisor holding a POSIX lock),
#    nginx-light (a real daemon with an unlocked pidfile), gcc (the native addon), procps/util-linux (pgrep, lslocks, unshare, flock for tests and bench).
#  - Starts dockerd if no engine answers, with no bridge and no iptables: containers get no network.
#    The pid of a dockerd started here is written to /run/nslocate-ci-dockerd.pid so .ci/run can stop it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(docker.io busybox-static libbsd-dev daemon nginx-light gcc procps util-linux python3 man-db)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
