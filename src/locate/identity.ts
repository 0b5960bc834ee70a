/**
 * The identity model for unlocked pidfiles (docs/nslocate.1.md, NOTES, "The identity model"). Pure:
 * it decides over candidates whose facts unlocked.ts has read, so it is tested table-driven.
 *
 * A candidate is a live user-space process whose own pid (last NSpid column) is the number in the
 * file, whose mount namespace holds the file, and which started no later than the file was written
 * (a later start means the pid was reused). First of all it must pass the writer rule (writer.ts):
 * it could have written the file, or its pid number was handed out in a PID namespace whose owner
 * could have; a process in an unprivileged user's own namespace is no candidate, whatever its
 * name (names never outweigh the rule). Then:
 * - In the caller's own PID namespace, such a process IS the service, even when its name differs
 *   (`name_mismatch`, with the names compared): the start time is what excludes reuse.
 * - A namespace's PID 1 (ours or a container's) counts only on positive identity: a stale pidfile
 *   saying `1` must never resolve to some init.
 * - In another PID namespace it needs positive identity: the namespace was given (--root-pid,
 *   --container), the file was reached through that namespace's root (/proc/P/root/...), its name
 *   matches, or the identity options do. Without it the answer is `unknown`/`ambiguous`, never
 *   a guess and never `stale` while it lives.
 * - Several: a name match breaks the tie; still several: `ambiguous`.
 * - Identity options (--exec, --process-name, --user), when given, are required of the answer:
 *   candidates that fail only them give `unknown`/`identity_mismatch`.
 */
import {ProcessFacts} from './process-info'
import {ProcessNames, describeNames} from './process-names'
import type {Reason} from './types'

/** A process that may be the one an unlocked pidfile names, with every fact the decision weighs. */
export interface Candidate {
  facts: ProcessFacts
  /**
   * Could it be the process the file's writer meant (writer.ts)? true: it could have written the
   * file, or its pid number was not chosen by someone who could not; false: no candidate at all;
   * 'unknown': who owns its PID namespace cannot be read (then nothing is claimed). `self`: it
   * could have written the file itself (not only through its pid number).
   */
  writer: {ok: boolean | 'unknown'; self: boolean; why: string}
  names: ProcessNames
  /** in the PID namespace of this /proc (the caller's): one NSpid column */
  ownNs: boolean
  /** its own pid is 1: a namespace's init */
  nsInit: boolean
  sees: boolean | 'denied'
  seesWhy: string
  /** it started no later than the file was written: from startedMs, the sampled boot time (to 10 ms), for this decision only */
  startedBefore: boolean
  /** when it started, as printed (`process.started`: from btime, the same on every call; up to 1 s early) */
  started: string
  /** positive identity by place: in the given namespace, or the file was reached through its root */
  placed: string | null
  /** how its name matched (`comm "nginx"`), or null */
  nameMatch: string | null
  /** identity options: null when none were given */
  identity: {ok: boolean; detail: string; strong?: boolean} | null
}

/** The answer for an unlocked pidfile: the service (or none), the state, reasons and evidence. */
export interface UnlockedDecision {
  /** the service, when identified */
  main: ProcessFacts | null
  state: 'running' | 'stale' | 'unknown'
  /** reason codes to add (after unlocked_pidfile) */
  reasons: Reason[]
  evidence: string[]
}

/** The decision's working state: what is said, and how a candidate is dropped. */
interface Trial {
  ctx: {content: number; names: string[]; mtimeMs: number; ptraceHint: string}
  evidence: string[]
  /** the names tried, quoted, for messages */
  tried: string
  drop: (c: Candidate, why: string) => void
}

/** What positively identifies a candidate (a place, a name, the identity options), or null. */
const positive = (c: Candidate) => c.placed ?? c.nameMatch ?? (c.identity?.ok ? 'it matches the identity options' : null)

