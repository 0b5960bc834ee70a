/**
 * The processes a scope covers, as pids in our namespace. Each is pinned by the caller before it is
 * signalled; discovery here only proposes.
 *   group   every process whose process group is the main process's (escapable with setsid/setpgid)
 *   cgroup  every process in the main process's cgroup (cgroup.procs); not escapable without privilege
 *   tree    the main process and its descendants (the caller re-walks until nothing new appears)
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError} from '../errors'
import {ProcFs} from '../proc/proc-fs'

export type Scope = 'main' | 'group' | 'cgroup' | 'tree'

export function groupMembers(procfs: ProcFs, pgid: number): number[] {
  const out: number[] = []
  for (const pid of procfs.listPids()) {
    try {
      if (procfs.readStat(pid).pgrp === pgid) out.push(pid)
    } catch {}
  }
  return out
}

/** Children of each pid, from one pass over /proc/N/stat. */
export function childrenMap(procfs: ProcFs): Map<number, number[]> {
  const m = new Map<number, number[]>()
  for (const pid of procfs.listPids()) {
    try {
      const {ppid} = procfs.readStat(pid)
      const list = m.get(ppid)
      if (list) list.push(pid)
      else m.set(ppid, [pid])
    } catch {}
  }
  return m
}

export function descendants(procfs: ProcFs, roots: number[]): number[] {
  const children = childrenMap(procfs)
  const seen = new Set<number>()
  const stack = [...roots]
  while (stack.length) {
    const p = stack.pop()!
    for (const c of children.get(p) ?? []) {
      if (!seen.has(c)) {
        seen.add(c)
        stack.push(c)
      }
    }
  }
  return [...seen]
}

export interface CgroupDir {
  /** directory under /sys/fs/cgroup holding cgroup.procs */
  dir: string
  /** cgroup path as /proc/PID/cgroup shows it */
  path: string
  /** cgroup v2 with cgroup.kill (Linux 5.14+) */
  canKill: boolean
}

/**
 * The cgroup directory of pid: the unified (v2) hierarchy when the process is placed in it, else a
 * v1 controller (pids, then name=systemd, then any). Refuses the root cgroup, which holds every
 * process not placed elsewhere.
 */
export function cgroupOf(procfs: ProcFs, pid: number, sysfs = '/sys/fs/cgroup'): CgroupDir {
  const lines = procfs.readCgroup(pid)
  const tries: Array<{base: string; path: string}> = []
  const v2 = lines.find((l) => l.hierarchy === 0)
  if (v2 && v2.path !== '/') tries.push({base: sysfs, path: v2.path}, {base: path.join(sysfs, 'unified'), path: v2.path})
  const v1 = lines.filter((l) => l.hierarchy !== 0 && l.path !== '/')
  const order = (l: {controllers: string[]}) => (l.controllers.includes('pids') ? 0 : l.controllers.includes('name=systemd') ? 1 : 2)
  for (const l of v1.sort((a, b) => order(a) - order(b))) {
    const dirName = l.controllers.map((c) => c.replace(/^name=/, '')).join(',')
    tries.push({base: path.join(sysfs, dirName), path: l.path})
  }
  for (const t of tries) {
    const dir = path.join(t.base, t.path)
    if (fs.existsSync(path.join(dir, 'cgroup.procs'))) return {dir, path: t.path, canKill: fs.existsSync(path.join(dir, 'cgroup.kill'))}
  }
  throw new NslocateError('NOT_VISIBLE', `pid ${pid} is in no cgroup of its own (only the root cgroup, which holds every process): --scope cgroup would hit unrelated processes; use --scope tree or group`, {exitCode: 4})
}

export function cgroupMembers(cg: CgroupDir): number[] {
  return fs.readFileSync(path.join(cg.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
}
