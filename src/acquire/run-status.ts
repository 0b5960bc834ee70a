/**
 * How `nslocate run` (and acquire()) fails on its own account, as an outcome (src/outcomes.ts,
 * RunOutcome). The exit statuses (the 120s, beside env(1)'s) are the CLI's
 * (src/cli/exit-status.ts); COMMAND's own status is passed through by the caller.
 */
import {NslocateError} from '../errors'
import type {RunOutcome} from '../outcomes'

/** The outcome of an error of run's own (a conflict is handled by the caller). */
export function runOutcomeOf(error: NslocateError): RunOutcome {
  switch (error.code) {
    case 'USAGE':
      return 'usage'
    case 'UNSAFE_PIDFILE':
      return 'unsafe'
    case 'TIMEOUT':
      return 'timeout'
    case 'CONFLICT':
      return 'conflict'
    default:
      return 'failed'
  }
}

/** A failure of run's own, with its outcome. */
export class RunFailure extends Error {
  constructor(
    readonly outcome: RunOutcome,
    message: string,
  ) {
    super(message)
  }
}
