/**
 * The held pidfile: steps 6 (write) and 7 (release) of acquire() (docs/architecture.md, "Writing a
 * pidfile"). The directory stays open for as long as the pidfile is held, so release() looks at and
 * unlinks the name in the very directory that was opened, and only if it still names the inode
 * that is locked: a file someone else put at the path is never deleted.
 */
import fs = require('node:fs')

import {NslocateError} from '../errors'
import {unregisterHeld} from '../locate/pidfile'
import {at} from './safe-dir'

/**
 * A pidfile acquire() wrote and holds locked: the lock lives as long as this process keeps the
 * handle. write(pid) writes the pid (with pid: null, once the child is known); release() unlocks
 * and removes the file.
 */
export interface PidfileHandle {
  readonly path: string
  /** the descriptor written through (read-write, close-on-exec; carries the POSIX lock) */
  readonly fd: number
  /**
   * the flock'd descriptor (READ-ONLY, close-on-exec, same inode): the only one to hand to a
   * child, so that the lock outlives this process without giving the child a way to write the file
   */
  readonly lockFd: number
  /** the pid written in the file (null until written) */
  pid: number | null
  /** truncate, write the pid (decimal, no newline); on failure the file is left empty and IO is thrown. No fsync: see docs/architecture.md step 6 */
  write(pid: number): void
  /** unlink (if the name still names our inode) and drop the locks; idempotent */
  release(): void
}

/** The handle of the pidfile `name` in `dirFd` (`file` for messages), open as `fd` (POSIX lock) and `lockFd` (flock). */
export function makeHandle(file: string, dirFd: number, name: string, fd: number, lockFd: number): PidfileHandle {
  let released = false
  const handle: PidfileHandle = {
    path: file,
    fd,
    lockFd,
    pid: null,
    write(pid: number) {
      if (released) throw new NslocateError('IO', `${file} was released`)
      if (!Number.isInteger(pid) || pid <= 0) throw new NslocateError('USAGE', `refusing to write pid ${pid} into ${file}`)
      const text = String(pid)
      try {
        fs.ftruncateSync(fd, 0)
        // No trailing newline: libbsd's pidfile(3) reader rejects "PID\n"; kill $(cat) and pgrep -F accept both.
        const n = fs.writeSync(fd, text, 0)
        if (n !== text.length) throw Object.assign(new Error(`short write (${n} of ${text.length} bytes)`), {code: 'EIO'})
      } catch (error) {
        // Never leave a partial number that could name another process.
        try {
          fs.ftruncateSync(fd, 0)
        } catch {}
        const e = error as NodeJS.ErrnoException
        const why = e.code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : `${e.code ?? 'error'}: ${e.message}`
        throw new NslocateError('IO', (n) => `cannot write the pid into ${file}: ${why}; free space there or choose another ${n('dir')}`, {
          cause: error,
          details: {pidfile: file, errno: e.code},
        })
      }
      handle.pid = pid
    },
    release() {
      if (released) return
      released = true
      try {
        const st = fs.fstatSync(fd)
        unregisterHeld(st)
        // Still under both locks: the name is gone before the lock is (a starter that locked
        // this inode meanwhile sees the name changed at its step 4 and starts over).
        const cur = fs.lstatSync(at(dirFd, name))
        if (cur.ino === st.ino && cur.dev === st.dev) fs.unlinkSync(at(dirFd, name))
      } catch {}
      fs.closeSync(lockFd)
      fs.closeSync(fd)
      fs.closeSync(dirFd)
    },
  }
  return handle
}
