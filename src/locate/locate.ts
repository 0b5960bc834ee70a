/**
 * locate(): is service NAME running, which process is it from where we stand, and how do we know.
 * The three witnesses are reconciled: the lock holder (the kernel's word), the pid written in the
 * file (the writer's word, in the writer's namespace) and the process table (NSpid, start time).
 * Nothing takes a lock. Output fields are documented in docs/nslocate.1.md (OUTPUT).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError, isErrno} from '../errors'
import {NS_TRANSLATE_UNSUPPORTED, nsPidFromPidns} from '../native/binding'
import {ContainerRef} from '../proc/parse-cgroup'
import {ProcStatus} from '../proc/parse-status'
import {ProcFs, proc} from '../proc/proc-fs'
import {confine} from './confine'
import {PidfileLock, findLockHolder} from './lock-holder'
import {SearchOptions, resolvePidfile, validateName, withAbsolutePaths} from './name'
import {OpenedPidfile, mode, openPidfile} from './pidfile'
import {applySafety} from './pidfile-trust'
import {ProcessFacts, ProcessInfo, describeProcess, readContainer, readFacts, readPidns} from './process-info'
import {resolveUnlocked} from './unlocked'

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
  process: ProcessInfo | null
  container: ContainerRef | null
  reasons: string[]
  evidence: string[]
}

export interface LocateOptions extends SearchOptions {
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
}

/** LSB status codes (find, list): running 0, stale 1, stopped 3, unknown 4. */
export function statusExitCode(state: State): number {
  return {running: 0, stale: 1, stopped: 3, unknown: 4}[state]
}

export function locate(nameOrOptions: string | LocateOptions): LocateResult {
  return locateDetailed(nameOrOptions).result
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
    pidfile: null, process: null, container: null, reasons, evidence,
  }
}

