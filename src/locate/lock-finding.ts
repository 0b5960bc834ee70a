/**
 * What findLockHolder() (lock-holder.ts) answers, and the writer rule as it asks it (lock-scan.ts
 * shares them).
 */
import type {ProcStatus} from '../proc/parse-status'
import type {LockKind} from './types'

/** Who holds the lock on a pidfile, as findLockHolder() found it. */
export interface LockFinding {
  lock: LockKind
  /** processes holding it, as pids in the caller's namespace; empty when unlocked or not visible */
  holders: number[]
  /** held, but no holder could be seen from this namespace */
  notVisible: boolean
  evidence: string[]
  /** pids whose fds we were not allowed to read */
  denied: number[]
  /** the holder's /proc status, when the fd check already read it (saves reading it again) */
  holderStatus?: ProcStatus
  /** processes holding a lock on the file that could not have written it: no evidence (writer.ts) */
  ignored: IgnoredHolder[]
}

/** What findLockHolder() may use to skip the scan of every process. */
export interface FindHolderOptions {
  /**
   * The pid written in the pidfile. A flock/OFD holder named by /proc/locks (or by the file) whose
   * own pid (last NSpid column) is this number, and whose fdinfo shows the lock, is the answer the
   * full fd scan would reconcile to: the scan of every process is then skipped.
   */
  writtenPid?: number
  /** Only asking whether this pid still holds the lock (signal's re-check): verified directly. */
  confirm?: number
}

/** A lock holder, as weighed by the writer rule (writer.ts). */
export interface IgnoredHolder {
  pid: number
  why: string
}

/** Whether a holder could have written the file (writer.ts), memoized per pid for one findLockHolder call. */
export type Judge = (pid: number, status?: ProcStatus) => {ok: boolean; why: string; status?: ProcStatus}
