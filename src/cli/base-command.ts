/**
 * The oclif front end of every command: parse with oclif (from the grammar), then hand the
 * invocation to the command's module (src/cli/commands/), which maps, calls the library and prints
 * through this class's Output. Errors are printed here, with the status of src/cli/exit-status.ts.
 */
import {Command} from '@oclif/core'

import {format} from 'node:util'

import {CommandModule, Invocation, Output, errorReport, quietOf, runToAnswer, warningText} from './command'
import {escapeLines} from './escape'
import {Selection, selectionOf} from './hint'
import {parseErrorLine} from './usage'
import {NslocateError} from '../errors'

/** The oclif command every command extends: runs its CommandModule, escaping text output and reporting NslocateErrors with the command's exit status. */
export abstract class BaseCommand extends Command {
  /** the command's one module: flags -> options -> library -> output and exit status */
  protected abstract readonly command: CommandModule
  /** the service the invocation means, once parsed (a hint's suggested command carries its flags) */
  private selection: Selection = {argv: []}

  async run(): Promise<void> {
    const {args, flags, argv} = await this.parse()
    const inv: Invocation = {args: args as Record<string, string>, flags, argv: argv as string[], raw: this.argv, json: this.jsonEnabled()}
    this.selection = selectionOf(this.command.grammar, flags, (args as Record<string, string>).name)
    const status = await runToAnswer(this.command, inv, this.output(quietOf(flags, inv.json)))
    if (this.command.exit) this.exit(status)
    process.exitCode = status
  }

  // Every text line goes out escaped (src/cli/escape.ts): a comm, a path or a container name with
  // ESC never reaches the terminal raw. --json (logJson) is not touched: JSON escapes by itself.
  log(message = '', ...args: unknown[]): void {
    super.log(escapeLines(format(message, ...args)))
  }

  logToStderr(message = '', ...args: unknown[]): void {
    super.logToStderr(escapeLines(format(message, ...args)))
  }

  warn(input: string | Error): string | Error {
    return super.warn(typeof input === 'string' ? escapeLines(input) : Object.assign(input, {message: escapeLines(input.message)}))
  }

  private output(quiet: boolean): Output {
    return {
      json: this.jsonEnabled(),
      quiet,
      selection: this.selection,
      log: (text) => quiet || this.log(text),
      logToStderr: (text) => this.logToStderr(text),
      warn: (text, hint) => quiet || void process.stderr.write(warningText(text, hint)),
      logJson: (value) => this.logJson(value),
      jsonRows: () => {
        const rows: unknown[] = []
        return {add: (row) => rows.push(row), end: () => this.logJson(rows)}
      },
    }
  }

  /**
   * Library errors exit with the table's status (src/cli/exit-status.ts), printed as one line and a
   * hint (src/cli/error-lines.ts); oclif's parse errors are usage errors, printed the same way. Anything
   * else is a bug and exits 1 with its stack under DEBUG.
   */
  protected async catch(error: Error & {oclif?: {exit?: number}; code?: unknown}): Promise<unknown> {
    // oclif's own parse errors (unknown flag, missing argument, bad value): a USAGE error of one line.
    // (this.exit() throws an error of status 2 too, code EEXIT: that one ends the command as it is.)
    if (!(error instanceof NslocateError) && error.oclif?.exit === 2 && error.code !== 'EEXIT') {
      const line = parseErrorLine(this.command.id, error) ?? error.message.split('\n')[0]
      error = new NslocateError('USAGE', line, {cause: error})
    }
    if (error instanceof NslocateError) {
      // oclif prefixes an error thrown by a flag's parse() with "Parsing --FLAG" and a help hint: keep our message.
      const parsed = /^Parsing --\S+ \n\t([\s\S]*)\nSee more help with --help$/.exec(error.message)
      if (parsed) error.message = parsed[1]
      const e = errorReport(this.command.id, error, this.selection)!
      if (this.jsonEnabled()) this.logJson(e.json)
      else process.stderr.write(e.text)
      this.exit(e.status)
    }
    if (!this.jsonEnabled() && typeof error.message === 'string') error.message = escapeLines(error.message)
    return super.catch(error)
  }
}
