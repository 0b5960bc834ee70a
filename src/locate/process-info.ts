/** What we report about a process: identity facts read from /proc, each degrading on EACCES. */
import {ContainerRef, containerFromCgroup} from '../proc/parse-cgroup'
import {ProcStat} from '../proc/parse-stat'
import {ProcStatus} from '../proc/parse-status'
import {CLOCK_TICKS, ProcFs} from '../proc/proc-fs'

export interface ProcessInfo {
  comm: string
  cmdline: string[]
  uid: number
  ppid: number
  started: string
}

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

export function describeProcess(procfs: ProcFs, facts: ProcessFacts): ProcessInfo {
  let cmdline: string[] = []
  try {
    cmdline = procfs.readCmdline(facts.pid)
  } catch {}
  return {
    comm: facts.stat.comm,
    cmdline,
    uid: facts.status.uid[0] ?? -1,
    ppid: facts.status.ppid,
    started: new Date(Math.round(facts.startedMs)).toISOString(),
  }
}

export function readContainer(procfs: ProcFs, pid: number): ContainerRef | null {
  try {
    return containerFromCgroup(procfs.readCgroup(pid))
  } catch {
    return null
  }
}

export function readPidns(procfs: ProcFs, pid: number): string | null {
  try {
    return procfs.readPidnsLink(pid)
  } catch {
    return null
  }
}
