/**
 * Option pid (`--pid PID:ID`): a target the caller names by its pid and its pidfs id, as util-linux
 * kill, waitpid and nsenter take `PID:INODE` (2.42). No pidfile is read: NAME is only the label of
 * the answer. The process is acted on only if the process at PID (in nslocate's PID namespace) has
 * exactly that id: a pidfd is opened on PID first, then the id of the process it pins (fstat of the
 * pidfd) is compared; every signal then goes through that pidfd. The refusals of a located service
 * apply as they are (pin.ts forbiddenTarget: never pid <= 0, nslocate, its ancestors, pid 1).
 *
 * When the process at PID has another id (or none), the process ID itself is looked for, reopened
 * from its id alone (src/kernel/pidfs.ts openById, Linux 6.17):
 *   - no such process: it has exited (`gone`, or `reused` when a newer process has PID now: not
 *     running), unless the process at PID is older than ID (below);
 *   - alive at another pid here, or not visible from here: a pid of another PID namespace, or a
 *     mistyped pid or id (`wrong_id`: refused), the message naming where ID is.
 * Without openById only the order of the ids is left: pidfs ids are handed out in increasing order
 * (fs/pidfs.c: one 64-bit counter per boot), so a LOWER id at PID has had PID since before ID
 * existed: ID never had PID here (`wrong_id`). A HIGHER one tells nothing about ID: it may have had
 * PID and exited, or still run elsewhere (another PID namespace, a mistyped id), so that too is
 * refused (`wrong_id`), never taken for an exit.
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {forcedOff, formatPidRef, idOfPid, inInitialPidns, openById, parsePidRef, pidfsAvailable, pinnedInfo} from '../kernel/pidfs'
import {LocateResult, stoppedResult} from '../locate/locate'
import {describeProcess, readFacts, readPidns} from '../locate/process-info'
import type {ProcFs} from '../proc/proc-fs'
import {pidfdExited, PidfdInfo} from '../native/binding'
import {PinFailure, Pinned, pin, pinOpened, unpin} from './pin'
import {isExited} from './scope'

/** A process as the caller named it: its pid here and its pidfs id. */
export interface PidRef {
  pid: number
  id: number
}

/** Why a PidRef could not be pinned: pin()'s failures, and an id that no process at PID ever had. */
export type RefFailure = PinFailure | 'wrong_id'

/** Where a PID:ID comes from. */
const PIDFD_REF_SOURCE = 'nslocate find NAME --json | jq -r .pidfd_ref'
const PIDFD_REF = `get PID:ID with: ${PIDFD_REF_SOURCE}`

/**
 * The value of option pid as a PidRef: USAGE unless it is PID:ID (a bare PID says how to get the
 * id), UNSUPPORTED on a kernel whose pidfds have no ids (before Linux 6.9, or forced off).
 */
export function parsePidRefOption(value: string): PidRef {
  const ref = parsePidRef(String(value))
  if (ref === null) {
    throw new NslocateError('USAGE', (n) => `invalid ${n('pid', JSON.stringify(value))}: use PID:ID, a pid and its pidfs id such as 4242:81234; ${PIDFD_REF}`, {
      details: {option: 'pid'},
      advice: PIDFD_REF,
    })
  }
  if (ref.id === null) {
    const advice = `give PID:ID (get it with: ${PIDFD_REF_SOURCE})`
    throw new NslocateError('USAGE', (n) => `${n('pid', value)} has no pidfs id: a process that reused pid ${ref.pid} could be the target; ${advice}`, {
      details: {option: 'pid'},
      advice,
    })
  }
  if (!pidfsAvailable()) {
    throw new NslocateError(
      'UNSUPPORTED',
      (n) =>
        `${n('pid', value)}: no pidfs ids to check pid ${ref.pid} against (${forcedOff('pidfs') ? 'NSLOCATE_FORCE_FALLBACK=pidfs' : 'they need Linux 6.9'}); name the service by NAME, without ${n('pid')}`,
      {details: {option: 'pid'}, advice: (n) => `name the service by NAME, without ${n('pid')}`},
    )
  }
  return {pid: ref.pid, id: ref.id}
}

/**
 * Pins the process ref names: pin() with the id expected (the pidfd is opened first, then its id
 * compared), never a forbiddenTarget(). When the process at PID is not ID, the process ID itself is
 * looked for (byId): the failure says what was found, naming the pid and both ids.
 */
export function pinRef(ref: PidRef, procfs: ProcFs): {pinned: Pinned} | {failure: RefFailure; detail: string} {
  const r = pin(ref.pid, null, procfs, ref.id)
  if ('pinned' in r) {
    if (r.pinned.id === ref.id) return r
    unpin(r.pinned) // (never: pidfsAvailable() was checked, so pin() compared the ids)
    return byId(ref, procfs)
  }
  if (r.failure === 'unsafe') return {failure: 'unsafe', detail: `refusing ${formatPidRef(ref.pid, ref.id)}: ${r.detail}`}
  if (r.failure === 'permission') return {failure: 'permission', detail: `${r.detail}, so it cannot be checked to be ${formatPidRef(ref.pid, ref.id)}`}
  return byId(ref, procfs)
}