export function locateDetailed(nameOrOptions: string | LocateOptions): Located {
  // Relative --pidfile/--dir: against the caller's working directory, before anything else; empty: USAGE.
  const opts: LocateOptions = withAbsolutePaths(typeof nameOrOptions === 'string' ? {name: nameOrOptions} : nameOrOptions)
  if (!opts.skipNameCheck) validateName(opts.name)
  const procfs = opts.procfs ?? proc
  const result = stoppedResult(opts.name)
  const located: Located = {result, main: null, holder: null}
  if (opts.preEvidence) result.evidence.push(...opts.preEvidence)
  const inRoot = opts.rootPid !== undefined ? rootOf(opts, procfs) : null
  const {path: file, searched, lstat} = resolvePidfile(opts.name, inRoot ? inRoot.search : opts)
  if (!file) {
    result.reasons.push('no_pidfile')
    result.evidence.push(`no pidfile: looked for ${searched.join(', ')}`)
    return located
  }
  let opened: OpenedPidfile
  try {
    opened = openPidfile(file, {pidMax: procfs.pidMax(), lstat, root: inRoot?.root, uid: opts.uid})
  } catch (error) {
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
    decide(located, opened, inRoot ? {...opts, pidns: inRoot.pidns, innerPath: file.slice(inRoot.root.length) || '/'} : opts, procfs)
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
function rootOf(opts: LocateOptions, procfs: ProcFs): {root: string; search: SearchOptions; pidns: string} {
  const pid = opts.rootPid!
  const root = procfs.file(pid, 'root')
  let pidns: string
  try {
    pidns = procfs.readPidnsLink(pid)
    fs.readdirSync(root)
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH')) throw new NslocateError('NOT_RUNNING', `pid ${pid} (whose mount namespace holds the pidfile) has exited`, {exitCode: 3, cause: error})
    throw new NslocateError('PERMISSION', `cannot enter the files of pid ${pid} through ${root}: ${(error as Error).message}; this needs root with CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE)`, {exitCode: 4, cause: error})
  }
  const under = (p?: string) => (p ? path.join(root, p) : undefined)
  // The caller's NSLOCATE_RUNTIME_DIR and XDG_RUNTIME_DIR describe the caller, not the target: not used.
  return {root, pidns, search: {pidfile: under(opts.pidfile), dir: under(opts.dir), root, env: {}, uid: 0}}
}

function decide(located: Located, opened: OpenedPidfile, opts: LocateOptions & {innerPath?: string}, procfs: ProcFs): void {
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
        result.evidence.push('the lock is held, but its holder is not among the processes whose fds could be read; run as root or with CAP_SYS_PTRACE to name it')
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
    }
  } else {
    result.reasons.push('unlocked_pidfile')
    if (written === null) {
      result.state = 'stale'
      result.evidence.push('no lock and no usable pid: nothing identifies a process')
    } else {
      const base = path.basename(opened.path).replace(/\.pid$/, '')
      const r = resolveUnlocked({content: written, file: opts.innerPath ?? opened.path, stat, names: [opts.name, base, ...(opts.alsoNamed ?? [])], procfs, bootMs, pidns: opts.pidns})
      result.evidence.push(...r.evidence)
      if (r.undetermined.length > 0) {
        // A process we may not inspect could be the service: neither "stale" nor a guess.
        result.state = 'unknown'
        if (!result.reasons.includes('permission_denied')) result.reasons.push('permission_denied')
        if (r.survivors.length > 0) result.reasons.push('ambiguous')
        result.evidence.push(`cannot tell which process wrote ${opened.path}: ${[...r.survivors, ...r.undetermined].map((f) => f.pid).join(', ')} ${r.survivors.length + r.undetermined.length === 1 ? 'fits' : 'fit'}, not all could be checked; run as root with CAP_SYS_PTRACE (e.g. --cap-add SYS_PTRACE) to decide`)
      } else if (r.survivors.length === 1) {
        result.state = 'running'
        main = r.survivors[0]
      } else if (r.survivors.length > 1) {
        result.state = 'unknown'
        result.reasons.push('ambiguous')
        result.evidence.push(`${r.survivors.length} processes fit (${r.survivors.map((f) => f.pid).join(', ')}): not guessing; give --pidfile of a locked pidfile or --container`)
      } else {
        result.state = 'stale'
        result.reasons.push(r.reused ? 'pid_reused' : 'stale_pidfile')
      }
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
 * The pid in the file must be the holder's own view of itself (last NSpid column), or a
 * descendant of the holder numbered that way in the holder's namespace (a supervisor such as
 * daemon(1) or `nslocate run` holds the lock for its child).
 */
function reconcileWithHolders(holders: number[], written: number | null, procfs: ProcFs, bootMs: number, evidence: string[], holderStatus?: ProcStatus): {holder: ProcessFacts; main: ProcessFacts; mismatch: boolean} {
  // holderStatus belongs to the only holder of an fd check (findLockHolder's quick path).
  const facts = holders.map((h) => readFacts(procfs, h, bootMs, holders.length === 1 ? holderStatus : undefined)).filter((f): f is ProcessFacts => f !== null)
  if (facts.length === 0) throw new NslocateError('GONE', `the lock holder (pid ${holders.join(', ')}) exited while being inspected; run again`)
  if (written === null) {
    evidence.push(`lock held by pid ${facts[0].pid} but the file has no pid yet (a service that is starting writes it after locking)`)
    return {holder: facts[0], main: facts[0], mismatch: false}
  }
  for (const h of facts) {
    const own = h.status.nspid[h.status.nspid.length - 1]
    if (own === written) {
      evidence.push(`consistent: holder ${h.pid} has NSpid ${h.status.nspid.join(' ')}; its own view (${own}) is the pid in the file`)
      return {holder: h, main: h, mismatch: false}
    }
  }
  for (const h of facts) {
    const child = descendantNumbered(procfs, h, written, bootMs)
    if (child) {
      evidence.push(`consistent: the file names ${written}, which is pid ${child.pid} (NSpid ${child.status.nspid.join(' ')}), a descendant of the lock holder ${h.pid} in its namespace (supervisor holds the lock)`)
      return {holder: h, main: child, mismatch: false}
    }
  }
  const h = facts[0]
  evidence.push(`MISMATCH: the file says ${written}, but the lock holder ${h.pid} is ${h.status.nspid[h.status.nspid.length - 1]} in its own namespace (NSpid ${h.status.nspid.join(' ')}) and has no descendant numbered ${written}; reporting the lock holder`)
  return {holder: h, main: h, mismatch: true}
}

/** The process numbered `n` in `holder`'s own namespace, if it descends from `holder`. */
function descendantNumbered(procfs: ProcFs, holder: ProcessFacts, n: number, bootMs: number): ProcessFacts | null {
  const level = holder.status.nspid.length - 1
  let candidate: number | null = null
  try {
    const fd = fs.openSync(procfs.file(holder.pid, 'ns', 'pid'), 'r')
    try {
      const x = nsPidFromPidns(fd, n)
      if (x !== NS_TRANSLATE_UNSUPPORTED) {
        if (x === null) return null
        candidate = x
      }
    } finally {
      fs.closeSync(fd)
    }
  } catch {}
  const isDescendant = (pid: number) => {
    let p = pid
    for (let i = 0; i < 256 && p > 0; i++) {
      if (p === holder.pid) return true
      try {
        p = procfs.readStatus(p).ppid
      } catch {
        return false
      }
    }
    return false
  }
  if (candidate !== null) {
    const f = readFacts(procfs, candidate, bootMs)
    return f && f.status.nspid[level] === n && isDescendant(candidate) ? f : null
  }
  for (const pid of procfs.listPids()) {
    const f = readFacts(procfs, pid, bootMs)
    if (f && f.status.nspid.length > level && f.status.nspid[level] === n && isDescendant(pid)) return f
  }
  return null
}
