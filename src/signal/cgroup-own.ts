/**
 * --scope cgroup signals every process of a cgroup, so the cgroup must belong to the service alone.
 * Accepted, on cgroup v2 and v1 alike (the first hierarchy of the process that qualifies):
 *   - a container's cgroup, or one inside it: /docker/<id>, docker-<id>.scope, libpod-<id>,
 *     cri-containerd-<id>.scope, crio-<id>.scope, /kubepods/.../pod<uid>/<id> (parse-cgroup.ts);
 *   - a unit's: the path ends in a NAME.service or NAME.scope (optionally with sub-cgroups of it,
 *     none of them a .slice), except init.scope, session-N.scope (a login session) and
 *     user@UID.service (a user's whole manager), which hold unrelated processes.
 * Refused: the root cgroup, a slice, any other path (such as a v1 memory cgroup a sandbox put every
 * process in), and a cgroup that holds nslocate itself or one of whose descendants does.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, OptionNamer} from '../errors'
import {CgroupLine, containerFromCgroup} from '../proc/parse-cgroup'
import {ProcFs} from '../proc/proc-fs'
import {dirOfV2Path, procsBelow} from '../cgroup/v2'

/** A service's own cgroup directory. */
export interface CgroupDir {
  /** directory under /sys/fs/cgroup holding cgroup.procs */
  dir: string
  /** cgroup path as /proc/PID/cgroup shows it */
  path: string
  /** the hierarchy line it came from ('0::' for v2, else the v1 controllers) */
  hierarchy: string
  /** cgroup v2 with cgroup.kill (Linux 5.14+) */
  canKill: boolean
  /** inode of the directory, to tell a re-created cgroup of the same name */
  ino: number
}

const SHARED_UNITS = /^(init\.scope|session-[^/]+\.scope|user@[0-9]+\.service|user-runtime-dir@[0-9]+\.service)$/

/** Why the cgroup path is not a service's own, or null when it is. */
export function notOwnCgroup(cgPath: string): string | null {
  if (cgPath === '/' || cgPath === '') return 'it is the root cgroup, which holds every process not placed elsewhere'
  if (containerFromCgroup([{hierarchy: 0, controllers: [], path: cgPath}])) return null
  const parts = cgPath.split('/').filter(Boolean)
  let unit = -1
  for (let i = 0; i < parts.length; i++) if (/\.(service|scope)$/.test(parts[i])) unit = i
  if (unit === -1)
    return parts[parts.length - 1].endsWith('.slice')
      ? 'it is a slice, shared by many units'
      : "it is neither a container's nor a unit's (.service, .scope) cgroup, so other processes may share it"
  if (SHARED_UNITS.test(parts[unit])) return `${parts[unit]} is shared (a login session, a user's manager, or init)`
  if (parts.slice(unit + 1).some((p) => p.endsWith('.slice'))) return 'it is a slice, shared by many units'
  return null
}

function hierarchyName(l: CgroupLine): string {
  return l.hierarchy === 0 ? '0::' : `${l.controllers.join(',')}:`
}

/** The directories a cgroup line may live in (v2: the unified mount; v1: the controller's mount). */
function dirsOf(l: CgroupLine, sysfs: string): string[] {
  if (l.hierarchy === 0) return [path.join(sysfs, l.path), path.join(sysfs, 'unified', l.path)]
  return [path.join(sysfs, l.controllers.map((c) => c.replace(/^name=/, '')).join(','), l.path)]
}

/** The shared_cgroup refusal: the cgroup (line `l`) also holds nslocate, or a cgroup below it does. */
function refuseIfOurs(l: CgroupLine, self: CgroupLine[], pid: number): void {
  const mine = self.find((s) => s.hierarchy === l.hierarchy && s.controllers.join(',') === l.controllers.join(','))
  if (mine && (mine.path === l.path || mine.path.startsWith(l.path.endsWith('/') ? l.path : `${l.path}/`))) {
    const advice = (n: OptionNamer) => `Use ${n('scope', 'tree')} or group, or run nslocate from outside that cgroup`
    throw new NslocateError(
      'PERMISSION',
      (n) => `${n('scope', 'cgroup')}: pid ${pid}'s cgroup ${hierarchyName(l)}${l.path} also holds nslocate itself; nothing was signalled. ${advice(n)}`,
      {details: {reason: 'shared_cgroup', cgroup: l.path}, advice},
    )
  }
}