/** The identity model (docs/nslocate.1.md, NOTES): which candidate, if any, an unlocked pidfile names. */
export function decideUnlocked(cands: Candidate[], ctx: {content: number; names: string[]; mtimeMs: number; ptraceHint: string}): UnlockedDecision {
  const evidence: string[] = []
  const t: Trial = {ctx, evidence, tried: ctx.names.map((n) => `"${n}"`).join(', '), drop: (c, why) => evidence.push(`pid ${c.facts.pid} dropped: ${why}`)}
  const {live: seeing, undetermined} = bySight(t, writersNotInits(t, cands))
  // The start time: a later start is a reused pid. Said with the printed start time (the same on
  // every call), which is up to 1 s early: when that falls before the file's time, say why.
  const late = (c: Candidate) => {
    const written = new Date(ctx.mtimeMs).toISOString()
    if (Date.parse(c.started) > ctx.mtimeMs) return `it started at ${c.started}, after the file was written at ${written}: the pid was reused`
    return `it started after the file was written at ${written} (measured to 10 ms; its start time as printed, ${c.started}, counts from the boot time in whole seconds, so up to 1 s early): the pid was reused`
  }
  let live = seeing.filter((c) => c.startedBefore || (t.drop(c, late(c)), false))
  const reused = seeing.length > 0 && live.length === 0
  const pending = undetermined.filter((c) => c.startedBefore)
  // Identity options are required of every answer.
  const failedIdentity = [...live, ...pending].filter((c) => c.identity && !c.identity.ok)
  for (const c of failedIdentity) t.drop(c, c.identity!.detail.replace(/^pid [0-9]+ /, ''))
  live = live.filter((c) => !c.identity || c.identity.ok)
  const pendingOk = pending.filter((c) => !c.identity || c.identity.ok)
  for (const c of live) if (c.identity) evidence.push(c.identity.detail)
  const possible = explainEach(t, live)
  if (pendingOk.length > 0) {
    evidence.push(
      `cannot tell which process wrote the file: ${[...possible, ...pendingOk].map((c) => c.facts.pid).join(', ')} ${possible.length + pendingOk.length === 1 ? 'fits' : 'fit'}, not all could be checked; ${ctx.ptraceHint}`,
    )
    return {main: null, state: 'unknown', reasons: possible.length > 0 ? ['permission_denied', 'ambiguous'] : ['permission_denied'], evidence}
  }
  if (possible.length === 0) {
    if (failedIdentity.length > 0) {
      evidence.push(
        `${failedIdentity.map((c) => c.facts.pid).join(', ')} ${failedIdentity.length === 1 ? 'fits' : 'fit'} the pidfile but not the identity options: not reporting ${failedIdentity.length === 1 ? 'it' : 'them'} as the service`,
      )
      return {main: null, state: 'unknown', reasons: ['identity_mismatch'], evidence}
    }
    return {main: null, state: 'stale', reasons: reused ? ['pid_reused'] : [], evidence}
  }
  return choose(t, possible)
}

/** The writer rule comes before everything, names included; then a namespace's init counts only on positive identity. */
function writersNotInits(t: Trial, cands: Candidate[]): Candidate[] {
  for (const c of cands.filter((x) => x.writer.ok === false)) t.drop(c, `it could not have written the file: ${c.writer.why}`)
  const writers = cands.filter((c) => c.writer.ok === true || c.writer.ok === 'unknown')
  const inits = writers.filter((c) => c.nsInit && !positive(c))
  for (const c of inits) {
    t.drop(
      c,
      `it is PID 1 of ${c.ownNs ? 'this' : 'its'} PID namespace (an init), and nothing identifies it as the service (none of ${describeNames(c.names)} is ${t.tried}): a pidfile saying 1 never names an init on the number alone`,
    )
  }
  return writers.filter((x) => !inits.includes(x))
}

