/**
 * signal(): deliver a signal to exactly the process find identified, through a pidfd opened and
 * then re-verified, and keep that same pidfd through waiting and escalation, so a pid reused during
 * the TERM wait can never receive the KILL (start-stop-daemon's known hole).
 * waitFor(): wait until a service runs, or until it has stopped (on its pidfd, not by polling a pid).
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {Located, LocateOptions, LocateResult, locateDetailed, stoppedResult} from '../locate/locate'
import {OpenedPidfile, openPidfile} from '../locate/pidfile'
import {probePosixLock} from '../native/binding'
import {proc} from '../proc/proc-fs'
import {killDenied, ptraceDenied} from './caps'
import {runSchedule} from './deliver'
import {Scope} from './members'
import {MAX_DURATION_MS, Sig, parseDuration, parseRetry, parseSignal, Step} from './parse'
import {Pinned, pin, send, unpin, waitExit} from './pin'
import {Landing, explain, gate, recordExit} from './landing'
import {ExitStatus, exitStatusOf} from './exit-status'
import {reverifyLock} from './reverify'
import {Members, isExited} from './scope'
import {sleep} from './timers'

export interface SignalOptions extends Partial<Omit<LocateOptions, 'name'>> {
  scope?: Scope
  /** wait for the process(es) to exit after the signal */
  wait?: boolean
  /** how long --wait waits (ms); default 30 s */
  timeoutMs?: number
  /** start-stop-daemon schedule, e.g. TERM/30/KILL/5; implies wait */
  retry?: string
  dryRun?: boolean
  /** send only to targets that catch the signal (util-linux kill --require-handler) */
  requireHandler?: boolean
}

export interface SignalResult extends Landing {
  name: string
  signal: string
  scope: Scope
  delivered: Array<{pid: number; nspid: number[]; signal: string}>
  skipped: Array<{pid: number; reason: string}>
  /** with --wait/--retry: whether everything signalled has exited; else null */
  exited: boolean | null
  waited_ms: number
  dry_run: boolean
  /** with --dry-run: what would be signalled */
  would_deliver: Array<{pid: number; nspid: number[]}>
  /** LSB action code: 0 done, 1 failed/still running, 4 not permitted, 7 not running */
  exit_code: number
  message: string
  target: LocateResult
}

export const DEFAULT_WAIT_MS = 30_000

const SCOPES: Scope[] = ['main', 'group', 'cgroup', 'tree']

export async function signal(name: string, sigInput: string | number, options: SignalOptions = {}): Promise<SignalResult> {
  const sig = parseSignal(String(sigInput))
  const scope = options.scope ?? 'main'
  if (!SCOPES.includes(scope)) throw new NslocateError('USAGE', `invalid scope ${JSON.stringify(scope)}: use one of ${SCOPES.join(', ')}`)
  if (sig.number === 0 && (options.retry || options.wait)) {
    throw new NslocateError('USAGE', `signal 0 only probes (nothing is sent), so there is nothing to wait for: drop ${options.retry ? '--retry' : '--wait'}, or give the signal that should stop the process (e.g. TERM --retry TERM/30/KILL/5)`)
  }
  const steps: Step[] = options.retry
    ? scheduleFor(options.retry, sig)
    : [{kind: 'signal', sig}, ...(options.wait ? [{kind: 'wait' as const, ms: options.timeoutMs ?? DEFAULT_WAIT_MS}] : [])]
  checkWaits(steps)
  const waiting = steps.some((s) => s.kind === 'wait')
  const procfs = options.procfs ?? proc
  const located = await locateNotStarting(name, options)
  const target = located.result
  const out: SignalResult = {
    name, signal: sig.name, scope, delivered: [], skipped: [], exited: null, waited_ms: 0, dry_run: Boolean(options.dryRun),
    would_deliver: [], exit_code: 0, message: '', target, dispositions: [], exit: null,
  }
  const refuse = notSignallable(located)
  if (refuse) return {...out, ...refuse}

  const main = pin(located.result.pid!, located.main!.stat.starttime, procfs)
  if ('failure' in main) {
    return {...out, exit_code: main.failure === 'unsafe' || main.failure === 'permission' ? 4 : 7, message: `${name}: ${main.detail}; nothing was signalled`, skipped: [{pid: target.pid!, reason: main.failure}]}
  }
  const members = new Members(scope, main.pinned, procfs, out.skipped)
  try {
    const stillHeld = reverifyLock(located, procfs)
    if (stillHeld) return {...out, exit_code: 7, message: `${name}: ${stillHeld}; nothing was signalled`, skipped: [{pid: target.pid!, reason: 'gone'}]}
    members.discover()
    // The targets are final here: members.pinned is what the first signal goes to.
    const requireHandler = Boolean(options.requireHandler)
    const hook = (p: Pinned, s: Sig) => gate(out, p, s, requireHandler, procfs) // landing.ts: dispositions, --require-handler
    if (options.dryRun) return dryRun(out, members, name, sig, hook)
    const start = Date.now()
    const done = await runSchedule(steps, members, out.skipped, true, hook, requireHandler)
    out.delivered = done.delivered
    // Waiting has ended here (out.exited says whether everything signalled is gone).
    out.waited_ms = waiting ? Date.now() - start : 0
    if (waiting) out.exited = done.allExited || members.pinned.every((p) => isExited(p))
    if (waiting) await recordExit(out, members.pinned)
    return explain(finish(out, name, sig.name, waiting), sig.name, waiting, requireHandler)
  } finally {
    members.release()
  }
}

