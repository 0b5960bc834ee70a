/**
 * An unlocked pidfile holds a bare number written in SOME pid namespace. This reads the facts about
 * every process that could have written it; identity.ts decides (docs/nslocate.1.md, NOTES, "The
 * identity model"). Every read goes through ProcFs, so the decision is tested over captured trees.
 *
 *  (a) per pid namespace, translate the number with ioctl(NS_GET_PID_FROM_PIDNS) (one call per
 *      namespace); on kernels without it, scan that namespace's processes' NSpid.
 *  (b) whether its mount namespace holds this very file (visibility.ts);
 *  (c) its names (comm, exe, argv[0], script) against NAME and the pidfile's base name;
 *  (d) whether it started no later than the file was last written (else the pid was reused);
 *  (e) the identity options (--exec, --process-name, --user), when given.
 */
import {NS_TRANSLATE_UNSUPPORTED} from '../native/binding'
import {isKernelThread} from '../proc/parse-stat'
import {ProcFs} from '../proc/proc-fs'
import {ptraceDenial} from './denial'
import {Candidate, UnlockedDecision, decideUnlocked} from './identity'
import {ResolvedIdentity, checkIdentity} from './identity-options'
import {ProcessFacts, printedStart, readFacts} from './process-info'
import {ProcessNames, matchName, processNames} from './process-names'
import {MountRef, seesFile} from './visibility'
import {fileIds, pidNumberTrusted, processCouldWrite} from './writer'

/** Slack for comparing a start time (10 ms ticks, boot time read at 10 ms) with a file mtime. */
export const START_SLACK_MS = 30

/** What resolveUnlocked() weighs: the number, the file, the names, where the file was opened. */
export interface UnlockedInput {
  content: number
  /** the pidfile's path in the reference mount namespace (under --root-pid: inside it) */
  file: string
  stat: {dev: number | bigint; ino: number | bigint; mtimeMs: number; uid: number; gid: number; mode: number}
  names: string[]
  procfs: ProcFs
  bootMs: number
  /** restrict to this pid namespace (`pid:[inode]`), e.g. a container's: positive identity by place */
  pidns?: string
  /** the file was reached through this pid namespace's root (/proc/P/root/...): identity by place */
  placedNs?: {pidns: string; why: string}
  /** the mount namespace the file was opened in */
  mountRef: MountRef
  identity?: ResolvedIdentity | null
}

/** Reads the candidates for an unlocked pidfile's number and decides (identity.ts). */
export function resolveUnlocked(opts: UnlockedInput): UnlockedDecision {
  const {content, procfs} = opts
  const evidence: string[] = []
  const {facts, links} = processesNumbered(procfs, content, opts.bootMs, opts.pidns, evidence)
  if (facts.length === 0) {
    evidence.push(`no live process has innermost pid ${content} in any PID namespace visible here`)
    return {main: null, state: 'stale', reasons: [], evidence}
  }
  evidence.push(`candidates with innermost pid ${content}: ${facts.map((f) => `${f.pid} (${f.stat.comm})`).join(', ')}`)
  const names = [...new Set(opts.names.filter(Boolean))]
  const cands = facts.map((f) => candidate(opts, f, names, links.get(f.pid) ?? null))
  const d = decideUnlocked(cands, {content, names, mtimeMs: opts.stat.mtimeMs, ptraceHint: ptraceHint(procfs, cands)})
  return {...d, evidence: [...evidence, ...d.evidence]}
}

/**
 * The live user-space processes whose innermost pid (last NSpid column) is `content`, in every PID
 * namespace visible here (or only `onlyNs`), with their facts: every process a pidfile saying
 * `content` can name. `alsoHere`: and the process numbered `content` in this namespace, whatever
 * its innermost pid (a writer here may number a process of a child namespace as we do). Threads,
 * kernel threads and zombies are left out, each said in `evidence`. `links`: the ns/pid link of
 * each, as read for the translation.
 */
