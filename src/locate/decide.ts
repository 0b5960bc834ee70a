/**
 * locate()'s decision once the pidfile is open: the three witnesses reconciled. The lock holder
 * (the kernel's word), the pid written in the file (the writer's word, in the writer's namespace)
 * and the process table (NSpid, start time). Every read goes through ProcFs.
 */
import path = require('node:path')

import {ProcFs} from '../proc/proc-fs'
import {cgroupFactsOf, readCgroupRecord} from '../cgroup/service'
import {REASONS} from './types'
import {Pins, decidePreviousBoot, findRecorded, judgeRecord, pickRecorded, reusedHere, stampIds} from './by-id'
import {hasPtraceCap} from './denial'
import {ResolvedIdentity, checkIdentity} from './identity-options'
import {LockFinding, findLockHolder} from './lock-holder'
import type {IdentityRecord} from './record'
import {selfMountRef, throughRoot} from './locate-root'
import {OpenedPidfile, mode} from './pidfile'
import {applySafety} from './pidfile-trust'
import {ProcessFacts, describeProcess, readOutputs} from './process-info'
import {describeNames} from './process-names'
import {reconcileWithHolders} from './reconcile'
import type {LocateOptions, LocateResult, Located} from './types'
import {processesNumbered, readNames, resolveUnlocked} from './unlocked'
import {MountRef} from './visibility'

/** locate()'s options once resolved: under rootPid, the pidfile's path inside the root and the root's mount namespace. */
export type DecideOptions = LocateOptions & {innerPath?: string; mountRef?: MountRef; identity: ResolvedIdentity | null}

/** locate()'s decision over the open pidfile: fills `located` (state, pid, holder, ids, reasons, evidence). */
export function decide(located: Located, opened: OpenedPidfile, opts: DecideOptions, procfs: ProcFs): void {
  const {result} = located
  const {content, stat} = opened
  const written = content.pid
  result.evidence.push(
    written === null
      ? `${opened.path} holds "${content.shown}": ${content.problem?.replace('_', ' ')}`
      : `${opened.path} says pid ${written} (as numbered in the writer's PID namespace)`,
  )
  if (content.note) result.evidence.push(`${opened.path}: ${content.note}`)
  if (content.problem) result.reasons.push(content.problem)
  const finding = findLockHolder(opened.path, opened.fd, stat, procfs, written ? [written] : [], {writtenPid: written ?? undefined})
  result.pidfile = {path: opened.path, pid: written, lock: finding.lock, uid: stat.uid, mode: mode(stat.mode), recorded: null}
  result.evidence.push(...finding.evidence)
  const pins = new Pins(procfs)
  const record = judgeRecord(opened, result, Boolean(opts.allowUnsafe), pins)
  let main: ProcessFacts | null = null
  if (record?.kind === 'previous_boot') decidePreviousBoot(result, finding)
  else if (record?.kind === 'current' && written !== null) main = decideRecorded(located, finding, written, record.record, opts, procfs, pins)
  else {
    noteDenied(result, finding)
    main = finding.lock !== 'none' ? decideLocked(located, finding, written, opts, procfs) : decideUnlockedFile(result, opened, opts, procfs)
  }
  if (result.state === 'stale' && !result.reasons.includes('stale_pidfile')) result.reasons.push('stale_pidfile')
  if (main) {
    located.main = main
    result.pid = main.pid
    result.nspid = main.status.nspid
    const out = readOutputs(procfs, main.pid)
    result.pidns = out.pidns
    result.process = describeProcess(procfs, main, out.cmdline, pins.infoOf(main))
    result.container = out.container
  }
  // The safety rules first: a refused answer names no process, so nothing is pinned for it (a
  // process exiting while being inspected must not turn a refusal into GONE).
  applySafety(result, opened, {...opts, procfs}, main)
  stampIds(located, pins)
  // Only on a pidfile the safety rules accept (the owner's verdict included): a record is only as good as its file.
  const refused = result.reasons.some((r) => SAFETY.has(r))
  if (!refused || opts.allowUnsafe) describeCgroup(result, opened, procfs)
}

