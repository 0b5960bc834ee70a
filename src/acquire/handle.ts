/**
 * The held pidfile: steps 6 (write) and 7 (release) of acquire() (docs/architecture.md, "Writing a
 * pidfile"). The directory stays open for as long as the pidfile is held, so release() looks at and
 * unlinks the name in the very directory that was opened, and only if it still names the inode
 * that is locked: a file someone else put at the path is never deleted.
 *
 * Every write also records, beside the content and on the same inode, who the pid is: the pidfs id
 * of that process and this boot's id (the identity record, src/locate/record.ts; issue 20). The
 * content stays the bare decimal pid every reader expects. The id comes from the pidfd the caller
 * holds on the process (run's gated child: the process that was forked, whatever runs at that pid
 * later), else from one opened here on the pid. Failing to record never fails the write: the
 * handle says what was recorded (`recorded`) or why nothing was (`recordNote`).
 */
import fs = require('node:fs')

import {NslocateError} from '../errors'
import {idOfPid, pidfsId, pinnedInfo} from '../kernel/pidfs'
import {unregisterHeld} from '../locate/pidfile'
import {IdentityRecord, RECORD_XATTR, clearRecord, writeRecord} from '../locate/record'
import {xattrGet, xattrSet} from '../native/binding'
import {CgroupRecord, ServiceCgroup, clearCgroupRecord, readCgroupRecord} from '../cgroup/service'
import {proc} from '../proc/proc-fs'
import {at} from './safe-dir'

/** What write() may be told about the process it writes. */
export interface WriteOptions {
  /**
   * a pidfd on the process whose pid is written (it must be that process): its pidfs id is
   * recorded. Without it, a pidfd is opened on the pid at the time of writing.
   */
  pidfd?: number
}

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
  /**
   * the identity recorded beside the pid by the last write (xattr `user.nslocate.identity`: the
   * process's pidfs id and this boot's id); null when nothing is recorded (see recordNote)
   */
  recorded: IdentityRecord | null
  /**
   * why nothing is recorded beside the pid (the file system keeps no user extended attributes;
   * pidfds have no ids before Linux 6.9; ...); null once recorded, or before the first write
   */
  recordNote: string | null
  /**
   * the service's own cgroup (issue 22: `run`, or acquire() with option cgroup), recorded beside
   * the pid (xattr `user.nslocate.cgroup`); null when none was made (see cgroupNote)
   */
  cgroup: ServiceCgroup | null
  /** why no cgroup was made when one was asked for; null otherwise */
  cgroupNote: string | null
  /** the cgroup record an earlier holder left on the file (read before it was cleared), for attachCgroup() */
  readonly previousCgroup: CgroupRecord | null | string
  /**
   * truncate, write the pid (decimal, no newline), then record its identity beside it (with the
   * pidfs id of `opts.pidfd` when given); on failure the file is left empty and IO is thrown (a
   * record that cannot be set only shows in recordNote). No fsync: see docs/architecture.md step 6
   */
  write(pid: number, opts?: WriteOptions): void
  /**
   * unlink (if the name still names our inode) and drop the locks; idempotent. A file that stays
   * loses its records. With keepFile (a conflict found after the lock was taken: a cgroup an earlier
   * run left still holds processes) the file stays as it is, records included.
   */
  release(opts?: {keepFile?: boolean}): void
}

