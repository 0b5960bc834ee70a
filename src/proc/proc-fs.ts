/**
 * Readers for /proc, rooted at a mount point (default /proc) so tests can point them at a fixture
 * tree. Each reader returns parsed data or throws the fs error (ENOENT: the process is gone; EACCES:
 * not allowed). Callers that scan keep going past one unreadable process.
 */
import fs = require('node:fs')
import path = require('node:path')

import {LockProbe, NS_TRANSLATE_UNSUPPORTED, nsOwner, nsPidFromPidns, probePosixLock} from '../native/binding'
import {CgroupLine, parseCgroup} from './parse-cgroup'
import {LockLine, devMajor, devMinor, parseFdinfoLocks, parseLocks} from './parse-locks'
import {ProcStat, parseStat} from './parse-stat'
import {ProcStatus, parseStatus} from './parse-status'

/** USER_HZ: fixed at 100 on every Linux architecture nslocate runs on (x86, arm64): proc(5) starttime unit. */
export const CLOCK_TICKS = 100

/** How long boot time and pid_max are reused before being read again (a wall-clock step is seen within this). */
const SYSTEM_FACTS_TTL_MS = 1000

/** One buffer for every /proc read: these files are generated on read, so one read() usually takes all. */
let buffer = Buffer.allocUnsafe(16384)

/**
 * The text of a /proc file, read into the shared buffer. Cheaper than fs.readFileSync, which also
 * fstat()s (size 0 for /proc files). `oneShot`: the file is generated as ONE seq_file record
 * (single_open: status, stat, cgroup, fdinfo, uptime, a sysctl), which read(2) returns whole when
 * the buffer is large enough, so a short read is the end. Multi-record files (/proc/locks, returned
 * about a page per read) and cmdline are read until read(2) returns 0.
 */
export function readProcText(file: string, oneShot = false): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY) // libuv adds O_CLOEXEC
  try {
    let n = fs.readSync(fd, buffer, 0, buffer.length, null)
    if (n === 0 || (oneShot && n < buffer.length)) return buffer.toString('utf8', 0, n)
    const parts = [Buffer.from(buffer.subarray(0, n))]
    while (n > 0) {
      n = fs.readSync(fd, buffer, 0, buffer.length, null)
      parts.push(Buffer.from(buffer.subarray(0, n)))
    }
    const all = Buffer.concat(parts)
    if (all.length > buffer.length && all.length <= 1 << 20) buffer = Buffer.allocUnsafe(all.length * 2)
    return all.toString('utf8')
  } finally {
    fs.closeSync(fd)
  }
}

