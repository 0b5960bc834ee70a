/** Steps 2 and 3 of acquire() (docs/architecture.md, "Writing a pidfile"): the shared-then-exclusive flock dance. */
import {NslocateError} from '../errors'
import {locate} from '../locate/locate'
import {flock, probePosixLock} from '../native/binding'

/**
 * Returns true with LOCK_EX held on `lockFd` (the read-only description COMMAND inherits; flock
 * needs no write access); `rwFd` (same inode) is the one F_GETLK asks about a POSIX write lock.
 * Throws CONFLICT when an instance runs; TIMEOUT at the deadline.
 */
export async function lockExclusive(lockFd: number, rwFd: number, file: string, deadline: number, name: string): Promise<boolean> {
  for (let i = 0; ; i++) {
    if (!flock(lockFd, 'shared')) throw conflict(name, file)
    if (probePosixLock(rwFd).type !== 'unlocked') throw conflict(name, file)
    if (flock(lockFd, 'exclusive')) return true
    // Another starter holds LOCK_SH too (our own was dropped by the failed upgrade). Back off with jitter.
    if (Date.now() >= deadline) {
      throw new NslocateError('TIMEOUT', `could not lock ${file} before the lock timeout: other starters kept contending for it`, {exitCode: 1, details: {pidfile: file}})
    }
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * Math.min(20, 2 + i)))
  }
}

export function conflict(name: string, file: string): NslocateError {
  let pid: number | null = null
  try {
    const r = locate({name, pidfile: file, skipNameCheck: true})
    pid = r.pid ?? r.holder
  } catch {}
  return new NslocateError('CONFLICT', `${name} is already running${pid !== null ? ` (pid ${pid})` : ''}: ${file} is locked`, {exitCode: 1, details: {pid, pidfile: file}})
}
