/** What we report about a process: identity facts read from /proc, each degrading on EACCES. */
import type {PidfdInfo} from '../native/binding'
import {ContainerRef, containerFromCgroup} from '../proc/parse-cgroup'
import {outputFacts} from '../proc/native-reads'
import {ProcStat} from '../proc/parse-stat'
import {ProcStatus} from '../proc/parse-status'
import {CLOCK_TICKS, ProcFs} from '../proc/proc-fs'

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
  /** ms since the epoch, 10 ms resolution */
  startedMs: number
}

/** `status`: already read by the caller for this pid (it is not read again). */
export function readFacts(procfs: ProcFs, pid: number, bootMs: number, status?: ProcStatus): ProcessFacts | null {
  try {
    status ??= procfs.readStatus(pid)
    const stat = procfs.readStat(pid)
    return {pid, status, stat, startedMs: bootMs + (stat.starttime * 1000) / CLOCK_TICKS}
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
    started: new Date(Math.round(facts.startedMs)).toISOString(),
  }
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
