/**
 * An unlocked pidfile holds a bare number written in SOME pid namespace. Candidates are user-space
 * processes whose innermost pid (last NSpid column) equals it; they are narrowed step by step and
 * every step is reported. Never guess: more than one survivor is `ambiguous`.
 *
 *  (a) per pid namespace, translate the number with ioctl(NS_GET_PID_FROM_PIDNS) (one call per
 *      namespace); on kernels without it, scan that namespace's processes' NSpid.
 *  (b) the candidate's mount namespace must see this very file (same dev:inode at the same path
 *      under /proc/PID/root).
 *  (c) its comm, executable or argv[0] starts with NAME or the pidfile's base name.
 *  (d) it started no later than the file was last written; else the pid was reused.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {isErrno} from '../errors'
import {NS_TRANSLATE_UNSUPPORTED, nsPidFromPidns} from '../native/binding'
import {isKernelThread} from '../proc/parse-stat'
import {ProcFs} from '../proc/proc-fs'
import {ProcessFacts, readFacts} from './process-info'

export interface UnlockedResolution {
  survivors: ProcessFacts[]
  /** a candidate was dropped only because it started after the file was written */
  reused: boolean
  /**
   * candidates that passed every other step but whose mount namespace we were not allowed to look
   * into (/proc/PID/root and mountinfo need ptrace access: CAP_SYS_PTRACE): they can be neither
   * confirmed nor ruled out, so the answer is "cannot tell", never "stale"
   */
  undetermined: ProcessFacts[]
  evidence: string[]
}

/** Slack for comparing a start time (10 ms ticks, boot time read at 10 ms) with a file mtime. */
const START_SLACK_MS = 30

export function resolveUnlocked(opts: {
  content: number
  file: string
  stat: fs.Stats
  names: string[]
  procfs: ProcFs
  bootMs: number
  /** restrict to this pid namespace (`pid:[inode]`), e.g. a container's */
  pidns?: string
}): UnlockedResolution {
  const {content, procfs} = opts
  const evidence: string[] = []
  const found = candidatesByNamespace(procfs, content, opts.pidns, evidence)
  let facts: ProcessFacts[] = []
  for (const pid of found) {
    const f = readFacts(procfs, pid, opts.bootMs)
    if (!f) continue
    if (isKernelThread(f.stat)) {
      evidence.push(`pid ${pid} is a kernel thread: not a candidate`)
      continue
    }
    if (f.stat.state === 'Z' || f.stat.state === 'X') {
      evidence.push(`pid ${pid} has exited (state ${f.stat.state}): not a candidate`)
      continue
    }
    facts.push(f)
  }
  if (facts.length === 0) {
    evidence.push(`no live process has innermost pid ${content} in any PID namespace visible here`)
    return {survivors: [], reused: false, undetermined: [], evidence}
  }
  evidence.push(`candidates with innermost pid ${content}: ${facts.map((f) => `${f.pid} (${f.stat.comm})`).join(', ')}`)

  // (b) the candidate sees this very file; one whose mount namespace we may not look into is kept
  // aside (undetermined) and goes through (c) and (d) too.
  const sees = new Map(facts.map((f) => [f.pid, seesFile(procfs, f.pid, opts.file, opts.stat)]))
  let undetermined = facts.filter((f) => sees.get(f.pid) === 'denied')
  for (const f of undetermined) {
    evidence.push(`pid ${f.pid}: not allowed to look into its mount namespace (/proc/${f.pid}/root, mountinfo: needs CAP_SYS_PTRACE), so whether it sees this pidfile cannot be checked`)
  }
  facts = narrow(facts.filter((f) => sees.get(f.pid) !== 'denied'), evidence, 'sees this pidfile', (f) => sees.get(f.pid) === true,
    `neither ${opts.file} nor NAME.pid under any of its mount points is this file (dev:inode) in its mount namespace`)

  // (c) name
  const names = [...new Set(opts.names.filter(Boolean))]
  const named = (f: ProcessFacts) => matchesName(procfs, f, names)
  facts = narrow(facts, evidence, `is named ${names.join(' or ')}`, named, 'its comm, executable and argv[0] do not match')
  undetermined = undetermined.filter(named)

  // (d) start time against the file's mtime
  let reused = false
  const mtime = opts.stat.mtimeMs
  const before = facts.length
  const startedBefore = (f: ProcessFacts) => f.startedMs <= mtime + START_SLACK_MS
  facts = narrow(facts, evidence, 'started before the pidfile was written', startedBefore,
    (f) => `it started at ${new Date(f.startedMs).toISOString()}, after the file was written at ${new Date(mtime).toISOString()}: the pid was reused`)
  if (before > 0 && facts.length === 0) reused = true
  undetermined = undetermined.filter(startedBefore)
  if (undetermined.length > 0) {
    evidence.push(`pid ${undetermined.map((f) => f.pid).join(', ')} would fit but could not be checked against the pidfile (permission)`)
  }
  return {survivors: facts, reused, undetermined, evidence}
}

