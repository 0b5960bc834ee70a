/**
 * locate(): is service NAME running, which process is it from where we stand, and how do we know.
 * The three witnesses are reconciled: the lock holder (the kernel's word), the pid written in the
 * file (the writer's word, in the writer's namespace) and the process table (NSpid, start time).
 * Nothing takes a lock. Output fields are documented in docs/nslocate.1.md (OUTPUT).
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, isErrno} from '../errors'
import {ContainerRef} from '../proc/parse-cgroup'
import {ProcFs, proc} from '../proc/proc-fs'
import {confine} from './confine'
import {hasPtraceCap, ptraceDenial} from './denial'
import {IdentityOptions, ResolvedIdentity, checkIdentity, resolveIdentity} from './identity-options'
import {PidfileLock, findLockHolder} from './lock-holder'
import {SearchOptions, mergeNameArgs, resolvePidfile, validateName, validateRootPid, withAbsolutePaths} from './name'
import {OpenedPidfile, mode, openPidfile} from './pidfile'
import {refusedResult} from './pidfile-look'
import {applySafety} from './pidfile-trust'
import {ProcessFacts, ProcessInfo, describeProcess, readContainer, readPidns} from './process-info'
import {describeNames} from './process-names'
import {reconcileWithHolders} from './reconcile'
import {readNames, resolveUnlocked} from './unlocked'
import {MountRef} from './visibility'
import type {ChaseCache} from './path-safety'

export type State = 'running' | 'stale' | 'stopped' | 'unknown'

export interface LocateResult {
  name: string
  state: State
  /** the service's main process in the caller's PID namespace */
  pid: number | null
  /** the lock holder in the caller's namespace (a supervisor may hold the lock for its child) */
  holder: number | null
  visible: boolean
  /** NSpid chain of `pid` as seen here, outermost first; the last entry is the pid inside its own namespace */
  nspid: number[]
  pidns: string | null
  pidfile: {path: string; pid: number | null; lock: PidfileLock; uid: number; mode: string} | null
  /** the pidfile is locked but holds no pid yet: the service is starting (`pid` is the lock holder, maybe its supervisor) */
  starting: boolean
  process: ProcessInfo | null
  container: ContainerRef | null
  reasons: string[]
  evidence: string[]
}

export interface LocateOptions extends SearchOptions, IdentityOptions {
  name: string
  allowUnsafe?: boolean
  /** /proc mount to read (tests point it at another mount) */
  procfs?: ProcFs
  /** restrict unlocked-pidfile candidates to this pid namespace (`pid:[inode]`) */
  pidns?: string
  /** names the process may have besides NAME (e.g. the pidfile's base name) */
  alsoNamed?: string[]
  /** set by list: the NAME need not be valid (it comes from a file name) */
  skipNameCheck?: boolean
  /**
   * Work inside the mount and PID namespaces of this process (e.g. a container's init): the search
   * path, --dir and --pidfile are read under /proc/ROOTPID/root, and a bare pid is looked for in its
   * PID namespace only.
   */
  rootPid?: number
  /** what is known of the container (from the Docker API), merged into `container` */
  containerHint?: ContainerRef
  /** evidence gathered before locate (e.g. from the Docker API) */
  preEvidence?: string[]
  /** set by list: the walks of the pidfiles' directories, shared by the files of one pass */
  chaseCache?: ChaseCache
}

/** LSB status codes (find, list): running 0, stale 1, stopped 3, unknown 4. */
export function statusExitCode(state: State): number {
  return {running: 0, stale: 1, stopped: 3, unknown: 4}[state]
}

/** locate(NAME), locate({name, ...}) or locate(NAME, {...}): the second argument is merged, never ignored. */
export function locate(nameOrOptions: string | LocateOptions, options?: Partial<LocateOptions>): LocateResult {
  return locateDetailed(nameOrOptions, options).result
}

/** The identified processes' facts as read during locate (start times pin identity for signal). */
export interface Located {
  result: LocateResult
  main: ProcessFacts | null
  holder: ProcessFacts | null
  /** device and inode of the pidfile that was read (to tell it from one made later at the same path) */
  pidfileId?: {dev: number; ino: number}
}

/** A result saying NAME is not running, with no pidfile looked at (e.g. its container has stopped). */
export function stoppedResult(name: string, reasons: string[] = [], evidence: string[] = []): LocateResult {
  return {
    name, state: 'stopped', pid: null, holder: null, visible: true, nspid: [], pidns: null,
    pidfile: null, starting: false, process: null, container: null, reasons, evidence,
  }
}