/** --dry-run: the same checks as a real run, the kernel's permission check included (signal 0 through each pidfd). */
function dryRun(out: SignalResult, members: Members, name: string, sig: Sig, gate: (p: Pinned, s: Sig) => boolean): SignalResult {
  const allowed: Pinned[] = []
  for (const p of members.pinned) {
    if (!gate(p, sig)) continue
    const r = send(p, 0)
    if (r === 'sent') allowed.push(p)
    else if (!out.skipped.some((s) => s.pid === p.pid && s.reason === r)) out.skipped.push({pid: p.pid, reason: r})
  }
  out.would_deliver = allowed.map((p) => ({pid: p.pid, nspid: p.nspid}))
  if (allowed.length === 0) {
    const perm = out.skipped.some((s) => s.reason === 'permission')
    const unhandled = out.skipped.some((s) => s.reason === 'no_handler')
    out.exit_code = perm ? 4 : unhandled ? 1 : 7
    out.message = perm
      ? `${name}: not permitted to signal ${out.skipped.map((s) => s.pid).join(', ')} (${killDenied()}) (dry run: nothing sent)`
      : unhandled
        ? `${name}: would send ${sig.name} to no process (none catches it: --require-handler) (dry run: nothing sent)`
        : `${name}: the process exited before it could be signalled (dry run: nothing sent)`
    return out
  }
  out.message = `${name}: would send ${sig.name} to ${describePids(allowed)} (dry run: nothing sent)`
  return out
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
    throw new NslocateError('USAGE', `--retry ${retry} starts with ${first.sig.name}, but SIGNAL is ${sig.name}: start the schedule with ${sig.name} (e.g. ${sig.name}/30/KILL/5), or give a number of seconds`)
  }
  return steps
}

/** How long signal() waits for a starting service (pidfile locked, still empty) to write its pid. */
export const STARTING_GRACE_MS = 2000

/**
 * locate(), again every 20 ms while the pidfile is locked but empty (starting) for up to
 * STARTING_GRACE_MS: its lock holder may be a supervisor (flock(1), daemon(1), `nslocate run`
 * before it writes), not the service, and is never signalled for it.
 */
