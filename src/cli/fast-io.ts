/** Output of the start-up fast path, byte for byte as BaseCommand prints through oclif (test/cli compares them). */
import {escapeLines, escapeText} from './escape'

export function log(message: string): void {
  process.stdout.write(escapeLines(message) + '\n')
}

export function logToStderr(message: string): void {
  process.stderr.write(escapeLines(message) + '\n')
}

/** oclif's this.warn() (a string): ` ›   Warning: ...` on stderr. */
export function warn(message: string): void {
  process.stderr.write(` ›   Warning: ${escapeLines(message)}`.split('\n').join('\n ›   ') + '\n')
}

/** oclif's logJson on a pipe (no colours). */
export function logJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** BaseCommand.report(): the verdict on stdout (0) or stderr, and its exit status. */
export function report<T extends {exit_code: number; message: string}>(json: boolean, result: T, extra: string[] = []): number {
  if (json) logJson(result)
  else {
    if (result.exit_code === 0) log(escapeText(result.message))
    else logToStderr(`nslocate: ${escapeText(result.message)}`)
    for (const line of extra) logToStderr(escapeText(line))
  }
  return result.exit_code
}

/** BaseCommand.catch() for a library error (NslocateError): its exit status; anything else is rethrown for oclif's handler. */
export function failed(json: boolean, error: unknown): number {
  const e = error as {name?: string; code: string; message: string; details?: object; exitCode: number}
  if (!(e && e.name === 'NslocateError')) throw error
  if (json) logJson({error: {code: e.code, message: e.message, ...e.details}})
  else process.stderr.write(` ›   Error: ${escapeLines(e.message).split('\n').join('\n ›   ')}\n ›   Code: ${e.code}\n`)
  return e.exitCode
}
