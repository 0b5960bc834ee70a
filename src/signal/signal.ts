/**
 * signal(): deliver a signal to exactly the process find identified, through a pidfd opened and
 * then re-verified, and keep that same pidfd through waiting and escalation, so a pid reused during
 * the TERM wait can never receive the KILL (start-stop-daemon's known hole).
 * The pieces: starting.ts (the starting grace), refusal.ts (what is never signalled), scope.ts (the
 * targets, pinned), deliver.ts (the schedule), landing.ts (dispositions, requireHandler) and
 * compose.ts (the outcome and message). waitFor() is in wait.ts.
 */
import {NslocateError, OptionNamer} from '../errors'
import {SCOPES} from '../outcomes'
import {ProcFs, proc} from '../proc/proc-fs'
import {ScheduleWait, runSchedule} from './deliver'
import {dryRun, finish} from './compose'
import {gate, recordExit} from './landing'
import {DEFAULT_WAIT_MS, MAX_DURATION_MS, Sig, parseDuration, parseRetry, parseSignal, Step} from './parse'
import {parsePidRefOption, pinRef, refEvidence, refNotPinned, refTarget} from './pid-ref'
import {checkPidRefOptions} from './pid-ref-options'
import {Pinned, pin, unpin} from './pin'
import {OnProgress, signalWaitMessage, tell} from './progress'
import {notSignallable, pinRefusal} from './refusal'
import {reverifyLock} from './reverify'
import {Members, isExited} from './scope'
import {isPopulated} from '../cgroup/v2'
import {locateNotStarting} from './starting'
import type {LocateResult} from '../locate/locate'
import type {Scope} from '../outcomes'
import type {SignalOptions, SignalResult} from './types'

export type {SignalOptions, SignalResult, WaitCondition, WaitOptions, WaitResult} from './types'
export type {OnProgress, Progress} from './progress'
export {STARTING_GRACE_MS} from './starting'
export {checkCondition, waitFor} from './wait'
export {DEFAULT_WAIT_MS, parseDuration}

/**
 * Sends `sigInput` (a name or number) to service NAME within its scope, pinned through pidfds; with a
 * wait or retry schedule waits as well. With option pid (`PID:ID`) the target is that process, not
 * one a pidfile names (pid-ref.ts).
 */
export async function signal(name: string, sigInput: string | number, options: SignalOptions = {}): Promise<SignalResult> {
  const {sig, scope, steps} = checkSignalRequest(sigInput, options)
  const procfs = options.procfs ?? proc
  if (options.pid !== undefined) return signalRef(name, sig, scope, steps, options, procfs)
  // One look: a process exiting while it is identified is GONE, nothing signalled (never a
  // process that took its pid meanwhile, found by a second look); the caller runs again.
  const located = await locateNotStarting(name, {...options, lookOnce: true})
  const target = located.result
  const out = blankResult(name, sig, scope, Boolean(options.dryRun), target)
  const refuse = notSignallable(located)
  if (refuse) return {...out, ...refuse}
  // By id where locate() read one (a pid reused within the same clock tick is told apart only so), and by start time.
  const main = pin(target.pid!, located.main!.stat.starttime, procfs, target.pidfdId)
  if ('failure' in main) return {...out, ...pinRefusal(name, target.pid!, main.failure, main.detail, target.pidfdId)}
  return signalPinned(out, main.pinned, steps, options, procfs, () => reverifyLock(located, procfs))
}

/** signal() of the process option pid names: pinned by its id, or refused with nothing sent. */
async function signalRef(name: string, sig: Sig, scope: Scope, steps: Step[], options: SignalOptions, procfs: ProcFs): Promise<SignalResult> {
  const ref = parsePidRefOption(options.pid!)
  const evidence = [refEvidence(ref)]
  const r = pinRef(ref, procfs)
  if ('failure' in r) {
    const out = blankResult(name, sig, scope, Boolean(options.dryRun), refNotPinned(name, r.failure, [...evidence, r.detail]))
    return {...out, ...pinRefusal(name, ref.pid, r.failure, r.detail, ref.id)}
  }
  evidence.push(`pid ${ref.pid} has pidfs id ${ref.id} (fstat of a pidfd opened on it): pinned`)
  let out: SignalResult
  try {
    out = blankResult(name, sig, scope, Boolean(options.dryRun), refTarget(name, r.pinned, procfs, evidence))
  } catch (error) {
    unpin(r.pinned) // signalPinned() releases it from here on
    throw error
  }
  return signalPinned(out, r.pinned, steps, options, procfs, () => null)
}

/**
 * The rest of signal() once the main process is pinned: `recheck` (null: still the service) once
 * the pin is held, then the scope's members, then the dry run or the schedule.
 */
async function signalPinned(
  out: SignalResult,
  main: Pinned,
  steps: Step[],
  options: SignalOptions,
  procfs: ProcFs,
  recheck: () => string | null,
): Promise<SignalResult> {
  const sig = parseSignal(out.signal)
  const waiting = steps.some((s) => s.kind === 'wait')
  const members = new Members(out.scope, main, procfs, out.skipped, out.target.cgroup)
  try {
    const stillHeld = recheck()
    if (stillHeld)
      return {
        ...out,
        outcome: 'not_running',
        message: `${out.name}: ${stillHeld}; nothing was signalled`,
        skipped: [{pid: main.pid, pidfdId: main.id, reason: 'gone'}],
      }
    members.discover()
    // The targets are final here: members.pinned is what the first signal goes to.
    const requireHandler = Boolean(options.requireHandler)
    const hook = (p: Pinned, s: Sig) => gate(out, p, s, requireHandler, procfs) // landing.ts: dispositions, requireHandler
    if (options.dryRun) return dryRun(out, members, sig, hook)
    await deliver(out, steps, members, hook, requireHandler, options.onProgress)
    return finish(out, sig.name, waiting, requireHandler)
  } finally {
    members.release()
  }
}

