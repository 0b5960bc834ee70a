/**
 * Pidfs ids in locate() (docs/nslocate.1.md, NOTES, "The identity record"; record.ts stores and
 * judges the record, decide.ts applies what is decided here):
 *  1. `previous_boot`: the content was written in an earlier boot and not rewritten since, so it
 *     names no process of this one: `stale`, whatever holds the lock (a lock cannot outlive a boot).
 *  2. `current`: the service is the process whose pidfs id was recorded, whatever its name, in any
 *     PID namespace. The candidates are the processes the content can name (the lock holder and
 *     its descendant numbered as written; or every process whose innermost pid is that number);
 *     each is pinned and its id compared, so nothing is left to guess.
 *  3. no record, or one that does not describe the content (or may not be used): the lock and the
 *     process table decide as for any pidfile, and the evidence says why no record was used.
 *  4. Every process an answer names gets its id from a pidfd opened on it, checked against the
 *     facts reported (pinPid reads the start time after the pin): Pins.
 */
import fs = require('node:fs')

import {NslocateError} from '../errors'
import {forcedOff, formatPidRef, idOfPid, inInitialPidns, liveProc, openById, pidOfPidfd, pidfsAvailable, pinPid} from '../kernel/pidfs'
import {type PidfdInfo, pidfdExited} from '../native/binding'
import {isKernelThread} from '../proc/parse-stat'
import {ProcFs} from '../proc/proc-fs'
import type {LockFinding} from './lock-finding'
import {OpenedPidfile} from './pidfile'
import {ProcessFacts, readFacts} from './process-info'
import {IdentityRecord, RECORD_XATTR, readRecord} from './record'
import type {LocateResult, Located} from './types'

/** What a pidfd opened on a process told: its pidfs id (null before 6.9) and PIDFD_GET_INFO (null before 6.13). */
export interface PinnedIds {
  id: number | null
  info: PidfdInfo | null
}

/**
 * Pins processes for one locate(). Facts read pinned (readFacts on the live /proc with pidfs) carry
 * the id of the process they are of: that id IS the answer's, never one pinned afresh. A fresh pin
 * (pinPid, after the last /proc read of the process: readNames, readOutputs, describeProcess)
 * confirms the process still has it; if not, it exited while being inspected, and what was read of
 * it since may be of a process that took its pid: NslocateError GONE ("run again"), so no answer
 * ever pairs one process's id with another's facts, nor gives a newcomer the id. Facts read
 * unpinned (a thread, or no pidfs) are pinned by pid and start time, as before. Each process is
 * pinned once; the pidfd is closed at once (one pidfd_open, one fstat and one ioctl per process named).
 */
export class Pins {
  private readonly known = new Map<string, PinnedIds | null>()
  /** ids can be read: pidfs is there, and procfs is the live /proc (a captured tree's pids name none of ours) */
  readonly live: boolean

  constructor(private readonly procfs: ProcFs) {
    this.live = liveProc(procfs) && pidfsAvailable()
  }

  /**
   * The ids of the process `f` describes. Pinned facts: f.pidfdId, confirmed (throws GONE when the
   * process no longer has it). Otherwise null when it exited or its pid was reused since `f` was
   * read (or !live).
   */
  of(f: ProcessFacts): PinnedIds | null {
    const key = f.pidfdId !== null ? `${f.pid}#${f.pidfdId}` : `${f.pid}@${f.stat.starttime}`
    if (this.known.has(key)) return this.known.get(key)!
    let ids: PinnedIds | null = null
    if (f.pidfdId !== null) {
      // Pinned facts: their id and info are the pinned process's; confirming needs only its id now.
      const now = idOfPid(f.pid, null, this.procfs)
      if (now !== f.pidfdId) {
        throw new NslocateError(
          'GONE',
          `pid ${f.pid} (pidfs id ${f.pidfdId}) exited while being inspected${now !== null ? `, and its pid is now pidfs id ${now}` : ''}; run again`,
        )
      }
      ids = {id: f.pidfdId, info: f.info ?? null}
    } else if (liveProc(this.procfs)) {
      const p = pinPid(f.pid, f.stat.starttime, this.procfs)
      if (p) {
        ids = {id: p.id, info: p.info}
        fs.closeSync(p.fd)
      }
    }
    this.known.set(key, ids)
    return ids
  }

