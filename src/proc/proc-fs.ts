/**
 * Readers for /proc, rooted at a mount point (default /proc) so tests can point them at a fixture
 * tree. Each reader returns parsed data or throws the fs error (ENOENT: the process is gone; EACCES:
 * not allowed). Callers that scan keep going past one unreadable process. Every /proc read of
 * src/locate goes through a ProcFs (test/helpers/fixture-proc-fs.ts answers from a captured tree).
 */
import fs = require('node:fs')
import path = require('node:path')

import {LockProbe, NS_TRANSLATE_UNSUPPORTED, probePosixLock} from '../native/binding'
import {CgroupLine, parseCgroup} from './parse-cgroup'
import {LockLine, parseFdinfoLocks, parseLocks} from './parse-locks'
import {ProcStat, parseStat} from './parse-stat'
import {ProcStatus, parseStatus} from './parse-status'
import {PidnsOwner, pidnsOwnerOf, translateIn} from './pidns'
import {PassProcFs, passView} from './proc-pass'
import {Recent, SYSTEM_FACTS_TTL_MS, readProcBounded, readProcBytes, readProcText} from './read-text'
import {parseBtime} from './start-time'

export {readProcText} from './read-text'
export {rootOfUidMap} from './pidns'
export type {PidnsOwner} from './pidns'
export type {PassProcFs} from './proc-pass'

export {CLOCK_TICKS} from './start-time'

/** getauxval(3): AT_SECURE, set when execve(2) changed the process's ids or gave it capabilities. */
const AT_SECURE = 23n

/** The readers of one /proc mount (the seam every /proc read of src/locate goes through). */
export class ProcFs {
  private readonly boot = new Recent(() => Date.now() - Number(readProcText(path.join(this.root, 'uptime'), true).split(' ')[0]) * 1000)
  private readonly btime = new Recent((): number | null => {
    try {
      return parseBtime(readProcText(path.join(this.root, 'stat'), true))
    } catch {
      return null
    }
  })
  private readonly pidMaxValue = new Recent(() => {
    try {
      return Number(readProcText(path.join(this.root, 'sys/kernel/pid_max'), true).trim()) || 4194304
    } catch {
      return 4194304
    }
  })

  /** this process's mount namespace link, read once (see selfMountNs) */
  private selfMnt: {link: string | null} | undefined

  constructor(readonly root = '/proc') {}

  file(pid: number | 'self', ...rest: string[]): string {
    return path.join(this.root, String(pid), ...rest)
  }

  readStatus(pid: number | 'self'): ProcStatus {
    return parseStatus(readProcText(this.file(pid, 'status'), true))
  }

  readStat(pid: number | 'self'): ProcStat {
    return parseStat(readProcText(this.file(pid, 'stat'), true))
  }

  readCmdline(pid: number): string[] {
    const raw = readProcText(this.file(pid, 'cmdline'))
    const parts = raw.split('\0')
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
    return parts
  }

  readCgroup(pid: number): CgroupLine[] {
    return parseCgroup(readProcText(this.file(pid, 'cgroup'), true))
  }

  /** `pid:[4026531836]` */
  readPidnsLink(pid: number | 'self'): string {
    return fs.readlinkSync(this.file(pid, 'ns', 'pid'))
  }

  /** /proc/locks, read up to `maxBytes` (whole lines only); `truncated` when it goes on. */
  readLocksBounded(maxBytes: number): {lines: LockLine[]; truncated: boolean} {
    const r = readProcBounded(path.join(this.root, 'locks'), maxBytes)
    return {lines: parseLocks(r.text), truncated: r.truncated}
  }

  readFdinfoLocks(pid: number, fd: number | string): LockLine[] {
    return parseFdinfoLocks(readProcText(this.file(pid, 'fdinfo', String(fd)), true))
  }

