#!/bin/bash
# Sets up each real scenario of fixtures/proc-trees/, captures it with capture-proc-tree.js, and
# removes what it started (by pid). Run as root after `npm run build`:
#   bash scripts/capture-proc-scenarios.sh [SCENARIO...]
# The fixtures are committed; this documents how they were made and remakes them.
set -eu
cd "$(dirname "$0")/.."
OUT=fixtures/proc-trees
CAP="node scripts/capture-proc-tree.js"
mkdir -p "$OUT"
D=$(mktemp -d /tmp/nslocate-capture-XXXXXX)
chmod 755 "$D"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do while [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; do sleep 0.05; done; done
  rm -rf "$D"
}
trap cleanup EXIT
waitfile() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "no $1" >&2; return 1; }

cat > "$D/app.py" <<'EOF'
import os, sys, time
open(sys.argv[1], 'w').write('%d\n' % os.getpid())
time.sleep(600)
EOF

SELECTED="${*:-}"
sel() { [ -z "$SELECTED" ] || [[ " $SELECTED " == *" $1 "* ]]; }

if sel python-app; then
  # python3 app.py writing app.pid: named by its script
  python3 "$D/app.py" "$D/app.pid" & PIDS+=($!); waitfile "$D/app.pid"
  $CAP "$D/app.pid" --name app --note "python3 app.py writes app.pid (own PID namespace; the script names it)" --out $OUT/python-app.json
fi
if sel python-svc; then
  # the same program writing a pidfile named after something else: own PID namespace rule, name_mismatch
  python3 "$D/app.py" "$D/svc.pid" & PIDS+=($!); waitfile "$D/svc.pid"
  $CAP "$D/svc.pid" --name svc --note "python3 app.py writes svc.pid: no name matches; own PID namespace, started before the write" --out $OUT/python-svc.json
fi
if sel child-ns; then
  # a sleep in an unshare'd PID namespace writing svc.pid with its inner pid
  unshare --pid --fork --kill-child --mount-proc sh -c "sleep 600 & echo \$! > $D/child.pid; wait" & PIDS+=($!); waitfile "$D/child.pid"
  $CAP "$D/child.pid" --name svc --note "sleep in a child PID namespace (unshare --pid --fork --kill-child --mount-proc) wrote its inner pid to child.pid" --out $OUT/child-ns.json
fi
if sel chroot; then
  # a process that writes its pidfile, then chroot()s itself (same mount namespace as the file)
  mkdir -p "$D/jail/bin"; cp /bin/busybox "$D/jail/bin/busybox"
  sh -c "echo \$\$ > $D/jailed.pid; exec chroot $D/jail /bin/busybox sleep 600" & PIDS+=($!); waitfile "$D/jailed.pid"
  for _ in $(seq 100); do [ "$(readlink /proc/${PIDS[-1]}/root)" = "$D/jail" ] && break; sleep 0.05; done
  $CAP "$D/jailed.pid" --name jailed --note "sh wrote \$\$ to jailed.pid, then exec chroot JAIL busybox sleep: /proc/PID/root is the jail" --out $OUT/chroot.json
fi
if sel stale-one; then
  # a pidfile saying 1 in a directory that three namespace inits (sleep as PID 1) all see
  for i in 1 2 3; do unshare --pid --fork --kill-child --mount-proc sleep 600 & PIDS+=($!); done
  sleep 0.3
  echo 1 > "$D/svc1.pid"
  $CAP "$D/svc1.pid" --name svc1 --note "stale 1: three sleeps are PID 1 of their namespaces and see the file; so is this namespace's init" --out $OUT/stale-one.json
fi
if sel reused; then
  # the number names a process that started after the file was written
  echo 999999 > "$D/reused.pid"; touch -d '1 hour ago' "$D/reused.pid"
  sleep 600 & PIDS+=($!); echo ${PIDS[-1]} > "$D/reused.pid.tmp"; touch -r "$D/reused.pid" "$D/reused.pid.tmp"; mv "$D/reused.pid.tmp" "$D/reused.pid"
  $CAP "$D/reused.pid" --name sleep --note "reused.pid (mtime an hour ago) names a sleep started now: the pid was reused" --out $OUT/reused.json
fi
if sel tie; then
  # two candidates for one number: a python3 here (pid N) and a sleep forced onto pid N in a child namespace
  python3 "$D/app.py" "$D/tie.pid" & PIDS+=($!); waitfile "$D/tie.pid"; N=$(head -1 "$D/tie.pid")
  unshare --pid --fork --kill-child --mount-proc sh -c "echo $((N - 1)) > /proc/sys/kernel/ns_last_pid; sleep 600 & echo started > $D/tie.started; wait" & PIDS+=($!); waitfile "$D/tie.started"
  sleep 0.2; touch "$D/tie.pid" # the file was (re)written after both started
  $CAP "$D/tie.pid" --name tie --note "tie.pid says N: python3 is pid N here, a sleep is pid N in a child namespace (ns_last_pid); both see the file" --out $OUT/tie.json
fi
if sel denied; then
  # an unprivileged caller and a root process in another mount namespace: whether it sees the file cannot be checked
  unshare --mount --propagation private sh -c "echo \$\$ > $D/denied.pid; exec sleep 600" & PIDS+=($!); waitfile "$D/denied.pid"
  chmod 644 "$D/denied.pid"
  setpriv --reuid 65534 --regid 65534 --clear-groups $CAP "$D/denied.pid" --name sleep --note "uid 65534 asks about a root sleep in another mount namespace: /proc/PID/root is denied" > $OUT/denied.json
fi
if sel supervised; then
  # nslocate run: the supervisor holds the lock and writes its child's pid
  node bin/run.js run sup --pidfile "$D/sup.pid" -- sleep 600 & PIDS+=($!); waitfile "$D/sup.pid"
  $CAP "$D/sup.pid" --holder ${PIDS[-1]} --name sup --note "nslocate run sup -- sleep: the supervisor holds the POSIX lock, the file names its child" --out $OUT/supervised.json
fi
if sel supervised-ns; then
  # the same inside a child PID namespace: the file names the child's inner pid
  unshare --pid --fork --kill-child --mount-proc node bin/run.js run supns --pidfile "$D/supns.pid" -- sleep 600 & PIDS+=($!); waitfile "$D/supns.pid"
  sleep 0.2
  H=$(pgrep -P ${PIDS[-1]} | head -1) # unshare's child: PID 1 of the new namespace, the supervisor
  $CAP "$D/supns.pid" --holder "$H" --name supns --note "nslocate run in a child PID namespace: supervisor is its PID 1, the file names the child's inner pid" --out $OUT/supervised-ns.json
fi
ls -l $OUT