async function locateNotStarting(name: string, options: SignalOptions): Promise<Located> {
  const end = Date.now() + STARTING_GRACE_MS
  for (;;) {
    let located: Located
    try {
      located = locateDetailed({...options, name})
    } catch (error) {
      throw asSignalStatus(error) // --root-pid has exited; the holder exited while being inspected
    }
    // Only an empty file is a pid about to be written; garbage is not waited for.
    if (!located.result.starting || !isEmptyFile(located.result) || Date.now() >= end) return located
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A locked pidfile with no pid (still empty after the grace, or garbage): its holder may be a supervisor. */
function notYetWritten(t: LocateResult): Partial<SignalResult> {
  const skipped = t.holder !== null ? [{pid: t.holder, reason: 'starting'}] : []
  if (!isEmptyFile(t)) {
    const problem = t.reasons.find((r) => r === 'garbage_pidfile' || r === 'invalid_pid') ?? 'no pid'
    return {exit_code: 4, skipped,
      message: `${t.name}: ${t.pidfile?.path} is locked by pid ${t.holder ?? '?'} but holds no usable pid (${problem}), and the lock holder may be a supervisor rather than the service; nothing was signalled. See nslocate find ${t.name}; signal the process by its pid if you know which it is`}
  }
  return {exit_code: 4, skipped,
    message: `${t.name} is starting: ${t.pidfile?.path} is locked by pid ${t.holder ?? '?'} but has stayed empty for ${STARTING_GRACE_MS} ms, and the lock holder may be a supervisor rather than the service; nothing was signalled. Try again once it has written its pid (nslocate wait ${t.name} --for running)`}
}

function isEmptyFile(t: LocateResult): boolean {
  return t.reasons.includes('empty_pidfile')
}

function notSignallable(located: Located): Partial<SignalResult> | null {
  const t = located.result
  if (t.starting) return notYetWritten(t)
  if (t.state === 'stopped' || t.state === 'stale') {
    return {exit_code: 7, message: `${t.name} is not running (${t.state === 'stopped' ? 'no pidfile' : `stale pidfile ${t.pidfile?.path}`}); nothing was signalled`}
  }
  if (t.state === 'unknown') {
    return {exit_code: 4, message: `${t.name}: cannot tell which process it is (${t.reasons.join(', ')}); nothing was signalled. See the evidence with: nslocate find ${t.name}`}
  }
  if ((!t.visible || t.pid === null) && t.reasons.includes('permission_denied')) {
    return {exit_code: 4, message: `${t.name} is running, but its lock holder could not be named (${ptraceDenied()}); nothing was signalled`}
  }
  if (!t.visible || t.pid === null || !located.main) {
    return {exit_code: 4, message: `${t.name} is running in a PID namespace not visible from here (holder_not_visible); nothing was signalled. Run nslocate on the host, share the service's PID namespace (--pid=container:NAME), or use --container with the Docker socket`}
  }
  return null
}

function describePids(pinned: Pinned[]): string {
  const shown = pinned.slice(0, 10).map((p) => `pid ${p.pid}${p.nspid.length > 1 ? ` (NSpid ${p.nspid.join(' ')})` : ''}`).join(', ')
  return pinned.length > 10 ? `${shown} and ${pinned.length - 10} more` : shown
}

function finish(out: SignalResult, name: string, sig: string, waiting: boolean): SignalResult {
  const pids = [...new Set(out.delivered.map((d) => d.pid))]
  if (pids.length === 0) {
    const perm = out.skipped.some((s) => s.reason === 'permission')
    out.exit_code = perm ? 4 : 7
    out.message = perm
      ? `${name}: not permitted to signal ${out.skipped.map((s) => s.pid).join(', ')} (${killDenied()})`
      : `${name}: the process exited before it could be signalled; nothing was signalled`
    return out
  }
  const sigs = [...new Set(out.delivered.map((d) => d.signal))].join(', then ')
  if (waiting && !out.exited) {
    out.exit_code = 1
    out.message = `${name}: sent ${sigs} to ${pids.join(', ')}, but it is still running after ${out.waited_ms} ms`
    return out
  }
  out.exit_code = 0
  out.message = `${name}: sent ${sigs} to ${pids.length === 1 ? 'pid' : 'pids'} ${pids.join(', ')}` + (waiting ? `; exited after ${out.waited_ms} ms` : '')
  if (sig === '0') out.message = `${name}: pid ${pids.join(', ')} is there and may be signalled (signal 0: nothing sent)`
  return out
}

export type WaitCondition = 'running' | 'stopped'

export interface WaitOptions extends Partial<Omit<LocateOptions, 'name'>> {
  timeoutMs?: number
  /** poll interval for conditions that cannot be waited on by pidfd (ms) */
  intervalMs?: number
}

export interface WaitResult {
  name: string
  condition: WaitCondition
  reached: boolean
  waited_ms: number
  /** 0 reached, 1 timed out, 4 cannot tell */
  exit_code: number
  message: string
  target: LocateResult
  /** --for stopped, when this wait saw the process exit: its wait status (`unknown` before Linux 6.15); else null */
  exit: ExitStatus | null
}

/**
 * running: re-locate until the service runs (a starting service creates and locks its pidfile; there
 * is no kernel event for "a lock was taken", so this polls, every 25 ms by default).
 * stopped: pin the running process with a pidfd and wait for it to exit; then re-check.
 */
/** `wait`'s condition, checked before any waiting. */
export function checkCondition(condition: string): asserts condition is WaitCondition {
  if (condition !== 'running' && condition !== 'stopped') throw new NslocateError('USAGE', `invalid condition ${JSON.stringify(condition)}: use running or stopped`)
}

/**
 * NOT_RUNNING carries find's LSB status code (3); signal speaks LSB action codes, where "not
 * running" is 7. Returns the error to throw.
 */
export function asSignalStatus(error: unknown): unknown {
  if (error instanceof NslocateError && error.code === 'NOT_RUNNING' && error.exitCode !== 7) {
    return new NslocateError('NOT_RUNNING', error.message, {exitCode: 7, cause: error.cause ?? error, details: error.details})
  }
  // The process exited while being identified: for signal that is "not running" (7), as it is when
  // it exits after pinning, never 4.
  if (error instanceof NslocateError && error.code === 'GONE' && error.exitCode !== 7) {
    return new NslocateError('GONE', `${error.message}; nothing was signalled`, {exitCode: 7, cause: error.cause ?? error, details: error.details})
  }
  return error
}

export async function waitFor(name: string, condition: WaitCondition, options: WaitOptions = {}): Promise<WaitResult> {
  checkCondition(condition)
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS
  const interval = options.intervalMs ?? 25
  const procfs = options.procfs ?? proc
  const start = Date.now()
  const left = () => Math.max(0, timeoutMs - (Date.now() - start))
  let exit: ExitStatus | null = null // the wait status of the process this wait saw exit
  // Only the exit of a namespace's init (pid 1 there, e.g. a container's) ends every process that
  // could be the service; any other --root-pid only lends its mount namespace.
  let rootIsInit = false
  if (options.rootPid !== undefined) {
    try {
      const nspid = procfs.readStatus(options.rootPid).nspid
      rootIsInit = nspid[nspid.length - 1] === 1
    } catch {}
  }
  for (;;) {
    let located: Located
    try {
      located = locateDetailed({...options, name})
    } catch (error) {
      // The holder exited while being inspected: look again.
      if (error instanceof NslocateError && error.code === 'GONE') continue
      // --root-pid (a container's init) has exited: nothing runs in those namespaces any more.
      if (error instanceof NslocateError && error.code === 'NOT_RUNNING' && options.rootPid !== undefined) {
        const waited = Date.now() - start
        if (!rootIsInit) {
          const t = stoppedResult(name, ['root_exited'], [error.message])
          t.state = 'unknown'
          return {name, condition, reached: false, waited_ms: waited, exit_code: 4, target: t, exit,
            message: `${name}: cannot tell: ${error.message}, and it was not the init of its PID namespace, so the service may still run elsewhere`}
        }
        const t = stoppedResult(name, ['root_exited'], [error.message, `pid ${options.rootPid} was the init of its PID namespace: every process in it has ended`])
        const reached = condition === 'stopped'
        return {name, condition, reached, waited_ms: waited, exit_code: reached ? 0 : 1, target: t, exit,
          message: reached ? `${name} is not running (${error.message})` : `${name}: its PID namespace has ended (${error.message}); gave up waiting for it to be running`}
      }
      throw error
    }
    const t = located.result
    const done = (reached: boolean, exitCode: number, message: string): WaitResult =>
      ({name, condition, reached, waited_ms: Date.now() - start, exit_code: exitCode, message, target: t, exit})
    // A locked, empty pidfile (starting): its holder may be a supervisor; running once the pid is written.
    const starting = condition === 'running' && t.starting
    if (t.state === 'unknown' && !starting) return done(false, 4, `${name}: cannot tell whether it runs (${t.reasons.join(', ')})`)
    if (condition === 'running' && t.state === 'running' && !starting) return done(true, 0, `${name} is running${t.pid !== null ? ` (pid ${t.pid})` : ''}`)
    if (condition === 'stopped' && t.state !== 'running') return done(true, 0, `${name} is not running (${t.state})`)
    if (left() === 0) return done(false, 1, `${name}: timed out after ${timeoutMs} ms waiting for it to be ${condition}${starting ? ` (still starting: ${t.pidfile?.path} is locked by pid ${t.holder ?? '?'} but holds no pid)` : ''}`)
    if (condition === 'stopped' && t.visible && located.main) {
      const pinned = [located.main, located.holder].filter((f, i, a): f is NonNullable<typeof f> => f !== null && a.findIndex((g) => g?.pid === f.pid) === i)
        .map((f) => pin(f.pid, f.stat.starttime, procfs))
      const pins = pinned.flatMap((r) => ('pinned' in r ? [r.pinned] : []))
      let allExited = false
      try {
        // Wait on every pinned process: the service is stopped when the last of them exits.
        if (pins.length > 0) await Promise.all(pins.map((p) => waitExit(p, left())))
        allExited = pins.length === pinned.length && pins.every(isExited)
        if (pins.length > 0) exit = await exitStatusOf(pins[0].fd)
      } finally {
        pins.forEach(unpin)
      }
      // Every process we pinned is gone. For a POSIX-locked pidfile one F_GETLK tells whether anyone
      // holds it now (a restarted instance would): if not, it is stopped, without the full re-locate
      // (whose unlocked-pidfile path reads /proc/locks and scans the process table).
      const after = allExited ? afterPosixHolderExit(t, located.pidfileId, options.rootPid !== undefined) : null
      if (after) {
        const target: LocateResult = {...t, ...after}
        return {name, condition, reached: true, waited_ms: Date.now() - start, exit_code: 0, message: `${name} is not running (${target.state})`, target, exit}
      }
      continue
    }
    await sleep(Math.min(interval, left()))
  }
}

/**
 * After every process of a POSIX-locked service has exited: is the pidfile gone, or no longer
 * locked? Then the answer is final (stopped / stale). null: look again the long way.
 */
function afterPosixHolderExit(t: LocateResult, id: {dev: number; ino: number} | undefined, viaRoot: boolean): Partial<LocateResult> | null {
  if (t.pidfile?.lock !== 'posix' || !id) return null
  const gone = {pid: null, holder: null, nspid: [], process: null, pidns: null, container: null}
  let opened: OpenedPidfile
  try {
    opened = openPidfile(t.pidfile.path)
  } catch (error) {
    // Under /proc/ROOTPID/root, ENOENT may mean the root process is gone, not the file: look again.
    if (!isErrno(error, 'ENOENT') || viaRoot) return null
    return {...gone, state: 'stopped', pidfile: null, reasons: ['no_pidfile'], evidence: [...t.evidence, `after the exit of pid ${t.pid}: ${t.pidfile.path} has been removed`]}
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
  return {...gone, state: 'stale', pidfile: {...t.pidfile, lock: 'none'}, reasons: ['unlocked_pidfile', 'stale_pidfile'],
    evidence: [...t.evidence, `after the exit of pid ${t.pid}: fcntl(F_GETLK) finds ${t.pidfile.path} no longer locked; it names the exited process`]}
}

export {parseDuration}
