/**
 * (Over 250 lines: every reader of ProcFs is overridden here, and the fake lock with them: a reader
 * left out would read the live system, which is what this class exists to prevent.)
 * A ProcFs that answers from a /proc tree captured by scripts/capture-proc-tree.js
 * (fixtures/proc-trees/*.json), so locate()'s decisions run without the kernel. What was not
 * captured is ENOENT, as for a process that has gone; a captured error (EACCES) is thrown as it was.
 *
 * Its root is not /proc: by default a directory that does not exist (fixtures/proc-trees/.no-proc),
 * so a read that bypasses the ProcFs seam (fs on procfs.file(...)) fails loudly instead of reading
 * the live system. A test that needs /proc/PID/root as a real directory (rootPid) passes a root of
 * its own (a temp directory holding PID/root/...).
 *
 * The pidfile's lock (what fcntl(F_GETLK), /proc/locks and the holders' fd and fdinfo files say)
 * is faked too, from a FakeLock (see stage()): locate() opens a real pidfile, but asks about its
 * lock only through ProcFs.probeLock(), readLocksBounded(), listFds(), readLink(PID, 'fd', N),
 * statUnder(PID, 'fd', N) and readFdinfoLocks().
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {LockProbe, NS_TRANSLATE_UNSUPPORTED} from '../../src/native/binding'
import {CgroupLine} from '../../src/proc/parse-cgroup'
import {LockLine, LockLineKind, devMajor, devMinor, parseLockLine} from '../../src/proc/parse-locks'
import {ProcStat, parseStat} from '../../src/proc/parse-stat'
import {ProcStatus, parseStatus} from '../../src/proc/parse-status'
import {PidnsOwner, ProcFs} from '../../src/proc/proc-fs'

type Captured<T> = {value: T} | {error: string}

export interface CapturedProcess {
  status: Captured<string>
  stat: Captured<string>
  cmdline: Captured<string>
  links: Record<string, Captured<string>>
  exeStat: Captured<{dev: number; ino: number}>
  root: Captured<{dev: number; ino: number}>
  mountinfo: Captured<string>
  under: Record<string, Captured<{dev: number; ino: number}>>
}

export interface ProcTree {
  note: string
  name: string
  rootPid: number | null
  holder: number | null
  pidfile: {path: string; inner: string; content: string; dev: number; ino: number; mtimeMs: number; uid: number; mode: number}
  bootMs: number
  self: {pid: number; uid: number; status: Captured<string>; links: Record<string, Captured<string>>}
  translations: Record<string, number | null | 'unsupported'>
  /** who may choose pid numbers in each PID namespace (pidnsOwner); absent: this user namespace */
  pidnsOwners?: Record<string, PidnsOwner | null>
  processes: Record<string, CapturedProcess>
}

export const TREES = path.resolve(__dirname, '..', '..', 'fixtures', 'proc-trees')

/** The default root of a FixtureProcFs: no such directory (a bypassing read gets ENOENT). */
export const NO_PROC = path.join(TREES, '.no-proc')

/**
 * The lock on the pidfile, as the kernel would tell it. Absent: unlocked (F_GETLK says so,
 * /proc/locks has no line, no process shows a lock).
 */
export interface FakeLock {
  /** what fcntl(F_GETLK) answers: a POSIX owner (0: not visible here), -1 for OFD */
  probe: LockProbe
  /** processes with a descriptor (fd 3) on the pidfile whose fdinfo shows a lock of this kind */
  holders?: Record<number, LockLineKind>
  /** the lines /proc/locks has on the pidfile */
  lines?: Array<{kind: LockLineKind; pid: number}>
  /** processes whose fds this process may not list (EACCES) */
  denied?: number[]
}

/** The real pidfile a FixtureProcFs's fake lock is about (dev:inode of the file locate() opens). */
export interface LockedFile {
  path: string
  dev: number
  ino: number
  lock?: FakeLock
}

export function loadTree(name: string): ProcTree {
  return JSON.parse(fs.readFileSync(path.join(TREES, `${name}.json`), 'utf8')) as ProcTree
}

