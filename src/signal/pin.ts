/**
 * Pinning: a pidfd is opened on the pid FIRST, then the process behind the pid is checked to be the
 * one that was identified: the same pidfs id (Linux 6.9+; src/kernel/pidfs.ts), the pid the kernel
 * reports for the pinned process (PIDFD_GET_INFO, 6.13+), and the same start time. If it is, the
 * pidfd names it for good: signals sent through it can never reach a process that later reuses the
 * pid (ESRCH instead). /proc is read only for what the pidfd cannot tell (start time, NSpid), and
 * each read is followed by a look at the pidfd: a process still alive after the read is the one read.
 * The pattern of systemd's pidref_verify(); pkill opens a pidfd but does not re-verify.
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {liveProc, pidfsId, pinnedInfo} from '../kernel/pidfs'
import {pidfdExited, pidfdOpen, pidfdSendSignal} from '../native/binding'
import {ProcFs} from '../proc/proc-fs'
import {waitPidfdUpTo} from './timers'

/** A process held by a pidfd (`fd`) and checked to be the one identified (same pidfs id, same starttime); nspid: its NSpid line. */
export interface Pinned {
  pid: number
  nspid: number[]
  fd: number
  starttime: number
  /** its pidfs id (fstat of the pidfd): the same number for the life of the boot; null before Linux 6.9 (or NSLOCATE_FORCE_FALLBACK=pidfs) */
  id: number | null
}

/** Why a pid could not be pinned. */
export type PinFailure = 'gone' | 'reused' | 'permission' | 'unsafe'

/** Refusals that hold whatever the pidfile says: pid <= 0, ourselves, our ancestors, our namespace's init. */
export function forbiddenTarget(pid: number, procfs: ProcFs): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return `pid ${pid} is not a process`
  if (pid === process.pid) return `pid ${pid} is nslocate itself`
  // Its death would end every process of the namespace, nslocate's included (refusal.ts pinRefusal says how else to reach it).
  if (pid === 1) return `pid 1 is the init process of this PID namespace`
  if (ancestorsOf(procfs).has(pid)) return `pid ${pid} is an ancestor of nslocate`
  return null
}

/**
 * nslocate's ancestors (parent up to, not including, pid 1), walked once and kept for a second:
 * a scope's members are each checked, and the walk reads one /proc status per ancestor. Kept
 * longer it could only refuse too much, never too little: a process's ancestors can die (and
 * their pids be reused, hence the short life), but a new one never appears above it, as an orphan
 * goes to a subreaper that already is its ancestor, or to pid 1.
 */
const ANCESTORS_TTL_MS = 1000
let ancestors: {at: number; procfs: ProcFs; set: Set<number>} | null = null

function ancestorsOf(procfs: ProcFs): Set<number> {
  const now = Number(process.hrtime.bigint()) / 1e6
  if (ancestors && ancestors.procfs === procfs && now - ancestors.at < ANCESTORS_TTL_MS) return ancestors.set
  const set = new Set<number>()
  let p: number | null = process.ppid
  for (let i = 0; i < 256 && p !== null && p > 1; i++) {
    set.add(p)
    p = parentOf(p, procfs)
  }
  ancestors = {at: now, procfs, set}
  return set
}

/**
 * The parent of pid: from PIDFD_GET_INFO on a pidfd opened on it (Linux 6.13+), a fact of that
 * process and not of whoever has the number by the time /proc is read; else /proc/PID/status.
 * null when it has exited.
 */
function parentOf(pid: number, procfs: ProcFs): number | null {
  if (liveProc(procfs)) {
    let fd = -1
    try {
      fd = pidfdOpen(pid)
      const info = pinnedInfo(fd)
      if (info && info.pid === pid && info.ppid !== null) return info.ppid
    } catch {
      // gone, or no pidfd here: /proc says what it can
    } finally {
      if (fd >= 0) fs.closeSync(fd)
    }
  }
  try {
    return procfs.readStatus(pid).ppid
  } catch {
    return null
  }
}

/** What pin() answers: the pinned process, or why it could not be pinned. */
export type PinResult = {pinned: Pinned} | {failure: PinFailure; detail: string}

/**
 * Opens a pidfd on pid and checks it still is the process identified: the one whose pidfs id is
 * `expectedId` (when given and the kernel has ids: a pid reused within the same clock tick is told
 * apart only so), that started at `starttime` (clock ticks; null: not checked), and that the kernel
 * reports at pid (PIDFD_GET_INFO). Never for a forbiddenTarget().
 */
export function pin(pid: number, starttime: number | null, procfs: ProcFs, expectedId: number | null = null): PinResult {
  const forbidden = forbiddenTarget(pid, procfs)
  if (forbidden) return {failure: 'unsafe', detail: forbidden}
  const opened = openPidfd(pid, procfs)
  if ('failure' in opened) return opened
  return pinOpened(opened.fd, pid, starttime, procfs, expectedId)
}

/**
 * pin() on a pidfd already open (e.g. reopened from a pidfs id: src/kernel/pidfs.ts openById), which
 * it takes over: the same refusals and checks, and on any failure the pidfd is closed.
 */
