/**
 * waitFor(): wait until a service runs, or until it has stopped (on its pidfd, not by polling a pid).
 *   running: re-locate until the service runs (a starting service creates and locks its pidfile;
 *            there is no kernel event for "a lock was taken", so this polls, every 25 ms by default).
 *   stopped: pin the running process with a pidfd and wait for it to exit; then re-check
 *            (wait-stopped.ts). With option pid (`PID:ID`, pid-ref.ts): pin that process by its
 *            pidfs id and wait for it; no pidfile is read.
 */
import {NslocateError, OptionNamer} from '../errors'
import {Located, LocateResult, locateDetailed, stoppedResult} from '../locate/locate'
import type {WaitOutcome} from '../outcomes'
import {proc} from '../proc/proc-fs'
import {formatPidRef} from '../kernel/pidfs'
import {exitStatusOf} from './exit-status'
import {describeExit} from './landing'
import {DEFAULT_WAIT_MS} from './parse'
import {parsePidRefOption, pinRef, refEvidence, refNotPinned, refTarget} from './pid-ref'
import {checkPidRefOptions} from './pid-ref-options'
import {pin, unpin, waitExit} from './pin'
import {isPopulated, waitEmpty} from '../cgroup/v2'
import {tell} from './progress'
import {isExited} from './scope'
import {sleep} from './timers'
import type {WaitCondition, WaitOptions, WaitResult} from './types'
import {Waiting, left, waitStopped} from './wait-stopped'

/** `wait`'s condition, checked before any waiting. */
export function checkCondition(condition: string): asserts condition is WaitCondition {
  if (condition !== 'running' && condition !== 'stopped' && condition !== 'main-stopped')
    throw new NslocateError('USAGE', `invalid condition ${JSON.stringify(condition)}: use running, stopped or main-stopped`)
}

/** Waits until NAME is running or stopped (`condition`), polling every intervalMs (default 25 ms) up to timeoutMs. */
export async function waitFor(name: string, condition: WaitCondition, options: WaitOptions = {}): Promise<WaitResult> {
  checkCondition(condition)
  const procfs = options.procfs ?? proc
  const w: Waiting = {
    name,
    condition,
    options,
    procfs,
    timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_MS,
    start: Date.now(),
    exit: null,
    rootIsInit: rootIsInit(options),
    pinned: [],
  }
  checkPidRefOptions(options as Record<string, unknown>)
  if (options.pid !== undefined) return waitRef(w)
  const interval = options.intervalMs ?? 25
  for (;;) {
    const located = locateOnce(w)
    if (located === 'again') {
      // The service kept exiting while being inspected (locate() already looked three times): keep
      // waiting, at the pace and within the timeout of any other look.
      if (left(w) <= 0)
        return answer(w, false, 'not_reached', `${name}: its process kept exiting while being inspected until the timeout`, stoppedResult(name, [], []))
      await sleep(Math.min(interval, left(w)))
      continue
    }
    if ('reached' in located) return located
    // Not running by its pidfile, but processes of it still in the cgroup run recorded: not stopped yet.
    const cg = located.result.cgroup
    if (condition === 'stopped' && located.result.state !== 'running' && cg?.dir && cg.populated) {
      say(w, `${name}: waiting for its cgroup ${cg.dir} to be empty (${holds(cg.processes)})`)
      if (await waitEmpty(cg.dir, left(w))) continue
      return answer(
        w,
        false,
        'not_reached',
        `${name}: timed out after ${w.timeoutMs} ms waiting for its cgroup ${cg.dir} to be empty (pids: ${cg.processes.slice(0, 10).join(', ') || 'none visible here'})`,
        located.result,
      )
    }
    const done = verdict(w, located.result)
    if (done) return done
    if (condition === 'main-stopped' && located.result.visible && located.main) return waitMain(w, located)
    if (condition === 'stopped' && located.result.visible && located.main) {
      const t = located.result
      const holder =
        located.holder && located.holder.pid !== located.main.pid ? ` and its lock holder pid ${formatPidRef(located.holder.pid, t.holderPidfdId)}` : ''
      say(w, `${name}: waiting for pid ${formatPidRef(located.main.pid, t.pidfdId)}${holder} to exit`)
      const after = await waitStopped(w, located)
      // Settled by the lock alone, but processes of the service may still be in its cgroup: look again.
      const dir = located.result.cgroup?.dir
      if (after && !(dir && isPopulated(dir) === true)) return answer(w, true, 'reached', `${name} is not running (${after.state})${ended(w)}`, after)
      continue
    }
    say(w, `${name}: waiting for it to be ${condition === 'running' ? 'running' : 'stopped'} (${seen(located.result)})`)
    await sleep(Math.min(interval, left(w)))
  }
}