function errno(code: string, what: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${what} (captured tree)`) as NodeJS.ErrnoException
  e.code = code
  return e
}

function take<T>(c: Captured<T> | undefined, what: string): T {
  if (c === undefined) throw errno('ENOENT', what)
  if ('error' in c) throw errno(c.error, what)
  return c.value
}

export class FixtureProcFs extends ProcFs {
  constructor(
    readonly tree: ProcTree,
    root = NO_PROC,
    readonly file_?: LockedFile,
  ) {
    super(root)
  }

  private proc(pid: number | 'self'): CapturedProcess {
    const p = this.tree.processes[String(pid)]
    if (!p) throw errno('ENOENT', `/proc/${pid}`)
    return p
  }

  override readStatus(pid: number | 'self'): ProcStatus {
    if (pid === 'self') return parseStatus(take(this.tree.self.status, '/proc/self/status'))
    return parseStatus(take(this.proc(pid).status, `/proc/${pid}/status`))
  }

  override readStat(pid: number | 'self'): ProcStat {
    return parseStat(take(this.proc(pid).stat, `/proc/${pid}/stat`))
  }

  override readCmdline(pid: number): string[] {
    const parts = take(this.proc(pid).cmdline, `/proc/${pid}/cmdline`).split('\0')
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
    return parts
  }

  override readCgroup(pid: number): CgroupLine[] {
    throw errno('ENOENT', `/proc/${pid}/cgroup (not captured)`)
  }

  override readPidnsLink(pid: number | 'self'): string {
    return this.readLink(pid, 'ns', 'pid')
  }

  override readLink(pid: number | 'self', ...rest: string[]): string {
    const key = rest.join('/')
    // A holder's descriptors: fd 3 is the pidfile, the others something else.
    if (pid !== 'self' && rest[0] === 'fd' && this.holding(pid)) return rest[1] === '3' ? this.file_!.path : '/dev/null'
    const links = pid === 'self' ? this.tree.self.links : this.proc(pid).links
    return take(links[key], `/proc/${pid}/${key}`)
  }

  override statUnder(pid: number, ...rest: string[]): {dev: number; ino: number} {
    const p = this.proc(pid)
    const what = `/proc/${pid}/${rest.join('/')}`
    if (rest[0] === 'exe' && rest.length === 1) return take(p.exeStat, what)
    if (rest[0] === 'fd' && rest[1] === '3' && this.holding(pid)) return {dev: this.file_!.dev, ino: this.file_!.ino}
    if (rest[0] !== 'root') throw errno('ENOENT', `${what} (not captured)`)
    if (rest.length === 1) return take(p.root, what)
    // Like the kernel: no looking further into a root one may not enter.
    take(p.root, what)
    return take(p.under[path.join('/', ...rest.slice(1))], what)
  }

  override readMountinfo(pid: number): string {
    return take(this.proc(pid).mountinfo, `/proc/${pid}/mountinfo`)
  }

  /** A lock line on the pidfile, as /proc/locks and fdinfo print it. */
  private lockLine(kind: LockLineKind, pid: number): LockLine {
    const f = this.file_!
    const dev = `${devMajor(f.dev).toString(16).padStart(2, '0')}:${devMinor(f.dev).toString(16).padStart(2, '0')}`
    return parseLockLine(`1: ${kind} ADVISORY WRITE ${kind === 'OFDLCK' ? -1 : pid} ${dev}:${f.ino} 0 EOF`)!
  }

  private holding(pid: number): LockLineKind | undefined {
    return this.file_?.lock?.holders?.[pid]
  }

  override listFds(pid: number): string[] {
    if (this.file_?.lock?.denied?.includes(pid)) throw errno('EACCES', `/proc/${pid}/fd`)
    if (this.holding(pid)) return ['0', '1', '2', '3']
    throw errno('ENOENT', `/proc/${pid}/fd (not captured)`)
  }

  override readFdinfoLocks(pid: number, fd: number | string): LockLine[] {
    const kind = this.holding(pid)
    if (kind && String(fd) === '3') return [this.lockLine(kind, pid)]
    if (kind) return []
    throw errno('ENOENT', `/proc/${pid}/fdinfo (not captured)`)
  }

  override readLocksBounded(): {lines: LockLine[]; truncated: boolean} {
    return {lines: (this.file_?.lock?.lines ?? []).map((l) => this.lockLine(l.kind, l.pid)), truncated: false}
  }

  override probeLock(): LockProbe {
    return this.file_?.lock?.probe ?? {type: 'unlocked', pid: 0}
  }

  /** No NS_GET_PID_IN_PIDNS in a captured tree: confine.ts falls back to the parent chain. */
  override pidInPidns(): typeof NS_TRANSLATE_UNSUPPORTED {
    return NS_TRANSLATE_UNSUPPORTED
  }

  override exists(pid: number): boolean {
    return String(pid) in this.tree.processes
  }

  override pidFromPidns(nsOf: number, n: number): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
    let ns: string
    try {
      ns = this.readPidnsLink(nsOf)
    } catch {
      return NS_TRANSLATE_UNSUPPORTED
    }
    const x = this.tree.translations[ns]
    if (x === undefined || x === 'unsupported' || String(n) !== this.tree.pidfile.content.split('\n')[0].trim()) return NS_TRANSLATE_UNSUPPORTED
    return x
  }

  /** Captured trees were made by root (unshare without a user namespace): every PID namespace is in this user namespace, unless the tree says otherwise. */
  override pidnsOwner(pid: number | 'self'): PidnsOwner | null {
    let ns: string
    try {
      ns = this.readPidnsLink(pid)
    } catch {
      return null
    }
    const owners = this.tree.pidnsOwners ?? {}
    return ns in owners ? owners[ns] : {kind: 'ours'}
  }

  /** No auxv was captured: no captured process ran a set-user-ID program. */
  override readSecureExec(): boolean | null {
    return false
  }

  override listPids(): number[] {
    return Object.keys(this.tree.processes).map(Number)
  }

  override bootTimeMs(): number {
    return this.tree.bootMs
  }

  override pidMax(): number {
    return 4194304
  }

  override selfCapEff(): bigint | null {
    try {
      const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(take(this.tree.self.status, '/proc/self/status'))
      return m ? BigInt(`0x${m[1]}`) : null
    } catch {
      return null
    }
  }

  override selfUid(): number {
    return this.tree.self.uid
  }
}

/** The same tree with some of its files replaced (malformed input, denials): `edit` changes a deep copy. */
export function variant(tree: ProcTree, edit: (t: ProcTree) => void): ProcTree {
  const copy = JSON.parse(JSON.stringify(tree)) as ProcTree
  edit(copy)
  return copy
}

/** A captured tree set up around a real pidfile: what locate() is run over (stage()). */
export interface Stage {
  tree: ProcTree
  procfs: FixtureProcFs
  /** the temp directory holding the pidfile (and, with a rootPid, the fake /proc) */
  dir: string
  /** the real pidfile's path */
  file: string
  cleanup(): void
}

export interface StageOptions {
  edit?: (t: ProcTree) => void
  /** what the pidfile holds (default: the captured content) */
  content?: string
  /** permission bits (default: the captured ones) */
  mode?: number
  lock?: FakeLock
  /** the pidfile's directory, under the temp directory (default: the temp directory itself) */
  subdir?: string
  /** lay the pidfile under DIR/proc/PID/root instead, with DIR/proc as the FixtureProcFs's root */
  underRootOf?: number
  /** last changes to the real files (ownership, links) before the tree is fitted to them */
  prepare?: (file: string, dir: string) => void
}

/**
 * A captured tree, and the real pidfile locate() will open: written in a temp directory with the
 * captured content, mode and mtime (so start times compare as they did), and the tree fitted to it
 * (the dev:inode every captured process saw at the captured path is the new file's, at its path).
 */
export function stage(name: string, o: StageOptions = {}): Stage {
  let tree = loadTree(name)
  if (o.edit) tree = variant(tree, o.edit)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsl-table-'))
  const procRoot = o.underRootOf === undefined ? NO_PROC : path.join(dir, 'proc')
  const base = o.underRootOf === undefined ? dir : path.join(procRoot, String(o.underRootOf), 'root')
  const fileDir = o.subdir ? path.join(base, o.subdir) : base
  fs.mkdirSync(fileDir, {recursive: true})
  const file = path.join(fileDir, path.basename(tree.pidfile.path))
  fs.writeFileSync(file, o.content ?? tree.pidfile.content)
  fs.chmodSync(file, o.mode ?? tree.pidfile.mode & 0o7777)
  fs.utimesSync(file, tree.pidfile.mtimeMs / 1000, tree.pidfile.mtimeMs / 1000)
  o.prepare?.(file, dir)
  const st = fs.statSync(file)
  const inner = o.underRootOf === undefined ? file : file.slice(base.length)
  fitTree(tree, inner, Number(st.dev), Number(st.ino))
  const procfs = new FixtureProcFs(tree, procRoot, {path: file, dev: Number(st.dev), ino: Number(st.ino), lock: o.lock})
  return {tree, procfs, dir, file, cleanup: () => fs.rmSync(dir, {recursive: true, force: true})}
}

/** Every captured sight of the pidfile (its dev:inode at its path, or at BASE under a mount point) moved to the real file. */
function fitTree(tree: ProcTree, inner: string, dev: number, ino: number): void {
  const old = tree.pidfile
  const same = (c: Captured<{dev: number; ino: number}>) => 'value' in c && c.value.dev === old.dev && c.value.ino === old.ino
  for (const p of Object.values(tree.processes)) {
    const under: Record<string, Captured<{dev: number; ino: number}>> = {}
    for (const [k, c] of Object.entries(p.under)) {
      const key = k === old.inner ? inner : k
      under[key] = same(c) ? {value: {dev, ino}} : c
    }
    p.under = under
  }
  tree.pidfile = {...old, path: inner, inner, dev, ino}
}
