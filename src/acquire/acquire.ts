/**
 * acquire(): take NAME's pidfile for as long as this process lives, the way every reader can see.
 * The algorithm and why (docs/architecture.md, "Writing a pidfile"):
 *  1. resolve the path against the cwd; open its directory component by component, never through
 *     a symlink or a directory another user controls (safe-dir.ts); open or create the file in it
 *     and refuse a symlink, a non-regular file, a hard link, a foreign owner (open-pidfile.ts);
 *  2. (on a second, READ-ONLY open file description of the same inode, the one COMMAND inherits,
 *     so that no service, however privilege-dropped, can write the pidfile through it)
 *     flock(LOCK_SH|LOCK_NB): fails only if someone holds it exclusively; a POSIX or OFD lock
 *     (F_GETLK) may be in the way too. A lock held by a process that could have written the file
 *     is a running instance -> conflict (lock.ts);
 *  3. upgrade to LOCK_EX|LOCK_NB, retried with jitter until --lock-timeout (lock.ts);
 *  3a. a lock only processes that could NOT have written the file hold (anyone may lock what they
 *     may read) is no instance: the file is replaced by a fresh, held one (replace.ts);
 *  4. the name must still be our inode (lstat in the directory held open), else start over (bounded);
 *     an existing file must be empty or hold a pid, never anything else (open-pidfile.ts);
 *  5. take the POSIX write lock too (F_GETLK readers, translated into their namespace), then
 *     truncate, write the pid in decimal with no newline, and record beside it, in an extended
 *     attribute, that process's pidfs id and this boot's id (handle.ts; no fsync, see docs);
 *  6. release(): unlink only if the name still is our inode, while still holding the locks.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError} from '../errors'
import {flock, probePosixLock, setPosixLock} from '../native/binding'
import {mergeNameArgs, validateName} from '../locate/name'
import {registerHeld} from '../locate/pidfile'
import {CGROUP_MODES, CgroupMode} from '../cgroup/service'
import {PidfileHandle, makeHandle} from './handle'
import {attachCgroup, enterCgroup, leaveCgroup, ownCgroupDir} from './service-cgroup'
import {conflict, lockExclusive} from './lock'
import {CREATE_MODE, FINAL_MODE, openPidfileIn, refuseNotPidfile, reopenReadOnly} from './open-pidfile'
import {pidfilePathFor} from './paths'
import {refusePseudoFs} from './pseudo-fs'
import {replaceNonWriterLocked} from './replace'
import {at, callerUid, openDirSafely} from './safe-dir'

export {defaultRuntimeDir, pidfilePathFor} from './paths'
export type {PidfileHandle, WriteOptions} from './handle'

/** acquire()'s options: where the pidfile goes, how long to contend for it, and which pid it names. */
export interface AcquireOptions {
  name: string
  /** relative paths are resolved against the working directory */
  pidfile?: string
  dir?: string
  /** how long to contend with other starters (ms); default 10 s */
  lockTimeoutMs?: number
  /** the pid to write (its identity is recorded: handle.recorded); default process.pid. null: write nothing yet (call handle.write later) */
  pid?: number | null
  env?: NodeJS.ProcessEnv
  /**
   * give the service a cgroup of its own (issue 22; docs/library.md): 'auto' makes one when it can
   * and says why not in handle.cgroupNote, 'required' fails (UNSUPPORTED) when it cannot, 'none'
   * (the default) makes none. The pid written (`pid`, or the caller) is moved into it; release()
   * moves the caller back and removes it.
   */
  cgroup?: CgroupMode
}

/** How long acquire() contends with other starters for the lock when lockTimeoutMs is not given. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000
const MAX_REOPENS = 20

/** acquire(NAME), acquire({name, ...}) or acquire(NAME, {...}): the second argument is merged, never ignored. */
export async function acquire(nameOrOptions: string | AcquireOptions, options?: Partial<AcquireOptions>): Promise<PidfileHandle> {
  const opts: AcquireOptions = mergeNameArgs('acquire', nameOrOptions, options)
  if (!opts.pidfile) validateName(opts.name)
  const file = pidfilePathFor(opts)
  const name = path.basename(file)
  const deadline = Date.now() + (opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS)
  const dirFd = openDirSafely(path.dirname(file))
  let handle: PidfileHandle | null = null
  try {
    refusePseudoFs(dirFd, path.dirname(file), file)
    for (let reopens = 0; reopens < MAX_REOPENS && !handle;) {
      const round = await lockOnce(dirFd, name, file, deadline, opts.name)
      if (round === 'reopen') reopens++
      else if (round === 'busy') {
        // Another starter is replacing a file only non-writers lock: its result is met next round.
        if (Date.now() >= deadline)
          throw new NslocateError('TIMEOUT', `could not lock ${file} before the lock timeout: other starters kept replacing it`, {details: {pidfile: file}})
        await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8))
      } else handle = round
    }
  } finally {
    if (!handle) fs.closeSync(dirFd)
  }
  if (!handle)
    throw new NslocateError('TIMEOUT', `${file} was replaced or unlinked ${MAX_REOPENS} times while locking it; is something deleting it in a loop?`, {
      details: {pidfile: file},
    })
  const pid = opts.pid === undefined ? process.pid : opts.pid
  const mode = opts.cgroup ?? 'none'
  try {
    if (mode !== 'none') {
      if (!(CGROUP_MODES as readonly string[]).includes(mode))
        throw new NslocateError('USAGE', (n) => `invalid ${n('cgroup', String(mode))}: use one of ${CGROUP_MODES.join(', ')}`)
      attachCgroup(handle, opts.name, mode)
      if (handle.cgroup) {
        // released with the pidfile: the caller moves back out first when it moved itself in
        const from = pid === process.pid ? ownCgroupDir() : null
        const release = handle.release.bind(handle)
        const held = handle
        held.release = (opts) => {
          leaveCgroup(held, from)
          release(opts)
        }
      }
    }
    if (pid !== null) {
      handle.write(pid)
      if (mode !== 'none') enterCgroup(handle, opts.name, pid, mode)
    }
  } catch (error) {
    // A conflict with what an earlier run left in its cgroup keeps the pidfile as it was found (its
    // pid and records say who runs); an empty one (made just now, or never written) is removed as always.
    const keep = error instanceof NslocateError && error.details.keepPidfile === true && fs.fstatSync(handle.fd).size > 0
    handle.release({keepFile: keep})
    throw error
  }
  return handle
}

