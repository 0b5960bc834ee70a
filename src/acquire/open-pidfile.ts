/**
 * Open (or create) the pidfile itself inside a directory opened by openDirSafely(), and refuse a
 * file another user could have chosen for us (docs/architecture.md, "Writing a pidfile", step 1):
 * - a symbolic link (O_NOFOLLOW) or anything but a regular file, looked at before it is opened
 *   (opening a FIFO or a device can have effects of its own);
 * - a file with more than one link: a hard link planted at the path would make us rewrite, and
 *   later leave behind, whatever file it is another name of;
 * - a file owned by anyone but the caller or root: its owner could rewrite our live pidfile;
 * - a file others may write (group or world): made 0644 when it is ours, refused otherwise.
 * - a non-empty file that holds no pid (refuseNotPidfile): a typo in --pidfile must not destroy
 *   a configuration file (issue 17, hole 6).
 * A new file is created with O_EXCL (nothing that appeared in between is adopted unchecked), mode
 * 0400 until acquire() holds its exclusive lock.
 */
import fs = require('node:fs')

import {NslocateError, OptionNamer, isErrno} from '../errors'
import {reopen} from '../kernel/reopen'
import {FIRST_LINE_MAX, parsePidfileContent} from '../locate/pidfile'
import {at, callerUid, ioError, isOverflowUid, overflowAdvice} from './safe-dir'

const C = fs.constants as Record<string, number>
const OPEN = fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | C.O_CLOEXEC
const CREATE = OPEN | fs.constants.O_CREAT | fs.constants.O_EXCL

/**
 * A new file is created mode 0400 (CREATE_MODE): no other user can open it, so no one who merely
 * may read the directory can flock it before this starter has; acquire() makes it 0644 once it
 * holds the exclusive lock (publish()).
 */
export const CREATE_MODE = 0o400
/** The mode a held pidfile gets once its creator has the exclusive lock (rw-r--r--). */
export const FINAL_MODE = 0o644

/** Returns a read-write, close-on-exec descriptor of `name` in `dirFd` and whether this call created it; `file` names it in messages. */
export function openPidfileIn(dirFd: number, name: string, file: string): {fd: number; created: boolean} {
  for (let attempt = 0; attempt < 20; attempt++) {
    let before: fs.Stats | null = null
    try {
      before = fs.lstatSync(at(dirFd, name))
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw ioError(file, error, 'look up')
    }
    if (before) refuseKind(before, file)
    let fd: number
    try {
      fd = fs.openSync(at(dirFd, name), before ? OPEN : CREATE, CREATE_MODE)
    } catch (error) {
      // Created or removed between the lstat and the open: look again.
      if (isErrno(error, 'EEXIST', 'ENOENT')) continue
      if (isErrno(error, 'ELOOP')) throw symlink(file)
      throw ioError(file, error, before ? 'open' : 'create')
    }
    try {
      const st = fs.fstatSync(fd)
      if (before && (st.ino !== before.ino || st.dev !== before.dev)) {
        fs.closeSync(fd)
        continue
      }
      refuseKind(st, file)
      refuseOwner(st, file)
      // Before its mode may be changed: a file that is not a pidfile is left exactly as it is.
      if (before) refuseNotPidfile(fd, file)
      refuseWritable(fd, st, file)
      return {fd, created: !before}
    } catch (error) {
      fs.closeSync(fd)
      throw error
    }
  }
  const advice = 'find what creates and deletes it in a loop'
  throw new NslocateError('IO', `${file} kept appearing and disappearing while it was opened; ${advice}`, {details: {pidfile: file}, advice})
}

function symlink(file: string): NslocateError {
  return new NslocateError('UNSAFE_PIDFILE', `${file} is a symbolic link; refusing to write a pidfile through it (remove it)`, {
    details: {pidfile: file},
    advice: 'remove it',
  })
}

function refuseKind(st: fs.Stats, file: string): void {
  if (st.isSymbolicLink()) throw symlink(file)
  if (!st.isFile())
    throw new NslocateError('UNSAFE_PIDFILE', `${file} is not a regular file; refusing to use it as a pidfile (remove it)`, {
      details: {pidfile: file},
      advice: 'remove it',
    })
  if (st.nlink > 1) {
    const advice = `remove ${file} if it is a leftover`
    throw new NslocateError(
      'UNSAFE_PIDFILE',
      `${file} has ${st.nlink} links: it is another file's name too, which the pid would overwrite; refusing it (${advice})`,
      {
        details: {pidfile: file, nlink: st.nlink},
        advice,
      },
    )
  }
}

