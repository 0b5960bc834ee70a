/**
 * How `nslocate run` (and acquire()) fails on its own account, as an outcome (src/outcomes.ts,
 * RunOutcome). The exit statuses (the 120s, beside env(1)'s) are the CLI's
 * (src/cli/exit-status.ts); COMMAND's own status is passed through by the caller.
 */
import {NslocateError, OptionNamer, libraryNamer} from '../errors'
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

/**
 * A failure of run's own, with its outcome. Printed as every error is (src/cli/error-lines.ts):
 * the message is "FACT; ADVICE" and `advice` (nslocate's own words, or null) is the hint line, as
 * NslocateError's; a message or advice that names an option is a function of an OptionNamer, and
 * render()/renderAdvice() give it as the command line names the option.
 */
export class RunFailure extends Error {
  readonly advice: string | null
  private readonly compose: ((name: OptionNamer) => string) | null
  private readonly composeAdvice: ((name: OptionNamer) => string) | null

  constructor(
    readonly outcome: RunOutcome,
    message: string | ((name: OptionNamer) => string),
    advice: string | ((name: OptionNamer) => string) | null = null,
  ) {
    super(typeof message === 'string' ? message : message(libraryNamer))
    this.name = 'RunFailure'
    this.compose = typeof message === 'string' ? null : message
    this.advice = advice === null || typeof advice === 'string' ? advice : advice(libraryNamer)
    this.composeAdvice = typeof advice === 'function' ? advice : null
  }

  /** The message with each option named by `name` (the command line passes its flag namer). */
  render(name: OptionNamer): string {
    return this.compose ? this.compose(name) : this.message
  }

  /** The advice with each option named by `name`, as render() names them in the message. */
  renderAdvice(name: OptionNamer): string | null {
    return this.composeAdvice ? this.composeAdvice(name) : this.advice
  }
}
