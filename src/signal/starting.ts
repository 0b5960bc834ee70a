/**
 * The starting grace of signal(): a pidfile that is locked but still empty belongs to a service
 * that is starting, and its lock holder may be a supervisor (flock(1), daemon(1), `nslocate run`
 * before it writes), not the service, so it is never signalled for it. signal() looks again for a
 * while before it gives up (refusal.ts says why it did).
 */
import {NslocateError} from '../errors'
import {Located, LocateResult, locateDetailed} from '../locate/locate'
import type {SignalOptions} from './types'

/** How long signal() waits for a starting service (pidfile locked, still empty) to write its pid. */
export const STARTING_GRACE_MS = 2000

/**
 * locate(), again every 20 ms while the pidfile is locked but empty (starting) for up to
 * STARTING_GRACE_MS.
 */
export async function locateNotStarting(name: string, options: SignalOptions): Promise<Located> {
  const end = Date.now() + STARTING_GRACE_MS
  for (;;) {
    let located: Located
    try {
      located = locateDetailed({...options, name})
    } catch (error) {
      throw nothingSignalled(error) // rootPid has exited; the holder exited while being inspected
    }
    // Only an empty file is a pid about to be written; garbage is not waited for.
    if (!located.result.starting || !isEmptyFile(located.result) || Date.now() >= end) return located
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Whether the pidfile was found empty (a pid about to be written). */
export function isEmptyFile(t: LocateResult): boolean {
  return t.reasons.includes('empty_pidfile')
}

/**
 * A process that exited while it was being identified (GONE): for signal that is "not running", as
 * when it exits after pinning, and the message says nothing was signalled. Returns the error to throw.
 */
export function nothingSignalled(error: unknown): unknown {
  if (error instanceof NslocateError && error.code === 'GONE' && !error.message.endsWith('; nothing was signalled')) {
    return new NslocateError('GONE', (n) => `${error.render(n)}; nothing was signalled`, {cause: error.cause ?? error, details: error.details})
  }
  return error
}
