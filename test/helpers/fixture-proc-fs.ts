/**
 * A ProcFs that answers from a /proc tree captured by scripts/capture-proc-tree.js
 * (fixtures/proc-trees/*.json), so locate()'s decisions run without the kernel. What was not
 * captured is ENOENT, as for a process that has gone; a captured error (EACCES) is thrown as it was.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NS_TRANSLATE_UNSUPPORTED} from '../../src/native/binding'
import {CgroupLine} from '../../src/proc/parse-cgroup'
import {LockLine} from '../../src/proc/parse-locks'
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
  constructor(readonly tree: ProcTree) {
    super('/proc')
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
    const links = pid === 'self' ? this.tree.self.links : this.proc(pid).links
    return take(links[key], `/proc/${pid}/${key}`)
  }

  override statUnder(pid: number, ...rest: string[]): {dev: number; ino: number} {
    const p = this.proc(pid)
    const what = `/proc/${pid}/${rest.join('/')}`
    if (rest[0] === 'exe' && rest.length === 1) return take(p.exeStat, what)
    if (rest[0] !== 'root') throw errno('ENOENT', `${what} (not captured)`)
    if (rest.length === 1) return take(p.root, what)
    // Like the kernel: no looking further into a root one may not enter.
    take(p.root, what)
    return take(p.under[path.join('/', ...rest.slice(1))], what)
  }

  override readMountinfo(pid: number): string {
    return take(this.proc(pid).mountinfo, `/proc/${pid}/mountinfo`)
  }

  override listFds(pid: number): string[] {
    throw errno('ENOENT', `/proc/${pid}/fd (not captured)`)
  }

  override readFdinfoLocks(pid: number): LockLine[] {
    throw errno('ENOENT', `/proc/${pid}/fdinfo (not captured)`)
  }

  override readLocksBounded(): {lines: LockLine[]; truncated: boolean} {
    return {lines: [], truncated: false}
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