export function processesNumbered(
  procfs: ProcFs,
  content: number,
  bootMs: number,
  onlyNs: string | undefined,
  evidence: string[],
  alsoHere = false,
): {facts: ProcessFacts[]; links: Map<number, string>} {
  const links = new Map<number, string>()
  const found = candidatesByNamespace(procfs, content, onlyNs, evidence, links)
  if (alsoHere && !found.includes(content) && procfs.exists(content)) found.push(content)
  const facts: ProcessFacts[] = []
  for (const pid of found) {
    const f = readFacts(procfs, pid, bootMs)
    if (!f) continue
    if (isKernelThread(f.stat)) {
      evidence.push(`pid ${pid} is a kernel thread: not a candidate`)
      continue
    }
    // ioctl(NS_GET_PID_FROM_PIDNS) translates any task id, and /proc/TID answers for a thread too:
    // a pidfile holds getpid(), the thread-group leader's id, so a thread is never the writer.
    if (f.status.tgid !== f.status.pid) {
      evidence.push(`pid ${pid} is a thread of process ${f.status.tgid}, not a process: not a candidate`)
      continue
    }
    if ((f.stat.state === 'Z' || f.stat.state === 'X') && hasExited(procfs, f)) {
      evidence.push(`pid ${pid} has exited (state ${f.stat.state}): not a candidate`)
      continue
    }
    facts.push(f)
  }
  return {facts, links}
}

/**
 * Whether a process /proc shows as a zombie (Z) has exited. A process whose main thread exited
 * while its other threads run shows Z too, and lives on (its pid is still its getpid()): exited
 * only when its pidfd says so (pinned facts were read with a pidfd that had not exited: readFacts
 * returns none for an exited process), or, unpinned, when /proc/PID/task lists the leader alone.
 */
function hasExited(procfs: ProcFs, f: ProcessFacts): boolean {
  if (f.pidfdId !== null) return false
  try {
    return procfs.listTasks(f.pid).length <= 1
  } catch {
    return true
  }
}

/**
 * The task to read a process's root, namespaces, executable and command line through: itself, or,
 * when its leader is a zombie (the process lives on in other threads), its first other thread
 * (/proc/TID answers for a thread, though /proc does not list it).
 */
function liveTask(procfs: ProcFs, f: ProcessFacts): number {
  if (f.stat.state !== 'Z') return f.pid
  try {
    const other = procfs
      .listTasks(f.pid)
      .map(Number)
      .find((t) => t !== f.pid && Number.isInteger(t))
    if (other !== undefined) return other
  } catch {}
  return f.pid
}

/** `pidns`: its ns/pid link as read a moment ago in this very call (null: read it now). */
function candidate(opts: UnlockedInput, f: ProcessFacts, names: string[], pidns: string | null): Candidate {
  const {procfs} = opts
  // A process whose leader exited while its other threads run: its leader's root, namespaces and
  // executable are gone, its live thread's are the process's.
  const at = liveTask(procfs, f)
  const n = readNames(procfs, f, at)
  const sight = seesFile(procfs, at, opts.file, opts.stat, opts.mountRef)
  if (pidns === null) {
    try {
      pidns = procfs.readPidnsLink(at)
    } catch {}
  }
  let placed: string | null = null
  if (opts.pidns && pidns === opts.pidns) placed = `it is in the PID namespace given (${opts.pidns})`
  else if (opts.placedNs && pidns === opts.placedNs.pidns) placed = opts.placedNs.why
  const nameMatch = matchName(n, names)
  const file = fileIds(opts.stat)
  const w = processCouldWrite(procfs, at, f.status, file)
  let writer: Candidate['writer'] = {ok: true, self: true, why: w.why}
  if (!w.ok) {
    const num = pidNumberTrusted(procfs, at, f.status.nspid.length === 1, file)
    writer = {ok: num.ok, self: false, why: num.ok === true ? `${num.why} (it could not have written the file itself: ${w.why})` : `${w.why}, and ${num.why}`}
  }
  return {
    writer,
    facts: f,
    names: n,
    ownNs: f.status.nspid.length === 1,
    nsInit: opts.content === 1,
    sees: sight.sees,
    seesWhy: sight.why,
    startedBefore: f.startedMs <= opts.stat.mtimeMs + START_SLACK_MS,
    started: printedStart(procfs, f),
    placed,
    nameMatch: nameMatch ? `its ${nameMatch} matches` : null,
    identity: opts.identity ? checkIdentity(procfs, f, n, opts.identity) : null,
  }
}

