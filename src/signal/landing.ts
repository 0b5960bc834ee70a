/**
 * The hooks signal() calls so its result says whether the signal will land (disposition.ts) and how
 * the stopped service ended (exit-status.ts). Kept apart from signal.ts so that file only calls:
 *   gate() before each send, explain() on the finished result, recordExit() before unpinning.
 */
import type {SignalOutcome} from '../outcomes'
import type {ProcFs} from '../proc/proc-fs'
import {TargetDisposition, readDisposition} from './disposition'
import {ExitStatus, exitStatusOf} from './exit-status'
import {fact} from './progress'
import type {Sig} from './parse'
import type {Pinned} from './pin'

/** The fields these hooks add to SignalResult. */
export interface Landing {
  /** per target and signal, read just before sending (signal 0: none) */
  dispositions: TargetDisposition[]
  /** with wait/retry, once the main process has exited: its wait status (`unknown` before Linux 6.15); else null */
  exit: ExitStatus | null
}

interface Out extends Landing {
  name: string
  delivered: Array<{pid: number; signal: string}>
  skipped: Array<{pid: number; pidfdId: number | null; reason: string}>
  exited: boolean | null
  outcome: SignalOutcome
  message: string
  advice?: string
}

/**
 * Reads p's disposition for sig and records it. Returns false when the signal must not be sent:
 * with requireHandler, a target that does not catch it (util-linux kill --require-handler).
 */
export function gate(out: Out, p: Pinned, sig: Sig, requireHandler: boolean, procfs: ProcFs): boolean {
  let d = out.dispositions.find((x) => x.pid === p.pid && x.signal === sig.name)
  if (!d) {
    const read = readDisposition(p.pid, p.nspid, sig, procfs)
    if (read) out.dispositions.push((d = read))
  }
  if (!requireHandler || sig.number === 0) return true
  if (d?.handler) return true
  if (!out.skipped.some((s) => s.pid === p.pid && s.reason === 'no_handler')) out.skipped.push({pid: p.pid, pidfdId: p.id, reason: 'no_handler'})
  return false
}

/** Before unpinning: the wait status of the main process (pinned[0]) if it has exited. */
export async function recordExit(out: Out, pinned: Pinned[]): Promise<void> {
  if (pinned.length > 0) out.exit = await exitStatusOf(pinned[0].fd)
}

/**
 * Names in the message every target on which the signal does nothing, and why a wait timed out.
 * Outcome: nothing sent because no target catches it (requireHandler) -> no_handler; sent, but it
 * has no effect on any target and nothing was waited for -> no_effect; otherwise unchanged.
 */
export function explain<T extends Out>(out: T, sigName: string, waiting: boolean, requireHandler: boolean): T {
  const delivered = new Set(out.delivered.map((d) => `${d.pid}/${d.signal}`))
  const inert = out.dispositions.filter((d) => d.noEffect && delivered.has(`${d.pid}/${d.signal}`))
  if (out.delivered.length === 0 && requireHandler && out.skipped.some((s) => s.reason === 'no_handler')) {
    // What each target does with it instead: in --json and --verbose (a line a terminal shows whole)
    out.outcome = 'no_handler'
    out.advice = 'see what each target does with it: add --verbose (or --json)'
    out.message = `${out.name}: nothing was signalled: no target catches ${sigName} (--require-handler); ${out.advice}`
    return out
  }
  const ended = out.exit && out.exited ? ` (${describeExit(out.exit)})` : ''
  if (inert.length === 0) {
    out.message += ended
    return out
  }
  // In few words (the dispositions' notes say it at length, in --json and --verbose).
  const one = new Set(out.delivered.map((d) => d.pid)).size === 1
  const notes = inert.map((d) => fact(d, one)).join('; ')
  if (waiting && out.exited === false) {
    const advice = inert.some((d) => d.disposition === 'dropped')
      ? `use --retry ${sigName}/5/KILL/5 or run it under an init (docker run --init, tini)`
      : inert.some((d) => d.disposition === 'ignored')
        ? `use --retry ${sigName}/5/KILL/5`
        : null
    out.message += `: ${notes}${advice !== null ? `; ${advice}` : ''}`
    if (advice !== null) out.advice = advice
    return out
  }
  if (waiting) {
    out.message += `${ended}; ${notes}`
    return out
  }
  const everyTargetInert = out.delivered.every((d) => inert.some((i) => i.pid === d.pid && i.signal === d.signal))
  out.message += `, but it will not act: ${notes}`
  if (everyTargetInert && out.outcome === 'signalled') out.outcome = 'no_effect'
  return out
}

/** An exit status in words: "exit code N", "killed by SIG" (", core dumped"), or "exit status unknown". */
export function describeExit(exit: ExitStatus): string {
  return exit === 'unknown' ? 'exit status unknown' : 'code' in exit ? `exit code ${exit.code}` : `killed by ${exit.signal}${exit.core ? ', core dumped' : ''}`
}

/** Text lines for people: one per target and signal, "pid 4242 TERM: dropped (...)". */
export function dispositionLines(list: TargetDisposition[]): string[] {
  return list.map(
    (d) =>
      `  pid ${d.pid} ${d.signal}: ${d.disposition}${d.defaultAction && d.disposition !== 'handled' ? ` (default action: ${d.defaultAction})` : ''}${d.noEffect ? ' - no effect' : ''}`,
  )
}