/** The handle of the pidfile `name` in `dirFd` (`file` for messages), open as `fd` (POSIX lock) and `lockFd` (flock). */
export function makeHandle(file: string, dirFd: number, name: string, fd: number, lockFd: number): PidfileHandle {
  // The lock is ours: a record an earlier instance left (from another boot, even) describes no
  // process of ours, and must not be read as this lock's until write() records one (the content
  // keeps its mtime meanwhile: readers go by the lock).
  // kept to be put back if this holder gives the file up as it found it (release keepFile)
  let previousIdentity: Buffer | null = null
  try {
    previousIdentity = xattrGet(fd, RECORD_XATTR, 256)
  } catch {}
  clearRecord(fd)
  // An earlier run's cgroup may still hold processes of the service (it was SIGKILLed): looked at
  // by attachCgroup(), wherever that run made it.
  const previousCgroup = readCgroupRecord(fd)
  clearCgroupRecord(fd)
  let released = false
  const handle: PidfileHandle = {
    path: file,
    fd,
    lockFd,
    pid: null,
    recorded: null,
    recordNote: null,
    cgroup: null,
    cgroupNote: null,
    previousCgroup,
    write(pid: number, opts: WriteOptions = {}) {
      if (released) throw new NslocateError('IO', `${file} was released`)
      if (!Number.isInteger(pid) || pid <= 0) throw new NslocateError('USAGE', `refusing to write pid ${pid} into ${file}`)
      const text = String(pid)
      try {
        fs.ftruncateSync(fd, 0)
        // No trailing newline: libbsd's pidfile(3) reader rejects "PID\n"; kill $(cat) and pgrep -F accept both.
        const n = fs.writeSync(fd, text, 0)
        if (n !== text.length) throw Object.assign(new Error(`short write (${n} of ${text.length} bytes)`), {code: 'EIO'})
      } catch (error) {
        // Never leave a partial number that could name another process, nor a record beside nothing.
        try {
          fs.ftruncateSync(fd, 0)
        } catch {}
        clearRecord(fd)
        handle.recorded = null
        handle.recordNote = 'no pid is written'
        const e = error as NodeJS.ErrnoException
        const why = e.code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : `${e.code ?? 'error'}: ${e.message}`
        throw new NslocateError('IO', (n) => `cannot write the pid into ${file}: ${why}; free space there or choose another ${n('dir')}`, {
          cause: error,
          details: {pidfile: file, errno: e.code},
          advice: (n) => `free space there or choose another ${n('dir')}`,
        })
      }
      handle.pid = pid
      // After the content: the record binds itself to the mtime this write left (record.ts).
      const id = idOf(pid, opts.pidfd)
      const r = typeof id === 'string' ? {why: id} : writeRecord(fd, pid, id)
      if ('recorded' in r) {
        handle.recorded = r.recorded
        handle.recordNote = null
      } else {
        // An earlier record must not stay to describe the new content (it would be ignored: its
        // mtime differs; removed all the same).
        clearRecord(fd)
        handle.recorded = null
        handle.recordNote = r.why
      }
    },
    release(opts: {keepFile?: boolean} = {}) {
      if (released) return
      released = true
      let unlinked = false
      if (opts.keepFile) {
        unregisterHeld(fs.fstatSync(fd))
        if (previousIdentity !== null && handle.pid === null) {
          try {
            xattrSet(fd, RECORD_XATTR, previousIdentity)
          } catch {}
        }
        handle.recorded = null
        fs.closeSync(lockFd)
        fs.closeSync(fd)
        fs.closeSync(dirFd)
        return
      }
      try {
        const st = fs.fstatSync(fd)
        unregisterHeld(st)
        // Still under both locks: the name is gone before the lock is (a starter that locked
        // this inode meanwhile sees the name changed at its step 4 and starts over).
        const cur = fs.lstatSync(at(dirFd, name))
        if (cur.ino === st.ino && cur.dev === st.dev) {
          fs.unlinkSync(at(dirFd, name))
          unlinked = true
        }
      } catch {}
      // A file that stays (the unlink was refused, or its name now leads to another file) keeps the
      // pid, but not the record: find takes a current record for proof of life even without a lock,
      // and this process may live on after giving the pidfile up.
      if (!unlinked) {
        clearRecord(fd)
        clearCgroupRecord(fd)
      }
      handle.recorded = null
      fs.closeSync(lockFd)
      fs.closeSync(fd)
      fs.closeSync(dirFd)
    },
  }
  return handle
}

/**
 * The pidfs id to record for `pid`: from `pidfd` when given (refused when PIDFD_GET_INFO says it
 * is another pid), else from a pidfd opened on `pid` now. Null: no id (gone, or before Linux 6.9:
 * writeRecord says which); a string: why the pidfd given cannot be used.
 */
function idOf(pid: number, pidfd: number | undefined): number | null | string {
  if (pidfd === undefined) return idOfPid(pid, null, proc)
  try {
    const info = pinnedInfo(pidfd)
    if (info && info.pid !== null && info.pid !== pid) return `the pidfd given is of pid ${info.pid}, not of pid ${pid}`
    return pidfsId(pidfd)
  } catch (error) {
    // PIDFD_GET_INFO: ESRCH once the process was reaped; fstat: EBADF
    return `the pidfd given cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`
  }
}