/** A SignalResult with nothing done yet: nothing delivered or skipped, outcome `signalled` and no message until told otherwise (signal() and runtime/down.ts build every result from it). */
export function blankResult(name: string, sig: Sig, scope: Scope, dryRun: boolean, target: LocateResult): SignalResult {
  return {
    name,
    signal: sig.name,
    scope,
    delivered: [],
    skipped: [],
    exited: null,
    waitedMs: 0,
    dryRun,
    wouldDeliver: [],
    outcome: 'signalled',
    message: '',
    target,
    dispositions: [],
    exit: null,
  }
}

/** Runs the schedule over the pinned members; records what was delivered and (waiting) whether all exited, and how. */
async function deliver(
  out: SignalResult,
  steps: Step[],
  members: Members,
  hook: (p: Pinned, s: Sig) => boolean,
  requireHandler: boolean,
  onProgress: OnProgress | undefined,
): Promise<void> {
  const waiting = steps.some((s) => s.kind === 'wait')
  const start = Date.now()
  // Each wait, as it begins: what the signal just sent does to its targets, and what comes next.
  const onWait = (w: ScheduleWait) => {
    const dispositions = out.dispositions.filter((d) => d.signal === w.sig.name && w.delivered.some((p) => p.pid === d.pid))
    const next = w.next?.name ?? null
    const message = signalWaitMessage(out.name, w.sig.name, w.delivered, dispositions, next, w.untilMs)
    tell(onProgress, {kind: 'signal', name: out.name, startedAt: start, untilMs: w.untilMs, message, signal: w.sig.name, next, dispositions})
  }
  const done = await runSchedule(steps, members, out.skipped, true, hook, requireHandler, onProgress ? onWait : undefined)
  out.delivered = done.delivered
  // Waiting has ended here (out.exited says whether everything signalled is gone).
  out.waitedMs = waiting ? Date.now() - start : 0
  if (!waiting) return
  // A service run gave a cgroup has exited only once that cgroup is empty (its escapes included).
  const cg = members.serviceCgroupDir
  out.exited = done.allExited || (members.pinned.every((p) => isExited(p)) && (cg === null || isPopulated(cg) !== true))
  await recordExit(out, members.pinned)
}

/** Every check signal() makes of its request before it looks for the target (USAGE): the signal, scope, pid options and schedule. */
export function checkSignalRequest(sigInput: string | number, options: SignalOptions = {}): {sig: Sig; scope: Scope; steps: Step[]} {
  const sig = parseSignal(String(sigInput))
  const scope = options.scope ?? 'main'
  if (!SCOPES.includes(scope)) throw new NslocateError('USAGE', `invalid scope ${JSON.stringify(scope)}: use one of ${SCOPES.join(', ')}`)
  checkPidRefOptions(options as Record<string, unknown>)
  return {sig, scope, steps: planSteps(sig, options)}
}

/** The schedule the options ask for: SIGNAL, then (wait) one wait, or (retry) the full schedule. */
function planSteps(sig: Sig, options: SignalOptions): Step[] {
  if (sig.number === 0 && (options.retry || options.wait)) {
    const flag = (n: OptionNamer) => (options.retry ? n('retry') : n('wait'))
    const advice = (n: OptionNamer) => `drop ${flag(n)}, or give the signal that should stop it (e.g. TERM ${n('retry', 'TERM/30/KILL/5')})`
    throw new NslocateError('USAGE', (n) => `signal 0 only probes (nothing is sent): ${flag(n)} has nothing to wait for; ${advice(n)}`, {advice})
  }
  const steps: Step[] = options.retry
    ? scheduleFor(options.retry, sig)
    : [{kind: 'signal', sig}, ...(options.wait ? [{kind: 'wait' as const, ms: options.timeoutMs ?? DEFAULT_WAIT_MS}] : [])]
  checkWaits(steps)
  return steps
}

/** Every timeout of the schedule within the documented bound (parse.ts MAX_DURATION_MS). */
function checkWaits(steps: Step[]): void {
  for (const s of steps) {
    if (s.kind === 'wait' && (!Number.isFinite(s.ms) || s.ms < 0 || s.ms > MAX_DURATION_MS)) {
      throw new NslocateError('USAGE', `invalid timeout of ${s.ms} ms: use 0 to 100000h`)
    }
  }
}

/** A full schedule must start with SIGNAL itself, or the result would name a signal that was never sent. */
function scheduleFor(retry: string, sig: Sig): Step[] {
  const steps = parseRetry(retry, sig)
  const first = steps[0]
  if (first.kind === 'signal' && first.sig.number !== sig.number) {
    const advice = `start the schedule with ${sig.name} (e.g. ${sig.name}/30/KILL/5), or give a number of seconds`
    throw new NslocateError('USAGE', (n) => `${n('retry', retry)} starts with ${first.sig.name}, but SIGNAL is ${sig.name}: ${advice}`, {advice})
  }
  return steps
}
