/** Printing a result that carries its own verdict (signal, wait): one place for both commands. */
import type {Output} from '../command'
import {escapeText} from '../escape'
import {hintOf, printError} from '../error-lines'
import {CommandName, statusOf} from '../exit-status'
import {resultJson} from '../json'

/**
 * --json: the result, and with its advice the `hint` the text would print (the advice with the
 * flags that selected the service: the library's `message` and `advice` know no flags); text: its
 * message (stdout on success; otherwise on stderr as an error, one line and its hint,
 * src/cli/error-lines.ts) and the extra lines on stderr (none with --quiet). Returns the exit status.
 */
export function report(
  command: CommandName,
  out: Output,
  result: {outcome: string; message: string; advice?: string},
  extra: () => string[] = () => [],
): number {
  const status = statusOf(command, result.outcome)
  if (out.json) {
    const json = resultJson(command, result) as Record<string, unknown>
    out.logJson(result.advice === undefined ? json : {...json, hint: hintOf(result.advice, out.selection)})
  } else {
    if (status === 0) out.log(escapeText(result.message))
    else printError(out, command, result.outcome, result.message, result.advice ?? null)
    if (!out.quiet) for (const line of extra()) out.logToStderr(escapeText(line))
  }
  return status
}
