/**
 * `nslocate run`'s own exit statuses (docs/nslocate.1.md, EXIT STATUS, run). They sit in the 120s,
 * beside env(1)'s 125/126/127, so that a script can tell them from its command's usual statuses;
 * the command's own status N (or 128+N when a signal killed it) is passed through unchanged.
 */
import {NslocateError} from '../errors'

export const RUN_STATUS = {
  /** NAME is already running (the default of --conflict-exit-code) */
  CONFLICT: 122,
  /** the pidfile was refused as unsafe (link, hard link, foreign owner, unsafe directory) */
  UNSAFE: 123,
  /** the lock could not be taken in time: other starters, or --replace could not stop the instance */
  TIMEOUT: 124,
  /** run itself failed, or (INTERRUPTED) a forwarded signal arrived before COMMAND was started: the pidfile (or its directory) could not be created, locked or written, or the child could not be forked */
  FAILED: 125,
  /** TERM, INT, HUP, QUIT, USR1, USR2 or WINCH arrived while the pidfile was being taken: nothing started, file removed */
  INTERRUPTED: 125,
  /** COMMAND was found but cannot be executed */
  CANNOT_EXECUTE: 126,
  /** COMMAND was not found */
  NOT_FOUND: 127,
} as const

/** The status `run` exits with for an error of its own (a conflict is handled by the caller). */
export function runStatusOf(error: NslocateError): number {
  switch (error.code) {
    case 'USAGE': return 2
    case 'UNSAFE_PIDFILE': return RUN_STATUS.UNSAFE
    case 'TIMEOUT': return RUN_STATUS.TIMEOUT
    case 'CONFLICT': return RUN_STATUS.CONFLICT
    default: return RUN_STATUS.FAILED
  }
}

/** A failure of run's own, with the status it exits with. */
export class RunFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}