/**
 * The process at PID is not ID (another id, or none): where is ID? Reopened from its id alone
 * (openById, Linux 6.17): gone -> it has exited; alive at PID after all (it was exiting, or a race)
 * -> pinned as pin() would; alive elsewhere -> refused (`wrong_id`), naming where it is. Without
 * openById only the order of the ids is left (see the top of this file).
 */
function byId(ref: PidRef, procfs: ProcFs): {pinned: Pinned} | {failure: RefFailure; detail: string} {
  const shown = formatPidRef(ref.pid, ref.id)
  const opened = openById(ref.id)
  if (opened === 'unsupported') return byOrder(ref, procfs, false)
  if (opened === 'gone') return byOrder(ref, procfs, true)
  let info: PidfdInfo | null = null
  try {
    info = pinnedInfo(opened.fd)
  } catch (error) {
    // ESRCH: reaped between the reopening and the question; it has exited
    if (!isErrno(error, 'ESRCH')) {
      fs.closeSync(opened.fd)
      throw error
    }
  }
  if (info?.pid === ref.pid && info.tgid === ref.pid) {
    const p = pinOpened(opened.fd, ref.pid, null, procfs, ref.id) // takes the pidfd over
    if ('pinned' in p) return p
    if (p.failure === 'gone') return gone(ref, `the process ${shown} has exited`)
    if (p.failure === 'unsafe') return {failure: 'unsafe', detail: `refusing ${shown}: ${p.detail}`}
    if (p.failure === 'permission') return {failure: 'permission', detail: `${p.detail}, so it cannot be checked to be ${shown}`}
    return byOrder(ref, procfs, false)
  }
  const exited = (() => {
    try {
      return pidfdExited(opened.fd)
    } catch {
      return true
    } finally {
      fs.closeSync(opened.fd)
    }
  })()
  if (exited || (info !== null && info.exitCode !== null)) return byOrder(ref, procfs, true)
  const where =
    info === null
      ? 'a live process (this kernel cannot say its pid)'
      : info.pid === 0 || info.pid === null
        ? 'a process not visible from here'
        : info.tgid !== null && info.tgid !== info.pid
          ? `pid ${info.pid} here, a thread of process ${info.tgid}`
          : `pid ${info.pid} here`
  return {
    failure: 'wrong_id',
    detail: `pidfs id ${ref.id} is ${where}, not ${ref.pid}: ${shown} names no process (a pid of another PID namespace, or a mistyped pid or id)`,
  }
}

/**
 * The failure when the process at PID is not ID, from the order of the ids alone. `exited`: ID is
 * known to have exited (openById found no such process); otherwise it may still run elsewhere, so a
 * newer id at PID does not tell that it has exited: refused.
 */
function byOrder(ref: PidRef, procfs: ProcFs, exited: boolean): {failure: RefFailure; detail: string} {
  const shown = formatPidRef(ref.pid, ref.id)
  const now = idOfPid(ref.pid, null, procfs)
  if (now !== null && now < ref.id) {
    return {
      failure: 'wrong_id',
      detail: `pid ${ref.pid} has pidfs id ${now}, older than ${ref.id}: no process with pidfs id ${ref.id} ever had pid ${ref.pid} here (a pid of another PID namespace, or a mistyped id)`,
    }
  }
  if (exited) {
    if (now === null) return gone(ref, `the process ${shown} has exited`)
    return {failure: 'reused', detail: `pid ${ref.pid} now has pidfs id ${now}, not ${ref.id}: the process ${shown} has exited and its pid was reused`}
  }
  if (now === null) return gone(ref, `the process ${shown} has exited`)
  return {
    failure: 'wrong_id',
    detail: `pid ${ref.pid} has pidfs id ${now}, not ${ref.id}, and ${whyNoLookup()}, so nslocate cannot tell whether ${ref.id} has exited or still runs elsewhere (a pid of another PID namespace, or a mistyped id)`,
  }
}

/** No process with id ID at PID, and ID has exited (or, without openById, no process at PID at all). */
function gone(ref: PidRef, why: string): {failure: RefFailure; detail: string} {
  return {failure: 'gone', detail: `no process has pid ${ref.pid} here any more: ${why}`}
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

/** Why the process with an id could not be looked up by the id alone (openById said 'unsupported'). */
function whyNoLookup(): string {
  if (forcedOff('pidfs-handle')) return 'looking a process up by its pidfs id is turned off (NSLOCATE_FORCE_FALLBACK=pidfs-handle)'
  if (!inInitialPidns()) return 'from inside a PID namespace a process looked up by its pidfs id may be gone or just not visible here'
  return 'this kernel cannot reopen a process by its pidfs id (Linux 6.17)'
}
