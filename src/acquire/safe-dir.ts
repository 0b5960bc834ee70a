/**
 * Open the pidfile's directory so that no other user can choose where it leads (docs/architecture.md,
 * "Writing a pidfile", step 1). The path is walked one component at a time from "/", each opened
 * relative to the descriptor of the directory before it, with O_PATH|O_NOFOLLOW, and judged as
 * opened (src/kernel/walk.ts, the walk every caller shares), so a symlink or a non-directory
 * planted there is never entered.
 *
 * The rules, those of systemd's CHASE_SAFE made strict for a writer:
 * - every directory entered must be owned by root or the caller, and must not be writable by
 *   anyone else (group or others), unless it is root's and sticky (/tmp): there only an entry's
 *   owner can replace it;
 * - a symbolic link is followed only when it is owned by root or the caller (the directory that
 *   holds it already passed the rule above, so no one else can have put it there), and its target
 *   is walked by the same rules; at most 40 links;
 * - a missing component is created, mode 0755, by the caller (who then owns it).
 * Anything else is UNSAFE_PIDFILE and nothing is created or opened beyond it.
 */
import fs = require('node:fs')

import {NslocateError, OptionNamer, isErrno} from '../errors'
import {overflowIds} from '../kernel/ids'
import {O_CLOEXEC, at, reopen} from '../kernel/reopen'
import {MAX_SYMLINKS, Owner, WalkError, walk} from '../kernel/walk'
import {walkDirs} from '../native/binding'

const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | O_CLOEXEC

/** NAME inside the directory open as `dirFd`, for fs calls that take a path (src/kernel/reopen.ts). */
export {at}

/** The caller's effective uid (0 where the platform has none). */
export function callerUid(): number {
  return process.geteuid?.() ?? 0
}

/**
 * Is `owner` the overflow uid (65534, /proc/sys/kernel/overflowuid): what a file's owner looks like
 * from inside a user namespace (unshare -r, a rootless container) that does not map that owner?
 */
export function isOverflowUid(owner: number): boolean {
  return owner === overflowIds().uid
}

/** What to do about an owner from outside the user namespace; `name` names the options (NslocateError's namer). */
export const overflowAdvice = (name: OptionNamer): string =>
  `run outside the user namespace, or use ${name('dir')} or ${name('pidfile')} under a directory you own`

/** Why a directory may not hold a pidfile of the caller's, or null. */
export function unsafeDirectory(st: Owner, uid: number): string | null {
  if (st.uid !== 0 && st.uid !== uid) {
    return isOverflowUid(st.uid) ? `it is owned by an unmapped user (overflow uid ${st.uid})` : `it is owned by uid ${st.uid}, not by root or by uid ${uid}`
  }
  const sticky = (st.mode & 0o1000) !== 0
  if (st.uid === 0 && sticky) return null
  if (st.mode & 0o002) return `it may be written by every user (mode ${(st.mode & 0o7777).toString(8)}${sticky ? ", not root's" : ''})`
  if (st.mode & 0o020 && st.gid !== 0) return `it may be written by group ${st.gid} (mode ${(st.mode & 0o7777).toString(8)})`
  return null
}

/**
 * Walk `dir` (absolute) and return a descriptor of it (O_RDONLY|O_DIRECTORY, close-on-exec);
 * `create`: make missing directories (0755). Throws UNSAFE_PIDFILE, PERMISSION or IO naming the
 * component at fault. The walk is src/kernel/walk.ts; the rules are the header's.
 */
export function openDirSafely(dir: string, opts: {create: boolean} = {create: true}): number {
  const uid = callerUid()
  let end
  try {
    end = walk(dir, {
      leaf: 'enter',
      kernel: walkDirs,
      create: opts.create ? makeDir : undefined,
      dir: (where, st, depth) => refuseDirectory(where, st, depth, uid),
      link: (where, st) => {
        if (st.uid !== 0 && st.uid !== uid) {
          const advice = 'use a directory owned by root or by you'
          // (a link another user made can lead anywhere)
          throw new NslocateError('UNSAFE_PIDFILE', `${where} is a symbolic link owned by uid ${st.uid}; refusing to follow it: ${advice}`, {
            details: {path: where},
            advice,
          })
        }
      },
    })
  } catch (error) {
    throw walkFailure(error, dir)
  }
  try {
    return reopen(end.dirFd, O_DIR)
  } catch (error) {
    throw ioError(end.dirWhere, error, 'open')
  } finally {
    fs.closeSync(end.dirFd)
  }
}

function refuseDirectory(where: string, st: Owner, depth: number, uid: number): void {
  const why = unsafeDirectory(st, uid)
  if (why === null) return
  // Another user could replace what is in it: what to use instead is the advice.
  const advice = (n: OptionNamer) => (isOverflowUid(st.uid) ? overflowAdvice(n) : 'use a directory owned by root or by you that no one else may write')
  const at = depth === 0 ? 'under /' : `in ${where}`
  throw new NslocateError('UNSAFE_PIDFILE', (n) => `refusing to write a pidfile ${at}: ${why}; ${advice(n)}`, {
    details: {path: depth === 0 ? '/' : where},
    advice,
  })
}

/** A missing directory on the way, made by the caller (who then owns it); one made meanwhile will do. */
function makeDir(dirFd: number, name: string, where: string): void {
  try {
    fs.mkdirSync(at(dirFd, name), {mode: 0o755})
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw ioError(where, error, 'create the directory')
  }
}

/** The walk's own failures in this module's words. */
function walkFailure(error: unknown, dir: string): unknown {
  if (!(error instanceof WalkError)) return error
  if (error.kind === 'notdir')
    return new NslocateError('IO', (n) => `cannot use ${error.where} as a directory: it is not one (ENOTDIR); choose another ${n('dir')}`, {
      details: {path: error.where},
      advice: (n) => `choose another ${n('dir')}`,
    })
  if (error.kind === 'loop') return new NslocateError('UNSAFE_PIDFILE', `${dir}: more than ${MAX_SYMLINKS} symbolic links on the way`, {details: {path: dir}})
  return ioError(error.where, error, 'look up')
}

/** A system error on the way, as PERMISSION or IO with the path and what to do. */
export function ioError(file: string, error: unknown, doing: string): NslocateError {
  const e = error as NodeJS.ErrnoException
  const why = `${e.code ?? 'error'}: ${describe(e)}`
  if (isErrno(error, 'EACCES', 'EPERM', 'EROFS')) {
    return new NslocateError('PERMISSION', (n) => `cannot ${doing} ${file} (${why}); choose a ${n('dir')} or ${n('pidfile')} you may write`, {
      cause: error,
      details: {path: file, errno: e.code},
      advice: (n) => `choose a ${n('dir')} or ${n('pidfile')} you may write`,
    })
  }
  return new NslocateError('IO', `cannot ${doing} ${file} (${why})`, {cause: error, details: {path: file, errno: e.code}})
}

/** The strerror(3) text of a Node fs error, without Node's "CODE: ..., syscall 'path'" wrapping. */
function describe(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: ([^,]+),/.exec(e.message ?? '')
  return m ? m[1] : e.message
}
