/**
 * Walking to a pidfile one component at a time, the way systemd's chase() with CHASE_SAFE does,
 * and noting who besides root and the caller could have changed where the walk leads.
 *
 * The walk is src/kernel/walk.ts (the one every caller uses, its steps made by the addon): each
 * directory is opened with O_PATH|O_NOFOLLOW relative to the one before and fstat'ed, so what is
 * checked is what is opened: a directory swapped for a symlink after its check is not followed. A
 * symlink is resolved by the walk (at most 40), its target walked the same way; under a root
 * (/proc/PID/root of a container) absolute targets stay inside it. This module holds the rules.
 *
 * The rules (docs/nslocate.1.md, NOTES):
 * - a directory or symlink on the way owned by a user other than root or the caller, or a directory
 *   writable by a group other than root's or the caller's, hands the pidfile to that user or group.
 *   Such a "controller" is accepted only when it owns the process the file names (the file-owner
 *   rule of systemd, CVE-2018-16888, applied to the whole path): checked in pidfile-trust.ts;
 * - a world-writable directory is unsafe unless it is sticky and owned by root (/tmp).
 * Group and world writability do not count in a sticky root-owned directory: there nobody can
 * replace another user's file.
 *
 * (Over 250 lines: the rules, their words, the walk's errors in them and the types the callers
 * read belong to one rule. lstatIn and readdirIn, the walks under a root that judge nothing, could
 * move next to their callers, list-pidfiles.ts and search-path.ts.)
 */
import fs = require('node:fs')
import path = require('node:path')

import {overflowIds} from '../kernel/ids'
import {O_CLOEXEC, O_PATH, at, readdirOf} from '../kernel/reopen'
import {MAX_SYMLINKS, Owner, WalkEnd, WalkError, walk} from '../kernel/walk'
import {WalkCache} from '../kernel/walk-cache'
import {lookAt, walkDirs} from '../native/binding'

const DIR_FLAGS = O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW | O_CLOEXEC

/** Why a path to a pidfile is not safe: `reason`, and `detail` for people. */
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

/** Where a pidfile path led, what was found unsafe on the way, and the file's lstat. */
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
  /** (ChaseOptions.look) the file opened O_PATH|O_NOFOLLOW, `stat` its fstat; the caller closes it */
  lookFd?: number
}

/** How to chase a path: under which root, as which uid/gid, and whether to follow a last symlink. */
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
  /** keep the file's own O_PATH descriptor (lookFd), for openLooked() to open exactly what was looked at */
  look?: boolean
}

/**
 * The walks of the directories that hold pidfiles, kept for one pass over many files (`list`): see
 * src/kernel/walk-cache.ts. A walk that followed a symbolic link is not kept.
 */
export class ChaseCache extends WalkCache<Found> {}

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
  constructor(
    readonly link: string,
    readonly target: string,
    readonly failure: string,
    cause: unknown,
  ) {
    super(`${link} is a symbolic link to ${target}, which cannot be followed to a file: ${(cause as Error).message}`, {cause})
  }

  /** The symlink refusal's own words (the same as for a link to an existing file). */
  get detail(): string {
    return `${this.link} is a symbolic link to ${this.target}; a pidfile must be a regular file`
  }
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
  const inner = rootArg ? file.slice(rootArg.length) || '/' : file
  if (!path.isAbsolute(inner)) throw fsError('EINVAL', `${file} is not an absolute path`)
  const key = opts.cache ? `${rootArg ?? '/'}\0${path.dirname(path.normalize(inner))}\0${uid}\0${gid}\0${opts.stopAtLink ? 1 : 0}` : ''
  const hit = opts.cache ? fromCache(opts.cache, key, path.basename(inner)) : null
  if (hit) return hit
  const out: Omit<ChasedPath, 'dirFd' | 'base' | 'stat'> = {resolved: '', problems: [], controllers: [], symlinks: []}
  // The file's own link (the path's last component is a symbolic link): a failure past it is a BrokenLink.
  let ownLink: {where: string; target: string} | null = null
  const broken = (error: unknown) => (ownLink ? new BrokenLink(ownLink.where, ownLink.target, (error as NodeJS.ErrnoException).code ?? 'EIO', error) : error)
  const rules = new Rules(uid, gid, out)
  let end: WalkEnd
  try {
    end = walk(inner, {
      root: rootArg,
      leaf: 'stat',
      stopAtLink: opts.stopAtLink,
      kernel: walkDirs,
      look: opts.look ? lookAt : undefined,
      dir: (where, ids, depth) => rules.dir(where, ids, depth),
      link: (where, ids, target, last) => {
        rules.link(where, ids, target, last)
        if (last) ownLink ??= {where, target}
      },
    })
  } catch (error) {
    throw broken(chaseFailure(error, file))
  }
  if (!end.stat) {
    fs.closeSync(end.dirFd)
    throw broken(
      fsError(
        'EISDIR',
        end.lastLink ? `${end.lastLink.where} points to ${end.lastLink.target}, a directory, not a pidfile` : `${file} is a directory, not a pidfile`,
      ),
    )
  }
  if (opts.cache && !end.stat.isSymbolicLink() && out.symlinks.length === 0) opts.cache.keep(key, end.dirFd, {...out, resolved: end.dirWhere})
  return {...out, resolved: end.where, dirFd: end.dirFd, base: end.base, stat: end.stat, lookFd: end.leafFd}
}