  /**
   * The seam for everything else locate() asks of /proc (tests answer from a captured tree, see
   * test/helpers/fixture-proc-fs.ts): a link under /proc/PID (`ns/pid`, `ns/mnt`, `exe`, `fd/3`).
   */
  readLink(pid: number | 'self', ...rest: string[]): string {
    return fs.readlinkSync(this.file(pid, ...rest))
  }

  /** Device and inode of a path under /proc/PID (`root`, `root/run/x.pid`, `fd/3`, `exe`); throws the fs error. */
  statUnder(pid: number, ...rest: string[]): {dev: number; ino: number} {
    const s = fs.statSync(this.file(pid, ...rest))
    return {dev: Number(s.dev), ino: Number(s.ino)}
  }

  readMountinfo(pid: number): string {
    return readProcText(this.file(pid, 'mountinfo'))
  }

  /** The entries of /proc/PID/fd (throws EACCES for another user's process). */
  listFds(pid: number): string[] {
    return fs.readdirSync(this.file(pid, 'fd'))
  }

  /** The entries of /proc/PID/task: the ids of the process's threads, its leader's among them while it has not been reaped. */
  listTasks(pid: number): string[] {
    return fs.readdirSync(this.file(pid, 'task'))
  }

  /** Whether /proc/PID exists (the process, or a zombie, is there). */
  exists(pid: number): boolean {
    return fs.existsSync(this.file(pid))
  }

