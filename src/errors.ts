/**
 * The one error type of nslocate. `code` is stable and documented (docs/nslocate.1.md, ERRORS);
 * `exitCode` is what the CLI exits with; the message names the file or pid and says what to do.
 */
export type ErrorCode =
  | 'USAGE'            // bad name, flag or argument
  | 'NATIVE_LOAD'      // the native addon could not be loaded
  | 'UNSUPPORTED'      // the kernel lacks a feature and there is no fallback
  | 'PERMISSION'       // EPERM/EACCES: names the capability needed
  | 'UNSAFE_PIDFILE'   // refused by the pidfile safety rules
  | 'NOT_RUNNING'      // nothing to act on
  | 'NOT_VISIBLE'      // the holder lives in a PID namespace we cannot see
  | 'GONE'             // the process exited between identification and action (ESRCH)
  | 'CONFLICT'         // the pidfile is held by a running instance
  | 'TIMEOUT'
  | 'DOCKER'           // Docker API failure
  | 'IO'               // any other system error

export class NslocateError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  /** Extra machine-readable facts (e.g. the holder pid of a CONFLICT). */
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: {exitCode?: number; cause?: unknown; details?: Record<string, unknown>} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'NslocateError'
    this.code = code
    this.exitCode = options.exitCode ?? (code === 'USAGE' ? 2 : 4)
    this.details = options.details ?? {}
  }
}

/** errno-style error (from Node's fs or from the native addon). */
export interface SystemError extends Error {
  code?: string
  errno?: number
  syscall?: string
  unsupported?: boolean
}

export function isErrno(error: unknown, ...codes: string[]): error is SystemError {
  const e = error as SystemError
  return Boolean(e && typeof e === 'object' && (codes.includes(e.code ?? '') || codes.includes((e as {errnoCode?: string}).errnoCode ?? '')))
}
