/**
 * What a command's module (src/cli/commands/COMMAND.ts) is: each command is written once there,
 * flags -> library options -> the library call -> text, JSON and exit status. Two front ends call
 * it with their own Output: the oclif class (commands/COMMAND.ts, src/cli/base-command.ts) and the
 * start-up fast path (src/cli/fast-path.ts, bundled as dist/fast/COMMAND.js).
 */
import type {CommandName} from './exit-status'
import type {CommandGrammar} from './grammar'

/** A parsed command line, as both parsers give it. */
export interface Invocation {
  args: Record<string, string>
  /** every flag of the grammar by flag name: given, defaulted, or undefined */
  flags: Record<string, unknown>
  /** with strict: false, the positional arguments and everything after `--` */
  argv: string[]
  /** the argument vector as given, after the command id */
  raw: string[]
  json: boolean
}

/** Where a command prints. Text lines are escaped (src/cli/escape.ts); with --json only logJson and jsonRows print. */
export interface Output {
  json: boolean
  log(text: string): void
  logToStderr(text: string): void
  /** a warning on stderr, as oclif's this.warn() prints it */
  warn(text: string): void
  logJson(value: unknown): void
  /** a JSON array printed as logJson(rows) would, given a row at a time */
  jsonRows(): {add(row: unknown): void; end(): void}
}

/** One command of the CLI, shared by the oclif and the fast path: its grammar and what it runs. */
export interface CommandModule {
  id: CommandName
  grammar: CommandGrammar
  /** end the process with the status at once (as oclif's this.exit() does), whatever handles are still open */
  exit?: boolean
  /** the exit status; errors are thrown, and printed by the front end through errorReport() */
  run(inv: Invocation, out: Output): number | Promise<number>
}

/** What a front end prints for an error that stopped a command, and the status it exits with. */
export interface ErrorReport {
  status: number
  /** the --json error object */
  json: {error: Record<string, unknown>}
  /** the message, its options named by their flags (not yet escaped) */
  message: string
  code: string
}

/** A library error (NslocateError) as the command line shows it; null for anything else (a bug). */
export function errorReport(command: CommandName, error: unknown): ErrorReport | null {
  const e = error as {name?: string; code: string; message: string; details?: object}
  if (!(e && e.name === 'NslocateError')) return null
  const {errorStatus} = require('./exit-status') as typeof import('./exit-status')
  const {messageOf} = require('./options') as typeof import('./options')
  const message = messageOf(e)
  return {status: errorStatus(command, e), json: {error: {code: e.code, message, ...e.details}}, message, code: e.code}
}