/** The safety reasons (types.ts SafetyReason): from 'symlink' to the end of REASONS. */
const SAFETY = new Set<string>(REASONS.slice(REASONS.indexOf('symlink')))

/**
 * The service's cgroup, as run recorded it beside the content (src/cgroup/service.ts): only on a
 * file that passes the safety rules, only the very directory recorded (its inode), in this boot.
 */
function describeCgroup(result: LocateResult, opened: OpenedPidfile, procfs: ProcFs): void {
  const record = readCgroupRecord(opened.fd)
  if (record === null) return
  if (typeof record === 'string') {
    result.evidence.push(`cgroup record ignored: ${record}`)
    return
  }
  const facts = cgroupFactsOf(record, result.starting ? null : result.pid, procfs, opened.stat.uid)
  result.cgroup = facts
  if (record.kind === 'none') {
    result.evidence.push(`run made the service no cgroup: ${facts.why}`)
    return
  }
  if (facts.dir === null) {
    result.evidence.push(`cgroup ${record.path} recorded by run not used: ${facts.why}`)
    return
  }
  const n = facts.processes.length
  const pids = `${facts.processes.slice(0, 20).join(', ')}${n > 20 ? ', ...' : ''}`
  if (result.state === 'running') {
    result.evidence.push(`cgroup ${facts.dir} (recorded by run) holds ${n === 0 ? 'no process visible here' : `${n} process${n === 1 ? '' : 'es'}: ${pids}`}`)
  } else if (facts.populated) {
    result.evidence.push(
      `cgroup ${facts.dir} (recorded by run) still holds ${n === 0 ? 'processes not visible here' : `pid${n === 1 ? '' : 's'} ${pids}`}: processes of the service outlived the one the file names (was run killed?); stop them with: echo 1 > ${facts.dir}/cgroup.kill`,
    )
  }
}

/**
 * Unreadable fds matter when they may hide the holder; once a holder is named they can only hide
 * more processes sharing the same lock (an fd inherited across fork), which the evidence says.
 */
function noteDenied(result: LocateResult, finding: LockFinding): void {
  if (finding.denied.length > 0 && finding.holders.length === 0) result.reasons.push('permission_denied')
  else if (finding.denied.length > 0)
    result.evidence.push('the holder is named; processes whose fds could not be read may share its lock (an inherited descriptor), and are not listed')
}

/**
 * A record of this boot (by-id.ts, rule 2): the service is the process with the recorded pidfs id.
 * First looked up by the id itself (findRecorded, Linux 6.17): the process with it, wherever the
 * number written sits in its NSpid. Otherwise through the lock when its holder is named (the
 * holder, or its descendant numbered as written); or among every process whose innermost pid is
 * the number written, in any PID namespace, and the one so numbered here (after a SIGKILLed
 * supervisor, or when the holder cannot be seen or named). No match: a visible holder keeps
 * today's locked answer (content_mismatch); an unnamed one keeps today's answer too; without a
 * lock the file is stale (pid_reused when the number lives on in another process). The process
 * with the id alive in a PID namespace not visible from here: never stale; the lock's answer, or
 * unknown (holder_not_visible). No process with the id at all (looked up by the id): only the pid
 * numbered as written here is looked at, for pid_reused.
 */