/** A process's names (comm, exe, argv[0], script), each degrading to nothing when unreadable. `at`: read them through this task of it (liveTask). */
export function readNames(procfs: ProcFs, f: ProcessFacts, at = f.pid): ProcessNames {
  let exe: string | null = null
  try {
    exe = procfs.readLink(at, 'exe')
  } catch {}
  let cmdline: string[] = []
  try {
    cmdline = procfs.readCmdline(at)
  } catch {}
  return processNames(f.stat.comm, exe, cmdline)
}

function ptraceHint(procfs: ProcFs, cands: Candidate[]): string {
  const denied = cands.find((c) => c.sees === 'denied')
  return denied ? ptraceDenial(procfs, denied.facts.pid) : 'run as root to decide'
}

/**
 * Host-side pids of processes whose innermost pid is `content`, one namespace at a time. `links`
 * gets the ns/pid link of each translated candidate, read afresh after the translation (the walk's
 * links may be a pass's older reading, proc-pass.ts), so candidate() need not read it again.
 */
function candidatesByNamespace(procfs: ProcFs, content: number, onlyNs: string | undefined, evidence: string[], links: Map<number, string>): number[] {
  const byNs = new Map<string, number[]>()
  const unknownNs: number[] = []
  for (const pid of procfs.listPids()) {
    try {
      const link = procfs.readPidnsLink(pid)
      const list = byNs.get(link)
      if (list) list.push(pid)
      else byNs.set(link, [pid])
    } catch (error) {
      // ENOENT: exited meanwhile. EACCES: another user's process without CAP_SYS_PTRACE.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') unknownNs.push(pid)
    }
  }
  const out: number[] = []
  let scanned = 0
  let translated = 0
  for (const [ns, pids] of byNs) {
    if (onlyNs && ns !== onlyNs) continue
    const x = procfs.pidFromPidns(pids[0], content)
    if (x === NS_TRANSLATE_UNSUPPORTED) {
      // Older kernel, or the ns file could not be opened: scan this namespace's processes.
      scanned++
      for (const pid of pids) if (innermost(procfs, pid) === content) out.push(pid)
      continue
    }
    translated++
    // x is numbered `content` in ns; it is a candidate only if ns is its OWN (innermost) namespace.
    if (x !== null && procfs.exists(x) && sameNs(procfs, x, ns)) {
      out.push(x)
      links.set(x, ns)
    }
  }
  // Processes whose ns link we may not read (another user's, without CAP_SYS_PTRACE): status is world-readable.
  for (const pid of unknownNs) if (!onlyNs && innermost(procfs, pid) === content) out.push(pid)
  evidence.push(
    `looked for innermost pid ${content} in ${byNs.size} PID namespace(s)` +
      (onlyNs ? ` (only ${onlyNs})` : '') +
      `: ${translated} by ioctl(NS_GET_PID_FROM_PIDNS), ${scanned} by NSpid scan` +
      (unknownNs.length ? `, ${unknownNs.length} process(es) by status only (ns link not readable)` : ''),
  )
  return out
}

function sameNs(procfs: ProcFs, pid: number, ns: string): boolean {
  try {
    return procfs.readPidnsLink(pid) === ns
  } catch {
    return false
  }
}

function innermost(procfs: ProcFs, pid: number): number | null {
  try {
    const ns = procfs.readStatus(pid).nspid
    return ns[ns.length - 1] ?? null
  } catch {
    return null
  }
}
