/** What we report about a process: identity facts read from /proc, each degrading on EACCES. */
import fs = require('node:fs')

import {isErrno} from '../errors'
import {liveProc, pidfsAvailable, pidfsId, pinnedInfo} from '../kernel/pidfs'
import {PidfdInfo, pidfdExited, pidfdOpen} from '../native/binding'
import {ContainerRef, containerFromCgroup} from '../proc/parse-cgroup'
import {outputFacts} from '../proc/native-reads'
import {ProcStat} from '../proc/parse-stat'
import {ProcStatus} from '../proc/parse-status'
import {ProcFs} from '../proc/proc-fs'
import {startedIso, startedMs} from '../proc/start-time'

/** What a LocateResult says of its process (`process`). */
export interface ProcessInfo {
  comm: string
  cmdline: string[]
  uid: number
  ppid: number
  started: string
}

/** A process's status and stat as read during locate(), and its start time. */
export interface ProcessFacts {
  pid: number
  status: ProcStatus
  stat: ProcStat
  /** ms since the epoch, 10 ms resolution, from the sampled boot time (for comparisons with an mtime; `started` is printed from btime) */
  startedMs: number
  /**
   * The pidfs id of the process these facts are of: a pidfd was opened on it BEFORE status and stat
   * were read, and it had not exited after (readFacts). null: not pinned (before Linux 6.9, forced
   * off, a captured /proc, or a thread).
   */
  pidfdId: number | null
  /** PIDFD_GET_INFO of that pidfd, read after status and stat (null: not pinned, or before 6.13) */
  info?: PidfdInfo | null
}

/**
 * The facts of `pid`; null when it is gone. On the live /proc with pidfs (Linux 6.9+) the process
 * is pinned first: a pidfd is opened on it, then status and stat are read, then its id and
 * PIDFD_GET_INFO are taken and the pidfd is asked whether it has exited, so the id is of the
 * process whose facts were read (a pid reused in between, even within one clock tick, cannot lend
 * its id to them). `status`: already read by the caller for this pid; used only when not pinning
 * (it was read before any pin).
 */
export function readFacts(procfs: ProcFs, pid: number, bootMs: number, status?: ProcStatus): ProcessFacts | null {
  if (liveProc(procfs) && pidfsAvailable()) return readPinned(procfs, pid, bootMs)
  try {
    status ??= procfs.readStatus(pid)
    const stat = procfs.readStat(pid)
    return {pid, status, stat, startedMs: startedMs(bootMs, stat.starttime), pidfdId: null}
  } catch {
    return null
  }
}

/** readFacts() on the live /proc: pidfd first, reads, then id, info and the exit check (one pidfd per process, closed here). */
function readPinned(procfs: ProcFs, pid: number, bootMs: number): ProcessFacts | null {
  let fd: number
  try {
    fd = pidfdOpen(pid)
  } catch (error) {
    // ENOENT (EINVAL before 6.9): a thread that is not its group's leader. Its facts are read
    // unpinned, so the callers can say why it is no candidate (a pidfile holds a process's pid).
    if (isErrno(error, 'ENOENT', 'EINVAL')) return threadFacts(procfs, pid, bootMs)
    if (isErrno(error, 'ESRCH', 'EPERM', 'EACCES')) return null
    throw error
  }
  try {
    const status = procfs.readStatus(pid)
    const stat = procfs.readStat(pid)
    const id = pidfsId(fd)
    const info = pinnedInfo(fd)
    if (info && info.pid !== null && info.pid !== pid) return null // not the process /proc/PID reads
    if (pidfdExited(fd)) return null // exited: what was read may already be of a process reusing its pid
    return {pid, status, stat, startedMs: startedMs(bootMs, stat.starttime), pidfdId: id, info}
  } catch {
    return null
  } finally {
    fs.closeSync(fd)
  }
}

/** A thread's facts (unpinned: no pidfd opens on it), or null when `pid` is no thread (any more). */
function threadFacts(procfs: ProcFs, pid: number, bootMs: number): ProcessFacts | null {
  try {
    const status = procfs.readStatus(pid)
    if (status.tgid === status.pid) return null
    const stat = procfs.readStat(pid)
    return {pid, status, stat, startedMs: startedMs(bootMs, stat.starttime), pidfdId: null}
  } catch {
    return null
  }
}

/**
 * The `process` of a result: name, command line, real uid, parent and start time. `read`: its
 * command line, already read. `pinned`: PIDFD_GET_INFO of a pidfd opened on this very process
 * (by-id.ts): its real uid and parent come from there, facts of the pinned process that a pid
 * reused between two reads cannot change.
 */
export function describeProcess(procfs: ProcFs, facts: ProcessFacts, read?: string[] | null, pinned?: PidfdInfo | null): ProcessInfo {
  let cmdline: string[] = read ?? []
  if (read === undefined) {
    try {
      cmdline = procfs.readCmdline(facts.pid)
    } catch {}
  }
  return {
    comm: facts.stat.comm,
    cmdline,
    uid: pinned?.ruid ?? facts.status.uid[0] ?? -1,
    ppid: pinned?.ppid ?? facts.status.ppid,
    started: printedStart(procfs, facts),
  }
}

/**
 * When `facts`' process started, as everything nslocate prints says it (`process.started`, the
 * evidence): from the kernel's btime, not the sampled boot time of startedMs, so the same string on
 * every call and in every process (start-time.ts). startedMs stays what decisions compare.
 */
export function printedStart(procfs: ProcFs, facts: ProcessFacts): string {
  return startedIso(procfs.stableBootMs(), facts.stat.starttime)
}

/** The container a process runs in, from its cgroup (null: none, or unreadable). */
export function readContainer(procfs: ProcFs, pid: number): ContainerRef | null {
  try {
    return containerFromCgroup(procfs.readCgroup(pid))
  } catch {
    return null
  }
}

/**
 * What a result says of its process besides status and stat: its PID namespace, command line
 * (null: unreadable) and container, read in one native call when `procfs` is the real /proc.
 */
export function readOutputs(procfs: ProcFs, pid: number): {pidns: string | null; cmdline: string[] | null; container: ContainerRef | null} {
  const batch = outputFacts(procfs, pid)
  if (!batch) return {pidns: readPidns(procfs, pid), cmdline: readCmdline(procfs, pid), container: readContainer(procfs, pid)}
  let container: ContainerRef | null = null
  try {
    container = batch.cgroup ? containerFromCgroup(batch.cgroup) : null
  } catch {}
  return {pidns: batch.pidns, cmdline: batch.cmdline, container}
}

function readCmdline(procfs: ProcFs, pid: number): string[] | null {
  try {
    return procfs.readCmdline(pid)
  } catch {
    return null
  }
}

/** A process's PID namespace (`pid:[4026531836]`), null if unreadable. */
export function readPidns(procfs: ProcFs, pid: number): string | null {
  try {
    return procfs.readPidnsLink(pid)
  } catch {
    return null
  }
}
