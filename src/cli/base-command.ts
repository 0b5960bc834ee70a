/**
 * The oclif front end of every command: parse with oclif (from the grammar), then hand the
 * invocation to the command's module (src/cli/commands/), which maps, calls the library and prints
 * through this class's Output. Errors are printed here, with the status of src/cli/exit-status.ts.
 */
import {Command} from '@oclif/core'

import {format} from 'node:util'

import {CommandModule, Invocation, Output, errorReport} from './command'
import {escapeLines} from './escape'
import {NslocateError} from '../errors'

/** The oclif command every command extends: runs its CommandModule, escaping text output and reporting NslocateErrors with the command's exit status. */
export abstract class BaseCommand extends Command {
  /** the command's one module: flags -> options -> library -> output and exit status */
  protected abstract readonly command: CommandModule

  async run(): Promise<void> {
    const {args, flags, argv} = await this.parse()
    const inv: Invocation = {args: args as Record<string, string>, flags, argv: argv as string[], raw: this.argv, json: this.jsonEnabled()}
    const status = await this.command.run(inv, this.output())
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

  private output(): Output {
    return {
      json: this.jsonEnabled(),
      log: (text) => this.log(text),
      logToStderr: (text) => this.logToStderr(text),
      warn: (text) => void this.warn(text),
      logJson: (value) => this.logJson(value),
      jsonRows: () => {
        const rows: unknown[] = []
        return {add: (row) => rows.push(row), end: () => this.logJson(rows)}
      },
    }
  }

  /** Library errors exit with the table's status (src/cli/exit-status.ts); anything else is a bug and exits 1 with its stack under DEBUG. */
  protected async catch(error: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    // With --json, oclif's own parse errors (unknown flag, missing argument, bad value) become a USAGE error object.
    if (!(error instanceof NslocateError) && error.oclif?.exit === 2 && this.jsonEnabled()) {
      error = new NslocateError('USAGE', error.message.split('\n')[0], {cause: error})
    }
    if (error instanceof NslocateError) {
      // oclif prefixes an error thrown by a flag's parse() with "Parsing --FLAG" and a help hint: keep our message.
      const parsed = /^Parsing --\S+ \n\t([\s\S]*)\nSee more help with --help$/.exec(error.message)
      if (parsed) error.message = parsed[1]
      const e = errorReport(this.command.id, error)!
      if (this.jsonEnabled()) {
        this.logJson(e.json)
        this.exit(e.status)
      }
      this.error(escapeLines(e.message), {exit: e.status, code: e.code})
    }
    if (!this.jsonEnabled() && typeof error.message === 'string') error.message = escapeLines(error.message)
    return super.catch(error)
  }
}
