/**
 * Replacing a pidfile that only non-writers lock (docs/architecture.md, "Writing a pidfile", step 3a;
 * issue 17, hole 3). Anyone who may read a pidfile may lock it (flock shared or exclusive, a POSIX
 * or OFD read lock, all on an O_RDONLY descriptor), and such a lock is no evidence of an instance
 * (src/locate/writer.ts). Waiting for it to go would let any local user keep the service from
 * starting; taking the file over in place is impossible (its lock cannot be had). So the file is
 * replaced, without a moment in which the name is missing or names a file that is not locked:
 *
 *  1. take the replacement mutex of NAME in the directory (below): one replacer at a time;
 *  2. create a fresh file under a temporary name, O_EXCL, mode 0400 (no other user can open it),
 *     flock it LOCK_EX (on its read-only description, the one COMMAND inherits) and take the
 *     POSIX write lock: it is a held, empty pidfile before any name shows it;
 *  3. renameat2(RENAME_EXCHANGE) it with NAME: NAME now names the fresh, locked file, and the
 *     temporary name the old inode, in one step;
 *  4. check what was swapped out: it must be the very inode judged (else NAME was replaced by
 *     someone else meanwhile), and no process that could have written it may hold a write lock
 *     on it (a starter that won the old inode once its non-writer lock went, and may run by now):
 *     else exchange back and start over, where that instance is met as a conflict;
 *  5. unlink the temporary name (the old inode; its non-writer holders keep their descriptors and
 *     locks on a file no name leads to any more), make the file 0644 and go on as a winner.
 *
 * Step 4 is reliable because after step 3 no process can win the old inode any more: a starter that
 * locks it then finds, at its step 4 (acquire.ts), that NAME names another inode, and starts over.
 *
 * The mutex is what keeps two replacers from swapping NAME around between themselves (each would
 * take the other's fresh file for the old one). It is a file `.NAME.nslocate-replacing` that is
 * locked (flock LOCK_EX) before any name shows it: made under a unique name, locked, then link(2)ed
 * to the mutex name (EEXIST: another replacer holds it). Only a live replacer holds its lock, so a
 * mutex file whose lock can be taken was left by a replacer that died: it is unlinked (while
 * locked, and only if the name still names it) and taken again. A replacer unlinks it while it
 * still holds the lock. Other users cannot open it (0400) and so cannot lock it.
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {fileIds, processCouldWrite} from '../locate/writer'
import {flock, renameExchange, setPosixLock} from '../native/binding'
import {LockLine, sameFile} from '../proc/parse-locks'
import {proc} from '../proc/proc-fs'
import {CREATE_MODE, FINAL_MODE, reopenReadOnly} from './open-pidfile'
import {CREATE, lstatOrNull, releaseMutex, same, takeMutex, uniqueName} from './replace-mutex'
import {at, ioError} from './safe-dir'

/** A replacement's outcome: the new file, open and locked, or why to look again. */
export type ReplaceResult =
  | {kind: 'replaced'; fd: number; lockFd: number; stat: fs.Stats}
  /** another replacer is at work: look again shortly */
  | {kind: 'busy'}
  /** NAME changed, or a writer may run on the old inode: start over from the top */
  | {kind: 'retry'}

/** Replace NAME (judged: the inode only non-writers lock) in the directory `dirFd` by a fresh, held file. */
export function replaceNonWriterLocked(dirFd: number, name: string, file: string, judged: fs.Stats, holders: number[]): ReplaceResult {
  const mutex = takeMutex(dirFd, name, file)
  if (mutex === null) return {kind: 'busy'}
  const tmp = uniqueName(name, 'new')
  let fd = -1
  let lockFd = -1
  let done = false
  try {
    try {
      fd = fs.openSync(at(dirFd, tmp), CREATE, CREATE_MODE)
    } catch (error) {
      throw ioError(file, error, `create a replacement for`)
    }
    lockFd = reopenReadOnly(fd, file)
    // No one else knows the name, and no other user may open a 0400 file: these cannot fail but
    // for a root process reading the directory and locking what it finds; then start over.
    if (!flock(lockFd, 'exclusive') || !setPosixLock(fd, 'write')) return {kind: 'retry'}
    const fresh = fs.fstatSync(fd)
    if (!same(lstatOrNull(dirFd, name), judged)) return {kind: 'retry'}
    if (!exchange(dirFd, tmp, name, file, holders)) return {kind: 'retry'}
    const old = lstatOrNull(dirFd, tmp)
    const running = same(old, judged) ? writerHoldsWriteLock(judged, [name, tmp]) : 'another file was there'
    if (running !== null) {
      swapBack(dirFd, tmp, name, file)
      return {kind: 'retry'}
    }
    try {
      fs.unlinkSync(at(dirFd, tmp))
    } catch {} // a leftover under a temporary name; NAME is ours either way
    fs.fchmodSync(fd, FINAL_MODE)
    done = true
    return {kind: 'replaced', fd, lockFd, stat: fresh}
  } finally {
    if (!done) {
      // Our fresh file, if it is still under the temporary name: nobody else's is ever there.
      try {
        if (fd >= 0 && same(lstatOrNull(dirFd, tmp), fs.fstatSync(fd))) fs.unlinkSync(at(dirFd, tmp))
      } catch {}
      if (lockFd >= 0) fs.closeSync(lockFd)
      if (fd >= 0) fs.closeSync(fd)
    }
    releaseMutex(dirFd, name, mutex)
  }
}

