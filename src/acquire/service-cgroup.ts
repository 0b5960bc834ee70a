/**
 * The pidfile's cgroup (issue 22): made for the service once the pidfile is held (the lock
 * serializes starters of one pidfile, so two never race for one cgroup), recorded beside the
 * pidfile's content, and removed when the service has ended. src/cgroup/service.ts says where it
 * lives and how it is named; this module ties it to a PidfileHandle for run and acquire().
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, OptionNamer} from '../errors'
import {
  CGROUP_NEEDS,
  CgroupMode,
  NoCgroup,
  earlierCgroup,
  leftoverConflict,
  makeServiceCgroup,
  moveInto,
  planServiceCgroup,
  removeServiceCgroup,
  removeServiceCgroupNow,
  writeCgroupRecord,
} from '../cgroup/service'
import {bootId} from '../kernel/pidfs'
import {dirOfV2Path, inodeOf, v2PathOf} from '../cgroup/v2'
import {proc} from '../proc/proc-fs'
import type {PidfileHandle} from './handle'

/** The error --cgroup=required gives when no cgroup can be made or entered. */
function required(name: string, no: NoCgroup): NslocateError {
  // The line says what failed; what it takes (CGROUP_NEEDS), or starting without one, is the advice.
  const advice = (n: OptionNamer) =>
    no.needs === CGROUP_NEEDS.access
      ? `run as root or in a cgroup subtree delegated to this user, or use ${n('cgroup', 'auto')}`
      : `use ${n('cgroup', 'auto')} to start without one`
  return new NslocateError('UNSUPPORTED', (n) => `no cgroup for ${name}: ${no.failure}; nothing was started; ${advice(n)}`, {
    details: {reason: 'no_cgroup', why: no.why},
    advice,
  })
}

/**
 * Makes NAME's cgroup for the held pidfile and records it (or records why there is none):
 * handle.cgroup / handle.cgroupNote. Throws CONFLICT when a cgroup an earlier run left still holds
 * processes, and, with mode `required`, UNSUPPORTED when none can be made. Nothing is moved into it
 * yet (enterCgroup). release() removes it (leaveCgroup).
 */
export function attachCgroup(handle: PidfileHandle, name: string, mode: CgroupMode): void {
  if (mode === 'none') return
  // The cgroup the file's earlier run recorded, wherever it made it (it may have run in another
  // cgroup: another session, cron): processes still in it are NAME still running.
  const earlier = earlierCgroup(handle.previousCgroup, fs.fstatSync(handle.fd).uid, proc)
  if (earlier && (earlier.populated || earlier.pids.length > 0)) {
    const boot = bootId()
    if (boot !== null) writeCgroupRecord(handle.fd, {kind: 'made', path: earlier.path, ino: earlier.ino, bootId: boot})
    const error = leftoverConflict(name, earlier.dir, earlier.path, earlier.pids)
    error.details.keepPidfile = true
    throw error
  }
  if (earlier) removeServiceCgroupNow(earlier)
  const plan = planServiceCgroup(name, handle.path, proc)
  let made: ReturnType<typeof makeServiceCgroup>
  try {
    made = plan.kind === 'none' ? plan : makeServiceCgroup(plan, name)
  } catch (error) {
    // Processes an earlier run left in the cgroup (it was SIGKILLed, and they closed the pidfile's
    // descriptor): NAME still runs. The pidfile stays, recording that cgroup again (taking the lock
    // cleared its records), so that find, signal and wait see them.
    if (error instanceof NslocateError && error.code === 'CONFLICT' && plan.kind === 'plan') {
      const ino = inodeOf(plan.dir)
      const boot = bootId()
      if (ino !== null && boot !== null) writeCgroupRecord(handle.fd, {kind: 'made', path: plan.path, ino, bootId: boot})
      error.details.keepPidfile = true
    }
    throw error
  }
  if ('why' in made) {
    if (mode === 'required') throw required(name, made)
    noCgroup(handle, made.why)
    return
  }
  handle.cgroup = made
  const boot = bootId()
  const why = boot === null ? 'the boot id cannot be read' : writeCgroupRecord(handle.fd, {kind: 'made', path: made.path, ino: made.ino, bootId: boot})
  // A cgroup that cannot be recorded still holds the service (find and signal just cannot name it).
  handle.cgroupNote = why === null ? null : `the cgroup ${made.dir} is not recorded beside the pid: ${why}`
}

/**
 * Moves `pid` into the handle's cgroup. On failure the cgroup is removed and the record says why:
 * with mode `required` that is an error (UNSUPPORTED), else the service runs without one.
 */
export function enterCgroup(handle: PidfileHandle, name: string, pid: number, mode: CgroupMode): void {
  const cg = handle.cgroup
  if (!cg) return
  const no = moveInto(cg, pid)
  if (no === null) return
  removeServiceCgroupNow(cg)
  handle.cgroup = null
  if (mode === 'required') throw required(name, no)
  noCgroup(handle, no.why)
}

function noCgroup(handle: PidfileHandle, why: string): void {
  handle.cgroup = null
  handle.cgroupNote = why
  writeCgroupRecord(handle.fd, {kind: 'none', why})
}

/** Removes the handle's cgroup once the service has ended (run: every process in it has exited). */
export async function detachCgroup(handle: PidfileHandle): Promise<void> {
  const cg = handle.cgroup
  if (cg && (await removeServiceCgroup(cg))) handle.cgroup = null
}

/**
 * release()'s part: when this process moved itself into the cgroup (acquire() with its own pid),
 * it moves back to `from` (the directory of the cgroup it came from) first; then the cgroup is
 * removed (one try: when another process still holds it, it stays, and the next acquire() or run
 * of the service removes it once it is empty).
 */
export function leaveCgroup(handle: PidfileHandle, from: string | null): void {
  const cg = handle.cgroup
  if (!cg) return
  if (from) {
    try {
      fs.writeFileSync(path.join(from, 'cgroup.procs'), String(process.pid))
    } catch {}
  }
  removeServiceCgroupNow(cg)
  handle.cgroup = null
}

/** This process's own v2 cgroup directory (to come back to), or null. */
export function ownCgroupDir(): string | null {
  const own = v2PathOf(proc, 'self')
  return own === null ? null : dirOfV2Path(own)
}
