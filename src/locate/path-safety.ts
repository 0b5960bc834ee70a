/**
 * Walking to a pidfile one component at a time, the way systemd's chase() with CHASE_SAFE does,
 * and noting who besides root and the caller could have changed where the walk leads.
 *
 * Each directory is opened with O_PATH|O_NOFOLLOW and the next component is looked up through
 * /proc/self/fd/N/NAME, so what is checked is what is opened: a directory swapped for a symlink
 * after its check is not followed. A symlink is resolved by us (at most 40), its target walked the
 * same way; under a root (/proc/PID/root of a container) absolute targets stay inside it.
 *
 * The rules (docs/nslocate.1.md, NOTES):
 * - a directory or symlink on the way owned by a user other than root or the caller, or a directory
 *   writable by a group other than root's or the caller's, hands the pidfile to that user or group.
 *   Such a "controller" is accepted only when it owns the process the file names (the file-owner
 *   rule of systemd, CVE-2018-16888, applied to the whole path): checked in pidfile-trust.ts;
 * - a world-writable directory is unsafe unless it is sticky and owned by root (/tmp).
 * Group and world writability do not count in a sticky root-owned directory: there nobody can
 * replace another user's file.
 */
import fs = require('node:fs')
import path = require('node:path')

/** open(2)'s O_PATH (Linux, the same value on x86-64, arm64, arm, riscv, s390x, ppc64le). */
const O_PATH = 0o10000000
const DIR_FLAGS = O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW
const MAX_SYMLINKS = 40

export interface PathProblem {
  reason: 'unsafe_directory' | 'unsafe_symlink' | 'symlink'
  detail: string
}

/** A user or group other than root and the caller who could replace the pidfile or redirect the path. */
export interface Controller {
  kind: 'uid' | 'gid'
  id: number
  reason: 'unsafe_directory' | 'unsafe_symlink'
  /** "DIR is owned by uid 1001" */
  what: string
}

export interface ChasedPath {
  /** O_PATH descriptor of the directory that holds the file; the caller closes it */
  dirFd: number
  /** the file's name in that directory */
  base: string
  /** where the walk ended, for messages (under `root` when one was given) */
  resolved: string
  problems: PathProblem[]
  controllers: Controller[]
  /** the symlinks followed, "LINK -> TARGET", for the evidence */
  symlinks: string[]
  /** lstat of the file itself (after the symlinks on the way) */
  stat: fs.Stats
  /** dirFd belongs to a ChaseCache: the caller must not close it */
  shared?: boolean
}

export interface ChaseOptions {
  /** walk inside this directory (absolute symlinks resolve under it), e.g. /proc/PID/root */
  root?: string
  uid?: number
  gid?: number
  /**
   * A symlink as the last component is not followed: the walk ends on the link itself, as lstat(2)
   * does (`stat` is the link's). For finding a pidfile: a link that leads nowhere still exists.
   */
  stopAtLink?: boolean
  /** the directories already walked in this pass (list): their walk is reused, not repeated */
  cache?: ChaseCache
}

/**
 * The walks of the directories that hold pidfiles, kept for one pass over many files (`list`): the
 * directory's O_PATH descriptor and what the walk found of its path. A file in it is then looked
 * up relative to that descriptor, as the walk itself would do last, so what was checked is still
 * what is opened; only the walk up to it (a lstat and an open per component) is not repeated. A
 * walk that followed a symbolic link is not kept. release() closes the descriptors.
 */
export class ChaseCache {
  private readonly dirs = new Map<string, {fd: number; out: Omit<ChasedPath, 'dirFd' | 'base' | 'stat'>}>()

  get(key: string) {
    return this.dirs.get(key)
  }

  keep(key: string, dirFd: number, out: Omit<ChasedPath, 'dirFd' | 'base' | 'stat'>): void {
    if (this.dirs.has(key) || out.symlinks.length > 0 || this.dirs.size >= 64) return
    try {
      this.dirs.set(key, {fd: fs.openSync(fdPath(dirFd, '.'), DIR_FLAGS), out: structuredClone(out)})
    } catch {}
  }

  release(): void {
    for (const d of this.dirs.values()) fs.closeSync(d.fd)
    this.dirs.clear()
  }
}