function decideRecorded(
  located: Located,
  finding: LockFinding,
  written: number,
  record: IdentityRecord,
  opts: DecideOptions,
  procfs: ProcFs,
  pins: Pins,
): ProcessFacts | null {
  const {result} = located
  const want = record.pidfdId
  const bootMs = procfs.bootTimeMs()
  const direct = findRecorded(procfs, record, written, bootMs, result.evidence)
  const byId = typeof direct === 'object' ? direct : null
  if (direct === 'gone') result.evidence.push(`no process has pidfs id ${want} (looked up by the id itself)`)
  if (finding.lock !== 'none' && finding.holders.length > 0) {
    noteDenied(result, finding)
    const said: string[] = []
    const r = reconcileWithHolders(finding.holders, written, procfs, bootMs, said, finding.holderStatus)
    result.state = 'running'
    result.holder = r.holder.pid
    located.holder = r.holder
    let match = byId
    if (byId && r.mismatch) {
      result.evidence.push(
        `the lock holder ${r.holder.pid} has no descendant numbered ${written} in its own PID namespace; the service (pid ${byId.pid}, NSpid ${byId.status.nspid.join(' ')}) is numbered so in another${byId.status.nspid.includes(written) ? '' : ', not visible from here'}`,
      )
    } else {
      result.evidence.push(...said)
      if (byId && r.main.pid !== byId.pid) result.evidence.push(`the record names pid ${byId.pid}, not ${r.main.pid}: the record decides`)
    }
    if (!byId) match = pickRecorded([r.main, r.holder], record, pins, result.evidence).match
    if (!match) {
      result.reasons.push('content_mismatch')
      result.evidence.push(
        `MISMATCH: neither the lock holder ${r.holder.pid} nor its descendant numbered ${written} is pidfs id ${want}, the process the file was written for; reporting the lock holder`,
      )
    }
    const main = match ?? r.holder
    if (opts.identity && !identityHolds(result, procfs, main, opts.identity)) return null
    return main
  }
  if (finding.lock === 'none') result.reasons.push('unlocked_pidfile')
  if (direct === 'not_visible') return notVisibleRecorded(located, finding, written, want, opts, procfs)
  let match = byId
  let live = 0
  if (direct === 'gone') {
    // Conclusive: no process has the id, so none is scanned for it; only whether the number lives on:
    // here, or (when it is free here) as the own pid of a process in another PID namespace, where
    // the file may have been written.
    if (reusedHere(procfs, record, written, bootMs, result.evidence)) live = 1
    else ({live} = pickRecorded(processesNumbered(procfs, written, bootMs, undefined, result.evidence, true).facts, record, pins, result.evidence))
  } else if (!match) {
    const {facts} = processesNumbered(procfs, written, bootMs, undefined, result.evidence, true)
    ;({match, live} = pickRecorded(facts, record, pins, result.evidence))
  }
  if (match) {
    result.state = 'running'
    if (finding.lock !== 'none') {
      result.evidence.push(
        finding.denied.length > 0
          ? `the lock's holder could not be named (fds not readable), but the service is: pid ${match.pid}`
          : `the lock's holder is not visible from here, but the service is: pid ${match.pid}`,
      )
    }
    if (opts.identity && !identityHolds(result, procfs, match, opts.identity)) return null
    return match
  }
  if (finding.lock !== 'none') {
    result.evidence.push(`no process visible here is pidfs id ${want}; the lock is held by a process that could not be named, which may be the service`)
    noteDenied(result, finding)
    return decideLocked(located, finding, written, opts, procfs)
  }
  result.state = 'stale'
  if (live > 0) result.reasons.push('pid_reused')
  result.evidence.push(
    live > 0
      ? `no process is pidfs id ${want}: the process the file was written for is gone, and its pid ${written} now belongs to another process`
      : `no process is pidfs id ${want}: the process the file was written for is gone`,
  )
  return null
}

/**
 * The process with the recorded id lives in a PID namespace not visible from here (it has no pid
 * here): it is the service, but cannot be named. Never stale: the lock's answer where one is held,
 * otherwise unknown (holder_not_visible).
 */
