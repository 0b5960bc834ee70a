/**
 * waitFor(NAME, 'stopped') on a running service: pin the main process and the lock holder with
 * pidfds, wait until every one of them has exited, and, for a POSIX-locked pidfile, settle the
 * answer with one F_GETLK instead of a full re-locate.
 */
import fs = require('node:fs')

import {isErrno} from '../errors'
import type {Located, LocateResult} from '../locate/locate'
import {OpenedPidfile, openPidfile} from '../locate/pidfile'
import {probePosixLock} from '../native/binding'
import type {ProcFs} from '../proc/proc-fs'
import {ExitStatus, exitStatusOf} from './exit-status'
import {Pinned, pin, unpin, waitExit} from './pin'
import {isExited} from './scope'
import type {WaitCondition, WaitOptions, WaitedFor} from './types'

/** One waitFor() call's state. */
export interface Waiting {
  name: string
  condition: WaitCondition
  options: WaitOptions
  procfs: ProcFs
  timeoutMs: number
  start: number
  /** the wait status of the process this wait saw exit */
  exit: ExitStatus | null
  /** rootPid is the init of its PID namespace */
  rootIsInit: boolean
  /** every process this wait pinned and waited on, with its pidfs id (WaitResult.pinned) */
  pinned: WaitedFor[]
  /** the last message given to options.onProgress (each is told once) */
  said?: string
}

/** What is left of the timeout (ms). */
export function left(w: Waiting): number {
  return Math.max(0, w.timeoutMs - (Date.now() - w.start))
}

/**
 * Waits (up to the timeout) for every pinned process to exit, and records the main one's wait
 * status in w.exit. Returns the final target when that settles it (stopped / stale), null to look
 * again the long way.
 */
export async function waitStopped(w: Waiting, located: Located): Promise<LocateResult | null> {
  const t = located.result
  // Each by the pidfs id locate() read where it read one, and by start time.
  const wanted = [
    {facts: located.main, id: t.pidfdId, role: 'main' as const},
    {facts: located.holder, id: t.holderPidfdId, role: 'holder' as const},
  ].filter((f, i, a) => f.facts !== null && a.findIndex((g) => g.facts?.pid === f.facts!.pid) === i)
  const pinned: Array<{role: 'main' | 'holder'; r: ReturnType<typeof pin>}> = []
  const pins: Pinned[] = []
  let allExited: boolean
  try {
    // Pinned inside the try: if a later pin throws, the earlier ones are released all the same.
    for (const f of wanted) {
      const r = pin(f.facts!.pid, f.facts!.stat.starttime, w.procfs, f.id)
      pinned.push({role: f.role, r})
      if ('pinned' in r) pins.push(r.pinned)
    }
    for (const {role, r} of pinned) {
      if ('pinned' in r && !w.pinned.some((x) => x.pid === r.pinned.pid && x.pidfdId === r.pinned.id))
        w.pinned.push({pid: r.pinned.pid, pidfdId: r.pinned.id, role})
    }
    // Wait on every pinned process: the service is stopped when the last of them exits.
    if (pins.length > 0) await Promise.all(pins.map((p) => waitExit(p, left(w))))
    allExited = pins.length === pinned.length && pins.every(isExited)
    if (pins.length > 0) w.exit = await exitStatusOf(pins[0].fd)
  } finally {
    pins.forEach(unpin)
  }
  // Every process we pinned is gone. For a POSIX-locked pidfile one F_GETLK tells whether anyone
  // holds it now (a restarted instance would): if not, it is stopped, without the full re-locate
  // (whose unlocked-pidfile path reads /proc/locks and scans the process table).
  const after = allExited ? afterPosixHolderExit(t, located.pidfileId, w.options.rootPid !== undefined) : null
  return after ? {...t, ...after} : null
}

/**
 * After every process of a POSIX-locked service has exited: is the pidfile gone, or no longer
 * locked? Then the answer is final (stopped / stale). null: look again the long way.
 */
function afterPosixHolderExit(t: LocateResult, id: {dev: number; ino: number} | undefined, viaRoot: boolean): Partial<LocateResult> | null {
  if (t.pidfile?.lock !== 'posix' || !id) return null
  const gone = {pid: null, holder: null, pidfdId: null, pidfdRef: null, holderPidfdId: null, nspid: [], process: null, pidns: null, container: null}
  let opened: OpenedPidfile
  try {
    opened = openPidfile(t.pidfile.path)
  } catch (error) {
    // Under /proc/ROOTPID/root, ENOENT may mean the root process is gone, not the file: look again.
    if (!isErrno(error, 'ENOENT') || viaRoot) return null
    return {
      ...gone,
      state: 'stopped',
      pidfile: null,
      reasons: ['no_pidfile'],
      evidence: [...t.evidence, `after the exit of pid ${t.pid}: ${t.pidfile.path} has been removed`],
    }
  }
  try {
    // The same file (not one a new instance made), still naming the same pid, and nobody's lock on it.
    if (Number(opened.stat.dev) !== id.dev || Number(opened.stat.ino) !== id.ino || opened.content.pid !== t.pidfile.pid) return null
    if (probePosixLock(opened.fd).type !== 'unlocked') return null
  } catch {
    return null
  } finally {
    if (!opened.borrowed) fs.closeSync(opened.fd)
  }
  return {
    ...gone,
    state: 'stale',
    pidfile: {...t.pidfile, lock: 'none'},
    reasons: ['unlocked_pidfile', 'stale_pidfile'],
    evidence: [...t.evidence, `after the exit of pid ${t.pid}: fcntl(F_GETLK) finds ${t.pidfile.path} no longer locked; it names the exited process`],
  }
}
