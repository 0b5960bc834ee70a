/**
 * Reading a pidfile safely: a checked path (path-safety.ts), no symlinks, strict parse of the first
 * line, and the mode rules of start-stop-daemon (the ownership rules are in pidfile-trust.ts). Nothing here trusts the number yet: locate() checks it
 * against the lock holder or the process table.
 */
import fs = require('node:fs')

import {ChaseCache, Controller, chasePath} from './path-safety'
import {openLooked} from './pidfile-look'

/** What a pidfile's first line can be wrong with (a Reason). */
export type ContentProblem = 'empty_pidfile' | 'garbage_pidfile' | 'invalid_pid'

/** The longest first line read; a longer one is rejected whole, never cut into another number. */
export const FIRST_LINE_MAX = 4096

/** A pidfile's first line, parsed. */
export interface PidfileContent {
  pid: number | null
  problem: ContentProblem | null
  /** what the file held, for evidence (first 40 characters, control characters escaped) */
  shown: string
  /** for the evidence: later lines ignored, or why the first line was rejected */
  note: string | null
}

/**
 * The blanks allowed around the pid (docs/nslocate.1.md, *Pidfile format*): spaces, tabs and
 * carriage returns (a CRLF line end), nothing else: a vertical tab, a form feed or a non-ASCII space
 * before or after the digits makes the file garbage_pidfile.
 */
const BLANK = /^[ \t\r]+|[ \t\r]+$/g

/**
 * The pid is the first line, parsed strictly as libbsd's pidfile reader and systemd's parse_pid()
 * do: optional blanks around it (spaces, tabs, CR; the newline ends the line), then decimal digits only. 0,
 * negatives and values at or above pid_max are not pids. Later lines are ignored and noted: postgres's
 * postmaster.pid, for one, continues with the data directory, start time, port, socket directory,
 * listen address, shared memory key and status. `more`: the file goes on beyond `text`; if the
 * first line does not end within it, the file is rejected rather than cut into another number.
 */
export function parsePidfileContent(text: string, pidMax = 4194304, more = false): PidfileContent {
  const shown = JSON.stringify(text.slice(0, 40)).slice(1, -1) + (text.length > 40 || more ? '...' : '')
  const nl = text.indexOf('\n')
  if (nl < 0 && more) {
    return {pid: null, problem: 'garbage_pidfile', shown, note: `its first line is longer than ${FIRST_LINE_MAX} bytes: not a pid`}
  }
  const first = (nl < 0 ? text : text.slice(0, nl)).replace(BLANK, '')
  const rest = nl < 0 ? '' : text.slice(nl + 1)
  const later = rest.split('\n').filter((l) => l.replace(BLANK, '') !== '').length
  const note =
    later > 0 || more
      ? `${more ? 'more than ' : ''}${later} later line${later === 1 && !more ? '' : 's'} ignored: the pid is the first line (as in postgres's postmaster.pid)`
      : null
  if (first === '') {
    if (later === 0 && !more) return {pid: null, problem: 'empty_pidfile', shown, note: null}
    return {pid: null, problem: 'garbage_pidfile', shown, note: 'its first line is empty; the pid must be on the first line'}
  }
  if (!/^[0-9]+$/.test(first)) {
    return {pid: null, problem: /^[+-]?[0-9]+$/.test(first) ? 'invalid_pid' : 'garbage_pidfile', shown, note}
  }
  const n = Number(first)
  if (!Number.isSafeInteger(n) || n <= 0 || n >= pidMax) return {pid: null, problem: 'invalid_pid', shown, note}
  return {pid: n, problem: null, shown, note}
}

/** The safety reasons openPidfile() finds by itself (the ownership rules add unsafe_owner). */
export type SafetyReason = 'symlink' | 'world_writable' | 'group_writable' | 'unsafe_directory' | 'unsafe_symlink' | 'not_regular'

/**
 * Pidfiles this process holds through acquire(), by dev:inode. A POSIX lock is dropped when its
 * owner closes ANY descriptor of the file, so locate() must not open and close such a file: it
 * borrows the holding descriptor instead.
 */
const held = new Map<string, number>()
const key = (st: {dev: number | bigint; ino: number | bigint}) => `${st.dev}:${st.ino}`

/** acquire() holds a POSIX lock through `fd` on this file: locate() reads through it (see `held`). */
export function registerHeld(st: fs.Stats, fd: number): void {
  held.set(key(st), fd)
}

/** acquire() has released the file. */
export function unregisterHeld(st: fs.Stats): void {
  held.delete(key(st))
}