/**
 * Does pid's mount namespace contain this file? At the same path first; else (a volume mounted at
 * another path, e.g. host /srv/app/run -> container /run) directly under any of its mount points.
 */
export function seesFile(procfs: ProcFs, pid: number, file: string, stat: fs.Stats): boolean | 'denied' {
  const root = procfs.file(pid, 'root')
  // Whether we may look into its mount namespace at all: /proc/PID/root itself needs ptrace access.
  // (EACCES on one path further down, such as a 0710 directory, only means "not there".)
  try {
    fs.statSync(root)
  } catch (error) {
    return isErrno(error, 'EACCES', 'EPERM') ? 'denied' : false
  }
  const same = (p: string) => {
    try {
      const s = fs.statSync(path.join(root, p))
      return s.dev === stat.dev && s.ino === stat.ino
    } catch {
      return false
    }
  }
  if (same(file)) return true
  let mountinfo = ''
  try {
    mountinfo = fs.readFileSync(procfs.file(pid, 'mountinfo'), 'utf8')
  } catch (error) {
    return isErrno(error, 'EACCES', 'EPERM') ? 'denied' : false
  }
  const base = path.basename(file)
  // mountinfo(5): ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; octal escapes for spaces.
  for (const line of mountinfo.split('\n')) {
    const cols = line.split(' ')
    if (cols.length < 5) continue
    const mp = cols[4].replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(Number.parseInt(o, 8)))
    if (same(path.join(mp, base))) return true
  }
  return false
}

function narrow(facts: ProcessFacts[], evidence: string[], what: string, keep: (f: ProcessFacts) => boolean,
  why: string | ((f: ProcessFacts) => string)): ProcessFacts[] {
  const kept: ProcessFacts[] = []
  for (const f of facts) {
    if (keep(f)) kept.push(f)
    else evidence.push(`pid ${f.pid} dropped: ${typeof why === 'string' ? why : why(f)}`)
  }
  if (kept.length > 0) evidence.push(`pid ${kept.map((f) => f.pid).join(', ')} ${what}`)
  return kept
}

export function matchesName(procfs: ProcFs, f: ProcessFacts, names: string[]): boolean {
  const ids = [f.stat.comm]
  try {
    ids.push(path.basename(fs.readlinkSync(procfs.file(f.pid, 'exe')).replace(/ \(deleted\)$/, '')))
  } catch {}
  try {
    const argv0 = procfs.readCmdline(f.pid)[0]
    if (argv0) ids.push(path.basename(argv0.split(' ')[0]))
  } catch {}
  return names.some((n) => ids.some((id) => id.startsWith(n) || (id.length === 15 && n.startsWith(id))))
}

/** Host-side pids of processes whose innermost pid is `content`, one namespace at a time. */
function candidatesByNamespace(procfs: ProcFs, content: number, onlyNs: string | undefined, evidence: string[]): number[] {
  const byNs = new Map<string, number[]>()
  const unknownNs: number[] = []
  for (const pid of procfs.listPids()) {
    try {
      const link = fs.readlinkSync(procfs.file(pid, 'ns', 'pid'))
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
    let x: number | null | typeof NS_TRANSLATE_UNSUPPORTED = NS_TRANSLATE_UNSUPPORTED
    try {
      const fd = fs.openSync(procfs.file(pids[0], 'ns', 'pid'), 'r')
      try {
        x = nsPidFromPidns(fd, content)
      } finally {
        fs.closeSync(fd)
      }
    } catch {}
    if (x === NS_TRANSLATE_UNSUPPORTED) {
      // Older kernel, or the ns file could not be opened: scan this namespace's processes.
      scanned++
      for (const pid of pids) if (innermost(procfs, pid) === content) out.push(pid)
      continue
    }
    translated++
    // x is numbered `content` in ns; it is a candidate only if ns is its OWN (innermost) namespace.
    if (x !== null && fs.existsSync(procfs.file(x)) && sameNs(procfs, x, ns)) out.push(x)
  }
  // Processes whose ns link we may not read (another user's, without CAP_SYS_PTRACE): status is world-readable.
  for (const pid of unknownNs) if ((!onlyNs) && innermost(procfs, pid) === content) out.push(pid)
  evidence.push(`looked for innermost pid ${content} in ${byNs.size} PID namespace(s)` +
    (onlyNs ? ` (only ${onlyNs})` : '') +
    `: ${translated} by ioctl(NS_GET_PID_FROM_PIDNS), ${scanned} by NSpid scan` +
    (unknownNs.length ? `, ${unknownNs.length} process(es) by status only (ns link not readable)` : ''))
  return out
}

function sameNs(procfs: ProcFs, pid: number, ns: string): boolean {
  try {
    return fs.readlinkSync(procfs.file(pid, 'ns', 'pid')) === ns
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
