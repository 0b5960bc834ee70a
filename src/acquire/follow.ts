/**
 * `run` with a COMMAND that daemonizes (issue 17, hole 5): `run dmn -- sh -c 'svc & exit'`. COMMAND
 * exits at once, but what it started runs on holding the descriptor it inherited: the read-only,
 * flock'd open file description of the pidfile (supervise.ts). Removing the pidfile then would leave
 * the daemon running with its lock on a deleted inode: find would say "no pidfile" and a second run
 * would start a second instance. So run follows it, as systemd does for Type=forking.
 *
 * Who shares the description: a process with a descriptor of this inode whose fdinfo shows a FLOCK
 * `lock:` line taken by run's own pid (run holds LOCK_EX, so no other description can hold a flock
 * lock on the file, and a line with run's pid is that description's lock). Only processes started
 * since COMMAND are looked at (what inherited from it started no earlier; a cheap filter on
 * /proc/PID/stat). A single pass over /proc can miss a fork-and-exit chain (a double fork: the
 * parent is read after it exited, its child was born after the list of pids was taken), so the
 * look is settled: the pids (with their start times) are listed again and every process new since
 * the previous list is read, until a list brings no new process. A holder alive at the end was then
 * read while it held the description: it was born before the last list and, since it inherits the
 * description at its birth and keeps it, either it was read, or its parent was read while it still
 * held the description, before the fork.
 *
 * While some share it (run keeps its own LOCK_EX on it all along, so every kind of reader sees it
 * held and another starter conflicts):
 * - the pidfile names the one left: the only one, or among several the one none of whose ancestors
 *   is among them (a daemon and its workers: the daemon), the oldest if that still leaves several;
 *   it is rewritten when that one exits and others remain, and so is its identity record (the
 *   pidfs id of the pidfd that pinned the new one: handle.ts);
 * - run gives up its POSIX lock: readers take a POSIX lock's owner for the service or its
 *   supervisor, and a daemon reparented away from run is not its descendant (find would name run,
 *   "content_mismatch"); with the flock lock alone, the process the file names holds it (find's fd
 *   check), as after a SIGKILLed supervisor;
 * - forwarded signals go to that process (through a pidfd);
 * - its exit is seen at once (pidfd), the others' every CHECK_MS, and all are looked for again
 *   every RESCAN_MS (one that closed the descriptor, or handed it on, without exiting).
 * Once none is left, run releases the file as always (unlinked under its lock) and exits with
 * COMMAND's own status. When a signal killed COMMAND (--replace's KILL, a crash), what still holds
 * the description are stragglers of a service that has ended (a child of a shell killed mid-loop),
 * not a daemon: run waits for them the same way, forwarding signals to them, but the file keeps
 * COMMAND's pid and run keeps its POSIX lock (find names run, the holder).
 *
 * A daemon that closes every descriptor it inherited (many call close() on all of them) cannot be
 * followed: nothing then ties it to the pidfile, and run ends when COMMAND does. Nor can one that
 * hands the descriptor to an older process over a socket.
 */
import fs = require('node:fs')
import path = require('node:path')

import {fdTarget} from '../kernel/reopen'
import {pidfdExited, pidfdOpen, setPosixLock, waitPidfdFor} from '../native/binding'
import {sameFile} from '../proc/parse-locks'
import {proc} from '../proc/proc-fs'
import {PidfileHandle} from './handle'

/** How often the other holders' pidfds are asked whether they exited (the main one is waited on). */
const CHECK_MS = 250
/** How often the holders are looked for again while none of those known exits. */
const RESCAN_MS = 2000
/** At most this many lists of pids in one settled look (each reads only the processes new since the last). */
const MAX_ROUNDS = 50

/**
 * True when no process was born in this PID namespace since COMMAND (`pid`): every pid the namespace
 * handed out after COMMAND's, up to the last one (/proc/sys/kernel/ns_last_pid, read for the
 * caller's own namespace), is a thread of this process now (run's own thread pool starts after
 * COMMAND). Every process that could share the description was born after COMMAND (it inherited
 * it from COMMAND or its descendants), and every birth, in this namespace or one below it, takes a
 * pid here; pids are handed out in increasing order and are not reused within that short range. So
 * none can share it, and followInheritors() need not look over every process. Anything else (a pid
 * in the range that is not one of our threads, more than 64 of them, an unreadable file) says
 * nothing, and the look is made as always.
 */
export function nothingBornSince(pid: number): boolean {
  let last: number
  try {
    last = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'latin1').trim())
  } catch {
    return false
  }
  if (!Number.isSafeInteger(last) || last < pid || last - pid > 64) return false
  for (let p = pid + 1; p <= last; p++) if (!fs.existsSync(`/proc/self/task/${p}`)) return false
  return true
}

