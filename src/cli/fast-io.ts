/** Output of the start-up fast path, byte for byte as BaseCommand prints through oclif (test/cli compares them). */
import fs = require('node:fs')

import {escapeLines, escapeText} from './escape'

/**
 * Write to fd 1 or 2 with write(2) itself. process.stdout and process.stderr are created on first
 * use and load Node's stream modules (~20 of them, a few ms of every start-up); they write
 * synchronously to files, pipes and terminals on Linux anyway, so the bytes and their order are the
 * same. A descriptor someone made non-blocking (EAGAIN on a full pipe) gets the rest through the
 * stream, which waits; a reader that went away (EPIPE) gets nothing more, as with `| head`.
 */
const viaStream = {1: false, 2: false}
const ended = {1: false, 2: false}

export function writeFd(fd: 1 | 2, text: string): void {
  // Once part of the output waits in the stream, everything after it must queue behind it there.
  if (viaStream[fd]) return void (fd === 1 ? process.stdout : process.stderr).write(text)
  if (ended[fd]) return
  const buf = Buffer.from(text)
  let off = 0
  try {
    while (off < buf.length) off += fs.writeSync(fd, buf, off)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EAGAIN') {
      viaStream[fd] = true
      ;(fd === 1 ? process.stdout : process.stderr).write(buf.subarray(off))
    } else if (code === 'EPIPE') ended[fd] = true
    else throw error
  }
}

export function log(message: string): void {
  writeFd(1, escapeLines(message) + '\n')
}

export function logToStderr(message: string): void {
  writeFd(2, escapeLines(message) + '\n')
}

/** oclif's this.warn() (text mode only): oclif's own formatting, loaded only when there is a warning. */
export function warn(message: string): void {
  const {warn: oclifWarn} = require('@oclif/core/errors') as typeof import('@oclif/core').Errors
  oclifWarn(escapeLines(message))
}

/** oclif's logJson on a pipe (no colours). */
export function logJson(value: unknown): void {
  writeFd(1, JSON.stringify(value, null, 2) + '\n')
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

/**
 * BaseCommand.catch() for a library error (NslocateError): with --json its error object and exit
 * status; otherwise oclif's own error printing (loaded only now), which wraps and exits as the
 * oclif path does. Anything else is rethrown.
 */
export function failed(json: boolean, error: unknown): number | Promise<number> {
  const e = error as {name?: string; code: string; message: string; details?: object; exitCode: number}
  if (!(e && e.name === 'NslocateError')) throw error
  if (json) {
    logJson({error: {code: e.code, message: e.message, ...e.details}})
    return e.exitCode
  }
  const {CLIError} = require('@oclif/core/errors') as typeof import('@oclif/core').Errors
  const {handle} = require('@oclif/core/handle') as typeof import('@oclif/core').Errors
  return handle(new CLIError(escapeLines(e.message), {exit: e.exitCode, code: e.code})).then(() => e.exitCode)
}
