/**
 * When signal() sends nothing because of what locate() found: the service is not running, is
 * starting (its lock holder may be a supervisor), cannot be told apart, or cannot be seen from here.
 * Each answer carries the outcome and the message; nothing is ever signalled for them.
 */
import type {Located, LocateResult} from '../locate/locate'
import {ptraceDenial} from './caps'
import {STARTING_GRACE_MS, isEmptyFile} from './starting'
import type {SignalResult} from './types'

/** A SignalResult's outcome and message when nothing is signalled, with the skipped pids and what to do (advice). */
export type Refusal = Pick<SignalResult, 'outcome' | 'message'> & Partial<Pick<SignalResult, 'skipped' | 'advice'>>

/** A refusal whose message is `fact` then `advice` (after ". " when the advice starts a sentence, else "; "), the advice kept as its own field too. */
function advised(outcome: Refusal['outcome'], fact: string, advice: string, skipped?: Refusal['skipped']): Refusal {
  const sep = /^[A-Z]/.test(advice) ? '. ' : '; '
  return {outcome, message: `${fact}${sep}${advice}`, advice, ...(skipped ? {skipped} : {})}
}

/** What to do when the service is pid 1 of nslocate's own PID namespace. */
const INIT_ADVICE = 'run it under an init (docker run --init), or signal it from the host or with --container'

/** null when located names a process signal() may go on with; else why not. */
export function notSignallable(located: Located): Refusal | null {
  const t = located.result
  if (t.starting) return notYetWritten(t)
  if (t.state === 'stopped' || t.state === 'stale') {
    return advised(
      'not_running',
      `${t.name} is not running (${t.state === 'stopped' ? 'no pidfile' : `stale pidfile ${t.pidfile?.path}`}); nothing was signalled`,
      `See where it looked: nslocate find ${t.name}`,
    )
  }
  if (t.state === 'unknown') {
    return advised(
      'refused',
      `${t.name}: cannot tell which process it is (${t.reasons.join(', ')}); nothing was signalled`,
      `See the evidence with: nslocate find ${t.name}`,
    )
  }
  if ((!t.visible || t.pid === null) && t.reasons.includes('permission_denied')) {
    // (running: the pidfile is locked; its holder could not be read)
    const {why, advice} = ptraceDenial()
    const fact = `${t.name}: cannot name its lock holder (${why}); nothing was signalled`
    return advice === null ? {outcome: 'refused', message: fact} : advised('refused', fact, advice)
  }
  if (!t.visible || t.pid === null || !located.main) {
    return advised(
      'refused',
      `${t.name} runs in a PID namespace not visible from here (holder_not_visible); nothing was signalled`,
      'Run nslocate on the host or in its PID namespace, or give its container (--container)',
    )
  }
  return null
}

/** A locked pidfile with no pid (still empty after the grace, or garbage): its holder may be a supervisor. */
function notYetWritten(t: LocateResult): Refusal {
  const skipped = t.holder !== null ? [{pid: t.holder, pidfdId: t.holderPidfdId, reason: 'starting'}] : []
  if (!isEmptyFile(t)) {
    const problem = t.reasons.find((r) => r === 'garbage_pidfile' || r === 'invalid_pid') ?? 'no pid'
    return advised(
      'refused',
      `${t.name}: ${t.pidfile?.path}, locked by pid ${t.holder ?? '?'}, holds no usable pid (${problem}); nothing was signalled`,
      `See nslocate find ${t.name} (its holder may be a supervisor), or signal its process by pid`,
      skipped,
    )
  }
  return advised(
    'refused',
    `${t.name} is starting: ${t.pidfile?.path}, locked by pid ${t.holder ?? '?'}, is empty after ${STARTING_GRACE_MS} ms; nothing was signalled`,
    `Wait for its pid: nslocate wait ${t.name} --for running`,
    skipped,
  )
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
  const skipped = [{pid, pidfdId, reason: failure}]
  // The init of this namespace (pin.ts forbiddenTarget): how else to reach the service
  if (failure === 'unsafe' && pid === 1) return advised(outcome, `${name}: ${detail}; nothing was signalled`, INIT_ADVICE, skipped)
  return {outcome, message: `${name}: ${detail}; nothing was signalled`, skipped}
}
