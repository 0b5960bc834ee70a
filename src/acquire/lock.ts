/** Steps 2 and 3 of acquire() (docs/architecture.md, "Writing a pidfile"): the shared-then-exclusive flock dance. */
import {NslocateError} from '../errors'
import {locate} from '../locate/locate'
import {flock, probePosixLock} from '../native/binding'

/** Returns true with LOCK_EX held; throws CONFLICT when an instance runs; TIMEOUT at the deadline. */
export async function lockExclusive(fd: number, file: string, deadline: number, name: string): Promise<boolean> {
  for (let i = 0; ; i++) {
    if (!flock(fd, 'shared')) throw conflict(name, file)
    if (probePosixLock(fd).type !== 'unlocked') throw conflict(name, file)
    if (flock(fd, 'exclusive')) return true
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
