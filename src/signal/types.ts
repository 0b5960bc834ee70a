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
import type {OnProgress} from './progress'

/**
 * A process named by the caller as `PID:ID` (util-linux kill's PID:INODE): the pid in the caller's
 * PID namespace and its pidfs id. It is signalled or waited for only while the process at PID has
 * exactly that id (src/signal/pid-ref.ts).
 */
export interface PidRefOption {
  /** `PID:ID`, as `nslocate find NAME --json` gives it in pidfd_ref; NAME is then only the label of the answer, and no pidfile is read */
  pid?: string
}

/** A signal delivered: to which process (pid here, its pidfs id and NSpid), and which signal. */
export interface Delivered {
  pid: number
  /** the pidfs id of the process the pidfd names (null before Linux 6.9, or NSLOCATE_FORCE_FALLBACK=pidfs) */
  pidfdId: number | null
  nspid: number[]
  signal: string
}

/** A process that was not signalled, and why; pidfdId: its pidfs id when known (pinned, or named by the caller), else null. */
export interface Skipped {
  pid: number
  pidfdId: number | null
  reason: string
}

/** signal()'s options: where to look (as locate()), which processes, and whether and how long to wait. */
export interface SignalOptions extends Partial<Omit<LocateOptions, 'name'>>, PidRefOption {
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
  /** with wait/retry: called as each wait begins, with what it waits for and what comes next (progress.ts) */
  onProgress?: OnProgress
}

/** What signal() did: what was delivered to whom, what was skipped and why, and the outcome. */
export interface SignalResult extends Landing {
  name: string
  signal: string
  scope: Scope
  delivered: Delivered[]
  skipped: Skipped[]
  /** with wait/retry: whether everything signalled has exited; else null */
  exited: boolean | null
  waitedMs: number
  dryRun: boolean
  /** with dryRun: what would be signalled */
  wouldDeliver: Array<Omit<Delivered, 'signal'>>
  /** what was done (src/outcomes.ts) */
  outcome: SignalOutcome
  message: string
  /** what to do about it, nslocate's own words (the command line's hint line); `message` ends with it. Absent when there is nothing to advise */
  advice?: string
  target: LocateResult
}

/** What waitFor() waits for. */
/**
 * `stopped`: every process of the service has exited (with a cgroup recorded by run, the cgroup is
 * empty); `main-stopped`: the main process found at the start has exited (others may live on).
 */
export type WaitCondition = 'running' | 'stopped' | 'main-stopped'

/** waitFor()'s options as its implementation takes them. */
export interface WaitOptions extends Partial<Omit<LocateOptions, 'name'>>, PidRefOption {
  timeoutMs?: number
  /** poll interval for conditions that cannot be waited on by pidfd (ms) */
  intervalMs?: number
  /** called when what the wait waits on changes (no pidfile yet, starting, pid N to exit...) (progress.ts) */
  onProgress?: OnProgress
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
  /** what to do about it, nslocate's own words (the command line's hint line); `message` ends with it. Absent when there is nothing to advise */
  advice?: string
  target: LocateResult
  /** condition stopped, when this wait saw the process exit: its wait status (`unknown` before Linux 6.15); else null */
  exit: ExitStatus | null
  /**
   * The processes this wait pinned and waited on to exit (condition stopped): the main process and
   * the lock holder, each with its pidfs id. Empty when nothing was waited on (not running at once,
   * condition running). Absent only from answers made without looking at a process (a container
   * that is not running).
   */
  pinned: WaitedFor[]
}

/** A process waitFor() pinned and waited on: its pid here, its pidfs id, and what it is to the service. */
export interface WaitedFor {
  pid: number
  pidfdId: number | null
  role: 'main' | 'holder'
}
