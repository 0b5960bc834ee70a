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

import {isErrno} from '../errors'
import {ProcFs} from '../proc/proc-fs'
import {hasPtraceCap, seesEveryHolder} from './denial'
import {ProcStatus} from '../proc/parse-status'
import {LockKind, LockLine, sameFile} from '../proc/parse-locks'
import {fileIds, processCouldWrite} from './writer'

export type PidfileLock = 'posix' | 'ofd' | 'flock' | 'none'

export interface LockFinding {
  lock: PidfileLock
  /** processes holding it, as pids in the caller's namespace; empty when unlocked or not visible */
  holders: number[]
  /** held, but no holder could be seen from this namespace */
  notVisible: boolean
  evidence: string[]
  /** pids whose fds we were not allowed to read */
  denied: number[]
  /** the holder's /proc status, when the fd check already read it (saves reading it again) */
  holderStatus?: ProcStatus
  /** processes holding a lock on the file that could not have written it: no evidence (writer.ts) */
  ignored: IgnoredHolder[]
}

export interface FindHolderOptions {
  /**
   * The pid written in the pidfile. A flock/OFD holder named by /proc/locks (or by the file) whose
   * own pid (last NSpid column) is this number, and whose fdinfo shows the lock, is the answer the
   * full fd scan would reconcile to: the scan of every process is then skipped.
   */
  writtenPid?: number
  /** Only asking whether this pid still holds the lock (signal's re-check): verified directly. */
  confirm?: number
}

export function findLockHolder(file: string, fd: number, stat: fs.Stats, procfs: ProcFs, hintPids: number[] = [], opts: FindHolderOptions = {}): LockFinding {
  const evidence: string[] = []
  const judge = writerJudge(procfs, stat)
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
  if (probe.type !== 'unlocked') {
    if (probe.pid > 0) {
      const w = judge(probe.pid)
      if (w.ok) {
        // The pid F_GETLK gives is the one recorded when the lock was taken: a lock whose owner was a
        // file table shared with an exited process (CLONE_FILES) names whoever has that pid now.
        // The holder must show the lock on a descriptor of the file (fdinfo), unless its fds may not be read.
        const own = holdsLock(procfs, probe.pid, 'POSIX', withRealName(), stat)
        if (own.holds || own.denied) {
          evidence.push(`fcntl(F_GETLK): POSIX ${probe.type} lock held by pid ${probe.pid} (translated into this namespace by the kernel)${own.holds ? '' : '; its fds could not be read to confirm it'}`)
          return {lock: 'posix', holders: [probe.pid], notVisible: false, evidence, denied: [], holderStatus: w.status, ignored: []}
        }
        evidence.push(`fcntl(F_GETLK): POSIX ${probe.type} lock recorded for pid ${probe.pid}, but pid ${probe.pid} has no descriptor of the file showing it (the lock's owner shared its descriptors and exited; the pid now names another process): not its lock; looking for other holders`)
      } else {
        evidence.push(`fcntl(F_GETLK): POSIX ${probe.type} lock held by pid ${probe.pid}, ${w.why}; looking for other holders`)
      }
      return everyHolder(names, withRealName, stat, procfs, hintPids, opts, evidence, judge)
    }
    if (probe.pid === 0) {
      // Whoever it is cannot be seen, so whether it could have written the file cannot be asked
      // (docs/nslocate.1.md, NOTES, "Who counts": a holder this process cannot see).
      evidence.push('fcntl(F_GETLK): POSIX lock held by a process that is not visible from this PID namespace (l_pid 0)')
      return {lock: 'posix', holders: [], notVisible: true, evidence, denied: [], ignored: []}
    }
    evidence.push('fcntl(F_GETLK): OFD lock held (l_pid -1: open file description locks have no owner); scanning fds for holders')
    const quick = verifiedHolder(procfs, 'OFDLCK', withRealName(), stat, hintPids, opts, judge)
    if (quick) return quickFinding('ofd', quick, stat, evidence)
    return everyHolder(names, () => names, stat, procfs, hintPids, opts, evidence, judge)
  }
  evidence.push('fcntl(F_GETLK): no POSIX or OFD lock')
  // flock locks are invisible to F_GETLK. /proc/locks tells whether one exists (when its caller is
  // visible here); the pidfile's own pid is checked too, since /proc/locks drops the line when the
  // caller is not visible in this /proc's namespace.
  const read = locksOn(procfs, stat, evidence)
  const lines = read.lines.filter((l) => l.kind === 'FLOCK')
  const proven = new Set<number>()
  if (lines.length === 0 && !read.incomplete) {
    for (const p of hintPids) if (p > 0 && judge(p).ok && holdsLock(procfs, p, 'FLOCK', withRealName(), stat).holds) proven.add(p)
    if (proven.size === 0) {
      evidence.push(`${procfs.root}/locks: no flock lock on ${devIno(stat)}`)
      return {lock: 'none', holders: [], notVisible: false, evidence, denied: [], ignored: []}
    }
  } else if (lines.length > 0) {
    evidence.push(`${procfs.root}/locks: flock lock on ${devIno(stat)} created by pid ${lines.map((l) => l.pid).join(', ')} (the caller of flock(), not necessarily a holder)`)
  }
  const hints = [...lines.map((l) => l.pid), ...hintPids]
  withRealName()
  const quick = verifiedHolder(procfs, 'FLOCK', names, stat, hints, opts, judge, proven)
  if (quick) return quickFinding('flock', quick, stat, evidence)
  return scan('flock', 'FLOCK', names, stat, procfs, hints, evidence, judge, lines)
}