  /**
   * PIDFD_GET_INFO of the process `f` describes, for its facts (uid, ppid), without confirming that
   * it still lives: pinned facts carry what their pidfd said; others are pinned by start time (of()).
   * Never throws GONE: the confirmation is stampIds()', once the answer is known to name `f`.
   */
  infoOf(f: ProcessFacts): PidfdInfo | null {
    if (f.pidfdId !== null) return f.info ?? null
    return this.of(f)?.info ?? null
  }
}

/** A record decide() acts on (rules 1 and 2); null: rule 3. */
export type UsableRecord = {kind: 'previous_boot'; record: IdentityRecord; bootId: string} | {kind: 'current'; record: IdentityRecord}

/**
 * The record on the open pidfile, judged against the pid written (record.ts), said in the evidence,
 * and kept in `result.pidfile.recorded` when it describes the content. Null (rule 3) also when it
 * may not be used: on a file the safety rules refuse (a record is only as good as its file), or,
 * for a record of this boot, where ids cannot be compared (before Linux 6.9, a captured /proc).
 */
export function judgeRecord(opened: OpenedPidfile, result: LocateResult, allowUnsafe: boolean, pins: Pins): UsableRecord | null {
  const written = opened.content.pid
  const say = (line: string) => result.evidence.push(line)
  const today = 'the lock and the process table decide'
  const j = readRecord(opened.fd, written)
  if (j.kind === 'none') {
    say(`${j.why === 'no identity recorded' ? `no identity record (${RECORD_XATTR}) on ${opened.path}` : `no identity record used: ${j.why}`}; ${today}`)
    return null
  }
  if (j.kind === 'ignored') {
    say(`identity record ignored: ${j.why}; ${today}`)
    return null
  }
  const r = j.record
  if (opened.unsafe.length > 0 && !allowUnsafe) {
    say(
      `identity record ignored: ${opened.path} fails the safety rules (${opened.unsafe.map((u) => u.reason).join(', ')}); a record is used only on a file that passes them`,
    )
    return null
  }
  if (j.kind === 'previous_boot') {
    result.pidfile!.recorded = r
    say(
      `identity record: pid ${r.pid} was pidfs id ${r.pidfdId} in boot ${r.bootId}; this is boot ${j.bootId}, and the content was not rewritten since: it names no process of this boot`,
    )
    return j
  }
  if (!pins.live) {
    say(
      `identity record (pid ${r.pid} is pidfs id ${r.pidfdId}) not used: ${pidfsAvailable() ? 'this is not the live /proc' : forcedOff('pidfs') ? 'pidfs ids are turned off (NSLOCATE_FORCE_FALLBACK=pidfs)' : 'pidfds have no ids on this kernel (Linux 6.9+)'}; ${today}`,
    )
    return null
  }
  result.pidfile!.recorded = r
  say(
    `identity record: pid ${r.pid} is pidfs id ${r.pidfdId} (written in this boot, content unchanged since): the service is the process with that id, whatever its name or PID namespace`,
  )
  return j
}

/** Rule 1: the file is from an earlier boot: stale, whatever holds its lock. */
export function decidePreviousBoot(result: LocateResult, finding: LockFinding): void {
  result.state = 'stale'
  if (finding.lock === 'none') result.reasons.push('unlocked_pidfile')
  else
    result.evidence.push(
      `the ${finding.lock} lock on it${finding.holders.length > 0 ? ` (held by pid ${finding.holders.join(', ')})` : ''} was taken in this boot without rewriting the content: it does not make the file's pid a process of this boot`,
    )
  result.reasons.push('previous_boot')
}

