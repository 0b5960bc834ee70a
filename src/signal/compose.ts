/**
 * signal()'s answer once the targets are pinned: what a dry run would do, and what a real run did
 * (the outcome and the message, with what the signal does to its targets: landing.ts).
 */
import {isPopulated, procsBelow} from '../cgroup/v2'
import {formatPidRef} from '../kernel/pidfs'
import {killDenial} from './caps'
import {endedOf, firstFact, briefly, inertOf, retryAdvice} from './landing'
import type {Sig} from './parse'
import {Pinned, send} from './pin'
import type {Members} from './scope'
import type {SignalResult} from './types'

/** dryRun: the same checks as a real run, the kernel's permission check included (signal 0 through each pidfd). */
export function dryRun(out: SignalResult, members: Members, sig: Sig, gate: (p: Pinned, s: Sig) => boolean): SignalResult {
  const allowed: Pinned[] = []
  for (const p of members.pinned) {
    if (!gate(p, sig)) continue
    const r = send(p, 0)
    if (r === 'sent') allowed.push(p)
    else if (!out.skipped.some((s) => s.pid === p.pid && s.reason === r)) out.skipped.push({pid: p.pid, pidfdId: p.id, reason: r})
  }
  out.wouldDeliver = allowed.map((p) => ({pid: p.pid, pidfdId: p.id, nspid: p.nspid}))
  if (allowed.length > 0) {
    out.outcome = 'would_signal'
    out.message = `${out.name}: would send ${sig.name} to ${describePids(allowed)} (dry run: nothing sent)`
    return out
  }
  const perm = out.skipped.some((s) => s.reason === 'permission')
  const unhandled = out.skipped.some((s) => s.reason === 'no_handler')
  out.outcome = perm ? 'not_permitted' : unhandled ? 'no_handler' : 'not_running'
  if (perm) return notPermitted(out, ' (dry run: nothing sent)')
  out.message = unhandled
    ? `${out.name}: would send ${sig.name} to no process: none catches it (--require-handler; dry run)`
    : `${out.name}: the process exited before it could be signalled (dry run: nothing sent)`
  return out
}

function describePids(pinned: Pinned[]): string {
  const shown = pinned
    .slice(0, 10)
    .map((p) => `pid ${formatPidRef(p.pid, p.id)}${p.nspid.length > 1 ? ` (NSpid ${p.nspid.join(' ')})` : ''}`)
    .join(', ')
  return pinned.length > 10 ? `${shown} and ${pinned.length - 10} more` : shown
}

/** "not permitted to signal PIDS (why)", then what to do, also as the result's advice. */
function notPermitted(out: SignalResult, dry: string): SignalResult {
  const {why, advice} = killDenial()
  out.message = `${out.name}: not permitted to signal ${refsOf(out.skipped)} (${why})${dry}${advice !== null ? `; ${advice}` : ''}`
  if (advice !== null) out.advice = advice
  return out
}

/** The processes of `list` as PID:ID (PID where the id is unknown), each once, in order. */
function refsOf(list: Array<{pid: number; pidfdId: number | null}>): string {
  return [...new Set(list.map((e) => formatPidRef(e.pid, e.pidfdId)))].join(', ')
}

/**
 * The outcome and message of a real run, from what was delivered, (waiting) whether it all exited,
 * and what the signal does to its targets (landing.ts: the first target it does nothing to, in few
 * words; each one in --verbose and --json). Outcome: nothing sent because no target catches it
 * (requireHandler) -> no_handler; sent, with no effect on any target and nothing waited for -> no_effect.
 */
export function finish(out: SignalResult, sig: string, waiting: boolean, requireHandler = false): SignalResult {
  const name = out.name
  const pids = [...new Set(out.delivered.map((d) => formatPidRef(d.pid, d.pidfdId)))]
  if (pids.length === 0) {
    if (requireHandler && out.skipped.some((s) => s.reason === 'no_handler')) {
      // What each target does with it instead: in --json and --verbose (a line a terminal shows whole)
      out.outcome = 'no_handler'
      out.advice = 'see what each target does with it: add --verbose (or --json)'
      out.message = `${name}: nothing was signalled: no target catches ${sig} (--require-handler); ${out.advice}`
      return out
    }
    const perm = out.skipped.some((s) => s.reason === 'permission')
    out.outcome = perm ? 'not_permitted' : 'not_running'
    if (perm) return notPermitted(out, '')
    out.message = `${name}: the process exited before it could be signalled; nothing was signalled`
    return out
  }
  const sigs = [...new Set(out.delivered.map((d) => d.signal))].join(', then ')
  const {inert, one} = inertOf(out)
  if (waiting && !out.exited) {
    out.outcome = 'still_running'
    const dir = out.target.cgroup?.dir
    const left = dir && isPopulated(dir) === true ? procsBelow(dir) : []
    // What outlived the wait may be only what is left in the service's cgroup (an escape the scope did not reach).
    if (dir && left.length > 0 && !left.some((p) => out.delivered.some((d) => d.pid === p))) {
      out.message = `${name}: sent ${sigs} to ${pids.join(', ')} (exited), but after ${out.waitedMs} ms cgroup ${dir} still holds pid${left.length === 1 ? '' : 's'} ${left.slice(0, 10).join(', ')}${left.length > 10 ? ', ...' : ''} (use --scope cgroup)`
      return out
    }
    if (inert.length === 0) {
      out.message = `${name}: sent ${sigs} to ${pids.join(', ')}, still running after ${out.waitedMs} ms`
      return out
    }
    const advice = retryAdvice(inert, sig)
    if (advice !== null) out.advice = advice
    out.message = `${name}: sent ${sigs} to ${pids.join(', ')}, still running after ${out.waitedMs} ms: ${firstFact(inert, one)}${advice !== null ? `; ${advice}` : ''}`
    return out
  }
  out.outcome = sig === '0' ? 'probed' : 'signalled'
  const to = `${pids.length === 1 ? 'pid' : 'pids'} ${pids.join(', ')}`
  if (sig === '0') out.message = `${name}: pid ${pids.join(', ')} is there and may be signalled (signal 0: nothing sent)`
  else if (waiting)
    out.message = `${name}: sent ${sigs} to ${to}; exited after ${out.waitedMs} ms${endedOf(out)}${inert.length > 0 ? `; ${briefly(inert)}` : ''}`
  else if (inert.length === 0) out.message = `${name}: sent ${sigs} to ${to}`
  else {
    const everyTargetInert = out.delivered.every((d) => inert.some((i) => i.pid === d.pid && i.signal === d.signal))
    if (everyTargetInert) out.outcome = 'no_effect'
    out.message = `${name}: sent ${sigs} to ${to}, but it will not act: ${firstFact(inert, one)}`
  }
  return out
}