/**
 * Wait until no process but this one shares the pidfile's flock'd description (handle.lockFd),
 * keeping the file named after the main one left. `since`: COMMAND's start time (clock ticks after
 * boot, /proc/PID/stat). `daemon`: COMMAND exited by itself (it may have daemonized: name the one
 * left); false when a signal killed it (see above). `onTarget` is called with the pidfd signals
 * should go to (-1: none for now). On return the handle still holds the file (release() removes it).
 */
export async function followInheritors(handle: PidfileHandle, since: number, daemon: boolean, onTarget: (pidfd: number) => void): Promise<void> {
  const st = fs.fstatSync(handle.lockFd)
  const names = [path.basename(handle.path)]
  try {
    names.push(path.basename(fdTarget(handle.lockFd).replace(/ \(deleted\)$/, '')))
  } catch {}
  let written = handle.pid
  let posix = true
  for (;;) {
    const left = settledSharers(st, names, since)
    if (left.length === 0) return
    if (posix && daemon) {
      try {
        setPosixLock(handle.fd, 'unlocked')
      } catch {}
      posix = false
    }
    const pidfds = new Map<number, number>()
    for (const pid of left) {
      try {
        const fd = pidfdOpen(pid)
        // the pidfd names the process that was read, not one that took its pid since
        if (sharesLock(pid, st, names)) pidfds.set(pid, fd)
        else fs.closeSync(fd)
      } catch {} // gone already: the next look says so
    }
    try {
      if (pidfds.size === 0) continue
      const main = mainOf([...pidfds.keys()])
      if (daemon && main !== written) {
        try {
          handle.write(main, {pidfd: pidfds.get(main)})
          written = main
        } catch {} // the file keeps the pid it had; the lock still says the service runs
      }
      onTarget(pidfds.get(main)!)
      const looked = Date.now()
      for (;;) {
        if (await waitPidfdFor(pidfds.get(main)!, CHECK_MS)) break
        if ([...pidfds.values()].some((fd) => pidfdExited(fd))) break
        if (Date.now() - looked >= RESCAN_MS) break
      }
    } finally {
      onTarget(-1)
      for (const fd of pidfds.values()) fs.closeSync(fd)
    }
  }
}

/**
 * The processes sharing the description, by a settled look (see the header): lists of pids are
 * taken until one brings no process that was not in the one before (by pid and start time), and
 * each process is read once, when it first appears.
 */
function settledSharers(st: fs.Stats, names: string[], since: number): number[] {
  const found = new Map<number, number>()
  let known = new Map<number, number>()
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const now = new Map<number, number>()
    for (const pid of proc.listPids()) {
      if (pid === process.pid) continue
      try {
        now.set(pid, proc.readStat(pid).starttime)
      } catch {} // exited
    }
    let fresh = 0
    for (const [pid, start] of now) {
      if (known.get(pid) === start) continue
      fresh++
      if (start >= since && sharesLock(pid, st, names)) found.set(pid, start)
    }
    known = now
    if (fresh === 0) break
  }
  // Those that have exited meanwhile (or whose pid names another process by now) are no holders.
  return [...found].filter(([pid, start]) => known.get(pid) === start).map(([pid]) => pid)
}

/** Does `pid` have a descriptor of the inode whose fdinfo shows a flock lock this process took? */
function sharesLock(pid: number, st: fs.Stats, names: string[]): boolean {
  let fds: string[]
  try {
    fds = proc.listFds(pid)
  } catch {
    return false
  }
  for (const fd of fds) {
    try {
      const target = proc.readLink(pid, 'fd', fd)
      if (!target.startsWith('/') || !names.includes(path.basename(target.replace(/ \(deleted\)$/, '')))) continue
      const s = proc.statUnder(pid, 'fd', fd)
      if (s.ino !== Number(st.ino) || s.dev !== Number(st.dev)) continue
      if (proc.readFdinfoLocks(pid, fd).some((l) => l.kind === 'FLOCK' && l.pid === process.pid && sameFile(l, st.dev, st.ino))) return true
    } catch {}
  }
  return false
}

/** The one to name: none of its ancestors is among `pids`; the oldest (smallest start time) of several such (`known`: their facts, read already). */
export function mainOf(pids: number[], known?: Map<number, {ppid: number; start: number}>): number {
  const set = new Set(pids)
  // `known`: what the caller read already (follow-cgroup.ts); each other process is read once here
  const facts = new Map(known)
  const read = (pid: number) => {
    if (!facts.has(pid)) {
      try {
        const s = proc.readStat(pid)
        facts.set(pid, {ppid: s.ppid, start: s.starttime})
      } catch {
        facts.set(pid, {ppid: 0, start: Number.MAX_SAFE_INTEGER})
      }
    }
    return facts.get(pid)!
  }
  const top = pids.filter((pid) => {
    const seen = new Set<number>()
    for (let p = read(pid).ppid; p > 1 && !seen.has(p); p = read(p).ppid) {
      if (set.has(p)) return false
      seen.add(p)
    }
    return true
  })
  const pool = top.length > 0 ? top : pids
  return pool.reduce((a, b) => (read(b).start < read(a).start || (read(b).start === read(a).start && b < a) ? b : a))
}
