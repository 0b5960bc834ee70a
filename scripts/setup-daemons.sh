#!/usr/bin/env bash
# Debian packages for the daemons test tier (test/daemons/, docs/architecture.md "Tests"): real
# daemons that the tier starts itself, the way their init scripts or documentation do, on free
# loopback ports, and stops by pid. Called by scripts/setup.sh. Idempotent; Debian 12, as root.
#
# Nothing may start at install time (there is no systemd as PID 1, and a daemon started by a
# postinst would hold the default ports and pidfiles the tests use): while apt-get runs, a
# temporary /usr/sbin/policy-rc.d answers 101 ("action forbidden") to every invoke-rc.d. An
# existing policy-rc.d (Docker images ship one) is put aside and restored afterwards.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(redis-server memcached postgresql apache2 nginx-light openssh-server cron rsyslog
  gunicorn python3-gunicorn haproxy strace at php8.2-fpm)
missing=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && { echo "setup-daemons: packages ok"; exit 0; }

policy=/usr/sbin/policy-rc.d
saved="$policy.nslocate-saved"
restore() {
  if [ -e "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
}
if [ -e "$saved" ]; then
  echo "setup-daemons: $saved exists (an earlier run was interrupted): restore it to $policy or remove it" >&2
  exit 1
fi
[ -e "$policy" ] && mv "$policy" "$saved"
trap restore EXIT
printf '#!/bin/sh\n# Written by nslocate scripts/setup-daemons.sh while it installs packages.\nexit 101\n' >"$policy"
chmod 755 "$policy"

echo "setup-daemons: installing ${missing[*]} (services kept from starting)"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-daemons: packages ok"
