/** Output of the start-up fast path, byte for byte as BaseCommand prints through oclif (test/cli compares them). */
import fs = require('node:fs')

import {Output, errorReport, warningText} from './command'
import {escapeLines} from './escape'
import type {CommandName} from './exit-status'
import type {Selection} from './hint'

/**
 * Write to fd 1 or 2 with write(2) itself. process.stdout and process.stderr are created on first
 * use and load Node's stream modules (~20 of them, a few ms of every start-up); they write
 * synchronously to files, pipes and terminals on Linux anyway, so the bytes and their order are the
 * same. A descriptor someone made non-blocking (EAGAIN on a full pipe) gets the rest through the
 * stream, which waits; a reader that went away (EPIPE) gets nothing more, as with `| head`.
 */
const viaStream = {1: false, 2: false}
const ended = {1: false, 2: false}

/** Writes `text` to stdout (1) or stderr (2) at once, or through the stream after EAGAIN; nothing after EPIPE. */
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

/** Prints `message` (escaped) and a newline on stdout. */
export function log(message: string): void {
  writeFd(1, escapeLines(message) + '\n')
}

/** Prints `message` (escaped) and a newline on stderr. */
export function logToStderr(message: string): void {
  writeFd(2, escapeLines(message) + '\n')
}

/** A warning: one line `nslocate: warning: ...` and its hint on stderr, as BaseCommand prints it (with --json too). */
export function warn(message: string, hint?: string): void {
  writeFd(2, warningText(message, hint))
}

/** oclif's logJson on a pipe (no colours). */
export function logJson(value: unknown): void {
  writeFd(1, JSON.stringify(value, null, 2) + '\n')
}

/** The Output (src/cli/command.ts) of the fast path: byte for byte what BaseCommand prints through oclif. */
export function fastOutput(json: boolean, quiet: boolean, selection: Selection): Output {
  return {
    json,
    quiet,
    selection,
    log: (text) => json || quiet || log(text),
    logToStderr: (text) => json || logToStderr(text),
    // Warnings go to stderr with --json too (nslocate(1), OUTPUT), as BaseCommand prints them.
    warn: (text, hint) => quiet || warn(text, hint),
    logJson,
    jsonRows: () => new JsonRows(),
  }
}

/**
 * BaseCommand.catch() for a library error (NslocateError): with --json its error object, otherwise
 * its line and hint (src/cli/error-lines.ts), and the exit status. Anything else is rethrown.
 */
export function failed(command: CommandName, json: boolean, error: unknown, selection: Selection): number {
  const e = errorReport(command, error, selection)
  if (!e) throw error
  if (json) logJson(e.json)
  else writeFd(2, e.text)
  return e.status
}

/**
 * logJson(rows), byte for byte (JSON.stringify(rows, null, 2) and a newline), printed a row at a
 * time: list of 10,000 pidfiles took 170 MB RSS when every row was kept and printed as one string
 * (bench/README.md, list-scale). A row's text is its JSON.stringify([row], null, 2) without the
 * brackets (the array's own layout for that element), copied at once into a Buffer outside the JS
 * heap and written 64 KiB at a time: text waiting in the heap for its turn would outlive
 * collections, and the young generation grows with every byte that does.
 */
class JsonRows {
  private readonly buf = Buffer.allocUnsafeSlow(1 << 16)
  private used = 0
  private count = 0

  add(row: unknown): void {
    const text = JSON.stringify([row], null, 2).slice(2, -2)
    const size = 2 + Buffer.byteLength(text)
    if (this.used + size > this.buf.length) this.flush()
    const sep = this.count++ === 0 ? '[\n' : ',\n'
    if (size > this.buf.length) return writeFd(1, sep + text)
    this.used += this.buf.write(sep, this.used, 'latin1')
    this.used += this.buf.write(text, this.used)
  }

  end(): void {
    if (this.count === 0) return writeFd(1, '[]\n')
    this.flush()
    writeFd(1, '\n]\n')
  }

  private flush(): void {
    if (this.used > 0) writeFd(1, this.buf.toString('utf8', 0, this.used))
    this.used = 0
  }
}
