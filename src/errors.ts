/**
 * The one error type of nslocate. `code` is stable and documented (docs/nslocate.1.md, ERRORS);
 * the message names the file or pid and says what to do. The exit status an error gives is the
 * CLI's business (src/cli/exit-status.ts), not the library's.
 *
 * A message that names an option is written as a function of an OptionNamer: the library's
 * `message` names it as the option of its function (`option allowUnsafe`), and the CLI renders the
 * same error with its flag (`--allow-unsafe-pidfile`) through render(). So a library caller never
 * reads of a flag it never typed, and the command-line user sees the flag they did.
 */
/** The codes of NslocateError, stable: what each means is beside it. */
export const ERROR_CODES = [
  'USAGE', // bad name, option, flag or argument
  'NATIVE_LOAD', // the native addon could not be loaded
  'UNSUPPORTED', // the kernel lacks a feature and there is no fallback
  'PERMISSION', // EPERM/EACCES: names the capability needed
  'UNSAFE_PIDFILE', // refused by the pidfile safety rules
  'NOT_RUNNING', // nothing to act on
  'NOT_VISIBLE', // the holder lives in a PID namespace we cannot see
  'GONE', // the process exited between identification and action (ESRCH)
  'CONFLICT', // the pidfile is held by a running instance
  'TIMEOUT',
  'DOCKER', // the Docker engine's API failed or cannot be trusted
  'RUNTIME', // another container runtime's API (Podman, the CRI) or state failed or cannot be trusted
  'IO', // any other system error
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** Is `code` one of nslocate's error codes (a code read from elsewhere, such as a helper's JSON, is checked)? */
export function isErrorCode(code: unknown): code is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(code)
}

/**
 * Names an option in a message: `option` is the library's option name (camelCase, as in the
 * options object), `value` the value given, if the message shows it.
 */
export type OptionNamer = (option: string, value?: string) => string

/** The library's wording: `option allowUnsafe`, `option scope "group"`. */
export const libraryNamer: OptionNamer = (option, value) => (value === undefined ? `option ${option}` : `option ${option} ${JSON.stringify(value)}`)

/** The one error type of nslocate: a stable code, a one-line message naming the file or pid and what to do, and details. */
export class NslocateError extends Error {
  readonly code: ErrorCode
  /** Extra machine-readable facts (e.g. the holder pid of a CONFLICT). */
  readonly details: Record<string, unknown>
  /**
   * What to do about it, in nslocate's own words, never text from a file, a process or an engine
   * (the command line's hint line: src/cli/hint.ts); the message ends with it too ("FACT; ADVICE",
   * "FACT (ADVICE)"). null when there is nothing to advise.
   */
  readonly advice: string | null
  private readonly compose: ((name: OptionNamer) => string) | null
  private readonly composeAdvice: ((name: OptionNamer) => string) | null

  constructor(
    code: ErrorCode,
    message: string | ((name: OptionNamer) => string),
    options: {cause?: unknown; details?: Record<string, unknown>; advice?: string | ((name: OptionNamer) => string)} = {},
  ) {
    super(typeof message === 'string' ? message : message(libraryNamer), options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'NslocateError'
    this.code = code
    this.details = options.details ?? {}
    this.compose = typeof message === 'string' ? null : message
    const advice = options.advice
    this.advice = advice === undefined ? null : typeof advice === 'string' ? advice : advice(libraryNamer)
    this.composeAdvice = typeof advice === 'function' ? advice : null
  }

  /** The message with each option named by `name` (the CLI passes its flag namer). */
  render(name: OptionNamer): string {
    return this.compose ? this.compose(name) : this.message
  }

  /** The advice with each option named by `name`, as render() names them in the message. */
  renderAdvice(name: OptionNamer): string | null {
    return this.composeAdvice ? this.composeAdvice(name) : this.advice
  }
}

/** `message` without the advice it ends with and the separator before it ("; ", ". ", ": ", " ("...")"); all of it when it does not end so. */
export function factOf(message: string, advice: string): string {
  const inParens = message.endsWith(`(${advice})`)
  const end = inParens ? message.length - advice.length - 2 : message.endsWith(advice) ? message.length - advice.length : -1
  if (end <= 0) return message
  const fact = message.slice(0, end).replace(inParens ? /\s+$/ : /[\s;:.,]+$/, '')
  return fact === '' ? message : fact
}

/** errno-style error (from Node's fs or from the native addon). */
export interface SystemError extends Error {
  code?: string
  errno?: number
  syscall?: string
  unsupported?: boolean
}

/** Is `error` a system error with one of these errno codes (ENOENT, EACCES, ...), from Node's fs or the addon? */
export function isErrno(error: unknown, ...codes: string[]): error is SystemError {
  const e = error as SystemError
  return Boolean(e && typeof e === 'object' && (codes.includes(e.code ?? '') || codes.includes((e as {errnoCode?: string}).errnoCode ?? '')))
}