export function pinOpened(fd: number, pid: number, starttime: number | null, procfs: ProcFs, expectedId: number | null = null): PinResult {
  try {
    const forbidden = forbiddenTarget(pid, procfs)
    if (forbidden) {
      fs.closeSync(fd)
      return {failure: 'unsafe', detail: forbidden}
    }
    const why = checkPinned(fd, pid, starttime, procfs, expectedId)
    if ('failure' in why) {
      fs.closeSync(fd)
      return why
    }
    return {pinned: {pid, nspid: why.nspid, fd, starttime: why.starttime, id: why.id}}
  } catch (error) {
    try {
      fs.closeSync(fd)
    } catch {}
    // ENOENT: /proc/PID went away; ESRCH: PIDFD_GET_INFO on a reaped process
    if (isErrno(error, 'ENOENT', 'ESRCH')) return {failure: 'gone', detail: `pid ${pid} has exited`}
    // /proc/PID hidden (hidepid) or the pidfd refused: say so, never a stack trace
    if (isErrno(error, 'EPERM', 'EACCES')) return {failure: 'permission', detail: `not allowed to read /proc/${pid} or its pidfd`}
    throw error
  }
}

/** pidfd_open(pid), its errors as pin failures (a kernel without pidfds is UNSUPPORTED: nslocate never signals a bare pid). */
function openPidfd(pid: number, procfs: ProcFs): {fd: number} | {failure: PinFailure; detail: string} {
  try {
    return {fd: pidfdOpen(pid)}
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return {failure: 'gone', detail: `pid ${pid} has exited`}
    if (isErrno(error, 'EPERM', 'EACCES')) return {failure: 'permission', detail: `not allowed to open a pidfd for pid ${pid}`}
    // pidfd_open(2) refuses a thread that does not lead its thread group (without PIDFD_THREAD):
    // ENOENT since Linux 6.9, EINVAL before.
    if (isErrno(error, 'EINVAL', 'ENOENT')) return {failure: 'unsafe', detail: threadOf(pid, procfs)}
    if ((error as {unsupported?: boolean}).unsupported) {
      throw new NslocateError(
        'UNSUPPORTED',
        // (a bare pid could be reused)
        'no pidfd_open(2) in this kernel (Linux 5.3+): nslocate will not signal a bare pid',
        {cause: error},
      )
    }
    throw error
  }
}

/** Why pid, which pidfd_open(2) refused as no thread-group leader, is not signalled: the process it is a thread of, from /proc where readable. */
function threadOf(pid: number, procfs: ProcFs): string {
  let tgid: number | null = null
  try {
    tgid = procfs.readStatus(pid).tgid
  } catch {}
  return tgid !== null && tgid !== pid ? `pid ${pid} is a thread of process ${tgid}, not a process` : `pid ${pid} is a thread of another process, not a process`
}

/**
 * Whether a process whose /proc state is Z has exited as a whole: its main thread is a zombie, and
 * no other thread of it is left (/proc/PID/task lists the leader alone). A main thread that called
 * pthread_exit() while other threads run is Z too, but the process runs on.
 */
function zombieAlone(pid: number, procfs: ProcFs): boolean {
  try {
    const tasks = fs.readdirSync(`${procfs.root}/${pid}/task`)
    return tasks.length === 1 && tasks[0] === String(pid)
  } catch {
    return true // /proc/PID is gone: so is the process
  }
}

/**
 * The checks of pin() on an open pidfd: the kernel's facts first (pidfs id, PIDFD_GET_INFO pid), then
 * /proc for what they lack (start time, state, NSpid), then the pidfd again: alive after the reads,
 * the process read was the pinned one.
 */
function checkPinned(
  fd: number,
  pid: number,
  starttime: number | null,
  procfs: ProcFs,
  expectedId: number | null,
): {id: number | null; starttime: number; nspid: number[]} | {failure: PinFailure; detail: string} {
  const id = pidfsId(fd)
  if (expectedId !== null && id !== null && id !== expectedId) {
    return {failure: 'reused', detail: `pid ${pid} now names another process (pidfs id ${id}, not ${expectedId}): the pid was reused`}
  }
  const info = pinnedInfo(fd)
  // Reaped (only the exit status is left), or (never seen) a process the kernel numbers otherwise.
  if (info && info.pid !== pid) return {failure: 'gone', detail: `pid ${pid} has exited`}
  const stat = procfs.readStat(pid)
  const status = procfs.readStatus(pid)
  if (starttime !== null && stat.starttime !== starttime) {
    return {failure: 'reused', detail: `pid ${pid} now names another process (started at tick ${stat.starttime}, not ${starttime}): the pid was reused`}
  }
  // pidfdExited: the kernel's own test that the whole thread group has exited. A Z state alone is not
  // one: it is the main thread's, and the process runs on while another thread does.
  if (pidfdExited(fd) || (stat.state === 'Z' && zombieAlone(pid, procfs))) return {failure: 'gone', detail: `pid ${pid} has exited`}
  return {id, starttime: stat.starttime, nspid: status.nspid}
}

/** Closes the process's pidfd (errors ignored). */
export function unpin(p: Pinned): void {
  try {
    fs.closeSync(p.fd)
  } catch {}
}

/** pidfd_send_signal; ESRCH -> 'gone', EPERM -> 'permission'. */
export function send(p: Pinned, sig: number): 'sent' | 'gone' | 'permission' {
  try {
    pidfdSendSignal(p.fd, sig)
    return 'sent'
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return 'gone'
    if (isErrno(error, 'EPERM', 'EACCES')) return 'permission'
    throw error
  }
}

/** Resolves true when the pinned process exits within ms (any size: chunked), false on timeout. */
export function waitExit(p: Pinned, ms: number): Promise<boolean> {
  return waitPidfdUpTo(p.fd, ms)
}
