/**
 * Pinning: a pidfd is opened on the pid FIRST, then the process behind the pid is checked to be the
 * one that was identified (same start time). If it is, the pidfd names it for good: signals sent
 * through it can never reach a process that later reuses the pid (ESRCH instead).
 * The pattern of systemd's pidref_verify(); pkill opens a pidfd but does not re-verify.
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {pidfdExited, pidfdOpen, pidfdSendSignal} from '../native/binding'
import {ProcFs} from '../proc/proc-fs'
import {waitPidfdUpTo} from './timers'

/** A process held by a pidfd (`fd`) and checked to be the one identified (same starttime); nspid: its NSpid line. */
export interface Pinned {
  pid: number
  nspid: number[]
  fd: number
  starttime: number
}

/** Why a pid could not be pinned. */
export type PinFailure = 'gone' | 'reused' | 'permission' | 'unsafe'

/** Refusals that hold whatever the pidfile says: pid <= 0, ourselves, our ancestors, our namespace's init. */
export function forbiddenTarget(pid: number, procfs: ProcFs): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return `pid ${pid} is not a process`
  if (pid === process.pid) return `pid ${pid} is nslocate itself`
  // Its death would end every process of the namespace, nslocate's included: say how else to reach it.
  if (pid === 1)
    return 'pid 1 is the init process of this PID namespace (run the service under an init, e.g. docker run --init, or signal it from the host or through --container)'
  if (ancestorsOf(procfs).has(pid)) return `pid ${pid} is an ancestor of nslocate (signalling it would hit the caller)`
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
  let p = process.ppid
  for (let i = 0; i < 256 && p > 1; i++) {
    set.add(p)
    try {
      p = procfs.readStatus(p).ppid
    } catch {
      break
    }
  }
  ancestors = {at: now, procfs, set}
  return set
}

/** Open a pidfd on pid and check it still is the process that started at `starttime` (clock ticks). */
export function pin(pid: number, starttime: number | null, procfs: ProcFs): {pinned: Pinned} | {failure: PinFailure; detail: string} {
  const forbidden = forbiddenTarget(pid, procfs)
  if (forbidden) return {failure: 'unsafe', detail: forbidden}
  let fd: number
  try {
    fd = pidfdOpen(pid)
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return {failure: 'gone', detail: `pid ${pid} has exited`}
    if (isErrno(error, 'EPERM', 'EACCES')) return {failure: 'permission', detail: `not allowed to open a pidfd for pid ${pid}`}
    if ((error as {unsupported?: boolean}).unsupported) {
      throw new NslocateError(
        'UNSUPPORTED',
        `this kernel has no pidfd_open(2) (Linux 5.3+): nslocate will not signal by bare pid, which could hit a reused pid`,
        {cause: error},
      )
    }
    throw error
  }
  try {
    const stat = procfs.readStat(pid)
    const status = procfs.readStatus(pid)
    if (starttime !== null && stat.starttime !== starttime) {
      fs.closeSync(fd)
      return {failure: 'reused', detail: `pid ${pid} now names another process (started at tick ${stat.starttime}, not ${starttime}): the pid was reused`}
    }
    if (pidfdExited(fd) || stat.state === 'Z') {
      fs.closeSync(fd)
      return {failure: 'gone', detail: `pid ${pid} has exited`}
    }
    return {pinned: {pid, nspid: status.nspid, fd, starttime: stat.starttime}}
  } catch (error) {
    fs.closeSync(fd)
    if (isErrno(error, 'ENOENT', 'ESRCH')) return {failure: 'gone', detail: `pid ${pid} has exited`}
    throw error
  }
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