function notVisibleRecorded(located: Located, finding: LockFinding, written: number, want: number, opts: DecideOptions, procfs: ProcFs): ProcessFacts | null {
  const {result} = located
  if (finding.lock !== 'none') {
    result.evidence.push(
      `the lock is held by a process that could not be named; the service, pidfs id ${want}, is alive in a PID namespace not visible from here`,
    )
    noteDenied(result, finding)
    return decideLocked(located, finding, written, opts, procfs)
  }
  result.state = 'unknown'
  result.visible = false
  result.reasons.push('holder_not_visible')
  result.evidence.push(
    `the service (pidfs id ${want}) is running in a PID namespace this process cannot see, so it has no pid here; run on the host, share its PID namespace, or use --container`,
  )
  return null
}

/** A lock is held: the holder (or the process it supervises) is the service, unless it cannot be seen. */
function decideLocked(located: Located, finding: LockFinding, written: number | null, opts: DecideOptions, procfs: ProcFs): ProcessFacts | null {
  const {result} = located
  result.state = 'running'
  if (finding.notVisible) {
    result.visible = false
    if (finding.denied.length > 0) {
      // permission_denied is already among the reasons: the holder may be one of the unreadable processes.
      result.evidence.push(
        `the lock is held, but its holder is not among the processes whose fds could be read; ${hasPtraceCap(procfs) ? 'this process has CAP_SYS_PTRACE: the holder is a protected process' : 'run as root (with CAP_SYS_PTRACE) to name it'}`,
      )
    } else {
      result.reasons.push('holder_not_visible')
      result.evidence.push('the service is running in a PID namespace this process cannot see; run on the host, share its PID namespace, or use --container')
    }
    return null
  }
  const r = reconcileWithHolders(finding.holders, written, procfs, procfs.bootTimeMs(), result.evidence, finding.holderStatus)
  result.holder = r.holder.pid
  located.holder = r.holder
  if (r.mismatch) result.reasons.push('content_mismatch')
  if (written === null) {
    result.starting = true
    result.evidence.push(
      `starting: pid ${r.holder.pid} holds the lock on an empty file; it may be the service or its supervisor, which writes the service's pid next`,
    )
  }
  if (opts.identity && !identityHolds(result, procfs, r.main, opts.identity)) return null
  return r.main
}

/** No lock: the number in the file is weighed against the process table (identity model, unlocked.ts). */
function decideUnlockedFile(result: LocateResult, opened: OpenedPidfile, opts: DecideOptions, procfs: ProcFs): ProcessFacts | null {
  const written = opened.content.pid
  result.reasons.push('unlocked_pidfile')
  if (written === null) {
    result.state = 'stale'
    result.evidence.push('no lock and no usable pid: nothing identifies a process')
    return null
  }
  const base = path.basename(opened.path).replace(/\.pid$/, '')
  const via = opts.innerPath === undefined ? throughRoot(opened.path, procfs) : null
  const r = resolveUnlocked({
    content: written,
    file: opts.innerPath ?? via?.inner ?? opened.path,
    stat: opened.stat,
    names: [opts.name, base, ...(opts.alsoNamed ?? [])],
    procfs,
    bootMs: procfs.bootTimeMs(),
    pidns: opts.pidns,
    placedNs: via?.placedNs,
    mountRef: opts.mountRef ?? via?.mountRef ?? selfMountRef(procfs),
    identity: opts.identity,
  })
  result.evidence.push(...r.evidence)
  result.state = r.state
  for (const reason of r.reasons) if (!result.reasons.includes(reason)) result.reasons.push(reason)
  return r.main
}

/**
 * The identity options hold for the service found through the lock, or the answer is unknown
 * (identity_mismatch) and names no process. A starting service's holder may be its supervisor:
 * then nothing is claimed yet (wait --for running keeps waiting).
 */
function identityHolds(result: LocateResult, procfs: ProcFs, main: ProcessFacts, identity: ResolvedIdentity): boolean {
  const names = readNames(procfs, main)
  const check = checkIdentity(procfs, main, names, identity)
  result.evidence.push(check.ok ? check.detail : `MISMATCH: ${check.detail} (${describeNames(names)})`)
  if (check.ok) return true
  result.state = 'unknown'
  result.reasons.push('identity_mismatch')
  result.holder = null
  return false
}
