/**
 * When signal() sends nothing because of what locate() found: the service is not running, is
 * starting (its lock holder may be a supervisor), cannot be told apart, or cannot be seen from here.
 * Each answer carries the outcome and the message; nothing is ever signalled for them.
 */
import type {Located, LocateResult} from '../locate/locate'
import {ptraceDenied} from './caps'
import {STARTING_GRACE_MS, isEmptyFile} from './starting'
import type {SignalResult} from './types'

/** A SignalResult's outcome and message when nothing is signalled, with the skipped pids. */
export type Refusal = Pick<SignalResult, 'outcome' | 'message'> & Partial<Pick<SignalResult, 'skipped'>>

/** null when located names a process signal() may go on with; else why not. */
export function notSignallable(located: Located): Refusal | null {
  const t = located.result
  if (t.starting) return notYetWritten(t)
  if (t.state === 'stopped' || t.state === 'stale') {
    return {
      outcome: 'not_running',
      message: `${t.name} is not running (${t.state === 'stopped' ? 'no pidfile' : `stale pidfile ${t.pidfile?.path}`}); nothing was signalled`,
    }
  }
  if (t.state === 'unknown') {
    return {
      outcome: 'refused',
      message: `${t.name}: cannot tell which process it is (${t.reasons.join(', ')}); nothing was signalled. See the evidence with: nslocate find ${t.name}`,
    }
  }
  if ((!t.visible || t.pid === null) && t.reasons.includes('permission_denied')) {
    return {outcome: 'refused', message: `${t.name} is running, but its lock holder could not be named (${ptraceDenied()}); nothing was signalled`}
  }
  if (!t.visible || t.pid === null || !located.main) {
    return {
      outcome: 'refused',
      message: `${t.name} is running in a PID namespace not visible from here (holder_not_visible); nothing was signalled. Run nslocate on the host, share the service's PID namespace (--pid=container:NAME), or use --container with the Docker socket`,
    }
  }
  return null
}

/** A locked pidfile with no pid (still empty after the grace, or garbage): its holder may be a supervisor. */
function notYetWritten(t: LocateResult): Refusal {
  const skipped = t.holder !== null ? [{pid: t.holder, pidfdId: t.holderPidfdId, reason: 'starting'}] : []
  if (!isEmptyFile(t)) {
    const problem = t.reasons.find((r) => r === 'garbage_pidfile' || r === 'invalid_pid') ?? 'no pid'
    return {
      outcome: 'refused',
      skipped,
      message: `${t.name}: ${t.pidfile?.path} is locked by pid ${t.holder ?? '?'} but holds no usable pid (${problem}), and the lock holder may be a supervisor rather than the service; nothing was signalled. See nslocate find ${t.name}; signal the process by its pid if you know which it is`,
    }
  }
  return {
    outcome: 'refused',
    skipped,
    message: `${t.name} is starting: ${t.pidfile?.path} is locked by pid ${t.holder ?? '?'} but has stayed empty for ${STARTING_GRACE_MS} ms, and the lock holder may be a supervisor rather than the service; nothing was signalled. Try again once it has written its pid (nslocate wait ${t.name} --for running)`,
  }
}

/**
 * The main process could not be pinned: one nslocate never signals, or may not open (refused /
 * not permitted), or it has exited or its pid was reused (not running), or (option pid) the id given
 * was never that pid's (refused). pidfdId: the id the target
 * was known by (located, or named by the caller), null when none.
 */
export function pinRefusal(
  name: string,
  pid: number,
  failure: 'gone' | 'reused' | 'permission' | 'unsafe' | 'wrong_id',
  detail: string,
  pidfdId: number | null = null,
): Refusal {
  const outcome = failure === 'unsafe' || failure === 'wrong_id' ? 'refused' : failure === 'permission' ? 'not_permitted' : 'not_running'
  return {outcome, message: `${name}: ${detail}; nothing was signalled`, skipped: [{pid, pidfdId, reason: failure}]}
}