/** A lock holder, as weighed by the writer rule (writer.ts). */
export interface IgnoredHolder {
  pid: number
  why: string
}

type Judge = (pid: number, status?: ProcStatus) => {ok: boolean; why: string; status?: ProcStatus}

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
      r = w.ok ? {ok: true, why: w.why, status} : {ok: false, why: `who could not have written the file (${w.why}): its lock is no evidence (anyone who can read a file can lock it)`, status}
    } catch {
      r = {ok: false, why: 'whose credentials could not be read (it may have exited): its lock is no evidence'}
    }
    seen.set(pid, r)
    return r
  }
}

/**
 * Every holder of every kind, when the first one seen could not have written the file: another
 * lock, held by a writer, may be behind it (F_GETLK reports only the first conflicting lock, and
 * POSIX, OFD and flock locks coexist). POSIX owners come from /proc/locks; OFD and flock holders
 * from the fd scan. A writer of the first kind found, in that order, is the holder; with none, the
 * file counts as unlocked, unless a lock that no visible holder accounts for may hide one.
 */
function everyHolder(names: string[], withRealName: () => string[], stat: fs.Stats, procfs: ProcFs, hintPids: number[], opts: FindHolderOptions, evidence: string[], judge: Judge): LockFinding {
  const read = locksOn(procfs, stat, evidence)
  const lines = read.lines
  const ignored: IgnoredHolder[] = []
  const posix = [...new Set(lines.filter((l) => l.kind === 'POSIX' && l.pid > 0).map((l) => l.pid))]
  withRealName()
  for (const pid of posix) {
    const w = judge(pid)
    if (w.ok && !holdsLock(procfs, pid, 'POSIX', names, stat).holds) {
      ignored.push({pid, why: 'which has no descriptor of the file showing that lock (its owner shared its descriptors and exited)'})
      continue
    }
    if (w.ok) {
      evidence.push(`${procfs.root}/locks: POSIX lock on ${devIno(stat)} owned by pid ${pid}, ${w.why}`)
      return {lock: 'posix', holders: [pid], notVisible: false, evidence, denied: [], holderStatus: w.status, ignored}
    }
    ignored.push({pid, why: w.why})
  }
  const denied = new Set<number>()
  let unexplained = false
  // With /proc/locks cut short, a writer's POSIX lock may be among the lines not read: scan for it too.
  const kinds = [...(read.incomplete ? [['posix', 'POSIX']] as const : []), ['ofd', 'OFDLCK'], ['flock', 'FLOCK']] as const
  for (const [lock, kind] of kinds) {
    const mine = lines.filter((l) => l.kind === kind)
    const hints = [...mine.map((l) => l.pid), ...hintPids]
    if (mine.length === 0 && !read.incomplete && !hints.some((p) => p > 0 && judge(p).ok && holdsLock(procfs, p, kind, names, stat).holds)) continue
    const found = scan(lock, kind, names, stat, procfs, hints, evidence, judge, mine)
    for (const d of found.denied) denied.add(d)
    ignored.push(...found.ignored)
    if (found.holders.length > 0) return {...found, ignored}
    if (found.notVisible) unexplained = true
  }
  if (unexplained) {
    evidence.push('a lock on the file is not accounted for by any process visible here, and some processes could not be checked: its holder may be among them')
    return {lock: 'flock', holders: [], notVisible: true, evidence, denied: [...denied], ignored}
  }
  evidence.push(`no process that could have written ${names[0]} holds a lock on it: it counts as unlocked`)
  return {lock: 'none', holders: [], notVisible: false, evidence, denied: [], ignored}
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
function verifiedHolder(procfs: ProcFs, kind: LockKind, names: string[], stat: fs.Stats, hints: number[], opts: FindHolderOptions, judge: Judge, proven = new Set<number>()): Verified | null {
  const holds = (pid: number) => proven.has(pid) || holdsLock(procfs, pid, kind, names, stat).holds
  if (opts.confirm !== undefined && opts.confirm > 0 && judge(opts.confirm).ok && holds(opts.confirm)) return {pid: opts.confirm, why: 'the process asked about'}
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

function quickFinding(lock: PidfileLock, found: Verified, stat: fs.Stats, evidence: string[]): LockFinding {
  evidence.push(`fd check: pid ${found.pid} holds the ${lock} lock (fdinfo lock: line on an fd of ${devIno(stat)}) and ${found.why}: the scan of every process is skipped, so processes sharing that lock through an inherited descriptor are not listed`)
  return {lock, holders: [found.pid], notVisible: false, evidence, denied: [], holderStatus: found.status, ignored: []}
}

/**
 * Every visible process holding a `kind` lock on the file; only those that could have written it
 * are holders, the others are `ignored`. `lines`: the /proc/locks lines of this kind on the file;
 * a line no visible holder's fdinfo accounts for, when some fds could not be read, may hide a
 * holder (notVisible). With no line to go by, nothing found and fds denied: notVisible too.
 */
function scan(lock: PidfileLock, kind: LockKind, names: string[], stat: fs.Stats, procfs: ProcFs, hintPids: number[], evidence: string[], judge: Judge, lines: LockLine[]): LockFinding {
  const holders: number[] = []
  const ignored: IgnoredHolder[] = []
  const denied: number[] = []
  const explained = new Set<string>()
  // Root in the initial PID namespace sees every holder: only processes that could have written the
  // file are looked into (a user's thousands of descriptors cost nothing), and a lock none of them
  // accounts for is no evidence. Anyone else keeps the old accounting: a lock no visible process
  // accounts for, with some processes unreadable, may be held by one of them.
  const all = seesEveryHolder(procfs)
  const hinted = new Set(hintPids.filter((p) => p > 0))
  for (const pid of procfs.listPids()) {
    if ((all || hinted.has(pid)) && !judge(pid).ok) {
      if (hinted.has(pid)) ignored.push({pid, why: judge(pid).why})
      continue
    }
    const r = holdsLock(procfs, pid, kind, names, stat)
    if (r.denied) denied.push(pid)
    if (!r.holds) continue
    for (const l of r.lines) explained.add(lineKey(l))
    const w = judge(pid)
    if (w.ok) holders.push(pid)
    else ignored.push({pid, why: w.why})
  }
  for (const hint of new Set(hintPids)) {
    if (hint <= 0 || holders.includes(hint) || ignored.some((i) => i.pid === hint)) continue
    evidence.push(denied.includes(hint)
      ? `pid ${hint} could not be checked (not allowed to read its fds)`
      : `pid ${hint} does not hold the lock (exited, or the pid now names another process)`)
  }
  if (holders.length > 0) {
    evidence.push(`fd scan: ${holders.length === 1 ? 'pid' : 'pids'} ${holders.join(', ')} ${holders.length === 1 ? 'holds' : 'hold'} the ${lock} lock (fdinfo lock: line on an fd of ${devIno(stat)})`)
  } else {
    evidence.push(`fd scan: no process visible here that could have written the file holds the ${lock} lock`)
  }
  for (const i of ignored) evidence.push(`fd scan: pid ${i.pid} ${hinted.has(i.pid) && !holders.includes(i.pid) ? 'may hold' : 'holds'} a ${lock} lock on ${devIno(stat)}, ${i.why}`)
  if (denied.length > 0) {
    const list = `${denied.slice(0, 5).join(', ')}${denied.length > 5 ? ', ...' : ''}`
    evidence.push(`fd scan: not allowed to read the fds of ${denied.length} process(es) (${list}); ` + (hasPtraceCap(procfs)
      ? `this process has CAP_SYS_PTRACE, so ${denied.length === 1 ? 'it is' : 'they are'} protected (a sandbox's or container runtime's init, or a Yama/AppArmor/SELinux policy)`
      : 'listing another uid\'s /proc/PID/fd needs CAP_DAC_READ_SEARCH, reading its links needs CAP_SYS_PTRACE (or run as that uid)'))
  }
  // Held by nobody visible that could have written the file. A lock only non-writers account for is
  // no evidence; one nobody visible accounts for may be held by a process we could not check.
  const hidden = !all && (ignored.length === 0 || (lines.length > 0 ? lines.some((l) => !explained.has(lineKey(l))) && denied.length > 0 : denied.length > 0))
  if (all && holders.length === 0) evidence.push(`no process that could have written the file holds the ${lock} lock; this process sees every process (root in the initial PID namespace), so a lock none of them accounts for is no evidence`)
  const held = holders.length > 0 || hidden
  return {lock: held ? lock : 'none', holders, notVisible: holders.length === 0 && hidden, evidence, denied: held ? denied : [], ignored}
}

/** At most this much of /proc/locks is read: the kernel regenerates it from the start at every page, so its cost grows with the square of its length, and any user can take millions of byte-range locks. */
export const LOCKS_READ_MAX = 1 << 20

/** The /proc/locks lines on the file; `incomplete` when there were more locks than LOCKS_READ_MAX bytes (or it could not be read). */
function locksOn(procfs: ProcFs, stat: fs.Stats, evidence: string[]): {lines: LockLine[]; incomplete: boolean} {
  try {
    const r = procfs.readLocksBounded(LOCKS_READ_MAX)
    if (r.truncated) evidence.push(`${procfs.root}/locks holds more than ${LOCKS_READ_MAX} bytes of locks (any user can take that many): not read further; the processes that could have written the file are looked into instead`)
    return {lines: r.lines.filter((l) => sameFile(l, stat.dev, stat.ino)), incomplete: r.truncated}
  } catch (error) {
    evidence.push(`cannot read ${procfs.root}/locks: ${(error as Error).message}`)
    return {lines: [], incomplete: true}
  }
}

/** A lock as /proc/locks and fdinfo both show it: kind, READ/WRITE and the pid that took it (-1 for OFD). */
function lineKey(l: LockLine): string {
  return `${l.kind}:${l.access}:${l.pid}`
}

/**
 * Does `pid` have an fd on this dev:inode whose fdinfo carries a `kind` lock line for it? Only fds
 * whose link ends in one of `names` are stat'ed (a hard link under another name is not found).
 */
export function holdsLock(procfs: ProcFs, pid: number, kind: LockKind, names: string[], stat: fs.Stats): {holds: boolean; denied: boolean; lines: LockLine[]} {
  let fds: string[]
  try {
    fds = procfs.listFds(pid)
  } catch (error) {
    return {holds: false, denied: (error as NodeJS.ErrnoException).code === 'EACCES', lines: []}
  }
  let denied = false
  for (const fd of fds) {
    let target: string
    try {
      target = procfs.readLink(pid, 'fd', fd)
    } catch (error) {
      // The fd directory of a process of our own uid lists, but its links need ptrace access
      // (CAP_SYS_PTRACE when the process has capabilities we lack): not seen is not "not held".
      if (isErrno(error, 'EACCES', 'EPERM')) denied = true
      continue
    }
    // Cheap filter on the link text, then confirm identity by dev:inode (paths differ across mount namespaces).
    if (!target.startsWith('/') || !names.includes(path.basename(target.replace(/ \(deleted\)$/, '')))) continue
    try {
      const s = procfs.statUnder(pid, 'fd', fd)
      if (s.ino !== Number(stat.ino) || s.dev !== Number(stat.dev)) continue
      const mine = procfs.readFdinfoLocks(pid, fd).filter((l) => l.kind === kind && sameFile(l, stat.dev, stat.ino))
      if (mine.length > 0) return {holds: true, denied: false, lines: mine}
    } catch (error) {
      if (isErrno(error, 'EACCES', 'EPERM')) denied = true
    }
  }
  return {holds: false, denied, lines: []}
}

export function devIno(stat: fs.Stats): string {
  return `dev ${Number(stat.dev)} inode ${Number(stat.ino)}`
}