  /**
   * The pid, in this /proc's namespace, of the process numbered `n` in the PID namespace of `nsOf`
   * (ioctl NS_GET_PID_FROM_PIDNS on /proc/NSOF/ns/pid); null: no such process; UNSUPPORTED: the
   * kernel cannot tell (before 6.11) or the namespace file cannot be opened.
   */
  pidFromPidns(nsOf: number, n: number): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
    return translateIn(this.file(nsOf, 'ns', 'pid'), n, 'from')
  }

  /**
   * Who may choose pid numbers in `pid`'s PID namespace (docs/nslocate.1.md, NOTES, "Who counts"):
   * whoever has CAP_SYS_ADMIN over the user namespace that owns it, that is its creator and the uid
   * its root (inner uid 0) maps to. 'ours': it is this process's own user namespace (or `above` it:
   * nobody below this process's root made it). null: cannot tell (the ns file may not be opened:
   * another user's process; an old kernel).
   */
  pidnsOwner(pid: number | 'self'): PidnsOwner | null {
    return pidnsOwnerOf(this, pid)
  }

  /**
   * Whether `pid` runs a program that gained its ids when it was executed (set-user-ID or
   * set-group-ID, or file capabilities): AT_SECURE in /proc/PID/auxv (getauxval(3)). null: unreadable.
   */
  readSecureExec(pid: number): boolean | null {
    let b: Buffer
    try {
      b = readProcBytes(this.file(pid, 'auxv'))
    } catch {
      return null
    }
    // Pairs of native words (64-bit here: x86-64, arm64), ending with AT_NULL.
    for (let i = 0; i + 16 <= b.length; i += 16) {
      const type = b.readBigUInt64LE(i)
      if (type === 0n) break
      if (type === AT_SECURE) return b.readBigUInt64LE(i + 8) !== 0n
    }
    return false
  }

  /** fcntl(F_GETLK) on the open pidfile (the one syscall on the file itself). */
  probeLock(fd: number): LockProbe {
    return probePosixLock(fd)
  }

  /**
   * Whether process `pid` is visible in the PID namespace of `nsOf` (ioctl NS_GET_PID_IN_PIDNS on
   * /proc/NSOF/ns/pid): its number there; null: not visible there, or the namespace file could not
   * be opened; UNSUPPORTED: the kernel cannot tell (before 6.11).
   */
  pidInPidns(nsOf: number, pid: number): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
    return translateIn(this.file(nsOf, 'ns', 'pid'), pid, 'in')
  }

  /**
   * This process's mount namespace (`mnt:[4026531841]`), null if unreadable. Read once per ProcFs:
   * a Node process cannot change its mount namespace (unshare(2) and setns(2) of CLONE_NEWNS
   * refuse a process whose threads share its filesystem information, and Node runs threads).
   */
  selfMountNs(): string | null {
    if (this.selfMnt === undefined) {
      let link: string | null = null
      try {
        link = this.readLink('self', 'ns', 'mnt')
      } catch {}
      this.selfMnt = {link}
    }
    return this.selfMnt.link
  }

  /** The caller's effective capabilities (CapEff of /proc/self/status), as a bit mask; null if unreadable. */
  selfCapEff(): bigint | null {
    try {
      const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readProcText(this.file('self', 'status'), true))
      return m ? BigInt(`0x${m[1]}`) : null
    } catch {
      return null
    }
  }

  /** The caller's effective uid (tests answer from the captured tree). */
  selfUid(): number {
    return process.geteuid?.() ?? 0
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

  /**
   * Boot time in ms since the epoch, from /proc/uptime (10 ms resolution; btime in /proc/stat has 1 s).
   * Reused for up to a second, so a library caller locating many times a second reads it once, and
   * a step of the wall clock is taken into account within a second.
   */
  bootTimeMs(): number {
    return this.boot.get()
  }

  /**
   * The boot instant as the kernel states it, in ms since the epoch: /proc/stat `btime` (whole
   * seconds), the same for every call and every reader until the wall clock is stepped. What
   * `started` is printed from (start-time.ts); bootTimeMs() truncated to the second when this /proc
   * has no /proc/stat. Reused for up to a second, as bootTimeMs() is.
   */
  stableBootMs(): number {
    const btime = this.btime.get()
    return btime !== null ? btime * 1000 : Math.floor(this.bootTimeMs() / 1000) * 1000
  }

  /** pid_max: the largest pid the kernel hands out + 1 (reused for up to a second, like boot time). */
  pidMax(): number {
    return this.pidMaxValue.get()
  }

  /**
   * A view of this ProcFs for one pass over many pidfiles (`list`; release() it afterwards). Every
   * read goes to this ProcFs, except what costs one read per process, or a read of the whole lock
   * table, for every file:
   * - the walk of the process table by PID namespace that an unlocked pidfile costs (listPids,
   *   then the ns/pid link of every pid in turn) is read once and reused for up to `ttlMs` (as boot
   *   time and pid_max are). A link is answered from it only while the caller walks the table in
   *   order, right after listPids(); any other read of a link (a candidate's own namespace, a
   *   result's pidns) is made afresh. Each namespace of the walk is translated in (ioctl
   *   NS_GET_PID_FROM_PIDNS) through one descriptor of that very namespace held for the pass,
   *   instead of opening /proc/PID/ns/pid again per file;
   * - /proc/locks (readLocksBounded) is reused for up to `ttlMs` too, but only for a
   *   file it has no line about (the file whose lock was just probed, probeLock()): when it has a
   *   line about the file, it is read afresh, so a lock seen on a file is never an old one. (Reading it more often would not be cheaper: a read
   *   that follows the previous one by more than a few ms costs ~10 ms, bench/README.md.)
   * - this process's own mount namespace link (/proc/self/ns/mnt) is read once.
   * So a PID namespace made, or a flock(2) lock taken, less than that long before a file is looked
   * at may be missed for that file (docs/nslocate.1.md, list); whatever is seen of a file's own
   * lock, holder and candidates is as fresh as for `find`. Without it, list read one link per
   * process per file: 10,000 pidfiles took 50 s.
   */
  forPass(ttlMs = SYSTEM_FACTS_TTL_MS): PassProcFs {
    return passView(this, ttlMs, this.pidFromPidns === ProcFs.prototype.pidFromPidns)
  }
}

/** The ProcFs of this process's /proc. */
export const proc = new ProcFs()
