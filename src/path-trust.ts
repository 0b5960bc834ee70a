/**
 * May a file named by the environment (a Docker socket, NSLOCATE_ADDON) be trusted by the caller?
 * The rule is systemd's CHASE_SAFE, applied to every step of the path's resolution: each directory
 * entered (and each directory a symbolic link is read from) must be owned by root or the caller and
 * must not be writable by group or others, unless it is sticky and owned by root (/tmp); the file
 * itself must be owned by root or the caller and, unless `writableLeaf`, not be writable by group or
 * others. Then no other user can have put the file there or swapped it since.
 *
 * The walk is src/kernel/walk.ts (the one every caller uses); this module holds the rule and its
 * words. Callers turn an Untrusted answer into their own error. System errors on the way (ENOENT,
 * EACCES, ENOTDIR, ELOOP) are thrown with their code: callers map them.
 */
import fs = require('node:fs')
import path = require('node:path')

import {O_CLOEXEC, O_PATH, at} from './kernel/reopen'
import {Owner, WalkDirs, WalkError, walk} from './kernel/walk'

/** openat(dirFd, name, O_PATH|O_NOFOLLOW) through /proc/self/fd: the inode a pinned walk ends on. */
const lookAt = (dirFd: number, name: string): number => fs.openSync(at(dirFd, name), O_PATH | fs.constants.O_NOFOLLOW | O_CLOEXEC)

/** An entry of a path that another user could change: who owns it, its mode, and why that fails. */
export interface Untrusted {
  /** the entry that fails the rule (a directory on the way, or the file) */
  path: string
  uid: number
  /** its owner's login name, when /etc/passwd names it */
  owner: string
  mode: number
  /** e.g. "owned by uid 1001 (mallory), not by root or uid 0" or "writable by group and others (mode 0777)" */
  why: string
}

/** The login name of `uid` in /etc/passwd, or '' when none names it. */
export function userName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':')
      if (f.length > 3 && Number(f[2]) === uid && f[2] !== '') return f[0]
    }
  } catch {}
  return ''
}

function judge(p: string, st: Owner, caller: number, isDir: boolean, writableOk: boolean): Untrusted | null {
  const mode = st.mode & 0o7777
  const owner = () => userName(st.uid)
  const who = () => `uid ${st.uid}${owner() ? ` (${owner()})` : ''}`
  if (st.uid !== 0 && st.uid !== caller) {
    return {path: p, uid: st.uid, owner: owner(), mode, why: `owned by ${who()}, not by root or uid ${caller}`}
  }
  if (writableOk || (mode & 0o022) === 0) return null
  if (isDir && (mode & 0o1000) !== 0 && st.uid === 0) return null // sticky and root's: /tmp
  const by = (mode & 0o020 ? ['group'] : []).concat(mode & 0o002 ? ['others'] : []).join(' and ')
  return {
    path: p,
    uid: st.uid,
    owner: owner(),
    mode,
    // (a directory: and not root's and sticky, as /tmp is)
    why: `writable by ${by} (mode ${mode.toString(8).padStart(4, '0')})`,
  }
}

/** The walk's own failures in this module's words (the others keep theirs: ENOENT, EACCES, ...). */
function walkFailure(error: unknown, file: string): unknown {
  if (!(error instanceof WalkError)) return error
  if (error.kind === 'notdir') return Object.assign(new Error(`${error.where} is not a directory (resolving ${file})`), {code: 'ENOTDIR', path: error.where})
  if (error.kind === 'loop') return Object.assign(new Error(`too many levels of symbolic links resolving ${file}`), {code: 'ELOOP', path: file})
  return error
}

/**
 * null when `file` passes the rule for `caller` (default: the effective uid), else the first entry
 * that fails it. `kernel`: the walk's steps (default: through /proc/self/fd, which needs no addon).
 */
export function untrustedOnPath(file: string, opts: {caller?: number; writableLeaf?: boolean; kernel?: WalkDirs} = {}): Untrusted | null {
  return judgePath(file, opts, false).bad
}

/**
 * untrustedOnPath(), and the inode that was judged, held open: `fd` is an O_PATH descriptor of the
 * file the rule passed (the caller closes it; null when it failed). Whoever then uses the file
 * through /proc/self/fd/FD reaches that very inode, whatever is done to the path meanwhile (a
 * socket is connected to as `/proc/self/fd/FD`): no check-then-use race.
 */
export function pinnedOnPath(
  file: string,
  opts: {caller?: number; writableLeaf?: boolean; kernel?: WalkDirs} = {},
): {bad: Untrusted | null; fd: number | null} {
  return judgePath(file, opts, true)
}

function judgePath(file: string, opts: {caller?: number; writableLeaf?: boolean; kernel?: WalkDirs}, pin: boolean): {bad: Untrusted | null; fd: number | null} {
  const caller = opts.caller ?? process.geteuid?.() ?? 0
  let bad: Untrusted | null = null
  const refuse = (where: string, ids: Owner) => {
    bad = judge(where, ids, caller, true, false)
    if (bad) throw bad
  }
  let end
  try {
    end = walk(path.resolve(file), {leaf: 'stat', dir: refuse, kernel: opts.kernel, look: pin ? lookAt : undefined})
  } catch (error) {
    if (bad && error === bad) return {bad, fd: null}
    throw walkFailure(error, file)
  }
  try {
    const verdict = end.stat ? judge(end.where, end.stat, caller, end.stat.isDirectory(), Boolean(opts.writableLeaf)) : null
    const fd = end.leafFd ?? null
    if (verdict && fd !== null) fs.closeSync(fd)
    return {bad: verdict, fd: verdict ? null : fd}
  } finally {
    fs.closeSync(end.dirFd)
  }
}
