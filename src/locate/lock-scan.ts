/**
 * Looking for lock holders beyond F_GETLK's answer: /proc/locks, and the fds of processes whose
 * fdinfo shows the lock (lock-holder.ts decides when this is needed). Every read goes through ProcFs.
 */
import fs = require('node:fs')
import path = require('node:path')

import {isErrno} from '../errors'
import {LockLine, LockLineKind, sameFile} from '../proc/parse-locks'
import {ProcFs} from '../proc/proc-fs'
import {hasPtraceCap, seesEveryHolder} from './denial'
import type {FindHolderOptions, IgnoredHolder, Judge, LockFinding} from './lock-finding'
import {holdsLockNative} from './lock-fds'
import type {LockKind} from './types'

/**
 * Every holder of every kind, when the first one seen could not have written the file: another
 * lock, held by a writer, may be behind it (F_GETLK reports only the first conflicting lock, and
 * POSIX, OFD and flock locks coexist). POSIX owners come from /proc/locks; OFD and flock holders
 * from the fd scan. A writer of the first kind found, in that order, is the holder; with none, the
 * file counts as unlocked, unless a lock that no visible holder accounts for may hide one.
 */
export function everyHolder(
  names: string[],
  withRealName: () => string[],
  stat: fs.Stats,
  procfs: ProcFs,
  hintPids: number[],
  opts: FindHolderOptions,
  evidence: string[],
  judge: Judge,
): LockFinding {
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
  const kinds = [...(read.incomplete ? ([['posix', 'POSIX']] as const) : []), ['ofd', 'OFDLCK'], ['flock', 'FLOCK']] as const
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

/**
 * Every visible process holding a `kind` lock on the file; only those that could have written it
 * are holders, the others are `ignored`. `lines`: the /proc/locks lines of this kind on the file;
 * a line no visible holder's fdinfo accounts for, when some fds could not be read, may hide a
 * holder (notVisible). With no line to go by, nothing found and fds denied: notVisible too.
 */
export function scan(
  lock: LockKind,
  kind: LockLineKind,
  names: string[],
  stat: fs.Stats,
  procfs: ProcFs,
  hintPids: number[],
  evidence: string[],
  judge: Judge,
  lines: LockLine[],
): LockFinding {
  // Root in the initial PID namespace sees every holder: only processes that could have written the
  // file are looked into (a user's thousands of descriptors cost nothing), and a lock none of them
  // accounts for is no evidence. Anyone else keeps the old accounting: a lock no visible process
  // accounts for, with some processes unreadable, may be held by one of them.
  const all = seesEveryHolder(procfs)
  const hinted = new Set(hintPids.filter((p) => p > 0))
  const {holders, ignored, denied, explained} = scanEvery(procfs, kind, names, stat, judge, all, hinted)
  sayScanned(evidence, {lock, stat, procfs, hintPids, hinted, holders, ignored, denied})
  // Held by nobody visible that could have written the file. A lock only non-writers account for is
  // no evidence; one nobody visible accounts for may be held by a process we could not check.
  const hidden = !all && (ignored.length === 0 || (lines.length > 0 ? lines.some((l) => !explained.has(lineKey(l))) && denied.length > 0 : denied.length > 0))
  if (all && holders.length === 0)
    evidence.push(
      `no process that could have written the file holds the ${lock} lock; this process sees every process (root in the initial PID namespace), so a lock none of them accounts for is no evidence`,
    )
  const held = holders.length > 0 || hidden
  return {lock: held ? lock : 'none', holders, notVisible: holders.length === 0 && hidden, evidence, denied: held ? denied : [], ignored}
}

/** The fd scan itself: who holds a `kind` lock on the file, who may not be read, which lock lines are accounted for. */
function scanEvery(procfs: ProcFs, kind: LockLineKind, names: string[], stat: fs.Stats, judge: Judge, all: boolean, hinted: Set<number>) {
  const holders: number[] = []
  const ignored: IgnoredHolder[] = []
  const denied: number[] = []
  const explained = new Set<string>()
  for (const pid of procfs.listPids()) {
    if ((all || hinted.has(pid)) && !judge(pid).ok) {
      if (hinted.has(pid)) ignored.push({pid, why: judge(pid).why})
      continue
    }
    // Its lock lines account for /proc/locks lines: those of the first fd in directory order, as always.
    const r = holdsLock(procfs, pid, kind, names, stat, true)
    if (r.denied) denied.push(pid)
    if (!r.holds) continue
    for (const l of r.lines) explained.add(lineKey(l))
    const w = judge(pid)
    if (w.ok) holders.push(pid)
    else ignored.push({pid, why: w.why})
  }
  return {holders, ignored, denied, explained}
}

/** The evidence of a scan: the hints not found, the holders, the processes ignored and those that could not be read. */
function sayScanned(
  evidence: string[],
  s: {lock: LockKind; stat: fs.Stats; procfs: ProcFs; hintPids: number[]; hinted: Set<number>; holders: number[]; ignored: IgnoredHolder[]; denied: number[]},
): void {
  const {lock, stat, holders, ignored, denied} = s
  for (const hint of new Set(s.hintPids)) {
    if (hint <= 0 || holders.includes(hint) || ignored.some((i) => i.pid === hint)) continue
    evidence.push(
      denied.includes(hint)
        ? `pid ${hint} could not be checked (not allowed to read its fds)`
        : `pid ${hint} does not hold the lock (exited, or the pid now names another process)`,
    )
  }
  if (holders.length > 0) {
    evidence.push(
      `fd scan: ${holders.length === 1 ? 'pid' : 'pids'} ${holders.join(', ')} ${holders.length === 1 ? 'holds' : 'hold'} the ${lock} lock (fdinfo lock: line on an fd of ${devIno(stat)})`,
    )
  } else {
    evidence.push(`fd scan: no process visible here that could have written the file holds the ${lock} lock`)
  }
  for (const i of ignored)
    evidence.push(`fd scan: pid ${i.pid} ${s.hinted.has(i.pid) && !holders.includes(i.pid) ? 'may hold' : 'holds'} a ${lock} lock on ${devIno(stat)}, ${i.why}`)
  if (denied.length > 0) {
    const list = `${denied.slice(0, 5).join(', ')}${denied.length > 5 ? ', ...' : ''}`
    evidence.push(
      `fd scan: not allowed to read the fds of ${denied.length} process(es) (${list}); ` +
        (hasPtraceCap(s.procfs)
          ? `this process has CAP_SYS_PTRACE, so ${denied.length === 1 ? 'it is' : 'they are'} protected (a sandbox's or container runtime's init, or a Yama/AppArmor/SELinux policy)`
          : "listing another uid's /proc/PID/fd needs CAP_DAC_READ_SEARCH, reading its links needs CAP_SYS_PTRACE (or run as that uid)"),
    )
  }
}

/** At most this much of /proc/locks is read: the kernel regenerates it from the start at every page, so its cost grows with the square of its length, and any user can take millions of byte-range locks. */
export const LOCKS_READ_MAX = 1 << 20

/** The /proc/locks lines on the file; `incomplete` when there were more locks than LOCKS_READ_MAX bytes (or it could not be read). */
export function locksOn(procfs: ProcFs, stat: fs.Stats, evidence: string[]): {lines: LockLine[]; incomplete: boolean} {
  try {
    const r = procfs.readLocksBounded(LOCKS_READ_MAX)
    if (r.truncated)
      evidence.push(
        `${procfs.root}/locks holds more than ${LOCKS_READ_MAX} bytes of locks (any user can take that many): not read further; the processes that could have written the file are looked into instead`,
      )
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
 * For the real /proc, lock-fds.ts asks the addon, trying first the fd that held it last time: then
 * `lines` may be that fd's, unless `firstFd` (the lines of the first such fd in directory order).
 */
export function holdsLock(
  procfs: ProcFs,
  pid: number,
  kind: LockLineKind,
  names: string[],
  stat: fs.Stats,
  firstFd = false,
): {holds: boolean; denied: boolean; lines: LockLine[]} {
  const fast = holdsLockNative(procfs, pid, kind, names, stat, !firstFd)
  if (fast) return fast
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

/** `dev D inode I` of a file, for the evidence. */
export function devIno(stat: fs.Stats): string {
  return `dev ${Number(stat.dev)} inode ${Number(stat.ino)}`
}
