/**
 * Steps 2 and 3 of acquire() (docs/architecture.md, "Writing a pidfile"): the shared-then-exclusive
 * flock dance, and what stands in its way. A lock is evidence only from a process that could have
 * written the file (src/locate/writer.ts): anyone who may read a pidfile can flock it, shared or
 * exclusive, or take a POSIX/OFD read lock on it. When the lock cannot be taken, the holders are
 * looked at (findLockHolder): a writer's lock (or one whose holder cannot be seen) is a running
 * instance (CONFLICT) or another starter (contend on); a lock that only non-writers hold is no
 * instance, and acquire() replaces the file (replace.ts) instead of waiting for them for ever.
 */
import fs = require('node:fs')

import {NslocateError} from '../errors'
import {locate, locateDetailed} from '../locate/locate'
import {findLockHolder} from '../locate/lock-holder'
import {flock, probePosixLock} from '../native/binding'
import {proc} from '../proc/proc-fs'

/** How long starters contend among themselves before the holders are looked at, and how often after. */
const JUDGE_AFTER_MS = 50
const JUDGE_EVERY_MS = 100

/** The lock attempt's outcome: locked, held only by non-writers, or the file must be opened again. */
export type LockOutcome =
  | {kind: 'locked'}
  /** only processes that could not have written the file lock it: replace it (replace.ts) */
  | {kind: 'nonwriters'; stat: fs.Stats; holders: number[]}
  /** the name no longer names the file open: start over */
  | {kind: 'reopen'}

/**
 * Returns 'locked' with LOCK_EX held on `lockFd` (the read-only description COMMAND inherits; flock
 * needs no write access); `rwFd` (same inode) is the one F_GETLK asks about a POSIX write lock.
 * Returns 'nonwriters' (holding no lock) when only non-writers stand in the way, 'reopen' when the
 * file was unlinked or replaced meanwhile (`named()`: whether the name still names the file open).
 * Throws CONFLICT when an instance runs; TIMEOUT at the deadline.
 */
export async function lockExclusive(lockFd: number, rwFd: number, file: string, deadline: number, name: string, named: () => boolean): Promise<LockOutcome> {
  const start = Date.now()
  let judged = 0
  for (let i = 0; ; i++) {
    // 'exclusive': someone holds LOCK_EX; 'posix': a POSIX or OFD lock is held; null: only our upgrade failed.
    let blocked: 'exclusive' | 'posix' | null = null
    if (!flock(lockFd, 'shared')) blocked = 'exclusive'
    else if (probePosixLock(rwFd).type !== 'unlocked') blocked = 'posix'
    else if (flock(lockFd, 'exclusive')) return {kind: 'locked'}
    // Another starter holds LOCK_SH too (our own was dropped by the failed upgrade), or a lock is in
    // the way: whose? Blocked: at once; contending: after a while, then now and then (a scan of /proc).
    const now = Date.now()
    if (blocked || (now - start >= JUDGE_AFTER_MS && now - judged >= JUDGE_EVERY_MS)) {
      judged = now
      flock(lockFd, 'unlock') // our own shared lock is nobody's evidence
      const verdict: Verdict = named() ? judge(rwFd, file, name) : {kind: 'reopen'}
      if (verdict.kind === 'reopen') return verdict
      if (verdict.kind === 'nowriter') {
        // No process that could have written the file holds a lock on it. If nothing is in the
        // way any more, this is a plain win; if a lock still is, only non-writers hold it.
        if (flock(lockFd, 'exclusive')) {
          if (probePosixLock(rwFd).type === 'unlocked') return {kind: 'locked'}
          flock(lockFd, 'unlock')
        }
        return {kind: 'nonwriters', stat: verdict.stat, holders: verdict.holders}
      }
      // A writer's lock, or one whose holder cannot be seen: a running instance. (A POSIX or OFD
      // lock only non-writers hold, beside other starters' shared flock locks: contend on.)
      if (blocked && !(blocked === 'posix' && verdict.lock === 'flock')) throw conflict(name, file)
    }
    if (Date.now() >= deadline) {
      throw new NslocateError('TIMEOUT', `could not lock ${file} before the lock timeout: other starters kept contending for it`, {details: {pidfile: file}})
    }
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * Math.min(20, 2 + i)))
  }
}

type Verdict =
  /** lock: the kind of lock a writer holds ('none': the file names a running process) */
  | {kind: 'running'; lock: string}
  | {kind: 'reopen'}
  /** holders: the non-writers seen holding a lock (perhaps none: root in the initial PID namespace does not look into them all) */
  | {kind: 'nowriter'; stat: fs.Stats; holders: number[]}

/**
 * Who locks the file open as `rwFd` (this process holding no lock on it), by the writer rule
 * (findLockHolder): 'running' when a process that could have written it holds a lock (an instance,
 * or a starter between its steps 2 and 3), or a holder may be hidden; 'reopen' when the name no
 * longer names the file; 'nowriter' when no process that could have written it holds a lock, and
 * the file does not name a running instance either (a service that dropped every privilege and
 * outlived its SIGKILLed supervisor holds the lock alone, but its root supervisor wrote its pid:
 * find names it, so it is running).
 */
function judge(rwFd: number, file: string, name: string): Verdict {
  let stat: fs.Stats
  try {
    stat = fs.fstatSync(rwFd)
    const found = findLockHolder(file, rwFd, stat, proc)
    if (found.holders.length > 0 || found.notVisible) return {kind: 'running', lock: found.lock}
    const located = locateDetailed({name, pidfile: file, skipNameCheck: true})
    const id = located.pidfileId
    // The name was unlinked or replaced (by a starter that replaced it) meanwhile: start over with
    // what it names now. (A file locate refused has no id: its answer is 'unknown', below.)
    if (id ? id.dev !== Number(stat.dev) || id.ino !== Number(stat.ino) : located.result.state === 'stopped') return {kind: 'reopen'}
    if (located.result.state === 'running' || located.result.state === 'unknown') return {kind: 'running', lock: 'none'}
    return {kind: 'nowriter', stat, holders: found.ignored.map((h) => h.pid)}
  } catch {
    // The holders could not be looked at: as before, a lock in the way is an instance.
    return {kind: 'running', lock: 'unknown'}
  }
}

/** The CONFLICT error for NAME already running, naming its pid when a locate() can tell it. */
export function conflict(name: string, file: string): NslocateError {
  let pid: number | null = null
  try {
    const r = locate({name, pidfile: file, skipNameCheck: true})
    pid = r.pid ?? r.holder
  } catch {}
  return new NslocateError('CONFLICT', `${name} is already running${pid !== null ? ` (pid ${pid})` : ''}: ${file} is locked`, {details: {pid, pidfile: file}})
}
