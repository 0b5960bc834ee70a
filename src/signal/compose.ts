/**
 * signal()'s answer once the targets are pinned: what a dry run would do, and what a real run did
 * (the outcome and the message; landing.ts then adds what the signal does to its targets).
 */
import {isPopulated, procsBelow} from '../cgroup/v2'
import {formatPidRef} from '../kernel/pidfs'
import {killDenial} from './caps'
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
    ? `${out.name}: would send ${sig.name} to no process (none catches it: --require-handler) (dry run: nothing sent)`
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

/** The outcome and message of a real run, from what was delivered and (waiting) whether it all exited. */
export function finish(out: SignalResult, sig: string, waiting: boolean): SignalResult {
  const name = out.name
  const pids = [...new Set(out.delivered.map((d) => formatPidRef(d.pid, d.pidfdId)))]
  if (pids.length === 0) {
    const perm = out.skipped.some((s) => s.reason === 'permission')
    out.outcome = perm ? 'not_permitted' : 'not_running'
    if (perm) return notPermitted(out, '')
    out.message = `${name}: the process exited before it could be signalled; nothing was signalled`
    return out
  }
  const sigs = [...new Set(out.delivered.map((d) => d.signal))].join(', then ')
  if (waiting && !out.exited) {
    out.outcome = 'still_running'
    const dir = out.target.cgroup?.dir
    const left = dir && isPopulated(dir) === true ? procsBelow(dir) : []
    // What outlived the wait may be only what is left in the service's cgroup (an escape the scope did not reach).
    out.message =
      dir && left.length > 0 && !left.some((p) => out.delivered.some((d) => d.pid === p))
        ? `${name}: sent ${sigs} to ${pids.join(', ')}; ${pids.length === 1 ? 'it has' : 'they have'} exited, but its cgroup ${dir} still holds pid${left.length === 1 ? '' : 's'} ${left.slice(0, 10).join(', ')}${left.length > 10 ? ', ...' : ''} after ${out.waitedMs} ms (--scope cgroup reaches them)`
        : `${name}: sent ${sigs} to ${pids.join(', ')}, still running after ${out.waitedMs} ms`
    return out
  }
  out.outcome = sig === '0' ? 'probed' : 'signalled'
  out.message =
    sig === '0'
      ? `${name}: pid ${pids.join(', ')} is there and may be signalled (signal 0: nothing sent)`
      : `${name}: sent ${sigs} to ${pids.length === 1 ? 'pid' : 'pids'} ${pids.join(', ')}` + (waiting ? `; exited after ${out.waitedMs} ms` : '')
  return out
}
