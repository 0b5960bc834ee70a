/**
 * What a command's module (src/cli/commands/COMMAND.ts) is: each command is written once there,
 * flags -> library options -> the library call -> text, JSON and exit status. Two front ends call
 * it with their own Output: the oclif class (commands/COMMAND.ts, src/cli/base-command.ts) and the
 * start-up fast path (src/cli/fast-path.ts, bundled as dist/fast/COMMAND.js).
 */
import type {CommandName} from './exit-status'
import type {CommandGrammar} from './grammar'
import type {Selection} from './hint'

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
  /** --quiet (text only): log and warn print nothing; an error still prints its line and hint on stderr */
  quiet: boolean
  /** the service the invocation means, for a hint that suggests a command (src/cli/hint.ts) */
  selection: Selection
  log(text: string): void
  logToStderr(text: string): void
  /** a warning on stderr: one line `nslocate: warning: TEXT` (never wrapped), then `hint: HINT` when given (src/cli/command.ts, warningText) */
  warn(text: string, hint?: string): void
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

/**
 * `command.run()` as both front ends run it: a command whose answer never comes (a runtime that
 * closed its connection mid-answer, and a client library that then neither resolves nor rejects)
 * would otherwise let the event loop empty and the process exit 0 with nothing printed, a false
 * success. When the loop is about to empty with the answer still pending, the run fails with an IO
 * error instead, printed and exited with as any error of the command.
 */
export function runToAnswer(command: CommandModule, inv: Invocation, out: Output): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const pending = () => {
      const {NslocateError} = require('../errors') as typeof import('../errors')
      reject(
        new NslocateError('IO', `${command.id} ended with no answer (a connection closed mid-answer?)`, {
          details: {reason: 'no_answer', why: 'a request was left unanswered, and nothing else was left to run'},
        }),
      )
    }
    process.once('beforeExit', pending)
    const settle = () => process.removeListener('beforeExit', pending)
    Promise.resolve()
      .then(() => command.run(inv, out))
      .then(
        (status) => (settle(), resolve(status)),
        (error: unknown) => (settle(), reject(error)),
      )
  })
}

/** --quiet, as both front ends read it: text output only (with --json, the JSON is the answer whatever -q says). */
export function quietOf(flags: Record<string, unknown>, json: boolean): boolean {
  return flags.quiet === true && !json
}

/** What a front end prints for an error that stopped a command, and the status it exits with. */
export interface ErrorReport {
  status: number
  /** the --json error object */
  json: {error: Record<string, unknown>}
  /** the message, its options named by their flags (not yet escaped) */
  message: string
  code: string
  /** the text lines for stderr: `nslocate: FACT`, then at most one hint line (src/cli/error-lines.ts) */
  text: string
}

/** A library error (NslocateError) as the command line shows it; null for anything else (a bug). */
export function errorReport(command: CommandName, error: unknown, selection: Selection = {argv: []}): ErrorReport | null {
  const e = error as {name?: string; code: string; message: string; details?: object; advice?: unknown}
  if (!(e && e.name === 'NslocateError')) return null
  const {errorStatus} = require('./exit-status') as typeof import('./exit-status')
  const {adviceOf, messageOf} = require('./options') as typeof import('./options')
  const {errorLines, jsonHint} = require('./error-lines') as typeof import('./error-lines')
  const message = messageOf(e)
  const {line, hint} = errorLines(command, e.code, message, selection, adviceOf(e))
  const advice = jsonHint(hint)
  const json = {error: {code: e.code, message, ...(advice !== null ? {hint: advice} : {}), ...e.details}}
  return {status: errorStatus(command, e), json, message, code: e.code, text: textOf(line, hint)}
}

/** A warning as both front ends print it: `nslocate: warning: TEXT` and the hint line, escaped, each ending in a newline. */
export function warningText(text: string, hint?: string): string {
  return textOf(`warning: ${text}`, hint === undefined ? null : `hint: ${hint}`)
}

/** `nslocate: LINE` and the hint line, escaped, each ending in a newline. */
export function textOf(line: string, hint: string | null): string {
  const {escapeText} = require('./escape') as typeof import('./escape')
  return `nslocate: ${escapeText(line)}\n${hint !== null ? `${escapeText(hint)}\n` : ''}`
}
