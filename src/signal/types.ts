/**
 * The options and results of signal() and waitFor(), in their own module so that the pieces of
 * signal() (starting.ts, refusal.ts, compose.ts) and of waitFor() (wait*.ts) share them without
 * importing the functions that use them.
 */
import type {LocateOptions, LocateResult} from '../locate/locate'
import type {SignalOutcome, WaitOutcome} from '../outcomes'
import type {ExitStatus} from './exit-status'
import type {Landing} from './landing'
import type {Scope} from './members'

/** signal()'s options: where to look (as locate()), which processes, and whether and how long to wait. */
export interface SignalOptions extends Partial<Omit<LocateOptions, 'name'>> {
  scope?: Scope
  /** wait for the process(es) to exit after the signal */
  wait?: boolean
  /** how long `wait` waits (ms); default 30 s */
  timeoutMs?: number
  /** start-stop-daemon schedule, e.g. TERM/30/KILL/5; implies wait */
  retry?: string
  dryRun?: boolean
  /** send only to targets that catch the signal (util-linux kill --require-handler) */
  requireHandler?: boolean
}

/** What signal() did: what was delivered to whom, what was skipped and why, and the outcome. */
export interface SignalResult extends Landing {
  name: string
  signal: string
  scope: Scope
  delivered: Array<{pid: number; nspid: number[]; signal: string}>
  skipped: Array<{pid: number; reason: string}>
  /** with wait/retry: whether everything signalled has exited; else null */
  exited: boolean | null
  waitedMs: number
  dryRun: boolean
  /** with dryRun: what would be signalled */
  wouldDeliver: Array<{pid: number; nspid: number[]}>
  /** what was done (src/outcomes.ts) */
  outcome: SignalOutcome
  message: string
  target: LocateResult
}

/** What waitFor() waits for. */
export type WaitCondition = 'running' | 'stopped'

/** waitFor()'s options as its implementation takes them. */
export interface WaitOptions extends Partial<Omit<LocateOptions, 'name'>> {
  timeoutMs?: number
  /** poll interval for conditions that cannot be waited on by pidfd (ms) */
  intervalMs?: number
}

/** What waitFor() saw: whether the condition was reached, how long it took, and the service as last located. */
export interface WaitResult {
  name: string
  condition: WaitCondition
  reached: boolean
  waitedMs: number
  /** reached, not_reached (timed out, or the namespace ended while waiting for running), cannot_tell */
  outcome: WaitOutcome
  message: string
  target: LocateResult
  /** condition stopped, when this wait saw the process exit: its wait status (`unknown` before Linux 6.15); else null */
  exit: ExitStatus | null
}
