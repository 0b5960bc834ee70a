/** Shared flags and error handling for nslocate's commands. Commands stay thin: parse, call the library, print. */
import {Command} from '@oclif/core'

import {format} from 'node:util'

import {NslocateError} from '../errors'
import {escapeLines, escapeText} from './escape'
import * as grammar from './grammar'
import {oclifFlags} from './oclif-grammar'

/** The shared flag groups, generated from src/cli/grammar.ts (define new flags there). */
export const pidfileFlags = oclifFlags(grammar.pidfileFlags)
export const containerFlags = oclifFlags(grammar.containerFlags)

export const identityFlags = oclifFlags(grammar.identityFlags)
/** The library's options from identityFlags (defined beside them, in the grammar). */
export const identityOptions = grammar.identityOptions

export abstract class BaseCommand extends Command {
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

  /** For results that carry their own verdict: print the message (stdout on success, stderr otherwise) and set the exit status. */
  protected report<T extends {exit_code: number; message: string}>(result: T, extra: string[] = []): T {
    if (!this.jsonEnabled()) {
      if (result.exit_code === 0) this.log(escapeText(result.message))
      else this.logToStderr(`nslocate: ${escapeText(result.message)}`)
      for (const line of extra) this.logToStderr(escapeText(line))
    }
    process.exitCode = result.exit_code
    return result
  }

  /** Turn library errors into the documented exit status; anything else is a bug and exits 1 with its stack under DEBUG. */
  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // With --json, oclif's own parse errors (unknown flag, missing argument, bad value) become a USAGE error object.
    if (!(error instanceof NslocateError) && error.oclif?.exit === 2 && this.jsonEnabled()) {
      error = new NslocateError('USAGE', error.message.split('\n')[0], {cause: error})
    }
    if (error instanceof NslocateError) {
      // oclif prefixes an error thrown by a flag's parse() with "Parsing --FLAG" and a help hint: keep our message.
      const parsed = /^Parsing --\S+ \n\t([\s\S]*)\nSee more help with --help$/.exec(error.message)
      if (parsed) error.message = parsed[1]
      if (this.jsonEnabled()) {
        this.logJson({error: {code: error.code, message: error.message, ...error.details}})
        this.exit(error.exitCode)
      }
      this.error(escapeLines(error.message), {exit: error.exitCode, code: error.code})
    }
    if (!this.jsonEnabled() && typeof error.message === 'string') error.message = escapeLines(error.message)
    return super.catch(error)
  }
}
