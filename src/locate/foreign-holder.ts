/**
 * Who may be "proof of life": anyone who can read a pidfile can open it O_RDONLY and flock(2) it,
 * so a lock alone would let any user make a stale pidfile look running (and `wait --for running`
 * return). A lock holder counts only when its real and effective uids (/proc/PID/status Uid:) are
 * each root, the pidfile's owner, the caller, or the user of the process the file names when the
 * file and the lock agree about it (a supervisor holding the lock for its child).
 */
import {ProcFs, proc} from '../proc/proc-fs'
import type {LocateResult} from './locate'
import type {OpenedPidfile} from './pidfile'
import type {ProcessFacts} from './process-info'

export interface ForeignHolder {
  reason: 'foreign_lock_holder'
  detail: string
}

/** The problem with `result`'s lock holder, or null when it may be believed. */
export function foreignHolder(result: LocateResult, opened: OpenedPidfile, main: ProcessFacts | null, callerUid: number, procfs: ProcFs = proc): ForeignHolder | null {
  if (result.holder === null) return null
  const owner = opened.stat.uid
  const allowed = new Set([0, owner, callerUid])
  // The named process's user counts only when the file names it and the lock agrees (no mismatch).
  const consistent = main !== null && opened.content.pid !== null && !result.reasons.includes('content_mismatch')
  if (consistent) allowed.add(main.status.uid[0])
  let uids: number[]
  try {
    uids = procfs.readStatus(result.holder).uid.slice(0, 2)
  } catch {
    return {reason: 'foreign_lock_holder', detail: `the lock on ${opened.path} is held by pid ${result.holder}, whose user could not be read (it may have exited): its lock proves nothing`}
  }
  const bad = uids.filter((u) => !allowed.has(u))
  if (bad.length === 0) return null
  return {
    reason: 'foreign_lock_holder',
    detail: `the lock on ${opened.path} is held by pid ${result.holder} of uid ${uids.join('/')} (real/effective), who is neither root, nor the file's owner uid ${owner}, ` +
      `nor the caller (uid ${callerUid})${consistent ? `, nor the user of the process it names (uid ${main!.status.uid[0]})` : ''}: anyone who can read a pidfile can lock it, so this lock is no proof of life`,
  }
}