/**
 * Rule 2: of `candidates` (facts read this locate()), the process whose pidfs id is the one recorded,
 * or null; the evidence compares the ids. `live`: how many candidates were pinned alive.
 */
export function pickRecorded(candidates: ProcessFacts[], record: IdentityRecord, pins: Pins, evidence: string[]): {match: ProcessFacts | null; live: number} {
  const seen = new Set<number>()
  let live = 0
  for (const f of candidates) {
    if (seen.has(f.pid)) continue
    seen.add(f.pid)
    // Pinned facts carry the id of the process read; otherwise pin it now (pid and start time).
    const id = f.pidfdId ?? pins.of(f)?.id
    const as = f.status.nspid.length > 1 ? `pid ${f.pid} (NSpid ${f.status.nspid.join(' ')})` : `pid ${f.pid}`
    if (id === undefined) {
      evidence.push(`${as} exited while being inspected: not the service`)
      continue
    }
    live++
    if (id === record.pidfdId) {
      evidence.push(`${as} is pidfs id ${id}, the id recorded: it is the service`)
      return {match: f, live}
    }
    evidence.push(`${as} is now pidfs id ${id ?? 'unknown'}; the file recorded ${record.pidfdId}: not the process it was written for`)
  }
  return {match: null, live}
}

/**
 * What findRecorded() found: the process with the recorded id (its facts, read pinned); 'gone': no
 * process has the id; 'unsupported': the id cannot be looked up here; 'not_visible': a live process
 * has it, in a PID namespace not visible from here (no pid here); null: a process has the id but
 * its facts cannot be read here (the evidence says why): look for it by the number written.
 */
export type RecordedLookup = ProcessFacts | 'gone' | 'unsupported' | 'not_visible' | null

/**
 * Rule 2, looked up directly (Linux 6.17: a pidfs file handle reopens a process from its id): the
 * process whose pidfs id is the one recorded, its facts read pinned, when it is visible here. The
 * id is the kernel's proof and the record is bound to the content, so it is the service wherever
 * `written` sits: at some level of its NSpid (its writer numbered it in a PID namespace between ours
 * and its own), or, outside the initial PID namespace, at none (its writer numbered it in an
 * ancestor of ours, which we cannot see: a host wrote its host pid, read from inside the container).
 * In the initial PID namespace every level is seen: a number at none is not that process's, and a
 * record cannot add a process the content does not name (null: looked for by the number).
 */
export function findRecorded(procfs: ProcFs, record: IdentityRecord, written: number, bootMs: number, evidence: string[]): RecordedLookup {
  const want = record.pidfdId
  const opened = openById(want)
  if (opened === 'gone' || opened === 'unsupported') return opened
  try {
    return lookedUp(procfs, opened.fd, want, written, bootMs, evidence)
  } finally {
    fs.closeSync(opened.fd)
  }
}

