/**
 * Reading /proc files cheaply, and values reused for a while. One shared buffer serves every read:
 * these files are generated on read, so one read(2) usually takes all.
 */
import fs = require('node:fs')

import {loadedBatch} from '../native/binding'

/** How long boot time and pid_max are reused before being read again (a wall-clock step is seen within this). */
export const SYSTEM_FACTS_TTL_MS = 1000

let buffer = Buffer.allocUnsafe(16384)

/** Reads `fd` to the end into the shared buffer (grown for a large file); `oneShot`: a short read is the end. */
function readAll(fd: number, oneShot: boolean): Buffer {
  let n = fs.readSync(fd, buffer, 0, buffer.length, null)
  if (n === 0 || (oneShot && n < buffer.length)) return buffer.subarray(0, n)
  const parts = [Buffer.from(buffer.subarray(0, n))]
  while (n > 0) {
    n = fs.readSync(fd, buffer, 0, buffer.length, null)
    parts.push(Buffer.from(buffer.subarray(0, n)))
  }
  const all = Buffer.concat(parts)
  if (all.length > buffer.length && all.length <= 1 << 20) buffer = Buffer.allocUnsafe(all.length * 2)
  return all
}

/**
 * The text of a /proc file, read into the shared buffer. Cheaper than fs.readFileSync, which also
 * fstat()s (size 0 for /proc files). `oneShot`: the file is generated as ONE seq_file record
 * (single_open: status, stat, cgroup, fdinfo, uptime, a sysctl), which read(2) returns whole when
 * the buffer is large enough, so a short read is the end. Multi-record files (/proc/locks, returned
 * about a page per read) and cmdline are read until read(2) returns 0.
 */
export function readProcText(file: string, oneShot = false): string {
  // One call to the addon (when loaded) instead of open, read and close from JS; on an error, the
  // file is read again below, so the error thrown is fs's own.
  const batch = oneShot ? loadedBatch() : null
  const slash = file.lastIndexOf('/')
  if (batch && slash >= 0) {
    const text = batch.readProcMany(file.slice(0, slash) || '/', [file.slice(slash + 1)])[0]
    if (typeof text === 'string') return text
  }
  const fd = fs.openSync(file, fs.constants.O_RDONLY) // libuv adds O_CLOEXEC
  try {
    return readAll(fd, oneShot).toString('utf8')
  } finally {
    fs.closeSync(fd)
  }
}

/** The bytes of a /proc file (auxv), read until read(2) returns 0; a copy the caller may keep. */
export function readProcBytes(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY)
  try {
    return Buffer.from(readAll(fd, false))
  } finally {
    fs.closeSync(fd)
  }
}

/** A /proc file read up to `maxBytes` (whole lines only); `truncated` when it goes on (/proc/locks). */
export function readProcBounded(file: string, maxBytes: number): {text: string; truncated: boolean} {
  const fd = fs.openSync(file, fs.constants.O_RDONLY)
  try {
    const parts: Buffer[] = []
    let total = 0
    const chunk = Buffer.allocUnsafe(65536)
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) return {text: Buffer.concat(parts).toString('utf8'), truncated: false}
      parts.push(Buffer.from(chunk.subarray(0, n)))
      total += n
      if (total > maxBytes) {
        const text = Buffer.concat(parts).toString('utf8')
        return {text: text.slice(0, text.lastIndexOf('\n') + 1), truncated: true}
      }
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** The monotonic clock in ms (process.hrtime: node:perf_hooks would load ~12 modules at start-up). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** A value read again once it is SYSTEM_FACTS_TTL_MS old (on the monotonic clock). */
export class Recent<T> {
  private at = Number.NEGATIVE_INFINITY
  private value: T | undefined

  constructor(private readonly read: () => T) {}

  get(): T {
    const now = monotonicMs()
    if (this.value === undefined || !(now - this.at < SYSTEM_FACTS_TTL_MS)) {
      this.value = this.read()
      this.at = now
    }
    return this.value
  }
}