/** The monotonic clock in ms (process.hrtime: node:perf_hooks would load ~12 modules at start-up). */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** A value read again once it is SYSTEM_FACTS_TTL_MS old (on the monotonic clock). */
class Recent<T> {
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

export class ProcFs {
  private readonly boot = new Recent(() => Date.now() - Number(readProcText(path.join(this.root, 'uptime'), true).split(' ')[0]) * 1000)
  private readonly pidMaxValue = new Recent(() => {
    try {
      return Number(readProcText(path.join(this.root, 'sys/kernel/pid_max'), true).trim()) || 4194304
    } catch {
      return 4194304
    }
  })

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
    const fd = fs.openSync(path.join(this.root, 'locks'), fs.constants.O_RDONLY)
    try {
      const parts: Buffer[] = []
      let total = 0
      const chunk = Buffer.allocUnsafe(65536)
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, null)
        if (n === 0) return {lines: parseLocks(Buffer.concat(parts).toString('utf8')), truncated: false}
        parts.push(Buffer.from(chunk.subarray(0, n)))
        total += n
        if (total > maxBytes) {
          const text = Buffer.concat(parts).toString('utf8')
          return {lines: parseLocks(text.slice(0, text.lastIndexOf('\n') + 1)), truncated: true}
        }
      }
    } finally {
      fs.closeSync(fd)
    }
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
    let fd: number
    try {
      fd = fs.openSync(this.file(nsOf, 'ns', 'pid'), 'r')
    } catch {
      return NS_TRANSLATE_UNSUPPORTED
    }
    try {
      return nsPidFromPidns(fd, n)
    } catch {
      return NS_TRANSLATE_UNSUPPORTED
    } finally {
      fs.closeSync(fd)
    }
  }

  /**
   * Who may choose pid numbers in `pid`'s PID namespace (docs/nslocate.1.md, NOTES, "Who counts"):
   * whoever has CAP_SYS_ADMIN over the user namespace that owns it, that is its creator and the uid
   * its root (inner uid 0) maps to. 'ours': it is this process's own user namespace (or `above` it:
   * nobody below this process's root made it). null: cannot tell (the ns file may not be opened:
   * another user's process; an old kernel).
   */
  pidnsOwner(pid: number | 'self'): PidnsOwner | null {
    let fd: number
    try {
      fd = fs.openSync(this.file(pid, 'ns', 'pid'), 'r')
    } catch {
      return null
    }
    let owner: ReturnType<typeof nsOwner>
    try {
      owner = nsOwner(fd)
    } catch {
      return null
    } finally {
      fs.closeSync(fd)
    }
    if (owner === null) return null
    // EPERM from NS_GET_USERNS: the owner is not this process's user namespace nor below it (an
    // ancestor; a sibling only if /proc/PID/ns/pid could be opened, which ptrace access forbids).
    if (owner === 'above') return {kind: 'ours'}
    try {
      if (fs.statSync(this.file('self', 'ns', 'user')).ino === owner.ino) return {kind: 'ours'}
    } catch {}
    return {kind: 'user', uid: owner.uid, root: this.usernsRoot(owner.ino, pid)}
  }

  /** The uid (in this process's user namespace) that inner uid 0 of the user namespace with inode `ino` maps to; null if it maps none; undefined if no process in it could be read. */
  private usernsRoot(ino: number, hint: number | 'self'): number | null | undefined {
    const inNs = (p: number | 'self') => {
      try {
        return fs.statSync(this.file(p, 'ns', 'user')).ino === ino
      } catch {
        return false
      }
    }
    let member: number | 'self' | null = inNs(hint) ? hint : null
    if (member === null) for (const p of this.listPids()) if (inNs(p)) { member = p; break }
    if (member === null) return undefined
    try {
      return rootOfUidMap(readProcText(this.file(member, 'uid_map')))
    } catch {
      return undefined
    }
  }

  /**
   * Whether `pid` runs a program that gained its ids when it was executed (set-user-ID or
   * set-group-ID, or file capabilities): AT_SECURE in /proc/PID/auxv (getauxval(3)). null: unreadable.
   */
  readSecureExec(pid: number): boolean | null {
    let b: Buffer
    try {
      b = fs.readFileSync(this.file(pid, 'auxv'))
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
    return passView(this, ttlMs)
  }
}

/** At most this many namespace descriptors are held by a pass (one per PID namespace). */
const MAX_NS_FDS = 256

/** ProcFs.forPass(): the same readers, and release() to close what the pass holds. */
export type PassProcFs = ProcFs & {release(): void}