export function locateDetailed(nameOrOptions: string | LocateOptions, options?: Partial<LocateOptions>): Located {
  // Relative --pidfile/--dir: against the caller's working directory, before anything else; empty: USAGE.
  const opts: LocateOptions = withAbsolutePaths(mergeNameArgs('locate', nameOrOptions, options))
  if (!opts.skipNameCheck) validateName(opts.name)
  const procfs = opts.procfs ?? proc
  if (opts.rootPid !== undefined) validateRootPid(opts.rootPid, procfs.pidMax())
  const result = stoppedResult(opts.name)
  const located: Located = {result, main: null, holder: null}
  if (opts.preEvidence) result.evidence.push(...opts.preEvidence)
  const inRoot = opts.rootPid !== undefined ? rootOf(opts, procfs) : null
  const identity = resolveIdentity(opts, inRoot?.root)
  const {path: file, searched, lstat} = resolvePidfile(opts.name, inRoot ? inRoot.search : opts)
  if (!file) {
    result.reasons.push('no_pidfile')
    result.evidence.push(`no pidfile: looked for ${searched.join(', ')}`)
    return located
  }
  let opened: OpenedPidfile
  try {
    opened = openPidfile(file, {pidMax: procfs.pidMax(), lstat, root: inRoot?.root, uid: opts.uid, allowUnsafe: opts.allowUnsafe, chaseCache: opts.chaseCache})
  } catch (error) {
    // A refused pidfile, or one that is a symbolic link leading to no file (dangling, looping, a
    // directory): unknown, never "no pidfile" (pidfile-look.ts).
    if (refusedResult(error, result, opts.allowUnsafe)) return located
    if (isErrno(error, 'ENOENT')) {
      result.reasons.push('no_pidfile')
      result.evidence.push(`${file} disappeared while being read`)
      return located
    }
    result.state = 'unknown'
    result.reasons.push(isErrno(error, 'EACCES', 'EPERM') ? 'permission_denied' : 'unreadable_pidfile')
    result.evidence.push(`cannot open ${file}: ${(error as Error).message}`)
    return located
  }
  located.pidfileId = {dev: Number(opened.stat.dev), ino: Number(opened.stat.ino)}
  try {
    decide(located, opened, {...opts, identity, ...(inRoot ? {pidns: inRoot.pidns, innerPath: file.slice(inRoot.root.length) || '/', mountRef: inRoot.mountRef} : {})}, procfs)
    if (opts.containerHint && result.pid !== null) {
      if (!result.container || result.container.id === opts.containerHint.id) result.container = {...opts.containerHint, ...result.container, name: opts.containerHint.name}
    }
  } finally {
    if (!opened.borrowed) fs.closeSync(opened.fd)
  }
  if (opts.rootPid !== undefined) confine(located, opts.rootPid, procfs)
  if (located.result.pid === null) {
    located.main = null
    located.holder = null
  }
  return located
}

/** /proc/ROOTPID/root, the search options under it, and ROOTPID's PID namespace. */
function rootOf(opts: LocateOptions, procfs: ProcFs): {root: string; search: SearchOptions; pidns: string; mountRef: MountRef} {
  const pid = opts.rootPid!
  const root = procfs.file(pid, 'root')
  let pidns: string
  try {
    pidns = procfs.readPidnsLink(pid)
    procfs.statUnder(pid, 'root')
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH')) throw new NslocateError('NOT_RUNNING', `pid ${pid} (whose mount namespace holds the pidfile) has exited`, {exitCode: 3, cause: error})
    const cause = isErrno(error, 'EACCES', 'EPERM') ? ptraceDenial(procfs, pid) : 'run as root'
    throw new NslocateError('PERMISSION', `cannot enter the files of pid ${pid} through ${root}: ${(error as Error).message}; ${cause}`, {exitCode: 4, cause: error})
  }
  const under = (p?: string) => (p ? path.join(root, p) : undefined)
  let mnt: string | null = null
  try {
    mnt = procfs.readLink(pid, 'ns', 'mnt')
  } catch {}
  // The caller's NSLOCATE_RUNTIME_DIR and XDG_RUNTIME_DIR describe the caller, not the target: not used.
  return {root, pidns, search: {pidfile: under(opts.pidfile), dir: under(opts.dir), root, env: {}, uid: 0}, mountRef: {mnt, who: `pid ${pid} (--root-pid)`}}
}

/** This process's mount namespace, in which a pidfile given by its path was opened. */
function selfMountRef(procfs: ProcFs): MountRef {
  try {
    return {mnt: procfs.readLink('self', 'ns', 'mnt'), who: 'this process'}
  } catch {
    return {mnt: null, who: 'this process'}
  }
}

/**
 * A path through another process's root (/proc/P/root/run/app.pid, given without --root-pid): the
 * file lives in P's mount namespace, where only P's PID namespace is sure to see it.
 */
function throughRoot(file: string, procfs: ProcFs): {inner: string; mountRef: MountRef; placedNs?: {pidns: string; why: string}} | null {
  const m = new RegExp(`^${procfs.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([0-9]+)/root(/.*)?$`).exec(file)
  if (!m) return null
  const pid = Number(m[1])
  let mnt: string | null = null
  let pidns: string | null = null
  try {
    mnt = procfs.readLink(pid, 'ns', 'mnt')
    pidns = procfs.readPidnsLink(pid)
  } catch {}
  return {inner: m[2] ?? '/', mountRef: {mnt, who: `pid ${pid} (whose root the path goes through)`},
    placedNs: pidns ? {pidns, why: `the file was reached through /proc/${pid}/root, and it is in that process's PID namespace (${pidns})`} : undefined}
}

