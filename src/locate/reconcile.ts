/**
 * Reconciling a lock holder with the number written in the pidfile (docs/nslocate.1.md, NOTES,
 * "Supervisors"). Every read goes through ProcFs, so it is tested over captured /proc trees.
 */
import {NslocateError} from '../errors'
import {NS_TRANSLATE_UNSUPPORTED} from '../native/binding'
import {ProcStatus} from '../proc/parse-status'
import {ProcFs} from '../proc/proc-fs'
import {ProcessFacts, readFacts} from './process-info'

/**
 * The pid in the file must be the holder's own view of itself (last NSpid column), or a
 * descendant of the holder numbered that way in the holder's namespace (a supervisor such as
 * daemon(1) or `nslocate run` holds the lock for its child).
 */
export function reconcileWithHolders(
  holders: number[],
  written: number | null,
  procfs: ProcFs,
  bootMs: number,
  evidence: string[],
  holderStatus?: ProcStatus,
): {holder: ProcessFacts; main: ProcessFacts; mismatch: boolean} {
  // holderStatus belongs to the only holder of an fd check (findLockHolder's quick path).
  const facts = holders.map((h) => readFacts(procfs, h, bootMs, holders.length === 1 ? holderStatus : undefined)).filter((f): f is ProcessFacts => f !== null)
  if (facts.length === 0) throw new NslocateError('GONE', `the lock holder (pid ${holders.join(', ')}) exited while being inspected; run again`)
  if (written === null) {
    evidence.push(`lock held by pid ${facts[0].pid} but the file has no pid yet (a service that is starting writes it after locking)`)
    return {holder: facts[0], main: facts[0], mismatch: false}
  }
  for (const h of facts) {
    const own = h.status.nspid[h.status.nspid.length - 1]
    if (own === written) {
      evidence.push(`consistent: holder ${h.pid} has NSpid ${h.status.nspid.join(' ')}; its own view (${own}) is the pid in the file`)
      return {holder: h, main: h, mismatch: false}
    }
  }
  for (const h of facts) {
    const child = descendantNumbered(procfs, h, written, bootMs)
    if (child) {
      evidence.push(
        `consistent: the file names ${written}, which is pid ${child.pid} (NSpid ${child.status.nspid.join(' ')}), a descendant of the lock holder ${h.pid} in its namespace (supervisor holds the lock)`,
      )
      return {holder: h, main: child, mismatch: false}
    }
  }
  const h = facts[0]
  evidence.push(
    `MISMATCH: the file says ${written}, but the lock holder ${h.pid} is ${h.status.nspid[h.status.nspid.length - 1]} in its own namespace (NSpid ${h.status.nspid.join(' ')}) and has no descendant numbered ${written}; reporting the lock holder`,
  )
  return {holder: h, main: h, mismatch: true}
}

/** The process numbered `n` in `holder`'s own namespace, if it descends from `holder`. */
function descendantNumbered(procfs: ProcFs, holder: ProcessFacts, n: number, bootMs: number): ProcessFacts | null {
  const level = holder.status.nspid.length - 1
  let candidate: number | null = null
  const x = procfs.pidFromPidns(holder.pid, n)
  if (x !== NS_TRANSLATE_UNSUPPORTED) {
    if (x === null) return null
    candidate = x
  }
  // The candidate's own status was read with its facts: its parent chain starts from there.
  const isDescendant = (f: ProcessFacts) => {
    if (f.pid === holder.pid) return true
    let p = f.status.ppid
    for (let i = 1; i < 256 && p > 0; i++) {
      if (p === holder.pid) return true
      try {
        p = procfs.readStatus(p).ppid
      } catch {
        return false
      }
    }
    return false
  }
  // A thread is numbered too (the translation and /proc/TID answer for it); a pidfile names a process.
  const numbered = (f: ProcessFacts | null) => f !== null && f.status.tgid === f.pid && f.status.nspid.length > level && f.status.nspid[level] === n
  if (candidate !== null) {
    const f = readFacts(procfs, candidate, bootMs)
    return f && numbered(f) && isDescendant(f) ? f : null
  }
  // Older kernels: scan. Status alone first; the facts (pinned: a pidfd each) only of the one numbered n.
  for (const pid of procfs.listPids()) {
    try {
      if (procfs.readStatus(pid).nspid[level] !== n) continue
    } catch {
      continue
    }
    const f = readFacts(procfs, pid, bootMs)
    if (f && numbered(f) && isDescendant(f)) return f
  }
  return null
}
