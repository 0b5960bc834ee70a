/**
 * Readers for /proc, rooted at a mount point (default /proc) so tests can point them at a fixture
 * tree. Each reader returns parsed data or throws the fs error (ENOENT: the process is gone; EACCES:
 * not allowed). Callers that scan keep going past one unreadable process.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {CgroupLine, parseCgroup} from './parse-cgroup'
import {LockLine, parseFdinfoLocks, parseLocks} from './parse-locks'
import {ProcStat, parseStat} from './parse-stat'
import {ProcStatus, parseStatus} from './parse-status'

/** USER_HZ: fixed at 100 on every Linux architecture nslocate runs on (x86, arm64): proc(5) starttime unit. */
export const CLOCK_TICKS = 100

export class ProcFs {
  constructor(readonly root = '/proc') {}

  file(pid: number | 'self', ...rest: string[]): string {
    return path.join(this.root, String(pid), ...rest)
  }

  readStatus(pid: number | 'self'): ProcStatus {
    return parseStatus(fs.readFileSync(this.file(pid, 'status'), 'utf8'))
  }

  readStat(pid: number | 'self'): ProcStat {
    return parseStat(fs.readFileSync(this.file(pid, 'stat'), 'utf8'))
  }

  readCmdline(pid: number): string[] {
    const raw = fs.readFileSync(this.file(pid, 'cmdline'), 'utf8')
    const parts = raw.split('\0')
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
    return parts
  }

  readCgroup(pid: number): CgroupLine[] {
    return parseCgroup(fs.readFileSync(this.file(pid, 'cgroup'), 'utf8'))
  }

  /** `pid:[4026531836]` */
  readPidnsLink(pid: number | 'self'): string {
    return fs.readlinkSync(this.file(pid, 'ns', 'pid'))
  }

  readLocks(): LockLine[] {
    return parseLocks(fs.readFileSync(path.join(this.root, 'locks'), 'utf8'))
  }

  readFdinfoLocks(pid: number, fd: number | string): LockLine[] {
    return parseFdinfoLocks(fs.readFileSync(this.file(pid, 'fdinfo', String(fd)), 'utf8'))
  }

  /** Numeric entries of /proc: the processes (thread-group leaders) visible in this /proc mount. */
  listPids(): number[] {
    const out: number[] = []
    for (const name of fs.readdirSync(this.root)) {
      const c = name.charCodeAt(0)
      if (c >= 48 && c <= 57) out.push(Number(name))
    }
    return out
  }

  /** Boot time in ms since the epoch, from /proc/uptime (10 ms resolution; btime in /proc/stat has 1 s). */
  bootTimeMs(): number {
    const uptime = Number(fs.readFileSync(path.join(this.root, 'uptime'), 'utf8').split(' ')[0])
    return Date.now() - uptime * 1000
  }

  /** pid_max: the largest pid the kernel hands out + 1. */
  pidMax(): number {
    try {
      return Number(fs.readFileSync(path.join(this.root, 'sys/kernel/pid_max'), 'utf8').trim()) || 4194304
    } catch {
      return 4194304
    }
  }
}

export const proc = new ProcFs()