/** 3. renameat2(RENAME_EXCHANGE) tmp with NAME; false when NAME is gone (start over). */
function exchange(dirFd: number, tmp: string, name: string, file: string, holders: number[]): boolean {
  try {
    renameExchange(dirFd, tmp, name)
    return true
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false
    const e = error as NodeJS.ErrnoException
    // It is locked only by processes that could not have written it (`holders`): replaced, not waited for.
    const advice = `remove ${file} and start again`
    throw new NslocateError(
      'IO',
      `${file}: replacing it failed: renameat2(RENAME_EXCHANGE): ${e.code ?? e.message} (the file system may not support it); ${advice}`,
      {cause: error, details: {pidfile: file, holders, errno: e.code}, advice},
    )
  }
}

/** Put the swapped-out file back at NAME (our fresh one back under `tmp`), under the mutex. */
function swapBack(dirFd: number, tmp: string, name: string, file: string): void {
  try {
    renameExchange(dirFd, tmp, name)
  } catch {
    // (The same call just worked the other way.) Never leave NAME naming our file, about to be
    // closed unlocked, with the file it displaced (perhaps a live instance's) hidden: put that one
    // back over ours.
    try {
      fs.renameSync(at(dirFd, tmp), at(dirFd, name))
    } catch (error) {
      throw ioError(file, error, `put back (from ${tmp})`)
    }
  }
}

/**
 * Whether a process that could have written the file holds a WRITE lock (flock LOCK_EX, a POSIX or
 * OFD write lock) on the inode: an instance that won it. Shared locks are starters between their
 * steps 2 and 3 (or readers), which can no longer pass step 4. Every process's fdinfo is read
 * (a lock shows on the descriptors that hold it); /proc/locks is not: reading it stops every lock
 * operation on the system while it is read, and anyone can make it long. Returns why, or null.
 */
function writerHoldsWriteLock(stat: fs.Stats, names: string[]): string | null {
  const ids = fileIds(stat)
  for (const pid of proc.listPids()) {
    if (pid === process.pid) continue
    const lines = lockLinesOf(pid, names, stat)
    if (!lines.some((l) => l.access === 'WRITE')) continue
    let ok = true
    try {
      ok = processCouldWrite(proc, pid, proc.readStatus(pid), ids).ok
    } catch {} // exited: it held it a moment ago; count it
    if (ok) return `pid ${pid} holds a write lock on it`
  }
  return null
}

/** The lock lines (fdinfo) of `pid`'s descriptors of the inode (names: what their links may end in). */
function lockLinesOf(pid: number, names: string[], stat: fs.Stats): LockLine[] {
  let fds: string[]
  try {
    fds = proc.listFds(pid)
  } catch {
    return []
  }
  const out: LockLine[] = []
  for (const fd of fds) {
    try {
      const target = proc.readLink(pid, 'fd', fd)
      const base = target.replace(/ \(deleted\)$/, '').replace(/^.*\//, '')
      if (!target.startsWith('/') || !names.includes(base)) continue
      const s = proc.statUnder(pid, 'fd', fd)
      if (s.ino !== Number(stat.ino) || s.dev !== Number(stat.dev)) continue
      out.push(...proc.readFdinfoLocks(pid, fd).filter((l) => sameFile(l, stat.dev, stat.ino)))
    } catch {}
  }
  return out
}