type DecideOptions = LocateOptions & {innerPath?: string; mountRef?: MountRef; identity: ResolvedIdentity | null}

function decide(located: Located, opened: OpenedPidfile, opts: DecideOptions, procfs: ProcFs): void {
  const {result} = located
  const {content, stat} = opened
  const written = content.pid
  result.evidence.push(written === null
    ? `${opened.path} holds "${content.shown}": ${content.problem?.replace('_', ' ')}`
    : `${opened.path} says pid ${written} (as numbered in the writer's PID namespace)`)
  if (content.note) result.evidence.push(`${opened.path}: ${content.note}`)
  if (content.problem) result.reasons.push(content.problem)
  const finding = findLockHolder(opened.path, opened.fd, stat, procfs, written ? [written] : [], {writtenPid: written ?? undefined})
  result.pidfile = {path: opened.path, pid: written, lock: finding.lock, uid: stat.uid, mode: mode(stat.mode)}
  result.evidence.push(...finding.evidence)
  // Unreadable fds matter when they may hide the holder; once a holder is named they can only hide
  // more processes sharing the same lock (an fd inherited across fork), which the evidence says.
  if (finding.denied.length > 0 && finding.holders.length === 0) result.reasons.push('permission_denied')
  else if (finding.denied.length > 0) result.evidence.push('the holder is named; processes whose fds could not be read may share its lock (an inherited descriptor), and are not listed')
  const bootMs = procfs.bootTimeMs()
  let main: ProcessFacts | null = null

  if (finding.lock !== 'none') {
    result.state = 'running'
    if (finding.notVisible) {
      result.visible = false
      if (finding.denied.length > 0) {
        // permission_denied is already among the reasons: the holder may be one of the unreadable processes.
        result.evidence.push(`the lock is held, but its holder is not among the processes whose fds could be read; ${hasPtraceCap(procfs) ? 'this process has CAP_SYS_PTRACE: the holder is a protected process' : 'run as root (with CAP_SYS_PTRACE) to name it'}`)
      } else {
        result.reasons.push('holder_not_visible')
        result.evidence.push('the service is running in a PID namespace this process cannot see; run on the host, share its PID namespace, or use --container')
      }
    } else {
      const r = reconcileWithHolders(finding.holders, written, procfs, bootMs, result.evidence, finding.holderStatus)
      result.holder = r.holder.pid
      located.holder = r.holder
      main = r.main
      if (r.mismatch) result.reasons.push('content_mismatch')
      if (written === null) {
        result.starting = true
        result.evidence.push(`starting: pid ${r.holder.pid} holds the lock on an empty file; it may be the service or its supervisor, which writes the service's pid next`)
      }
      if (opts.identity && !identityHolds(result, procfs, main, opts.identity)) main = null
    }
  } else {
    result.reasons.push('unlocked_pidfile')
    if (written === null) {
      result.state = 'stale'
      result.evidence.push('no lock and no usable pid: nothing identifies a process')
    } else {
      const base = path.basename(opened.path).replace(/\.pid$/, '')
      const via = opts.innerPath === undefined ? throughRoot(opened.path, procfs) : null
      const r = resolveUnlocked({
        content: written, file: opts.innerPath ?? via?.inner ?? opened.path, stat, names: [opts.name, base, ...(opts.alsoNamed ?? [])], procfs, bootMs,
        pidns: opts.pidns, placedNs: via?.placedNs, mountRef: opts.mountRef ?? via?.mountRef ?? selfMountRef(procfs), identity: opts.identity,
      })
      result.evidence.push(...r.evidence)
      result.state = r.state
      for (const reason of r.reasons) if (!result.reasons.includes(reason)) result.reasons.push(reason)
      main = r.main
    }
  }
  if (result.state === 'stale' && !result.reasons.includes('stale_pidfile')) result.reasons.push('stale_pidfile')

  if (main) {
    located.main = main
    result.pid = main.pid
    result.nspid = main.status.nspid
    result.pidns = readPidns(procfs, main.pid)
    result.process = describeProcess(procfs, main)
    result.container = readContainer(procfs, main.pid)
  }
  applySafety(result, opened, opts, main)
}

/**
 * The identity options hold for the service found through the lock, or the answer is unknown
 * (identity_mismatch) and names no process. A starting service's holder may be its supervisor:
 * then nothing is claimed yet (wait --for running keeps waiting).
 */
function identityHolds(result: LocateResult, procfs: ProcFs, main: ProcessFacts, identity: ResolvedIdentity): boolean {
  const names = readNames(procfs, main)
  const check = checkIdentity(procfs, main, names, identity)
  result.evidence.push(check.ok ? check.detail : `MISMATCH: ${check.detail} (${describeNames(names)})`)
  if (check.ok) return true
  result.state = 'unknown'
  result.reasons.push('identity_mismatch')
  result.holder = null
  return false
}