function refuseOwner(st: fs.Stats, file: string): void {
  const uid = callerUid()
  if (st.uid !== uid && st.uid !== 0) {
    // Its owner could rewrite the pidfile while the service runs.
    if (isOverflowUid(st.uid)) {
      throw new NslocateError('UNSAFE_PIDFILE', (n) => `${file} is owned by an unmapped user (overflow uid ${st.uid}); refusing it: ${overflowAdvice(n)}`, {
        details: {pidfile: file, uid: st.uid},
        advice: overflowAdvice,
      })
    }
    throw new NslocateError(
      'UNSAFE_PIDFILE',
      `${file} is owned by uid ${st.uid}, not by root or by uid ${uid}: its owner could rewrite it; refusing it (remove it)`,
      {
        details: {pidfile: file, uid: st.uid},
        advice: 'remove it',
      },
    )
  }
}

function refuseWritable(fd: number, st: fs.Stats, file: string): void {
  const uid = callerUid()
  if ((st.mode & 0o022) === 0) return
  if (st.uid === uid) {
    try {
      fs.fchmodSync(fd, 0o644)
    } catch (error) {
      const advice = (n: OptionNamer) => `remove it, or choose another ${n('pidfile')}`
      throw new NslocateError(
        'UNSAFE_PIDFILE',
        (n) =>
          `${file} may be written by others (mode ${(st.mode & 0o7777).toString(8)}) and its mode cannot be changed (${(error as NodeJS.ErrnoException).code}); refusing it (${advice(n)})`,
        {details: {pidfile: file}, advice},
      )
    }
    return
  }
  throw new NslocateError(
    'UNSAFE_PIDFILE',
    `${file} may be written by others (mode ${(st.mode & 0o7777).toString(8)}) and is not yours to fix; refusing it (remove it)`,
    {details: {pidfile: file}, advice: 'remove it'},
  )
}

/**
 * run never truncates, rewrites, re-modes or deletes a file that is not a pidfile: an existing file
 * must be empty (blanks only) or hold a pid on its first line and nothing else but blank lines
 * (parsePidfileContent: what run, libbsd and most daemons write). Anything else (a configuration
 * file named by a typo in --pidfile, a pid followed by more lines, a number that is no pid) is
 * UNSAFE_PIDFILE, naming the file and its size. Read through `fd` (the descriptor that would be
 * written), from offset 0.
 */
export function refuseNotPidfile(fd: number, file: string): void {
  const st = fs.fstatSync(fd)
  if (st.size === 0) return
  const buf = Buffer.alloc(FIRST_LINE_MAX + 1)
  let n = 0
  try {
    while (n < buf.length) {
      const got = fs.readSync(fd, buf, n, buf.length - n, n)
      if (got === 0) break
      n += got
    }
  } catch (error) {
    throw ioError(file, error, 'read')
  }
  const more = n > FIRST_LINE_MAX
  const content = parsePidfileContent(buf.subarray(0, Math.min(n, FIRST_LINE_MAX)).toString('latin1'), undefined, more)
  if (content.problem === 'empty_pidfile' || (content.problem === null && content.note === null)) return
  const size = Math.max(st.size, n)
  const advice = (n: OptionNamer) => `remove it or choose another ${n('pidfile')}`
  throw new NslocateError('UNSAFE_PIDFILE', (n) => `refusing to overwrite ${file}: it holds ${size} bytes that are not a pid; ${advice(n)}`, {
    details: {pidfile: file, size},
    advice,
  })
}

/**
 * A new, read-only open file description of the inode open as `fd` (through the magic link
 * /proc/self/fd/N, which names that very inode, not a path). It carries the flock lock and is the
 * only pidfile descriptor COMMAND inherits: writes and ftruncate through it fail with EBADF, and a
 * privilege-dropped service cannot reopen it for writing (the magic link checks the file's mode).
 */
export function reopenReadOnly(fd: number, file: string): number {
  let ro: number
  try {
    ro = reopen(fd, fs.constants.O_RDONLY | C.O_CLOEXEC)
  } catch (error) {
    throw ioError(file, error, 'reopen read-only')
  }
  const a = fs.fstatSync(fd)
  const b = fs.fstatSync(ro)
  if (a.ino !== b.ino || a.dev !== b.dev) {
    fs.closeSync(ro)
    throw new NslocateError('IO', `${file}: reopening it read-only gave another file; refusing it`, {details: {pidfile: file}})
  }
  return ro
}