/**
 * The cgroup `run` made for the service and recorded beside its pidfile (src/cgroup/service.ts;
 * `recorded`: find's facts, the directory whose inode was the one recorded), when pid is in it now
 * (or in a cgroup below it); null otherwise (the caller then judges pid's cgroups the usual way).
 */
export function recordedCgroupOf(procfs: ProcFs, pid: number, recorded: {dir: string | null} | null): CgroupDir | null {
  if (!recorded?.dir) return null
  let lines: CgroupLine[]
  try {
    lines = procfs.readCgroup(pid)
  } catch {
    return null
  }
  const l = lines.find((x) => x.hierarchy === 0)
  if (!l) return null
  const dir = dirOfV2Path(l.path)
  if (dir === null || (dir !== recorded.dir && !dir.startsWith(`${recorded.dir}/`))) return null
  // pid is at or below the service's cgroup: the service's cgroup path as this process sees it
  const depth = dir.slice(recorded.dir.length).split('/').filter(Boolean).length
  const cgPath = depth === 0 ? l.path : l.path.split('/').slice(0, -depth).join('/') || '/'
  const line = {hierarchy: 0, controllers: [], path: cgPath}
  let self: CgroupLine[] = []
  try {
    self = procfs.readCgroup(process.pid)
  } catch {}
  refuseIfOurs(line, self, pid)
  return {dir: recorded.dir, path: cgPath, hierarchy: '0::', canKill: fs.existsSync(path.join(recorded.dir, 'cgroup.kill')), ino: fs.statSync(recorded.dir).ino}
}

/** The cgroup through which --scope cgroup may signal pid, or a PERMISSION error saying why not. */
export function ownCgroupOf(procfs: ProcFs, pid: number, sysfs = '/sys/fs/cgroup'): CgroupDir {
  const lines = procfs.readCgroup(pid)
  const order = (l: CgroupLine) => (l.hierarchy === 0 ? 0 : l.controllers.includes('pids') ? 1 : l.controllers.includes('name=systemd') ? 2 : 3)
  const refusals: string[] = []
  let self: CgroupLine[] = []
  try {
    self = procfs.readCgroup(process.pid)
  } catch {}
  for (const l of [...lines].sort((a, b) => order(a) - order(b))) {
    const why = notOwnCgroup(l.path)
    if (why) {
      refusals.push(`${hierarchyName(l)}${l.path}: ${why}`)
      continue
    }
    const dir = dirsOf(l, sysfs).find((d) => fs.existsSync(path.join(d, 'cgroup.procs')))
    if (!dir) continue
    refuseIfOurs(l, self, pid)
    return {dir, path: l.path, hierarchy: hierarchyName(l), canKill: fs.existsSync(path.join(dir, 'cgroup.kill')), ino: fs.statSync(dir).ino}
  }
  // Why each of its cgroups is not its own is in the details (--json), not on the line.
  const advice = (n: OptionNamer) => `Use ${n('scope', 'tree')} or group (only a container's or a unit's cgroup, .service or .scope, is used)`
  throw new NslocateError(
    'PERMISSION',
    (n) => `${n('scope', 'cgroup')}: pid ${pid} has no cgroup of its own (shared_cgroup); nothing was signalled. ${advice(n)}`,
    {details: {reason: 'shared_cgroup', refusals: refusals.length ? refusals : ['no cgroup directory found']}, advice},
  )
}

/** The pids listed in the cgroup's cgroup.procs now, and in those of the cgroups below it (cgroup.kill reaches them too). */
export function cgroupMembers(cg: CgroupDir): number[] {
  fs.accessSync(path.join(cg.dir, 'cgroup.procs'), fs.constants.R_OK)
  return procsBelow(cg.dir)
}

/** Is pid (now) in this cgroup directory, or in one below it? */
export function inCgroup(procfs: ProcFs, pid: number, cg: CgroupDir): boolean {
  try {
    return procfs
      .readCgroup(pid)
      .some((l) => hierarchyName(l) === cg.hierarchy && (l.path === cg.path || l.path.startsWith(cg.path === '/' ? '/' : `${cg.path}/`)))
  } catch {
    return false
  }
}

/** The same directory (not one re-created under the name) still exists. */
export function sameCgroup(cg: CgroupDir): boolean {
  try {
    return fs.statSync(cg.dir).ino === cg.ino
  } catch {
    return false
  }
}
