/**
 * Running a schedule over pinned members: each signal goes through the members' pidfds (after
 * they were looked for again, safely: scope.ts), each timeout waits on the same pidfds. Waits of
 * any length are chunked (timers.ts), so a KILL never comes early.
 */
import fs = require('node:fs')
import path = require('node:path')

import {sameCgroup} from './cgroup-own'
import {waitEmpty} from '../cgroup/v2'
import {Sig, Step} from './parse'
import {Pinned, send, waitExit} from './pin'
import {Members, Skip, isExited} from './scope'
import type {Delivered} from './types'

/** What a schedule did: the signals delivered, the members skipped, and whether all exited. */
export interface Delivery {
  delivered: Delivered[]
  skipped: Skip[]
  /** every pinned process has exited */
  allExited: boolean
}

/**
 * A wait of the schedule as it begins: `sig` was just sent to `delivered`; the wait ends `untilMs`
 * after the schedule began (by the schedule's own clock: the sum of its timeouts so far), when
 * `next` is sent (null: the schedule ends there).
 */
export interface ScheduleWait {
  sig: Sig
  delivered: Delivered[]
  untilMs: number
  next: Sig | null
}

/** Is the cgroup directory owned by root or by the caller? */
function ownedHere(dir: string): boolean {
  try {
    const uid = fs.statSync(dir).uid
    return uid === 0 || uid === process.getuid?.()
  } catch {
    return false
  }
}

/**
 * `gate`, when given, is asked right before each send (landing.ts: the target's disposition is read
 * and recorded; false skips the target, e.g. --require-handler). A gate also rules out cgroup.kill,
 * which would bypass it. `onWait`, when given, hears of each wait as it begins (progress.ts).
 */
export async function runSchedule(
  steps: Step[],
  members: Members,
  skipped: Skip[],
  first = true,
  gate?: (p: Pinned, sig: Sig) => boolean,
  gateAll = false,
  onWait?: (w: ScheduleWait) => void,
): Promise<Delivery> {
  const delivered: Delivery['delivered'] = []
  let allExited = false
  let lastSent: {sig: Sig; delivered: Delivered[]} | null = null
  let untilMs = 0
  for (const [i, step] of steps.entries()) {
    if (step.kind === 'signal') {
      lastSent = {sig: step.sig, delivered: []}
      // Before the first signal, discovery has just run (the caller's); before later ones, look again.
      if (!first) members.discover()
      first = false
      let sent = 0
      const cg = members.cgroup
      // cgroup.kill would also reach members refused as unsafe (pid 1, our ancestors): then pidfds only.
      // Nor on a cgroup another user owns (a delegated subtree): its owner decides what is in it at the
      // moment of the write, so each member found is killed through its own pidfd instead.
      const cgKill =
        cg !== null &&
        step.sig.name === 'KILL' &&
        cg.canKill &&
        !gateAll &&
        sameCgroup(cg) &&
        ownedHere(cg.dir) &&
        !skipped.some((s) => s.reason.startsWith('unsafe'))
      // Every target's disposition is read first, then the signals go out back to back, a namespace's
      // init last: KILL to an init tears its namespace down, and the rest would otherwise be gone
      // (not signalled by us) before their turn.
      const targets = (gate ? members.pinned.filter((p) => gate(p, step.sig)) : [...members.pinned]).sort(
        (a, b) => Number(a.nspid[a.nspid.length - 1] === 1) - Number(b.nspid[b.nspid.length - 1] === 1),
      )
      // With cgroup.kill, a pinned member alive just before the write is one we killed: which ones is
      // decided before writing (afterwards they are all exited, and would read as "gone").
      const aliveAtKill = cgKill ? new Set(targets.filter((p) => !isExited(p))) : null
      if (cgKill) fs.writeFileSync(path.join(cg.dir, 'cgroup.kill'), '1')
      for (const p of targets) {
        const r = aliveAtKill ? (aliveAtKill.has(p) ? 'sent' : 'gone') : send(p, step.sig.number)
        if (r === 'sent') {
          sent++
          const d = {pid: p.pid, pidfdId: p.id, nspid: p.nspid, signal: step.sig.name}
          delivered.push(d)
          lastSent.delivered.push(d)
        } else if (!skipped.some((s) => s.pid === p.pid && s.reason === r)) {
          skipped.push({pid: p.pid, pidfdId: p.id, reason: r})
        }
      }
      if (sent === 0 && delivered.length === 0) break
    } else {
      untilMs += step.ms
      if (onWait && lastSent && lastSent.delivered.length > 0) {
        const next = steps.slice(i + 1).find((s) => s.kind === 'signal')
        onWait({...lastSent, untilMs, next: next?.kind === 'signal' ? next.sig : null})
      }
      const began = Date.now()
      const exited = await Promise.all(members.pinned.map((p) => waitExit(p, step.ms)))
      // A service run gave a cgroup has stopped only once the cgroup is empty (its escapes included).
      const dir = members.serviceCgroupDir
      if (exited.every(Boolean) && (dir === null || (await waitEmpty(dir, Math.max(0, step.ms - (Date.now() - began)))))) {
        allExited = true
        break
      }
    }
  }
  return {delivered, skipped, allExited}
}
