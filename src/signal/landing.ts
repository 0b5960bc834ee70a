/**
 * The hooks signal() calls so its result says whether the signal will land (disposition.ts) and how
 * the stopped service ended (exit-status.ts). Kept apart from signal.ts so that file only calls:
 *   gate() before each send, recordExit() before unpinning; compose.ts's finish() words the result
 *   with inertOf(), firstFact(), briefly(), retryAdvice() and endedOf().
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

/** The targets on which the signal sent does nothing (read before sending), and whether it went to one process. */
export function inertOf(out: Out): {inert: TargetDisposition[]; one: boolean} {
  const delivered = new Set(out.delivered.map((d) => `${d.pid}/${d.signal}`))
  const inert = out.dispositions.filter((d) => d.noEffect && delivered.has(`${d.pid}/${d.signal}`))
  return {inert, one: new Set(out.delivered.map((d) => d.pid)).size === 1}
}

/**
 * The first of `inert` in a few words, "it ignores TERM (SIG_IGN)", and how many more there are:
 * each one is in --verbose and --json (their notes say it at length).
 */
export function firstFact(inert: TargetDisposition[], one: boolean): string {
  return `${fact(inert[0], one)}${more(inert)}`
}

/** The first of `inert` in fewer words still, after an exit status: "TERM ignored", "TERM dropped (PID 1)". */
export function briefly(inert: TargetDisposition[]): string {
  const d = inert[0]
  const what =
    d.disposition === 'ignored' ? 'ignored' : d.disposition === 'dropped' ? 'dropped (PID 1)' : d.disposition === 'blocked' ? 'blocked' : 'had no effect'
  return `${d.signal} ${what}${more(inert)}`
}

/** " (+N more)": the other targets the signal does nothing to (targets, not target-signal pairs), or ''. */
function more(inert: TargetDisposition[]): string {
  const others = new Set(inert.filter((d) => d.pid !== inert[0].pid).map((d) => d.pid)).size
  return others > 0 ? ` (+${others} more)` : ''
}

/** What to do when a wait timed out on targets that do nothing with `sigName`, or null. */
export function retryAdvice(inert: TargetDisposition[], sigName: string): string | null {
  return inert.some((d) => d.disposition === 'dropped')
    ? `use --retry ${sigName}/5/KILL/5 or run it under an init (docker run --init, tini)`
    : inert.some((d) => d.disposition === 'ignored')
      ? `use --retry ${sigName}/5/KILL/5`
      : null
}

/** " (exit code 0)", " (killed by KILL)": how the main process ended, when a wait saw every target exit; else ''. */
export function endedOf(out: Out): string {
  return out.exit && out.exited ? ` (${describeExit(out.exit)})` : ''
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