/** A file in a directory whose walk `cache` holds, looked up as the walk's last step would; null: walk it all. */
function fromCache(cache: ChaseCache, key: string, base: string): ChasedPath | null {
  const hit = cache.lookup(key, base)
  return hit && {...hit.out, resolved: path.join(hit.out.resolved, base), dirFd: hit.fd, base, stat: hit.stat, shared: true}
}

/** The walk's own failures in this module's words: what stopped it, where, and what to do. */
function chaseFailure(error: unknown, file: string): unknown {
  if (!(error instanceof WalkError)) return error
  if (error.kind === 'notdir') return fsError('ENOTDIR', `${error.where} (on the way to ${file}) is not a directory`)
  if (error.kind === 'loop') return fsError('ELOOP', `${file}: more than ${MAX_SYMLINKS} symbolic links on the way (a loop?)`)
  if (error.kind === 'lookup') return reachError(error, error.where, error.parent, error.parentIds!)
  return error
}

type Found = Omit<ChasedPath, 'dirFd' | 'base' | 'stat'>

/** The rules of the header, applied to each entry of the walk in path order, into `out`. */
class Rules {
  private uids = new Set<number>()
  private gids = new Set<number>()
  /** root, and the owner of the walk's root (a container's root user) */
  private rootUids = new Set<number>([0])

  constructor(
    private readonly uid: number,
    private readonly gid: number,
    private readonly out: Found,
  ) {}

  dir(where: string, st: Owner, depth: number): void {
    if (depth === 0) this.trustRoot(st)
    const sticky = (st.mode & 0o1000) !== 0
    if (!this.uids.has(st.uid))
      this.out.controllers.push({kind: 'uid', id: st.uid, reason: 'unsafe_directory', what: `the directory ${where} is owned by uid ${st.uid}`})
    if (sticky && this.rootUids.has(st.uid)) return
    if (st.mode & 0o002) {
      this.out.problems.push({
        reason: 'unsafe_directory',
        detail: `${where} is world-writable${sticky ? ' and sticky, but not owned by root' : ' without the sticky bit'} (mode ${octal(st.mode)}): anyone could replace the pidfile`,
      })
    } else if (st.mode & 0o020 && !this.gids.has(st.gid)) {
      this.out.controllers.push({
        kind: 'gid',
        id: st.gid,
        reason: 'unsafe_directory',
        what: `the directory ${where} is writable by group ${st.gid} (mode ${octal(st.mode)})`,
      })
    }
  }

  link(where: string, st: Owner, target: string, last: boolean): void {
    this.out.symlinks.push(`${where} -> ${target}`)
    if (last) this.out.problems.push({reason: 'symlink', detail: `${where} is a symbolic link to ${target}; a pidfile must be a regular file`})
    if (!this.uids.has(st.uid)) {
      this.out.controllers.push({kind: 'uid', id: st.uid, reason: 'unsafe_symlink', what: `the symbolic link ${where} -> ${target} is owned by uid ${st.uid}`})
    }
  }

  /**
   * Inside a container, its own root user (the owner of its /, which may be a mapped uid) is trusted
   * as root is; but not the overflow uid (65534), which is what every unmapped owner looks like
   * inside a user namespace.
   */
  private trustRoot(st: Owner): void {
    const overflow = overflowIds()
    const rootUid = st.uid === overflow.uid ? [] : [st.uid]
    const rootGid = st.gid === overflow.gid ? [] : [st.gid]
    this.uids = new Set([0, this.uid, ...rootUid])
    this.gids = new Set([0, this.gid, ...rootGid])
    this.rootUids = new Set([0, ...rootUid])
  }
}

/** Why a component could not be reached, naming the directory that refused (and its owner and mode). */
function reachError(error: unknown, where: string, parent: string, parentSt: Owner): Error {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO'
  if (code === 'EACCES' || code === 'EPERM') {
    return fsError(
      code,
      `permission denied: cannot look into ${parent || '/'} (mode ${octal(parentSt.mode)}, owner uid ${parentSt.uid}, group ${parentSt.gid}) to reach ${where}; ` +
        'run as root or as a user allowed into that directory',
      error,
    )
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
    const fd = fs.openSync(at(c.dirFd, c.base), DIR_FLAGS)
    try {
      return readdirOf(fd)
    } finally {
      fs.closeSync(fd)
    }
  } finally {
    fs.closeSync(c.dirFd)
  }
}