/** Tells options.onProgress what the wait waits on now, once per change. */
function say(w: Waiting, message: string): void {
  if (message === w.said) return
  w.said = message
  tell(w.options.onProgress, {kind: 'wait', name: w.name, startedAt: w.start, untilMs: w.timeoutMs, message})
}

/** What a look found, while waiting: "no pidfile yet", "starting: ... holds no pid yet", "pid 4242 runs, not visible here". */
function seen(t: LocateResult): string {
  if (t.starting) return `starting: ${t.pidfile?.path} is locked by pid ${t.holder ?? '?'} but holds no pid yet`
  if (t.state === 'running') return `pid ${t.pid !== null ? formatPidRef(t.pid, t.pidfdId) : '?'} is running${t.visible ? '' : ', not visible from here'}`
  if (t.reasons.includes('no_pidfile')) return 'no pidfile yet'
  return `${t.state}: ${t.reasons.join(', ')}`
}

/** "it holds pids 1, 2" (at most ten). */
function holds(pids: number[]): string {
  if (pids.length === 0) return 'its processes are not visible here'
  return `it holds pid${pids.length === 1 ? '' : 's'} ${pids.slice(0, 10).join(', ')}${pids.length > 10 ? ', ...' : ''}`
}

/**
 * Only the exit of a namespace's init (pid 1 there, e.g. a container's) ends every process that
 * could be the service; any other rootPid only lends its mount namespace.
 */
function rootIsInit(options: WaitOptions): boolean {
  if (options.rootPid === undefined) return false
  try {
    const nspid = (options.procfs ?? proc).readStatus(options.rootPid).nspid
    return nspid[nspid.length - 1] === 1
  } catch {
    return false
  }
}

/** How the process this wait saw exit ended, " (exit code 0)", or '' when it saw none exit. */
function ended(w: Waiting): string {
  return w.exit ? ` (${describeExit(w.exit)})` : ''
}

function answer(w: Waiting, reached: boolean, outcome: WaitOutcome, message: string, target: LocateResult, advice?: string): WaitResult {
  const said = advice === undefined ? {message} : {message: `${message}. ${advice}`, advice}
  return {name: w.name, condition: w.condition, reached, waitedMs: Date.now() - w.start, outcome, ...said, target, exit: w.exit, pinned: w.pinned}
}

/**
 * waitFor() of the process option pid names (condition stopped only): pinned by its id, then waited
 * on through its pidfd. No process with that id at the pid: it has exited (reached). An id that pid
 * never had, or a process nslocate never acts on: cannot tell.
 */
async function waitRef(w: Waiting): Promise<WaitResult> {
  if (w.condition !== 'stopped') {
    const advice = (n: OptionNamer) => `to wait for NAME to be running, give it without ${n('pid')}`
    throw new NslocateError(
      'USAGE',
      (n) => `${n('pid')} goes with ${n('condition', 'stopped')} only: a process named by its pidfs id never starts; ${advice(n)}`,
      {details: {option: 'pid'}, advice},
    )
  }
  const ref = parsePidRefOption(w.options.pid!)
  const shown = formatPidRef(ref.pid, ref.id)
  const evidence = [refEvidence(ref)]
  const r = pinRef(ref, w.procfs)
  if ('failure' in r) {
    const target = refNotPinned(w.name, r.failure, [...evidence, r.detail])
    if (r.failure === 'gone' || r.failure === 'reused') return answer(w, true, 'reached', `${w.name} is not running: ${r.detail}`, target)
    return answer(w, false, 'cannot_tell', `${w.name}: cannot wait for ${shown}: ${r.detail}`, target)
  }
  const p = r.pinned
  w.pinned.push({pid: p.pid, pidfdId: p.id, role: 'main'})
  say(w, `${w.name}: waiting for pid ${shown} to exit`)
  evidence.push(`pid ${ref.pid} has pidfs id ${ref.id} (fstat of a pidfd opened on it): pinned`)
  try {
    const running = refTarget(w.name, p, w.procfs, evidence)
    if (!(await waitExit(p, left(w))) && !isExited(p)) {
      return answer(w, false, 'not_reached', `${w.name}: timed out after ${w.timeoutMs} ms waiting for pid ${shown} to exit`, running)
    }
    w.exit = await exitStatusOf(p.fd)
    const t = stoppedResult(w.name, [], [...evidence, `pid ${shown} has exited (its pidfd says so)`])
    return answer(w, true, 'reached', `${w.name} is not running: pid ${shown} has exited${ended(w)}`, t)
  } finally {
    unpin(p)
  }
}

