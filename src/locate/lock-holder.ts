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
import {hasPtraceCap} from './denial'
import {ProcStatus} from '../proc/parse-status'
import {LockKind, LockLine, sameFile} from '../proc/parse-locks'

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
  // /proc/locks drops the line of a flock() caller that has exited (lock, then daemonize) when this
  // /proc is not the init namespace's: the process asked about is then a hint like the file's pid.
  if (opts.confirm !== undefined && opts.confirm > 0) hintPids = [opts.confirm, ...hintPids]
  const probe = procfs.probeLock(fd)
  // Holders' fd links show the file's real path: match the opened file's own name too (a symlinked
  // pidfile). Only needed past the POSIX answer.
  const names = [path.basename(file)]
  const withRealName = () => {
    try {
      names.push(path.basename(procfs.readLink('self', 'fd', String(fd))))
    } catch {}
    return names
  }
  if (probe.type !== 'unlocked') {
    if (probe.pid > 0) {
      evidence.push(`fcntl(F_GETLK): POSIX ${probe.type} lock held by pid ${probe.pid} (translated into this namespace by the kernel)`)
      return {lock: 'posix', holders: [probe.pid], notVisible: false, evidence, denied: []}
    }
    if (probe.pid === 0) {
      evidence.push('fcntl(F_GETLK): POSIX lock held by a process that is not visible from this PID namespace (l_pid 0)')
      return {lock: 'posix', holders: [], notVisible: true, evidence, denied: []}
    }
    evidence.push('fcntl(F_GETLK): OFD lock held (l_pid -1: open file description locks have no owner); scanning fds for holders')
    const quick = verifiedHolder(procfs, 'OFDLCK', withRealName(), stat, hintPids, opts)
    if (quick) return quickFinding('ofd', quick, stat, evidence)
    return scan('ofd', 'OFDLCK', names, stat, procfs, hintPids, evidence)
  }
  evidence.push('fcntl(F_GETLK): no POSIX or OFD lock')
  // flock locks are invisible to F_GETLK. /proc/locks tells whether one exists (when its caller is
  // visible here); the pidfile's own pid is checked too, since /proc/locks drops the line when the
  // caller is not visible in this /proc's namespace.
  withRealName()
  let flockLines: LockLine[] = []
  try {
    flockLines = procfs.readLocks().filter((l) => l.kind === 'FLOCK' && sameFile(l, stat.dev, stat.ino))
  } catch (error) {
    evidence.push(`cannot read ${procfs.root}/locks: ${(error as Error).message}`)
  }
  const proven = new Set<number>()
  if (flockLines.length === 0) {
    for (const p of hintPids) if (p > 0 && holdsLock(procfs, p, 'FLOCK', names, stat).holds) proven.add(p)
    if (proven.size === 0) {
      evidence.push(`${procfs.root}/locks: no flock lock on ${devIno(stat)}`)
      return {lock: 'none', holders: [], notVisible: false, evidence, denied: []}
    }
  } else {
    evidence.push(`${procfs.root}/locks: flock lock on ${devIno(stat)} created by pid ${flockLines.map((l) => l.pid).join(', ')} (the caller of flock(), not necessarily a holder)`)
  }
  const hints = [...flockLines.map((l) => l.pid), ...hintPids]
  const quick = verifiedHolder(procfs, 'FLOCK', names, stat, hints, opts, proven)
  if (quick) return quickFinding('flock', quick, stat, evidence)
  return scan('flock', 'FLOCK', names, stat, procfs, hints, evidence)
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
function verifiedHolder(procfs: ProcFs, kind: LockKind, names: string[], stat: fs.Stats, hints: number[], opts: FindHolderOptions, proven = new Set<number>()): Verified | null {
  const holds = (pid: number) => proven.has(pid) || holdsLock(procfs, pid, kind, names, stat).holds
  if (opts.confirm !== undefined && opts.confirm > 0 && holds(opts.confirm)) return {pid: opts.confirm, why: 'the process asked about'}
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
    if (own === opts.writtenPid && holds(pid)) return {pid, why: `its own pid (${own}) is the one in the file`, status}
  }
  return null
}

function quickFinding(lock: PidfileLock, found: Verified, stat: fs.Stats, evidence: string[]): LockFinding {
  evidence.push(`fd check: pid ${found.pid} holds the ${lock} lock (fdinfo lock: line on an fd of ${devIno(stat)}) and ${found.why}: the scan of every process is skipped, so processes sharing that lock through an inherited descriptor are not listed`)
  return {lock, holders: [found.pid], notVisible: false, evidence, denied: [], holderStatus: found.status}
}

function scan(lock: PidfileLock, kind: LockKind, names: string[], stat: fs.Stats, procfs: ProcFs, hintPids: number[], evidence: string[]): LockFinding {
  const holders: number[] = []
  const denied: number[] = []
  for (const pid of procfs.listPids()) {
    const r = holdsLock(procfs, pid, kind, names, stat)
    if (r.denied) denied.push(pid)
    if (r.holds) holders.push(pid)
  }
  for (const hint of new Set(hintPids)) {
    if (hint <= 0 || holders.includes(hint)) continue
    evidence.push(denied.includes(hint)
      ? `pid ${hint} could not be checked (not allowed to read its fds)`
      : `pid ${hint} does not hold the lock (exited, or the pid now names another process)`)
  }
  if (holders.length > 0) {
    evidence.push(`fd scan: ${holders.length === 1 ? 'pid' : 'pids'} ${holders.join(', ')} ${holders.length === 1 ? 'holds' : 'hold'} the ${lock} lock (fdinfo lock: line on an fd of ${devIno(stat)})`)
  } else {
    evidence.push(`fd scan: no process visible here holds the ${lock} lock`)
  }
  if (denied.length > 0) {
    const list = `${denied.slice(0, 5).join(', ')}${denied.length > 5 ? ', ...' : ''}`
    evidence.push(`fd scan: not allowed to read the fds of ${denied.length} process(es) (${list}); ` + (hasPtraceCap(procfs)
      ? `this process has CAP_SYS_PTRACE, so ${denied.length === 1 ? 'it is' : 'they are'} protected (a sandbox's or container runtime's init, or a Yama/AppArmor/SELinux policy)`
      : 'listing another uid\'s /proc/PID/fd needs CAP_DAC_READ_SEARCH, reading its links needs CAP_SYS_PTRACE (or run as that uid)'))
  }
  return {lock, holders, notVisible: holders.length === 0, evidence, denied}
}

/**
 * Does `pid` have an fd on this dev:inode whose fdinfo carries a `kind` lock line for it? Only fds
 * whose link ends in one of `names` are stat'ed (a hard link under another name is not found).
 */
export function holdsLock(procfs: ProcFs, pid: number, kind: LockKind, names: string[], stat: fs.Stats): {holds: boolean; denied: boolean} {
  let fds: string[]
  try {
    fds = procfs.listFds(pid)
  } catch (error) {
    return {holds: false, denied: (error as NodeJS.ErrnoException).code === 'EACCES'}
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
      if (procfs.readFdinfoLocks(pid, fd).some((l) => l.kind === kind && sameFile(l, stat.dev, stat.ino))) return {holds: true, denied: false}
    } catch (error) {
      if (isErrno(error, 'EACCES', 'EPERM')) denied = true
    }
  }
  return {holds: false, denied}
}

export function devIno(stat: fs.Stats): string {
  return `dev ${Number(stat.dev)} inode ${Number(stat.ino)}`
}
