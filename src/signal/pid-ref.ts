/**
 * Option pid (`--pid PID:ID`): a target the caller names by its pid and its pidfs id, as util-linux
 * kill, waitpid and nsenter take `PID:INODE` (2.42). No pidfile is read: NAME is only the label of
 * the answer. The process is acted on only if the process at PID (in nslocate's PID namespace) has
 * exactly that id: a pidfd is opened on PID first, then the id of the process it pins (fstat of the
 * pidfd) is compared; every signal then goes through that pidfd. The refusals of a located service
 * apply as they are (pin.ts forbiddenTarget: never pid <= 0, nslocate, its ancestors, pid 1).
 *
 * pidfs ids are handed out in increasing order (fs/pidfs.c: one 64-bit counter per boot), so when
 * the process at PID has another id the two tell which case it is:
 *   - a higher one: that process was made after ID; the process ID had PID, has exited, and its pid
 *     was reused (`reused`: not running);
 *   - a lower one: it has had PID since before ID existed, so no process with id ID ever had PID
 *     here: a pid read in another PID namespace, or a mistyped id (`wrong_id`: refused).
 */
import {NslocateError} from '../errors'
import {forcedOff, formatPidRef, idOfPid, parsePidRef, pidfsAvailable, pinnedInfo} from '../kernel/pidfs'
import {LocateResult, stoppedResult} from '../locate/locate'
import {describeProcess, readFacts, readPidns} from '../locate/process-info'
import type {ProcFs} from '../proc/proc-fs'
import {PinFailure, Pinned, pin, unpin} from './pin'
import {isExited} from './scope'

/** A process as the caller named it: its pid here and its pidfs id. */
export interface PidRef {
  pid: number
  id: number
}

/** Why a PidRef could not be pinned: pin()'s failures, and an id that no process at PID ever had. */
export type RefFailure = PinFailure | 'wrong_id'

/**
 * The value of option pid as a PidRef: USAGE unless it is PID:ID (a bare PID says how to get the
 * id), UNSUPPORTED on a kernel whose pidfds have no ids (before Linux 6.9, or forced off).
 */
export function parsePidRefOption(value: string): PidRef {
  const ref = parsePidRef(String(value))
  if (ref === null) {
    throw new NslocateError(
      'USAGE',
      (n) =>
        `invalid ${n('pid', JSON.stringify(value))}: use PID:ID, a pid and its pidfs id such as 4242:81234 (get it with: nslocate find NAME --json | jq -r .pidfd_ref)`,
      {details: {option: 'pid'}},
    )
  }
  if (ref.id === null) {
    throw new NslocateError(
      'USAGE',
      (n) =>
        `${n('pid', value)} has no pidfs id: give PID:ID, so that a process that reused pid ${ref.pid} is never the target (get it with: nslocate find NAME --json | jq -r .pidfd_ref)`,
      {details: {option: 'pid'}},
    )
  }
  if (!pidfsAvailable()) {
    throw new NslocateError(
      'UNSUPPORTED',
      (n) =>
        `${n('pid', value)}: pidfs ids need Linux 6.9 or later, and ${forcedOff('pidfs') ? 'NSLOCATE_FORCE_FALLBACK=pidfs turned them off' : "this kernel's pidfds have none"}, so nothing can check that pid ${ref.pid} is ${ref.id}. Name the service by NAME, without ${n('pid')}`,
      {details: {option: 'pid'}},
    )
  }
  return {pid: ref.pid, id: ref.id}
}

/**
 * Pins the process ref names: pin() with the id expected (the pidfd is opened first, then its id
 * compared), never a forbiddenTarget(). The failure says what was found, naming the pid and both ids.
 */
export function pinRef(ref: PidRef, procfs: ProcFs): {pinned: Pinned} | {failure: RefFailure; detail: string} {
  const shown = formatPidRef(ref.pid, ref.id)
  const r = pin(ref.pid, null, procfs, ref.id)
  if ('pinned' in r) {
    if (r.pinned.id === ref.id) return r
    unpin(r.pinned) // (never: pidfsAvailable() was checked, so pin() compared the ids)
    return {failure: 'reused', detail: `pid ${ref.pid} has pidfs id ${r.pinned.id}, not ${ref.id}`}
  }
  if (r.failure === 'gone') return {failure: 'gone', detail: `no process has pid ${ref.pid} here any more: the process ${shown} has exited`}
  if (r.failure === 'unsafe') return {failure: 'unsafe', detail: `refusing ${shown}: ${r.detail}`}
  if (r.failure === 'permission') return {failure: 'permission', detail: `${r.detail}, so it cannot be checked to be ${shown}`}
  // Another id at PID: which one tells whether ID ever had this pid (see the top of this file).
  const now = idOfPid(ref.pid, null, procfs)
  if (now === null) return {failure: 'gone', detail: `no process has pid ${ref.pid} here any more: the process ${shown} has exited`}
  if (now > ref.id)
    return {failure: 'reused', detail: `pid ${ref.pid} now has pidfs id ${now}, not ${ref.id}: the process ${shown} has exited and its pid was reused`}
  return {
    failure: 'wrong_id',
    detail: `pid ${ref.pid} has pidfs id ${now}, older than ${ref.id}: no process with pidfs id ${ref.id} ever had pid ${ref.pid} here (a pid of another PID namespace, or a mistyped id)`,
  }
}

/**
 * The `target` of an answer about a pinned PidRef, in the shape locate() gives: the pinned process,
 * running; its uid and parent from PIDFD_GET_INFO where the kernel has it, the rest from /proc, kept
 * only if the process is still the pinned one after the reads.
 */
export function refTarget(name: string, p: Pinned, procfs: ProcFs, evidence: string[]): LocateResult {
  const t = stoppedResult(name, [], evidence)
  t.state = 'running'
  t.pid = p.pid
  t.pidfdId = p.id
  t.pidfdRef = formatPidRef(p.pid, p.id)
  t.nspid = p.nspid
  const facts = readFacts(procfs, p.pid, procfs.bootTimeMs())
  let info = null
  try {
    info = pinnedInfo(p.fd)
  } catch {}
  const process = facts ? describeProcess(procfs, facts, undefined, info) : null
  const pidns = readPidns(procfs, p.pid)
  if (!isExited(p)) {
    t.process = process
    t.pidns = pidns
  }
  return t
}

/**
 * The `target` of an answer about a PidRef that could not be pinned: no process runs under that
 * id (stopped; pid_reused when another process has the pid now), or it was refused (unknown).
 */
export function refNotPinned(name: string, failure: RefFailure, evidence: string[]): LocateResult {
  const t = stoppedResult(name, failure === 'reused' ? ['pid_reused'] : [], evidence)
  if (failure !== 'gone' && failure !== 'reused') t.state = 'unknown'
  return t
}

/** The first evidence line of an answer about a PidRef. */
export function refEvidence(ref: PidRef): string {
  return `${formatPidRef(ref.pid, ref.id)} given (option pid): no pidfile read; the process at pid ${ref.pid} must have pidfs id ${ref.id}`
}