/** An open pidfile, read, with what makes it untrustworthy whatever it says. */
export interface OpenedPidfile {
  path: string
  fd: number
  /** the descriptor belongs to acquire(): read through it, never close it */
  borrowed: boolean
  stat: fs.Stats
  content: PidfileContent
  /** reasons that make the file untrustworthy whatever it says */
  unsafe: Array<{reason: SafetyReason; detail: string}>
  /** users and groups besides root and the caller who control the path: trusted only for their own processes (pidfile-trust.ts) */
  controllers: Controller[]
  /** symlinks followed on the way, for the evidence */
  symlinks: string[]
}

/** How openPidfile() walks to, opens and judges the file. */
export interface OpenOptions {
  pidMax?: number
  /** unused (the walk lstats every component); kept for callers that pass it */
  lstat?: fs.Stats
  /** `file` lies under this root (/proc/PID/root): symlinks resolve inside it */
  root?: string
  /** the caller's uid and gid (default: this process's), whom the safety rules trust */
  uid?: number
  gid?: number
  allowUnsafe?: boolean
  /** directory walks shared by the files of one pass (list) */
  chaseCache?: ChaseCache
}

/** One buffer for every pidfile read (only the bytes read are used; list reads thousands). */
const readBuffer = Buffer.allocUnsafe(FIRST_LINE_MAX + 1)

/**
 * Opens the pidfile read-only, walking its path component by component (path-safety.ts): what
 * was checked is what is opened. Directory symlinks on the way are followed (and judged later, in
 * pidfile-trust.ts). Nothing is opened for reading before it is looked at (pidfile-look.ts): the
 * pidfile's own symlink (unless the caller allows unsafe pidfiles) and anything but a regular file
 * (a FIFO, a socket, a device, a directory) are refused with a PidfileRefused error, their content
 * never read. Throws an errno-style error (ENOENT, EACCES, ...) naming the component when the
 * file cannot be opened at all.
 */
export function openPidfile(file: string, opts: OpenOptions = {}): OpenedPidfile {
  const chased = chasePath(file, {root: opts.root, uid: opts.uid, gid: opts.gid, cache: opts.chaseCache, look: true})
  try {
    const base = {path: file, unsafe: [...chased.problems] as OpenedPidfile['unsafe'], controllers: chased.controllers, symlinks: chased.symlinks}
    const fd = openLooked(file, chased, {allowUnsafe: opts.allowUnsafe, borrow: (st) => held.get(key(st))})
    if (fd.borrowed) return {...base, ...readOpened(file, fd.fd, opts, base.unsafe), borrowed: true}
    try {
      return {...base, ...readOpened(file, fd.fd, opts, base.unsafe, fd.stat), borrowed: false}
    } catch (error) {
      fs.closeSync(fd.fd)
      throw error
    }
  } finally {
    if (!chased.shared) fs.closeSync(chased.dirFd)
  }
}

/** `stat`: the descriptor's fstat, when the caller just made it (openLooked). */
function readOpened(
  file: string,
  fd: number,
  opts: OpenOptions,
  unsafe: OpenedPidfile['unsafe'],
  stat = fs.fstatSync(fd),
): {fd: number; stat: fs.Stats; content: PidfileContent} {
  const uid = opts.uid ?? process.getuid?.() ?? 0
  const gid = opts.gid ?? process.getgid?.() ?? 0
  if (!stat.isFile()) unsafe.push({reason: 'not_regular', detail: `${file} is not a regular file`})
  if (stat.mode & 0o002)
    unsafe.push({reason: 'world_writable', detail: `${file} is world-writable (mode ${mode(stat.mode)}): anyone could write any pid into it`})
  // As start-stop-daemon does: as root, a pidfile its group may write is another user's to fill.
  else if (uid === 0 && stat.mode & 0o020 && stat.gid !== 0 && stat.gid !== gid) {
    unsafe.push({
      reason: 'group_writable',
      detail: `${file} is writable by group ${stat.gid} (mode ${mode(stat.mode)}): any member could write any pid into it`,
    })
  }
  let text = ''
  let more = false
  if (stat.isFile()) {
    // One byte more than the longest first line: whether the file goes on is then known.
    const buf = readBuffer
    let n = 0
    while (n < buf.length) {
      const got = fs.readSync(fd, buf, n, buf.length - n, n)
      n += got
      // Everything the file held when it was fstat'ed is read: no read(2) just to be told so.
      if (got === 0 || n >= stat.size) break
    }
    more = n > FIRST_LINE_MAX
    text = buf.subarray(0, Math.min(n, FIRST_LINE_MAX)).toString('latin1')
  }
  return {fd, stat, content: parsePidfileContent(text, opts.pidMax, more)}
}

/** Permission bits as four octal digits (`0644`). */
export function mode(m: number): string {
  return (m & 0o7777).toString(8).padStart(4, '0')
}
