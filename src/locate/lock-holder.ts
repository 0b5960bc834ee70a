/**
 * Who holds the lock on an open pidfile, for every lock kind, without ever taking a lock
 * (a probe lock can make a starting service fail, as pgrep -L's flock probe can).
 *
 * 1. fcntl(F_GETLK): POSIX locks. l_pid > 0 is the holder in OUR pid namespace; 0 means the holder
 *    is not visible from here; -1 means an OFD lock (no owning process).
 * 2. OFD and flock locks have no owner pid: scan /proc/PID/fd for fds on this dev:inode and keep
 *    those whose fdinfo has a matching `lock:` line (every fd sharing the open file description
 *    shows it). /proc/locks is used only to decide whether the scan is needed: for flock it names
 *    whoever CALLED flock(), who may be dead or an innocent process that reused the pid.
 */
import fs = require('node:fs')
import path = require('node:path')

import {ProcStatus} from '../proc/parse-status'
import {LockLineKind} from '../proc/parse-locks'
import {ProcFs} from '../proc/proc-fs'
import type {FindHolderOptions, Judge, LockFinding} from './lock-finding'
import {devIno, everyHolder, holdsLock, locksOn, scan} from './lock-scan'
import type {LockKind} from './types'
import {fileIds, processCouldWrite} from './writer'

export type {FindHolderOptions, IgnoredHolder, LockFinding} from './lock-finding'
export {LOCKS_READ_MAX, devIno, holdsLock} from './lock-scan'
/** @deprecated LockKind (types.ts) */

/** One findLockHolder() question: the file, what is known so far, and the writer rule. */
interface Ask {
  stat: fs.Stats
  procfs: ProcFs
  hintPids: number[]
  opts: FindHolderOptions
  evidence: string[]
  judge: Judge
  /** the names a holder's fd link may end with: the file's, then (once asked) its real one */
  names: string[]
  withRealName: () => string[]
}

/** The holder of the lock on the open pidfile `fd`, of every lock kind, without taking a lock (see the header). */
export function findLockHolder(file: string, fd: number, stat: fs.Stats, procfs: ProcFs, hintPids: number[] = [], opts: FindHolderOptions = {}): LockFinding {
  // /proc/locks drops the line of a flock() caller that has exited (lock, then daemonize) when this
  // /proc is not the init namespace's: the process asked about is then a hint like the file's pid.
  if (opts.confirm !== undefined && opts.confirm > 0) hintPids = [opts.confirm, ...hintPids]
  const probe = procfs.probeLock(fd)
  // Holders' fd links show the file's real path: match the opened file's own name too (a symlinked
  // pidfile). Only needed past the POSIX answer.
  const names = [path.basename(file)]
  let named = false
  const withRealName = () => {
    if (named) return names
    named = true
    try {
      names.push(path.basename(procfs.readLink('self', 'fd', String(fd)).replace(/ \(deleted\)$/, '')))
    } catch {}
    return names
  }
  const ask: Ask = {stat, procfs, hintPids, opts, evidence: [], judge: writerJudge(procfs, stat), names, withRealName}
  if (probe.type === 'unlocked') return flockHolder(ask)
  if (probe.pid > 0) return posixHolder(ask, probe.pid, probe.type)
  if (probe.pid === 0) {
    // Whoever it is cannot be seen, so whether it could have written the file cannot be asked
    // (docs/nslocate.1.md, NOTES, "Who counts": a holder this process cannot see).
    ask.evidence.push('fcntl(F_GETLK): POSIX lock held by a process that is not visible from this PID namespace (l_pid 0)')
    return {lock: 'posix', holders: [], notVisible: true, evidence: ask.evidence, denied: [], ignored: []}
  }
  ask.evidence.push('fcntl(F_GETLK): OFD lock held (l_pid -1: open file description locks have no owner); scanning fds for holders')
  const quick = verifiedHolder(procfs, 'OFDLCK', withRealName(), stat, hintPids, opts, ask.judge)
  if (quick) return quickFinding('ofd', quick, stat, ask.evidence)
  return everyHolder(names, () => names, stat, procfs, hintPids, opts, ask.evidence, ask.judge)
}

/** F_GETLK named a POSIX lock owner: it is the holder if it could have written the file and shows the lock. */
function posixHolder(ask: Ask, pid: number, type: string): LockFinding {
  const {evidence} = ask
  const w = ask.judge(pid)
  if (w.ok) {
    // The pid F_GETLK gives is the one recorded when the lock was taken: a lock whose owner was a
    // file table shared with an exited process (CLONE_FILES) names whoever has that pid now.
    // The holder must show the lock on a descriptor of the file (fdinfo), unless its fds may not be read.
    const own = holdsByName(ask, pid)
    if (own.holds || own.denied) {
      evidence.push(
        `fcntl(F_GETLK): POSIX ${type} lock held by pid ${pid} (translated into this namespace by the kernel)${own.holds ? '' : '; its fds could not be read to confirm it'}`,
      )
      return {lock: 'posix', holders: [pid], notVisible: false, evidence, denied: [], holderStatus: w.status, ignored: []}
    }
    evidence.push(
      `fcntl(F_GETLK): POSIX ${type} lock recorded for pid ${pid}, but pid ${pid} has no descriptor of the file showing it (the lock's owner shared its descriptors and exited; the pid now names another process): not its lock; looking for other holders`,
    )
  } else {
    evidence.push(`fcntl(F_GETLK): POSIX ${type} lock held by pid ${pid}, ${w.why}; looking for other holders`)
  }
  return everyHolder(ask.names, ask.withRealName, ask.stat, ask.procfs, ask.hintPids, ask.opts, evidence, ask.judge)
}