/**
 * The walk met the file's own symbolic link (the last component of the path is a link) and could
 * not follow it to a file: its target does not exist (ENOENT, ENOTDIR), the links loop (ELOOP),
 * the target is a directory (EISDIR), or a directory on the way may not be entered (EACCES). The
 * name exists, so this is never "no such file" (never `no_pidfile`, never "stopped"): locate()
 * answers `unknown` (pidfile-look.ts, refusedResult). `code` is its own, so that no ENOENT check
 * takes it for a missing file; `failure` is the error code that stopped the walk.
 */
export class BrokenLink extends Error {
  readonly code = 'EBROKENLINK'
  constructor(readonly link: string, readonly target: string, readonly failure: string, cause: unknown) {
    super(`${link} is a symbolic link to ${target}, which cannot be followed to a file: ${(cause as Error).message}`, {cause})
  }

  /** The symlink refusal's own words (the same as for a link to an existing file). */
  get detail(): string {
    return `${this.link} is a symbolic link to ${this.target}; a pidfile must be a regular file`
  }
}

export function fdPath(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`
}

/** An errno-style error for locate() to classify (EACCES -> permission_denied), with a message that says where and what to do. */
function fsError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, {cause}), {code})
}

function octal(m: number): string {
  return (m & 0o7777).toString(8).padStart(4, '0')
}

/**
 * Walks `file` (absolute; under `opts.root` when given) to the directory that holds it. Throws an
 * errno-style error (code ENOENT, ENOTDIR, EACCES, EPERM, ELOOP) when a component cannot be
 * reached; the error's message names the component.
 */
export function chasePath(file: string, opts: ChaseOptions = {}): ChasedPath {
  const uid = opts.uid ?? process.getuid?.() ?? 0
  const gid = opts.gid ?? process.getgid?.() ?? 0
  // /proc/PID/root is a magic link: the kernel follows it into that process's root, which its text
  // ("/") would not. Walk inside it as locate() does for --root-pid.
  const rootArg = opts.root ?? /^\/proc\/[0-9]+\/root(?=\/|$)/.exec(file)?.[0]
  const root = rootArg ?? '/'
  const inner = rootArg ? file.slice(rootArg.length) || '/' : file
  if (!path.isAbsolute(inner)) throw fsError('EINVAL', `${file} is not an absolute path`)
  const key = opts.cache ? `${root}\0${path.dirname(path.normalize(inner))}\0${uid}\0${gid}\0${opts.stopAtLink ? 1 : 0}` : ''
  const base = path.basename(inner)
  const hit = opts.cache && base !== '' && base !== '.' && base !== '..' ? opts.cache.get(key) : undefined
  if (hit) {
    // The directory's walk is reused; its entry is looked up as the walk's last step would. A
    // symbolic link, or anything that fails, takes the whole walk (the same answer, or error, as alone).
    try {
      const st = fs.lstatSync(fdPath(hit.fd, base))
      if (!st.isSymbolicLink()) {
        const out = structuredClone(hit.out)
        return {...out, resolved: path.join(out.resolved, base), dirFd: hit.fd, base, stat: st, shared: true}
      }
    } catch {}
  }
  const rootFd = fs.openSync(root, O_PATH | fs.constants.O_DIRECTORY)
  const stack: Array<{fd: number; name: string; st: fs.Stats}> = []
  const out: Omit<ChasedPath, 'dirFd' | 'base' | 'stat'> = {resolved: '', problems: [], controllers: [], symlinks: []}
  // The file's own link (the path's last component is a symbolic link): a failure past it is a BrokenLink.
  let ownLink: {where: string; target: string} | null = null
  try {
    const rootSt = fs.fstatSync(rootFd)
    // Inside a container, its own root user (the owner of its / , which may be a mapped uid) is trusted as root is;
    // but not the overflow uid (65534), which is what every unmapped owner looks like inside a user namespace.
    const overflow = overflowIds()
    const rootUid = rootSt.uid === overflow.uid ? [] : [rootSt.uid]
    const rootGid = rootSt.gid === overflow.gid ? [] : [rootSt.gid]
    const trustedUids = new Set([0, uid, ...rootUid])
    const trustedGids = new Set([0, gid, ...rootGid])
    const rootUids = new Set([0, ...rootUid])
    const check = (st: fs.Stats, where: string) => checkDirectory(st, where, {uids: trustedUids, gids: trustedGids, rootUids}, out)
    const shown = (parts: string[]) => (rootArg ? path.join(rootArg, ...parts) : '/' + parts.join('/'))
    const names = () => stack.map((s) => s.name)
    const cur = () => (stack.length > 0 ? stack[stack.length - 1] : {fd: rootFd, name: '', st: rootSt})
    check(rootSt, shown([]))
    const todo = inner.split('/').filter((c) => c !== '' && c !== '.')
    if (todo.length === 0) throw fsError('EISDIR', `${file} is a directory, not a pidfile`)
    let links = 0
    while (todo.length > 0) {
      const name = todo.shift()!
      if (name === '..') {
        const up = stack.pop()
        if (up) fs.closeSync(up.fd)
        continue
      }
      const here = cur()
      const p = fdPath(here.fd, name)
      const where = shown([...names(), name])
      let st: fs.Stats
      try {
        st = fs.lstatSync(p)
      } catch (error) {
        throw reachError(error, where, shown(names()), here.st)
      }
      if (st.isSymbolicLink() && !(todo.length === 0 && opts.stopAtLink)) {
        if (++links > MAX_SYMLINKS) throw fsError('ELOOP', `${file}: more than ${MAX_SYMLINKS} symbolic links on the way (a loop?)`)
        const target = fs.readlinkSync(p)
        out.symlinks.push(`${where} -> ${target}`)
        if (todo.length === 0) {
          out.problems.push({reason: 'symlink', detail: `${where} is a symbolic link to ${target}; a pidfile must be a regular file`})
          ownLink ??= {where, target}
        }
        if (!trustedUids.has(st.uid)) {
          out.controllers.push({kind: 'uid', id: st.uid, reason: 'unsafe_symlink', what: `the symbolic link ${where} -> ${target} is owned by uid ${st.uid}`})
        }
        if (target.startsWith('/')) {
          for (const s of stack.splice(0)) fs.closeSync(s.fd)
        }
        todo.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'))
        if (todo.length === 0) throw fsError('EISDIR', `${where} points to ${target}, a directory, not a pidfile`)
        continue
      }
      if (todo.length === 0) {
        const dir = cur()
        stack.pop()
        for (const s of stack) fs.closeSync(s.fd)
        stack.length = 0
        const dirFd = dir.fd === rootFd ? fs.openSync(root, O_PATH | fs.constants.O_DIRECTORY) : dir.fd
        if (opts.cache && !st.isSymbolicLink()) opts.cache.keep(key, dirFd, {...out, resolved: path.dirname(where)})
        return {...out, resolved: where, dirFd, base: name, stat: st}
      }
      if (!st.isDirectory()) throw fsError('ENOTDIR', `${where} (on the way to ${file}) is not a directory`)
      let fd: number
      try {
        fd = fs.openSync(p, DIR_FLAGS)
      } catch (error) {
        throw reachError(error, where, shown(names()), here.st)
      }
      const fst = fs.fstatSync(fd)
      stack.push({fd, name, st: fst})
      if (fst.ino !== st.ino || fst.dev !== st.dev) throw fsError('EAGAIN', `${where} changed while being checked; run again`)
      check(fst, where)
    }
    throw fsError('EISDIR', `${file} is a directory, not a pidfile`)
  } catch (error) {
    for (const s of stack) fs.closeSync(s.fd)
    if (ownLink) throw new BrokenLink(ownLink.where, ownLink.target, (error as NodeJS.ErrnoException).code ?? 'EIO', error)
    throw error
  } finally {
    fs.closeSync(rootFd)
  }
}

/**
 * /proc/sys/kernel/overflowuid and overflowgid (65534 by default): what stat(2) reports, inside a
 * user namespace, for an owner not mapped into it. Anyone unmapped looks like this, so it is never
 * trusted as root.
 */
let overflowCache: {at: number; ids: {uid: number; gid: number}} | null = null

/** /proc/sys/kernel/overflow{uid,gid}, read again once a second (every pidfile and every holder asks). */
export function overflowIds(): {uid: number; gid: number} {
  const now = Number(process.hrtime.bigint() / 1000000n)
  if (overflowCache && now - overflowCache.at < 1000) return overflowCache.ids
  const read = (f: string) => {
    try {
      const n = Number(fs.readFileSync(`/proc/sys/kernel/${f}`, 'utf8').trim())
      return Number.isInteger(n) ? n : 65534
    } catch {
      return 65534
    }
  }
  overflowCache = {at: now, ids: {uid: read('overflowuid'), gid: read('overflowgid')}}
  return overflowCache.ids
}

interface Trusted {
  uids: Set<number>
  gids: Set<number>
  /** root, and the owner of the walk's root (a container's root user) */
  rootUids: Set<number>
}

function checkDirectory(st: fs.Stats, where: string, trusted: Trusted, out: Omit<ChasedPath, 'dirFd' | 'base' | 'stat'>): void {
  const sticky = (st.mode & 0o1000) !== 0
  const rootOwned = trusted.rootUids.has(st.uid)
  if (!trusted.uids.has(st.uid)) out.controllers.push({kind: 'uid', id: st.uid, reason: 'unsafe_directory', what: `the directory ${where} is owned by uid ${st.uid}`})
  if (sticky && rootOwned) return
  if (st.mode & 0o002) {
    out.problems.push({reason: 'unsafe_directory', detail: `${where} is world-writable${sticky ? ' and sticky, but not owned by root' : ' without the sticky bit'} (mode ${octal(st.mode)}): anyone could replace the pidfile`})
  } else if (st.mode & 0o020 && !trusted.gids.has(st.gid)) {
    out.controllers.push({kind: 'gid', id: st.gid, reason: 'unsafe_directory', what: `the directory ${where} is writable by group ${st.gid} (mode ${octal(st.mode)})`})
  }
}

/** Why a component could not be reached, naming the directory that refused (and its owner and mode). */
function reachError(error: unknown, where: string, parent: string, parentSt: fs.Stats): Error {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO'
  if (code === 'EACCES' || code === 'EPERM') {
    return fsError(code, `permission denied: cannot look into ${parent || '/'} (mode ${octal(parentSt.mode)}, owner uid ${parentSt.uid}, group ${parentSt.gid}) to reach ${where}; ` +
      'run as root or as a user allowed into that directory', error)
  }
  if (code === 'ENOENT') return fsError(code, `${where} does not exist`, error)
  return fsError(code, `cannot reach ${where}: ${(error as Error).message}`, error)
}

/**
 * stat of a path under `root` (/proc/PID/root): through the kernel, an absolute symlink there
 * (/var/run -> /run) would resolve against the caller's root and leave the container; walked, it
 * stays inside. Without a root, plain stat. `noFollow`: lstat, a symlink as the last component is
 * the answer (a dangling one too), as when looking for a pidfile.
 */
export function lstatIn(file: string, root?: string, noFollow = false): fs.Stats {
  if (!root) return noFollow ? fs.lstatSync(file) : fs.statSync(file)
  const c = chasePath(file, {root, stopAtLink: noFollow})
  fs.closeSync(c.dirFd)
  return c.stat
}

/** readdir of a directory under `root`, walked the same way (see lstatIn). */
export function readdirIn(dir: string, root?: string): fs.Dirent[] {
  if (!root) return fs.readdirSync(dir, {withFileTypes: true})
  let c: ChasedPath
  try {
    c = chasePath(dir, {root})
  } catch (error) {
    // A directory behind a link that leads nowhere is simply not there (ENOENT), as readdir(2) says.
    if (error instanceof BrokenLink) throw Object.assign(new Error(error.message, {cause: error}), {code: error.failure})
    throw error
  }
  try {
    if (!c.stat.isDirectory()) throw fsError('ENOTDIR', `${c.resolved} is not a directory`)
    const fd = fs.openSync(fdPath(c.dirFd, c.base), DIR_FLAGS)
    try {
      return fs.readdirSync(`/proc/self/fd/${fd}`, {withFileTypes: true})
    } finally {
      fs.closeSync(fd)
    }
  } finally {
    fs.closeSync(c.dirFd)
  }
}