/**
 * condition main-stopped: the main process located at the start, pinned (by its pidfs id and start
 * time), has exited; what else of the service lives on is not waited for.
 */
async function waitMain(w: Waiting, located: Located): Promise<WaitResult> {
  const t = located.result
  const r = pin(located.main!.pid, located.main!.stat.starttime, w.procfs, t.pidfdId)
  if ('failure' in r) return answer(w, true, 'reached', `${w.name}: its main process ${formatPidRef(t.pid!, t.pidfdId)} has exited`, t)
  const p = r.pinned
  w.pinned.push({pid: p.pid, pidfdId: p.id, role: 'main'})
  say(w, `${w.name}: waiting for its main process pid ${formatPidRef(p.pid, p.id)} to exit`)
  try {
    if (!(await waitExit(p, left(w))) && !isExited(p))
      return answer(
        w,
        false,
        'not_reached',
        `${w.name}: timed out after ${w.timeoutMs} ms waiting for its main process ${formatPidRef(p.pid, p.id)} to exit`,
        t,
      )
    w.exit = await exitStatusOf(p.fd)
  } finally {
    unpin(p)
  }
  const evidence = [...t.evidence, `the main process ${formatPidRef(p.pid, p.id)} has exited (its pidfd says so)`]
  return answer(w, true, 'reached', `${w.name}: its main process ${formatPidRef(p.pid, p.id)} has exited${ended(w)}`, {...t, evidence})
}

/** One locate(): the result, 'again' when the holder exited while being inspected, or the answer when rootPid has exited. */
function locateOnce(w: Waiting): Located | WaitResult | 'again' {
  try {
    return locateDetailed({...w.options, name: w.name})
  } catch (error) {
    if (error instanceof NslocateError && error.code === 'GONE') return 'again'
    // rootPid (a container's init) has exited: nothing runs in those namespaces any more.
    if (error instanceof NslocateError && error.code === 'NOT_RUNNING' && w.options.rootPid !== undefined) return rootExited(w, error)
    throw error
  }
}

function rootExited(w: Waiting, error: NslocateError): WaitResult {
  const name = w.name
  if (!w.rootIsInit) {
    const t = stoppedResult(name, ['root_exited'], [error.message])
    t.state = 'unknown'
    return answer(w, false, 'cannot_tell', `${name}: cannot tell: ${error.message}; it was not its PID namespace's init, so the service may run elsewhere`, t)
  }
  const t = stoppedResult(name, ['root_exited'], [error.message, `pid ${w.options.rootPid} was the init of its PID namespace: every process in it has ended`])
  return w.condition === 'stopped'
    ? answer(w, true, 'reached', `${name} is not running (${error.message})${ended(w)}`, t)
    : answer(w, false, 'not_reached', `${name}: its PID namespace has ended (${error.message}); gave up waiting for it to be running`, t)
}

/** The answer located gives, or null to wait on. */
function verdict(w: Waiting, t: LocateResult): WaitResult | null {
  const {name, condition} = w
  // A locked, empty pidfile (starting): its holder may be a supervisor; running once the pid is written.
  const starting = condition === 'running' && t.starting
  if (t.state === 'unknown' && !starting) {
    // as signal() says it (refusal.ts): the evidence is what find shows
    return answer(w, false, 'cannot_tell', `${name}: cannot tell whether it runs (${t.reasons.join(', ')})`, t, `See the evidence with: nslocate find ${name}`)
  }
  if (condition === 'running' && t.state === 'running' && !starting)
    return answer(w, true, 'reached', `${name} is running${t.pid !== null ? ` (pid ${formatPidRef(t.pid, t.pidfdId)})` : ''}`, t)
  if (condition !== 'running' && t.state !== 'running') return answer(w, true, 'reached', `${name} is not running (${t.state})${ended(w)}`, t)
  if (left(w) === 0) {
    return answer(
      w,
      false,
      'not_reached',
      // (the timeout is the user's --timeout: a starting service's line has no room to repeat it)
      starting
        ? `${name}: timed out waiting for it to be running (starting: ${t.pidfile?.path}, locked by pid ${t.holder ?? '?'}, holds no pid)`
        : `${name}: timed out after ${w.timeoutMs} ms waiting for it to be ${condition}`,
      t,
    )
  }
  return null
}
