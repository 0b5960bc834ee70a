/** Printing a result that carries its own verdict (signal, wait): one place for both commands. */
import type {Output} from '../command'
import {escapeText} from '../escape'
import {CommandName, statusOf} from '../exit-status'
import {resultJson} from '../json'

/** --json: the result; text: its message (stdout on success, stderr otherwise) and the extra lines on stderr. Returns the exit status. */
export function report(command: CommandName, out: Output, result: {outcome: string; message: string}, extra: () => string[] = () => []): number {
  const status = statusOf(command, result.outcome)
  if (out.json) out.logJson(resultJson(command, result))
  else {
    if (status === 0) out.log(escapeText(result.message))
    else out.logToStderr(`nslocate: ${escapeText(result.message)}`)
    for (const line of extra()) out.logToStderr(escapeText(line))
  }
  return status
}
