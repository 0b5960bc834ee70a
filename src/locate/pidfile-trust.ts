/**
 * Whether locate() may believe a pidfile: refuse what systemd and start-stop-daemon refuse
 * (docs/nslocate.1.md, NOTES "Safety rules"). The mode and path facts come from openPidfile();
 * the rules that depend on the process the file names are decided here:
 * - as root, a pidfile owned by another user naming a process that user does not own
 *   (CVE-2018-16888: an unprivileged user could make root signal any process);
 * - the same for every user or group who controls the path (owns a directory or symlink on it, or
 *   may write a directory on it): trusted only for a process of their own.
 */
import {userName} from '../path-trust'
import {ProcFs, proc} from '../proc/proc-fs'
import {clearIds} from './by-id'
import type {LocateResult, Reason} from './types'
import {groupOnlyOf} from './group-members'
import {ResolvedIdentity} from './identity-options'
import {OpenedPidfile} from './pidfile'
import {ProcessFacts} from './process-info'

/** What the trust rules need besides the opened pidfile. */
export interface TrustOptions {
  uid?: number
  allowUnsafe?: boolean
  procfs?: ProcFs
  /** the caller's --exec/--user, already checked against `main` by locate() */
  identity?: ResolvedIdentity | null
}

/** Path problems that a stated identity (--exec or --user) the process matches may override. */
const PATH_REASONS = new Set(['unsafe_directory', 'unsafe_symlink'])

/** Every reason not to believe `opened` for the process `main` (null: it names none). */
export function trustProblems(
  opened: OpenedPidfile,
  result: LocateResult,
  main: ProcessFacts | null,
  opts: TrustOptions,
): Array<{reason: Reason; detail: string}> {
  const problems = opened.unsafe.map((u) => ({reason: u.reason as Reason, detail: u.detail}))
  const callerUid = opts.uid ?? process.getuid?.() ?? 0
  const owner = opened.stat.uid
  if (callerUid === 0 && owner !== 0 && result.process && result.process.uid !== owner) {
    problems.push({
      reason: 'unsafe_owner',
      detail: `${opened.path} is owned by uid ${owner} but names pid ${result.pid} of uid ${result.process.uid}: an unprivileged user could make root signal any process`,
    })
  }
  // A pidfile its group may write (group_writable) is the process's own when that group is the
  // process's primary group and holds nobody but its user: Debian's redis (start-stop-daemon
  // --umask 007 --chuid redis:redis) writes 0660 redis:redis, and the group redis has no members.
  const gw = problems.findIndex((p) => p.reason === 'group_writable')
  if (gw >= 0 && main && opened.stat.gid === main.status.gid[0] && groupOnlyOf(opened.stat.gid, main.status.uid[0]).only) problems.splice(gw, 1)
  if (main) {
    const uid = main.status.uid[0]
    const gid = main.status.gid[0]
    const seen = new Set<string>()
    for (const c of opened.controllers) {
      if (seen.has(`${c.kind}:${c.id}:${c.reason}`)) continue
      seen.add(`${c.kind}:${c.id}:${c.reason}`)
      if (c.kind === 'uid' && c.id === uid) continue
      if (c.kind === 'gid' && c.id === gid) {
        // A group has members: it is the process's own only when nobody but its user can be in it.
        const group = groupOnlyOf(gid, uid)
        if (group.only) continue
        problems.push({
          reason: c.reason,
          detail:
            `${c.what}: group ${group.describe}, not only uid ${uid} whose pid ${main.pid} the file names; ` +
            `any member could replace ${opened.path}; a group-writable directory is trusted only when its group holds nobody but the process's own user`,
        })
        continue
      }
      problems.push({
        reason: c.reason,
        detail:
          `${c.what}, who could replace ${opened.path} or redirect its path, but it names pid ${main.pid} of uid ${uid} (gid ${gid}); ` +
          "every directory and symlink on the way must belong to root, the caller, or the process's own user",
      })
    }
  }
  return problems
}

/**
 * Applies trustProblems(): with --allow-unsafe-pidfile as warnings, otherwise the answer becomes
 * unknown with no process. A path another user controls (unsafe_directory, unsafe_symlink) is
 * accepted, as a warning, when the caller stated who the service is with --exec or --user and the
 * process matches (start-stop-daemon's model; systemd accepts such a pidfile when its pid belongs
 * to the unit): whoever controls the path can then point only at a process that is the service.
 */
export function applySafety(result: LocateResult, opened: OpenedPidfile, opts: TrustOptions, main: ProcessFacts | null): void {
  if (opened.symlinks.length > 0) result.evidence.push(`reached through ${opened.symlinks.join(', ')}`)
  const problems = trustProblems(opened, result, main, opts)
  if (problems.length === 0) return
  for (const p of problems) if (!result.reasons.includes(p.reason)) result.reasons.push(p.reason)
  if (opts.allowUnsafe) {
    for (const p of problems) result.evidence.push(`WARNING: ${p.detail} (accepted: --allow-unsafe-pidfile)`)
    return
  }
  const id = opts.identity
  const stated = id && (id.exec !== undefined || id.uid !== undefined)
  if (main && stated && problems.every((p) => PATH_REASONS.has(p.reason))) {
    for (const p of problems) result.evidence.push(`WARNING: ${p.detail} (accepted: pid ${main.pid} matches ${id.shown})`)
    return
  }
  for (const p of problems) result.evidence.push(`REFUSED: ${p.detail}`)
  result.evidence.push(refusalHint(problems, main, opts.procfs ?? proc))
  result.state = 'unknown'
  result.pid = null
  result.holder = null
  clearIds(result)
  result.nspid = []
  result.pidns = null
  result.process = null
  result.container = null
}

/** What to do, with the exact flags: a path problem is overridden by stating the service's identity. */
function refusalHint(problems: Array<{reason: string}>, main: ProcessFacts | null, procfs: ProcFs): string {
  const generic = 'not trusting this pidfile; fix its ownership/mode, or pass --allow-unsafe-pidfile to accept it'
  if (!main || !problems.every((p) => PATH_REASONS.has(p.reason))) return generic
  let exe: string | null = null
  try {
    exe = procfs.readLink(main.pid, 'exe').replace(/ \(deleted\)$/, '')
  } catch {}
  const user = userName(main.status.uid[0]) || String(main.status.uid[0])
  const flags = `${exe ? `--exec ${exe} ` : ''}--user ${user}`
  return `not trusting this pidfile: its path is controlled by someone else. If pid ${main.pid} (${exe ?? 'executable unreadable'}, uid ${main.status.uid[0]}) is the service, say so with ${flags}; or fix the directory's ownership, or pass --allow-unsafe-pidfile`
}