/** The file: a candidate that sees it stays; one whose mount namespace may not be looked into is kept aside (undetermined). */
function bySight(t: Trial, cands: Candidate[]): {live: Candidate[]; undetermined: Candidate[]} {
  const live: Candidate[] = []
  const undetermined: Candidate[] = []
  for (const c of cands) {
    if (c.sees === true && c.writer.ok === 'unknown') {
      t.evidence.push(`${c.seesWhy}; but ${c.writer.why}, so whether its pid number is the writer's cannot be checked`)
      undetermined.push(c)
    } else if (c.sees === true) {
      t.evidence.push(c.seesWhy)
      live.push(c)
    } else if (c.sees === 'denied') {
      t.evidence.push(`${c.seesWhy}; so whether it sees this pidfile cannot be checked`)
      undetermined.push(c)
    } else {
      t.drop(c, c.seesWhy)
    }
  }
  return {live, undetermined}
}

/** What identifies each remaining candidate, said in the evidence; every one of them is possible. */
function explainEach(t: Trial, live: Candidate[]): Candidate[] {
  for (const c of live) {
    const why = positive(c)
    if (why) t.evidence.push(`pid ${c.facts.pid} is identified: ${why}`)
    else if (c.ownNs)
      t.evidence.push(
        `pid ${c.facts.pid} is in this PID namespace, sees the file and started before it was written: it is the service although its name differs (${describeNames(c.names)}; tried ${t.tried})`,
      )
    else
      t.evidence.push(
        `pid ${c.facts.pid} is pid ${t.ctx.content} in another PID namespace and sees the file, but nothing identifies it (${describeNames(c.names)}; tried ${t.tried})`,
      )
  }
  return [...live]
}

/** One of the possible candidates, or none (ambiguous) when nothing tells them apart. */
function choose(t: Trial, possible: Candidate[]): UnlockedDecision {
  const {evidence} = t
  const chosen = narrow(t, possible)
  if (chosen.length > 1) {
    evidence.push(
      `${chosen.length} processes fit (${chosen.map((c) => c.facts.pid).join(', ')}): not guessing; give --exec, --process-name or --user, --root-pid or --container, or a locked pidfile`,
    )
    return {main: null, state: 'unknown', reasons: ['ambiguous'], evidence}
  }
  const c = chosen[0]
  if (!c.ownNs && positive(c) === null) {
    evidence.push(
      `not guessing: pid ${c.facts.pid} lives in another PID namespace and may be the service; give --root-pid or --container for its namespace, --exec, --process-name or --user, or name the service as the process is named`,
    )
    return {main: null, state: 'unknown', reasons: ['ambiguous'], evidence}
  }
  return {main: c.facts, state: 'running', reasons: positive(c) === null ? ['name_mismatch'] : [], evidence}
}

/**
 * One that could have written the file itself beats one admitted only by its pid number (a
 * privilege-dropped daemon, or any user's process that holds the number in this namespace while
 * the file was written in another). Among the latter, a name is no tie-break: anyone may choose
 * their process's name; only a place or --exec/--user (not --process-name) is.
 */
function narrow(t: Trial, possible: Candidate[]): Candidate[] {
  const list = (cs: Candidate[]) => cs.map((c) => c.facts.pid).join(', ')
  let chosen = possible
  if (possible.length > 1) {
    const selfWriters = possible.filter((c) => c.writer.self)
    if (selfWriters.length > 0 && selfWriters.length < possible.length) {
      t.evidence.push(
        `${possible.length} candidates (${list(possible)}); could have written the file themselves: ${list(selfWriters)}; the others only hold the number`,
      )
      chosen = selfWriters
    }
  }
  const unforgeable = (c: Candidate) => c.placed ?? (c.identity?.ok && c.identity.strong ? 'it matches the identity options' : null)
  if (chosen.length > 1 && !chosen.every((c) => c.writer.self)) {
    const placed = chosen.filter((c) => unforgeable(c) !== null)
    if (placed.length >= 1) {
      t.evidence.push(
        `${chosen.length} candidates (${list(chosen)}), some only by their pid number, where names do not count; identified by place or --exec/--user: ${list(placed)}`,
      )
      chosen = placed
    }
  } else if (chosen.length > 1) {
    const named = chosen.filter((c) => positive(c) !== null)
    if (named.length >= 1) {
      t.evidence.push(`${chosen.length} candidates (${list(chosen)}); identified by name or place: ${list(named)}`)
      chosen = named
    }
  }
  return chosen
}
