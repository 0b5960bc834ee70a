/**
 * Reading a pidfile safely: no symlinks, strict parse, and the ownership rules of systemd
 * (CVE-2018-16888) and start-stop-daemon. Nothing here trusts the number yet: locate() checks it
 * against the lock holder or the process table.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

export type ContentProblem = 'empty_pidfile' | 'garbage_pidfile' | 'invalid_pid'

export interface PidfileContent {
  pid: number | null
  problem: ContentProblem | null
  /** what the file held, for evidence (first 40 characters, control characters escaped) */
  shown: string
}

/**
 * Strict parse, as libbsd's pidfile reader and systemd's parse_pid() do: optional surrounding
 * whitespace (a trailing newline is common), then decimal digits only. 0, negatives and values at
 * or above pid_max are not pids.
 */
export function parsePidfileContent(text: string, pidMax = 4194304): PidfileContent {
  const shown = JSON.stringify(text.slice(0, 40)).slice(1, -1) + (text.length > 40 ? '...' : '')
  const trimmed = text.trim()
  if (trimmed === '') return {pid: null, problem: 'empty_pidfile', shown}
  if (!/^[0-9]+$/.test(trimmed)) {
    return {pid: null, problem: /^[+-]?[0-9]+$/.test(trimmed) ? 'invalid_pid' : 'garbage_pidfile', shown}
  }
  const n = Number(trimmed)
  if (!Number.isSafeInteger(n) || n <= 0 || n >= pidMax) return {pid: null, problem: 'invalid_pid', shown}
  return {pid: n, problem: null, shown}
}

export type SafetyReason = 'symlink' | 'world_writable' | 'unsafe_directory' | 'not_regular'

/**
 * Pidfiles this process holds through acquire(), by dev:inode. A POSIX lock is dropped when its
 * owner closes ANY descriptor of the file, so locate() must not open and close such a file: it
 * borrows the holding descriptor instead.
 */
const held = new Map<string, number>()
const key = (st: {dev: number | bigint; ino: number | bigint}) => `${st.dev}:${st.ino}`

export function registerHeld(st: fs.Stats, fd: number): void {
  held.set(key(st), fd)
}

export function unregisterHeld(st: fs.Stats): void {
  held.delete(key(st))
}

export interface OpenedPidfile {
  path: string
  fd: number
  /** the descriptor belongs to acquire(): read through it, never close it */
  borrowed: boolean
  stat: fs.Stats
  content: PidfileContent
  /** reasons that make the file untrustworthy whatever it says */
  unsafe: Array<{reason: SafetyReason; detail: string}>
}

const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | (fs.constants as Record<string, number>).O_CLOEXEC

/**
 * Opens the pidfile read-only without following a final symlink. A symlink is reported as unsafe
 * and followed only to read it (so the evidence can say what it points to); locate() then refuses
 * it unless the caller allows unsafe pidfiles. Throws the fs error when it cannot be opened at all.
 */
export function openPidfile(file: string, opts: {allowUnsafe?: boolean; pidMax?: number; lstat?: fs.Stats} = {}): OpenedPidfile {
  const unsafe: OpenedPidfile['unsafe'] = []
  // The caller's lstat (the search just made it) saves one; the open below uses O_NOFOLLOW either
  // way, so a file swapped for a symlink in between fails to open (ELOOP) instead of being followed.
  const lst = opts.lstat ?? fs.lstatSync(file)
  let fd: number
  if (lst.isSymbolicLink()) {
    unsafe.push({reason: 'symlink', detail: `${file} is a symbolic link to ${safeReadlink(file)}; a pidfile must be a regular file`})
    fd = fs.openSync(file, READ_FLAGS & ~fs.constants.O_NOFOLLOW)
  } else if (held.has(key(lst))) {
    return {...readOpened(file, held.get(key(lst))!, opts.pidMax, unsafe), borrowed: true}
  } else {
    fd = fs.openSync(file, READ_FLAGS)
  }
  try {
    return {...readOpened(file, fd, opts.pidMax, unsafe), borrowed: false}
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
}

function readOpened(file: string, fd: number, pidMax: number | undefined, unsafe: OpenedPidfile['unsafe']): Omit<OpenedPidfile, 'borrowed'> {
  const stat = fs.fstatSync(fd)
  if (!stat.isFile()) unsafe.push({reason: 'not_regular', detail: `${file} is not a regular file`})
  if (stat.mode & 0o002) unsafe.push({reason: 'world_writable', detail: `${file} is world-writable (mode ${mode(stat.mode)}): anyone could write any pid into it`})
  const dir = path.dirname(file)
  try {
    const ds = fs.statSync(dir)
    if (ds.mode & 0o002 && !(ds.mode & 0o1000)) {
      unsafe.push({reason: 'unsafe_directory', detail: `${dir} is world-writable without the sticky bit (mode ${mode(ds.mode)}): anyone could replace the pidfile`})
    }
  } catch {}
  let text = ''
  if (stat.isFile()) {
    const buf = Buffer.alloc(256)
    const n = fs.readSync(fd, buf, 0, buf.length, 0)
    text = buf.subarray(0, n).toString('latin1')
  }
  return {path: file, fd, stat, content: parsePidfileContent(text, pidMax), unsafe}
}

export function mode(m: number): string {
  return (m & 0o7777).toString(8).padStart(4, '0')
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p)
  } catch {
    return '?'
  }
}
