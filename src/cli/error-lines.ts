/**
 * The one rule for how an error reads on the command line (docs/nslocate.1.md, DIAGNOSTICS): one
 * line `nslocate: FACT`, then at most one hint line. A usage error's hint is the command's synopsis
 * and where its help is; any other error's hint is its advice (`hint: run nslocate as root`), the
 * field of its own the error or result carries (src/cli/hint.ts: never parsed out of the message),
 * a suggested command carrying the flags that selected the service. Both front ends (the oclif
 * classes and the fast path) and report() (signal, wait) print through this.
 */
import type {Output} from './command'
import type {CommandName} from './exit-status'
import {factOf} from '../errors'
import {Selection, withSelection} from './hint'
import {usageHint} from './usage'

/** The width an error line keeps to (with its `nslocate: `), but for the values it quotes. */
export const ERROR_WIDTH = 100

/**
 * The error line (without `nslocate: `) and the hint line (null: none) for a message of code `code`
 * whose advice is `advice` (null: none). The message ends with its advice ("FACT; ADVICE",
 * "FACT. Advice"): the line is the fact before it.
 */
export function errorLines(
  command: CommandName | undefined,
  code: string,
  message: string,
  selection: Selection,
  advice: string | null = null,
): {line: string; hint: string | null} {
  const fact = advice === null ? message : factOf(message, advice)
  const hint = advice === null ? null : `hint: ${hintOf(advice, selection)}`
  if (code === 'USAGE') {
    // The advice stays on the line while it fits: the hint line is the synopsis then.
    if (hint === null || `nslocate: ${message}`.length <= ERROR_WIDTH) return {line: message, hint: usageHint(command)}
    return {line: fact, hint}
  }
  return {line: fact, hint}
}

/** The hint an advice gives, without its `hint: ` label: lower-case first, a command it suggests carrying the flags that selected the service. */
export function hintOf(advice: string, selection: Selection): string {
  return withSelection(advice.charAt(0).toLowerCase() + advice.slice(1), selection)
}

/** Prints an error of the command's own (a result that failed, run's failures) on stderr: its line, then its hint (errorLines). */
export function printError(out: Output, command: CommandName, code: string, message: string, advice: string | null = null): void {
  const {textOf} = require('./command') as typeof import('./command')
  const {line, hint} = errorLines(command, code, message, out.selection, advice)
  out.logToStderr(textOf(line, hint).slice(0, -1))
}

/** The --json error object's `hint`: the advice without its `hint: ` label; null for a usage line (the synopsis is for people reading a terminal). */
export function jsonHint(hint: string | null): string | null {
  return hint !== null && hint.startsWith('hint: ') ? hint.slice('hint: '.length) : null
}