/**
 * One open-lock-verify round: the handle, 'reopen' when the name no longer names the inode locked
 * (start over), 'busy' when another starter is replacing a file that only non-writers lock.
 */
async function lockOnce(dirFd: number, name: string, file: string, deadline: number, service: string): Promise<PidfileHandle | 'reopen' | 'busy'> {
  const {fd, created} = openPidfileIn(dirFd, name, file)
  let lockFd = -1
  let keep = false
  try {
    lockFd = reopenReadOnly(fd, file)
    const outcome = await lockExclusive(lockFd, fd, file, deadline, service, () => namesInode(dirFd, name, fd))
    if (outcome.kind === 'reopen') return 'reopen'
    if (outcome.kind === 'nonwriters') return takeOver(dirFd, name, file, fd, outcome)
    // 4. the name must still be the inode we locked (a stopping instance may have unlinked it)
    if (!namesInode(dirFd, name, fd)) return 'reopen'
    const st = fs.fstatSync(fd)
    // Held exclusively now: the file is never truncated, re-moded or unlinked unless it is empty or
    // holds a pid (checked at the open too, before its mode could be changed; this is the check that counts).
    refuseNotPidfile(fd, file)
    // A file created 0400 (here, or by another root starter that then lost the lock to this one)
    // could not be locked first by another user; now that it is ours and locked, readers may read it.
    if (created || (st.uid === callerUid() && (st.mode & 0o7777) === CREATE_MODE)) fs.fchmodSync(fd, FINAL_MODE)
    // 5. the POSIX lock, for F_GETLK readers; held by this process for its whole life
    if (!setPosixLock(fd, 'write')) throw conflict(service, file)
    keep = true
    registerHeld(st, fd)
    return makeHandle(file, dirFd, name, fd, lockFd)
  } finally {
    if (!keep) {
      // Remove an (empty) file this round created itself, whatever stopped it, unless another process
      // holds a lock on it by now (then it stays, empty and 0400: the next starter that wins it makes
      // it 0644 and writes its pid).
      if (created) unlinkIfUnclaimed(dirFd, name, fd, lockFd)
      if (lockFd >= 0) fs.closeSync(lockFd)
      fs.closeSync(fd)
    }
  }
}

/** Whether NAME in the directory still names the inode open as fd. */
function namesInode(dirFd: number, name: string, fd: number): boolean {
  try {
    const st = fs.fstatSync(fd)
    const cur = fs.lstatSync(at(dirFd, name))
    return cur.ino === st.ino && cur.dev === st.dev
  } catch {
    return false
  }
}

/**
 * 3a. Only processes that could not have written it lock it: no instance. Replace it (it is then
 * unlinked, so it must be a pidfile too), and hold the fresh file as a winner would.
 */
function takeOver(dirFd: number, name: string, file: string, fd: number, found: {stat: fs.Stats; holders: number[]}): PidfileHandle | 'reopen' | 'busy' {
  refuseNotPidfile(fd, file)
  const r = replaceNonWriterLocked(dirFd, name, file, found.stat, found.holders)
  if (r.kind !== 'replaced') return r.kind === 'busy' ? 'busy' : 'reopen'
  registerHeld(r.stat, r.fd)
  return makeHandle(file, dirFd, name, r.fd, r.lockFd)
}

/**
 * Remove the file this round created and is giving up, but only while holding it exclusively and
 * unwritten. Another starter may have opened it meanwhile (root may open the 0400 file) and locked
 * it: unlinking that live pidfile would let a third starter create a new inode at the path and run a
 * second instance (seen in the 50-starter race under load). Holding LOCK_EX while unlinking keeps
 * the protocol: a starter that opened the inode before and locks it after sees the name gone (step 4).
 */
function unlinkIfUnclaimed(dirFd: number, name: string, fd: number, lockFd: number): void {
  try {
    if (!flock(lockFd >= 0 ? lockFd : fd, 'exclusive')) return // another starter holds or shares it
    if (probePosixLock(fd).type !== 'unlocked') return
    const st = fs.fstatSync(fd)
    if (st.size !== 0) return
    const cur = fs.lstatSync(at(dirFd, name))
    if (cur.ino === st.ino && cur.dev === st.dev) fs.unlinkSync(at(dirFd, name))
  } catch {}
}