/**
 * holdsLock() for a POSIX holder: by the name the file was opened by first, then (only when that
 * finds nothing) by its real name too, which costs a readlink (a symlinked pidfile).
 */
function holdsByName(ask: Ask, pid: number): ReturnType<typeof holdsLock> {
  const known = ask.names.length
  const first = holdsLock(ask.procfs, pid, 'POSIX', ask.names, ask.stat)
  if (first.holds || ask.withRealName().length === known) return first
  return holdsLock(ask.procfs, pid, 'POSIX', ask.names, ask.stat)
}

/**
 * No POSIX or OFD lock: flock locks are invisible to F_GETLK. /proc/locks tells whether one exists
 * (when its caller is visible here); the pidfile's own pid is checked too, since /proc/locks drops
 * the line when the caller is not visible in this /proc's namespace.
 */
function flockHolder(ask: Ask): LockFinding {
  const {stat, procfs, evidence, judge, names} = ask
  evidence.push('fcntl(F_GETLK): no POSIX or OFD lock')
  const read = locksOn(procfs, stat, evidence)
  const lines = read.lines.filter((l) => l.kind === 'FLOCK')
  const proven = new Set<number>()
  if (lines.length === 0 && !read.incomplete) {
    for (const p of ask.hintPids) if (p > 0 && judge(p).ok && holdsLock(procfs, p, 'FLOCK', ask.withRealName(), stat).holds) proven.add(p)
    if (proven.size === 0) {
      evidence.push(`${procfs.root}/locks: no flock lock on ${devIno(stat)}`)
      return {lock: 'none', holders: [], notVisible: false, evidence, denied: [], ignored: []}
    }
  } else if (lines.length > 0) {
    evidence.push(
      `${procfs.root}/locks: flock lock on ${devIno(stat)} created by pid ${lines.map((l) => l.pid).join(', ')} (the caller of flock(), not necessarily a holder)`,
    )
  }
  const hints = [...lines.map((l) => l.pid), ...ask.hintPids]
  ask.withRealName()
  const quick = verifiedHolder(procfs, 'FLOCK', names, stat, hints, ask.opts, judge, proven)
  if (quick) return quickFinding('flock', quick, stat, evidence)
  return scan('flock', 'FLOCK', names, stat, procfs, hints, evidence, judge, lines)
}

/** Whether a holder could have written the file; memoized per pid for one findLockHolder call. */
function writerJudge(procfs: ProcFs, stat: fs.Stats): Judge {
  const ids = fileIds(stat)
  const seen = new Map<number, ReturnType<Judge>>()
  return (pid, status) => {
    const known = seen.get(pid)
    if (known) return known
    let r: ReturnType<Judge>
    try {
      status ??= procfs.readStatus(pid)
      const w = processCouldWrite(procfs, pid, status, ids)
      r = w.ok
        ? {ok: true, why: w.why, status}
        : {ok: false, why: `who could not have written the file (${w.why}): its lock is no evidence (anyone who can read a file can lock it)`, status}
    } catch {
      r = {ok: false, why: 'whose credentials could not be read (it may have exited): its lock is no evidence'}
    }
    seen.set(pid, r)
    return r
  }
}

interface Verified {
  pid: number
  why: string
  status?: ProcStatus
}

/**
 * A hinted pid that provably holds the lock and is the one asked about (see FindHolderOptions).
 * `proven`: pids already seen holding it (their fds are not read again).
 */
function verifiedHolder(
  procfs: ProcFs,
  kind: LockLineKind,
  names: string[],
  stat: fs.Stats,
  hints: number[],
  opts: FindHolderOptions,
  judge: Judge,
  proven = new Set<number>(),
): Verified | null {
  const holds = (pid: number) => proven.has(pid) || holdsLock(procfs, pid, kind, names, stat).holds
  if (opts.confirm !== undefined && opts.confirm > 0 && judge(opts.confirm).ok && holds(opts.confirm))
    return {pid: opts.confirm, why: 'the process asked about'}
  if (opts.writtenPid === undefined) return null
  for (const pid of new Set(hints)) {
    if (pid <= 0) continue
    let status: ProcStatus
    try {
      status = procfs.readStatus(pid)
    } catch {
      continue
    }
    const own = status.nspid[status.nspid.length - 1]
    // Only a holder that could have written the file is the answer; any other is left to the scan.
    if (own === opts.writtenPid && judge(pid, status).ok && holds(pid)) return {pid, why: `its own pid (${own}) is the one in the file`, status}
  }
  return null
}

function quickFinding(lock: LockKind, found: Verified, stat: fs.Stats, evidence: string[]): LockFinding {
  evidence.push(
    `fd check: pid ${found.pid} holds the ${lock} lock (fdinfo lock: line on an fd of ${devIno(stat)}) and ${found.why}: the scan of every process is skipped, so processes sharing that lock through an inherited descriptor are not listed`,
  )
  return {lock, holders: [found.pid], notVisible: false, evidence, denied: [], holderStatus: found.status, ignored: []}
}