/** findRecorded() once the process with the id is held by `fd` (kept open until its facts are read). */
function lookedUp(procfs: ProcFs, fd: number, want: number, written: number, bootMs: number, evidence: string[]): RecordedLookup {
  let here: number | null
  try {
    here = pidOfPidfd(fd)
  } catch {
    return 'gone' // reaped between the open and the ioctl (ESRCH)
  }
  if (here === -1) return 'gone'
  if (here === null) {
    evidence.push(`pidfs id ${want} is a live process, but its pid here cannot be read (PIDFD_GET_INFO): looking for it by the number written`)
    return null
  }
  if (here === 0) {
    evidence.push(`pidfs id ${want}, the id recorded, is a live process in a PID namespace not visible from here: it has no pid here`)
    return 'not_visible'
  }
  const f = readFacts(procfs, here, bootMs)
  if (!f || f.pidfdId !== want) {
    if (!pidfdExited(fd)) {
      evidence.push(`pidfs id ${want} is pid ${here} here, alive, but its facts cannot be read (/proc): looking for it by the number written`)
      return null
    }
    evidence.push(`pidfs id ${want} was pid ${here} here, which exited (or was reused) while being inspected`)
    return 'gone'
  }
  const nspid = f.status.nspid.length > 0 ? f.status.nspid : [f.pid]
  const unseen = !nspid.includes(written)
  if (unseen && inInitialPidns() !== false) {
    evidence.push(
      `pidfs id ${want} is pid ${here} here (NSpid ${nspid.join(' ')}), numbered ${written} at no level (every PID namespace is visible from here): not the process the file names`,
    )
    return null
  }
  // The process numbered `written` here, when another: what a search by the number would have found.
  const other = here !== written && procfs.exists(written) ? readFacts(procfs, written, bootMs) : null
  if (other && other.pidfdId !== null && other.pidfdId !== want) {
    const was = other.status.nspid.length > 1 ? `pid ${written} (NSpid ${other.status.nspid.join(' ')})` : `pid ${written}`
    evidence.push(`${was} is now pidfs id ${other.pidfdId}; the file recorded ${want}: not the process it was written for`)
  }
  const as = nspid.length > 1 ? `pid ${here} (NSpid ${nspid.join(' ')})` : `pid ${here}`
  evidence.push(`${as} is pidfs id ${want}, the id recorded: it is the service`)
  if (unseen)
    evidence.push(
      `the file's ${written} is pid ${here}'s pid in a PID namespace not visible from here (an ancestor of this one, where the file was written: e.g. the host's number, read from inside a container); the id decides`,
    )
  else if (nspid[nspid.length - 1] !== written)
    evidence.push(
      `pid ${here} is numbered ${written} ${nspid[0] === written ? 'in this PID namespace' : 'in a PID namespace between this one and its own'} (NSpid ${nspid.join(' ')}), where the file was written`,
    )
  return f
}

/**
 * After the recorded id was found on no process ('gone', looked up by the id itself): whether the
 * process numbered `written` here is another one now (pid_reused). Only that pid is read, pinned:
 * a process of another PID namespace whose innermost pid is that number is not what the file named
 * (every container has its pid 2), and neither a thread nor a kernel thread is a pidfile's process.
 */
export function reusedHere(procfs: ProcFs, record: IdentityRecord, written: number, bootMs: number, evidence: string[]): boolean {
  const f = procfs.exists(written) ? readFacts(procfs, written, bootMs) : null
  if (!f || f.pidfdId === null || f.pidfdId === record.pidfdId || isKernelThread(f.stat) || f.status.tgid !== f.status.pid) return false
  evidence.push(`pid ${written} is now pidfs id ${f.pidfdId}; the file recorded ${record.pidfdId}: not the process it was written for`)
  return true
}

/** Rule 4: the ids of the processes the answer names (result.pid and result.holder), from Pins. */
export function stampIds(located: Located, pins: Pins): void {
  const {result} = located
  const main = result.pid !== null && located.main?.pid === result.pid ? pins.of(located.main) : null
  const holder = result.holder !== null && located.holder?.pid === result.holder ? pins.of(located.holder) : null
  result.pidfdId = main?.id ?? null
  result.pidfdRef = result.pid !== null && result.pidfdId !== null ? formatPidRef(result.pid, result.pidfdId) : null
  result.holderPidfdId = holder?.id ?? null
  if (!pins.live) return
  const gone = [...new Set([!main ? result.pid : null, !holder ? result.holder : null].filter((p): p is number => p !== null))]
  for (const pid of gone) result.evidence.push(`pid ${pid} exited (or its pid was reused) while being inspected: no pidfs id for it`)
}

/** The ids of a result that names no process any more (a refusal): cleared with the pids. */
export function clearIds(result: LocateResult): void {
  result.pidfdId = null
  result.pidfdRef = null
  result.holderPidfdId = null
}
