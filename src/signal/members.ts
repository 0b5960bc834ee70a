/**
 * The processes a scope covers, as pids in our namespace. Each is pinned by the caller before it is
 * signalled; discovery here only proposes.
 *   group   every process whose process group is the main process's (escapable with setsid/setpgid)
 *   cgroup  every process in the main process's own cgroup (cgroup.procs; see cgroup-own.ts); not escapable without privilege
 *   tree    the main process and its descendants (the caller re-walks until nothing new appears)
 */
import {ProcFs} from '../proc/proc-fs'

export type {Scope} from '../outcomes'

/** Processes whose process group is pgid, with their start times. */
export function groupMembers(procfs: ProcFs, pgid: number): Array<{pid: number; starttime: number}> {
  const out: Array<{pid: number; starttime: number}> = []
  for (const pid of procfs.listPids()) {
    try {
      const st = procfs.readStat(pid)
      if (st.pgrp === pgid) out.push({pid, starttime: st.starttime})
    } catch {}
  }
  return out
}

/** Children of each pid, with their start times, from one pass over /proc/N/stat. */
export function childrenMap(procfs: ProcFs): Map<number, Array<{pid: number; starttime: number}>> {
  const m = new Map<number, Array<{pid: number; starttime: number}>>()
  for (const pid of procfs.listPids()) {
    try {
      const {ppid, starttime} = procfs.readStat(pid)
      const list = m.get(ppid)
      if (list) list.push({pid, starttime})
      else m.set(ppid, [{pid, starttime}])
    } catch {}
  }
  return m
}

/** Every descendant of the `roots` pids in one /proc scan (by ppid), not the roots themselves. */
export function descendants(procfs: ProcFs, roots: number[]): number[] {
  const children = childrenMap(procfs)
  const seen = new Set<number>()
  const stack = [...roots]
  while (stack.length) {
    const p = stack.pop()!
    for (const {pid: c} of children.get(p) ?? []) {
      if (!seen.has(c)) {
        seen.add(c)
        stack.push(c)
      }
    }
  }
  return [...seen]
}

export {CgroupDir, cgroupMembers, ownCgroupOf} from './cgroup-own'
