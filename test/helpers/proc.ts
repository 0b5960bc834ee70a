/**
 * What the tests read from the live /proc about the processes they started, through the project's
 * own parsers (src/proc/): NSpid and PPid, start time and state, the pid namespace link, /proc/locks.
 * Every reader answers "gone" (null, [] or false) instead of throwing when the process has exited.
 */
import * as fs from 'node:fs'

import {devMajor, devMinor, parseLockLine, sameFile} from '../../src/proc/parse-locks'
import {ProcStat, parseStat} from '../../src/proc/parse-stat'
import {ProcStatus, parseStatus} from '../../src/proc/parse-status'

/** /proc/PID/status parsed, or null when the process is gone (or the text is not a status file). */
export function statusOf(pid: number): ProcStatus | null {
  try {
    return parseStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return null
  }
}

/** /proc/PID/stat parsed, or null when the process is gone. */
export function statOf(pid: number): ProcStat | null {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return null
  }
}

/** NSpid of a process, outermost first ([] if it is gone). proc(5): "NSpid:\t12968\t21\t4". */
export function readNSpid(pid: number): number[] {
  return statusOf(pid)?.nspid ?? []
}

/** PPid of a process, null if it is gone. */
export function readPpid(pid: number): number | null {
  return statusOf(pid)?.ppid ?? null
}

/** Start time (clock ticks after boot, stat field 22): with the pid, identifies a process. */
export function startTime(pid: number): number | null {
  return statOf(pid)?.starttime ?? null
}

/** Alive = exists, same start time (when given), not a zombie. */
export function alive(pid: number, start: number | null): boolean {
  const stat = statOf(pid)
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X' && (start === null || stat.starttime === start)
}

/** Inode of /proc/PID/ns/pid ("pid:[4026532801]"). */
export function pidnsInodeOf(pid: number): number {
  const link = fs.readlinkSync(`/proc/${pid}/ns/pid`)
  const m = /^pid:\[(\d+)\]$/.exec(link)
  if (!m) throw new Error(`unexpected ns link ${link}`)
  return Number(m[1])
}

/** Every pid in the test's /proc. */
export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
}

/** Is `ancestor` on the PPid chain of `pid` (or `pid` itself)? */
export function isDescendant(pid: number, ancestor: number): boolean {
  for (let p: number | null = pid, i = 0; p && i < 64; i++) {
    if (p === ancestor) return true
    p = readPpid(p)
  }
  return false
}

export interface ProcLock {
  /** POSIX | OFDLCK | FLOCK | ... */
  kind: string
  /** READ | WRITE */
  type: string
  /** As /proc/locks prints it: numbered in the namespace of the /proc mount (here: the test's), -1 for OFD. */
  pid: number
  line: string
}

/** A file's device and inode as /proc/locks prints them: MAJ:MIN in hex (fs/locks.c, lock_get_status). */
export function lockKey(st: {dev: number; ino: number}): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0')
  return `${hex(devMajor(st.dev))}:${hex(devMinor(st.dev))}:${st.ino}`
}

/**
 * The /proc/locks lines (of the test's /proc) on `file`, waiters ("->") left out. proc(5), fs/locks.c:
 *   "1: FLOCK  ADVISORY  WRITE 6242 fe:00:2146516 0 EOF"  (device in hex)
 */
export function procLocks(file: string): ProcLock[] {
  const st = fs.statSync(file)
  const out: ProcLock[] = []
  for (const line of fs.readFileSync('/proc/locks', 'utf8').split('\n')) {
    const l = parseLockLine(line)
    if (l && sameFile(l, st.dev, st.ino)) out.push({kind: l.kind, type: l.access, pid: l.pid, line: line.trim().split(/\s+/).join(' ')})
  }
  return out
}
