/**
 * Open the pidfile's directory so that no other user can choose where it leads (docs/architecture.md,
 * "Writing a pidfile", step 1). The path is walked one component at a time from "/", each opened
 * relative to the descriptor of the directory before it. Node has no openat(2), so "relative to"
 * is /proc/self/fd/N/NAME: the kernel follows the magic link /proc/self/fd/N to the very directory
 * held open (not to a path that could have been renamed since), then resolves NAME in it, with
 * O_NOFOLLOW|O_DIRECTORY so a symlink or a non-directory planted there is never entered.
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

import {NslocateError, isErrno} from '../errors'

const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW | (fs.constants as Record<string, number>).O_CLOEXEC
const MAX_LINKS = 40

/** NAME inside the directory open as `dirFd`, for fs calls that take a path (see the header). */
export function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`
}

export function callerUid(): number {
  return process.geteuid?.() ?? 0
}

/**
 * For the overflow uid (65534, /proc/sys/kernel/overflowuid): what a file's owner looks like from
 * inside a user namespace (unshare -r, a rootless container) that does not map that owner.
 */
export function overflowNote(owner: number): string {
  let overflow = 65534
  try {
    overflow = Number(fs.readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim()) || overflow
  } catch {}
  if (owner !== overflow) return ''
  return ` (${overflow} is the overflow uid: the real owner, root or another user of the host, is not mapped into this user namespace; run outside it, or pass --dir or --pidfile under a directory you own, e.g. $XDG_RUNTIME_DIR or one you created)`
}

/** Why a directory may not hold a pidfile of the caller's, or null. */
export function unsafeDirectory(st: fs.Stats, uid = callerUid()): string | null {
  if (st.uid !== 0 && st.uid !== uid) return `it is owned by uid ${st.uid}, not by root or by uid ${uid}${overflowNote(st.uid)}`
  const rootSticky = st.uid === 0 && (st.mode & 0o1000) !== 0
  if (rootSticky) return null
  if (st.mode & 0o002) return `it may be written by every user (mode ${(st.mode & 0o7777).toString(8)}) and is not root's sticky directory`
  if (st.mode & 0o020 && st.gid !== 0) return `it may be written by group ${st.gid} (mode ${(st.mode & 0o7777).toString(8)})`
  return null
}

/**
 * Walk `dir` (absolute) and return a descriptor of it (O_RDONLY|O_DIRECTORY, close-on-exec);
 * `create`: make missing directories (0755). Throws UNSAFE_PIDFILE, PERMISSION or IO naming the
 * component at fault.
 */
export function openDirSafely(dir: string, opts: {create: boolean} = {create: true}): number {
  const uid = callerUid()
  const queue = dir.split('/').filter((c) => c !== '' && c !== '.')
  let fd = openRoot(uid)
  let walked = ''
  let links = 0
  try {
    while (queue.length > 0) {
      const name = queue.shift()!
      const here = `${walked}/${name}`
      let st: fs.Stats
      try {
        st = fs.lstatSync(at(fd, name))
      } catch (error) {
        if (!isErrno(error, 'ENOENT') || !opts.create) throw ioError(here, error, 'look up')
        try {
          fs.mkdirSync(at(fd, name), {mode: 0o755})
        } catch (mkdirError) {
          if (!isErrno(mkdirError, 'EEXIST')) throw ioError(here, mkdirError, 'create the directory')
        }
        queue.unshift(name)
        continue
      }
      if (st.isSymbolicLink()) {
        if (st.uid !== 0 && st.uid !== uid) {
          throw new NslocateError('UNSAFE_PIDFILE', `${here} is a symbolic link owned by uid ${st.uid}; refusing to follow it (a link another user made can lead anywhere): use a directory owned by root or by you`, {details: {path: here}})
        }
        if (++links > MAX_LINKS) throw new NslocateError('UNSAFE_PIDFILE', `${dir}: more than ${MAX_LINKS} symbolic links on the way`, {details: {path: dir}})
        const target = fs.readlinkSync(at(fd, name))
        queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'))
        if (target.startsWith('/')) {
          fs.closeSync(fd)
          fd = -1
          fd = openRoot(uid)
          walked = ''
        }
        continue
      }
      if (!st.isDirectory()) throw new NslocateError('IO', `cannot use ${here} as a directory: it is not one (ENOTDIR); choose another --dir`, {details: {path: here}})
      let next: number
      try {
        next = fs.openSync(at(fd, name), O_DIR)
      } catch (error) {
        // ELOOP/ENOTDIR: it was replaced between the lstat and the open; look again.
        if (isErrno(error, 'ELOOP', 'ENOTDIR', 'ENOENT')) {
          queue.unshift(name)
          if (++links > MAX_LINKS) throw ioError(here, error, 'open')
          continue
        }
        throw ioError(here, error, 'open')
      }
      const why = unsafeDirectory(fs.fstatSync(next), uid)
      fs.closeSync(fd)
      fd = next
      if (why) throw new NslocateError('UNSAFE_PIDFILE', `refusing to write a pidfile in ${here}: ${why}; another user could replace what is in it. Use a directory owned by root or by you that no one else may write`, {details: {path: here}})
      walked = name === '..' ? walked.replace(/\/[^/]*$/, '') : here
    }
    const result = fd
    fd = -1
    return result
  } finally {
    if (fd >= 0) fs.closeSync(fd)
  }
}

function openRoot(uid: number): number {
  const fd = fs.openSync('/', O_DIR)
  const why = unsafeDirectory(fs.fstatSync(fd), uid)
  if (why) {
    fs.closeSync(fd)
    throw new NslocateError('UNSAFE_PIDFILE', `refusing to write a pidfile under /: ${why}`, {details: {path: '/'}})
  }
  return fd
}

/** A system error on the way, as PERMISSION or IO with the path and what to do. */
export function ioError(file: string, error: unknown, doing: string): NslocateError {
  const e = error as NodeJS.ErrnoException
  const why = `${e.code ?? 'error'}: ${describe(e)}`
  if (isErrno(error, 'EACCES', 'EPERM', 'EROFS')) {
    return new NslocateError('PERMISSION', `cannot ${doing} ${file} (${why}); choose a --dir or --pidfile you may write`, {cause: error, details: {path: file, errno: e.code}})
  }
  return new NslocateError('IO', `cannot ${doing} ${file} (${why})`, {cause: error, details: {path: file, errno: e.code}})
}

/** The strerror(3) text of a Node fs error, without Node's "CODE: ..., syscall 'path'" wrapping. */
function describe(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: ([^,]+),/.exec(e.message ?? '')
  return m ? m[1] : e.message
}