function passView(inner: ProcFs, ttlMs: number): PassProcFs {
  const view = Object.create(inner) as PassProcFs
  // The process table walk: pids, and their ns/pid links as read during the walk.
  let walkedAt = Number.NEGATIVE_INFINITY
  let pids: number[] = []
  let links = new Map<number, {link: string} | {error: unknown}>()
  let walk = -1 // index in `pids` of the link the walk asks for next; -1: not walking
  view.listPids = () => {
    const now = monotonicMs()
    if (!(now - walkedAt < ttlMs)) {
      pids = inner.listPids()
      links = new Map()
      walkedAt = now
    }
    walk = 0
    return pids.slice() // a copy: no caller can change what the next one walks (a frozen array would slow every for-of over it)
  }
  view.readPidnsLink = (pid: number | 'self') => {
    if (walk < 0 || walk >= pids.length || pid !== pids[walk]) {
      walk = -1 // anything else ends the walk: from here on, every link is read afresh
      return inner.readPidnsLink(pid)
    }
    walk++
    let known = links.get(pid)
    if (!known) {
      try {
        known = {link: inner.readPidnsLink(pid)}
      } catch (error) {
        known = {error} // ENOENT (exited) or EACCES (another user's, without CAP_SYS_PTRACE): the same for this pass
      }
      links.set(pid, known)
    }
    if ('error' in known) throw known.error
    return known.link
  }

  // Translations: one descriptor per namespace of the walk (it names the namespace, not a process).
  const nsFds = new Map<string, number>()
  const ownTranslate = inner.pidFromPidns === ProcFs.prototype.pidFromPidns
  view.pidFromPidns = (nsOf: number, n: number) => {
    const known = links.get(nsOf)
    if (!ownTranslate || !known || !('link' in known)) return inner.pidFromPidns(nsOf, n)
    let fd = nsFds.get(known.link)
    if (fd === undefined) {
      if (nsFds.size >= MAX_NS_FDS) return inner.pidFromPidns(nsOf, n)
      try {
        fd = fs.openSync(inner.file(nsOf, 'ns', 'pid'), 'r')
      } catch {
        return NS_TRANSLATE_UNSUPPORTED
      }
      // The namespace the walk saw for nsOf, or nsOf is another process by now: then no shortcut.
      if (`pid:[${fs.fstatSync(fd).ino}]` !== known.link) {
        fs.closeSync(fd)
        return inner.pidFromPidns(nsOf, n)
      }
      nsFds.set(known.link, fd)
    }
    try {
      return nsPidFromPidns(fd, n)
    } catch {
      return NS_TRANSLATE_UNSUPPORTED
    }
  }

  // /proc/locks: reused only for the file just probed, and only when it says nothing about it.
  let probed: string | null = null
  view.probeLock = (fd: number) => {
    const r = inner.probeLock(fd)
    try {
      const st = fs.fstatSync(fd)
      probed = `${devMajor(st.dev)}:${devMinor(st.dev)}:${st.ino}`
    } catch {
      probed = null
    }
    return r
  }
  // One reading per way of reading it (whole, or bounded to so many bytes).
  const readings = new Map<string, {at: number; value: unknown; files: Set<string>}>()
  const reuse = <T>(key: string, read: () => T, lines: (v: T) => readonly LockLine[]): T => {
    const file = probed
    probed = null
    const now = monotonicMs()
    const last = readings.get(key)
    if (file !== null && last && now - last.at < ttlMs && !last.files.has(file)) return last.value as T
    const value = read()
    readings.set(key, {at: now, value, files: new Set(lines(value).map((l) => `${l.major}:${l.minor}:${l.inode}`))})
    return value
  }
  // Copies of what is kept: no caller can change what the next one reads.
  view.readLocksBounded = (maxBytes: number) => {
    const r = reuse(`bounded ${maxBytes}`, () => inner.readLocksBounded(maxBytes), (v) => v.lines)
    return {lines: r.lines.slice(), truncated: r.truncated}
  }

  // This process's own mount namespace (every unlocked pidfile is placed by it): setns(2) is never
  // called, so it is the same for the whole pass.
  let selfMnt: string | null = null
  view.readLink = (pid: number | 'self', ...rest: string[]) => {
    if (pid !== 'self' || rest.length !== 2 || rest[0] !== 'ns' || rest[1] !== 'mnt') return inner.readLink(pid, ...rest)
    return (selfMnt ??= inner.readLink(pid, ...rest))
  }

  view.release = () => {
    for (const fd of nsFds.values()) fs.closeSync(fd)
    nsFds.clear()
  }
  return view
}

export const proc = new ProcFs()

/** getauxval(3): AT_SECURE, set when execve(2) changed the process's ids or gave it capabilities. */
const AT_SECURE = 23n

/** Who may choose pid numbers in a PID namespace (ProcFs.pidnsOwner). */
export type PidnsOwner = {kind: 'ours'} | {kind: 'user'; uid: number; root: number | null | undefined}

/** user_namespaces(7) uid_map ("inner outer count" per line): the outer uid of inner uid 0, or null. */
export function rootOfUidMap(text: string): number | null {
  for (const line of text.split('\n')) {
    const [inner, outer, count] = line.trim().split(/\s+/).map(Number)
    if (Number.isSafeInteger(inner) && Number.isSafeInteger(outer) && count > 0 && inner <= 0 && 0 < inner + count) return outer - inner
  }
  return null
}
