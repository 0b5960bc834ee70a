/**
 * What a wait of signal() (--wait, --retry) or of waitFor() is doing, told as it happens through
 * option onProgress: what it waits for, and what happens next. The library says it once per change
 * (never on a timer); the command line draws it on a terminal with the elapsed time
 * (src/cli/progress.ts). What is known when the wait begins (the target ignores the signal, drops
 * it, blocks it, has no handler) is in the first event, so nobody waits seconds to hear it.
 */
import type {TargetDisposition} from './disposition'

/** One change of what a wait is doing. */
export interface Progress {
  /** `signal`: a wait of signal()'s schedule began (after a signal went out); `wait`: what waitFor() waits on changed */
  kind: 'signal' | 'wait'
  /** the service's name */
  name: string
  /** when the wait began (Date.now()); the elapsed time is counted from here */
  startedAt: number
  /** ms after startedAt when this wait ends: the next signal of the schedule is sent, or the call gives up */
  untilMs: number
  /** what is waited for and what happens next, one line for people, e.g. "web: TERM is ignored by pid 4242 (SIG_IGN); the KILL at 4 s is what will stop it" */
  message: string
  /** kind signal: the signal just sent */
  signal?: string
  /** kind signal: the next signal of the schedule (sent at untilMs if anything is left), or null: the call then gives up */
  next?: string | null
  /** kind signal: what the signal just sent does to each of its targets (read before sending) */
  dispositions?: TargetDisposition[]
}

/** signal()'s and waitFor()'s option onProgress: called with each change; what it throws is ignored (it cannot stop a schedule half way). */
export type OnProgress = (progress: Progress) => void

/** Calls onProgress, if given, with `p`; an exception it throws is dropped. */
export function tell(onProgress: OnProgress | undefined, p: Progress): void {
  if (!onProgress) return
  try {
    onProgress(p)
  } catch {
    // A drawing callback that fails must not leave a process signalled with TERM and never KILLed.
  }
}

/**
 * A duration as a person reads it: "4 s", "1.5 s", "2 min", "1 min 30 s", "2 h 5 min". As a
 * `clock` (an elapsed time that runs on a redrawn line), with a width that holds still: tenths
 * under a minute ("0.0 s", "1.2 s", never rounded up), then "2 min 05 s", "1 h 02 min".
 */
export function formatWait(ms: number, clock = false): string {
  const s = clock ? Math.floor(ms / 100) / 10 : ms / 1000
  if (s < 60) return `${clock ? s.toFixed(1) : Number.isInteger(s) ? s : Number(s.toFixed(1))} s`
  const whole = clock ? Math.floor(s) : Math.round(s)
  const pad = (n: number) => (clock ? String(n).padStart(2, '0') : String(n))
  const unit = (n: number, name: string) => (clock || n ? ` ${pad(n)} ${name}` : '')
  if (whole < 3600) return `${Math.floor(whole / 60)} min${unit(whole % 60, 's')}`
  const min = clock ? Math.floor(whole / 60) : Math.round(whole / 60)
  return `${Math.floor(min / 60)} h${unit(min % 60, 'min')}`
}

/**
 * A disposition in a few words, for a message a terminal shows on one line: "pid 4242 ignores
 * TERM (SIG_IGN)", or with `it` (the one target) "it ignores TERM (SIG_IGN)". Its `note` says it at length.
 */
export function fact(d: TargetDisposition, it = false): string {
  const who = it ? 'it' : `pid ${d.pid}`
  switch (d.disposition) {
    case 'ignored':
      return `${who} ignores ${d.signal} (SIG_IGN)`
    case 'dropped':
      return `${d.signal} is dropped for ${who} (PID 1${d.handler ? '' : ', no handler'})`
    case 'blocked':
      return `${who} blocks ${d.signal} (it stays pending)`
    case 'handled':
      return `${who} has a ${d.signal} handler`
    default:
      return uncatchable(d) ? `${d.signal} cannot be caught` : `${who} has no ${d.signal} handler (default action: ${d.defaultAction})`
  }
}

/** What the signal sent to the one target does there: "sent TERM: it has a handler". */
function aboutIt(d: TargetDisposition): string {
  if (d.disposition === 'handled') return `sent ${d.signal}: it has a handler`
  if (d.disposition === 'blocked') return `sent ${d.signal}: blocked, it stays pending`
  if (uncatchable(d)) return `sent ${d.signal}, which cannot be caught`
  return `sent ${d.signal}: no handler, default action ${d.defaultAction}`
}

/** KILL and STOP: no handler, mask or SIG_IGN applies. */
function uncatchable(d: TargetDisposition): boolean {
  return d.signal === 'KILL' || d.signal === 'STOP'
}

/** At most three facts, then how many more. */
function some(facts: string[]): string {
  return facts.length > 3 ? `${facts.slice(0, 3).join('; ')}; and ${facts.length - 3} more` : facts.join('; ')
}

/**
 * The message of a signal() wait: `sig` went to `pids` (their dispositions in `dispositions`);
 * `next` is sent at `untilMs`, or (null) the call gives up then. What matters most comes first, so
 * a line cut to a narrow terminal keeps it:
 *   web: pid 4242 ignores TERM (SIG_IGN); the KILL at 4 s will stop it
 *   web: waiting for pid 4242 to exit, KILL at 30 s (sent TERM: it has a handler)
 *   web: waiting up to 30 s for pid 4242 to exit (sent TERM: no handler, default action terminate)
 */
export function signalWaitMessage(
  name: string,
  sig: string,
  pids: Array<{pid: number; pidfdId: number | null}>,
  dispositions: TargetDisposition[],
  next: string | null,
  untilMs: number,
): string {
  const mine = dispositions.filter((d) => d.signal === sig && pids.some((p) => p.pid === d.pid))
  const inert = mine.filter((d) => d.noEffect)
  const at = formatWait(untilMs)
  // Every target sure to shrug it off (and each disposition known): only the next signal, or nothing, can end the wait.
  if (pids.length > 0 && inert.length === pids.length) {
    const facts = some(inert.map((d) => fact(d)))
    if (next === null) return `${name}: ${facts}: ${pids.length === 1 ? 'it' : 'they'} will not exit on ${sig}; giving up at ${at}`
    return next === 'KILL'
      ? `${name}: ${facts}; the KILL at ${at} will stop ${pids.length === 1 ? 'it' : 'them'}`
      : `${name}: ${facts}; nothing happens until ${next} at ${at}`
  }
  const who = `${pids.length === 1 ? 'pid' : 'pids'} ${pids
    .slice(0, 5)
    .map((p) => p.pid)
    .join(', ')}${pids.length > 5 ? ` and ${pids.length - 5} more` : ''}`
  const why = mine.length === 1 && pids.length === 1 ? aboutIt(mine[0]) : mine.length > 0 ? `sent ${sig}; ${some(mine.map((d) => fact(d)))}` : `sent ${sig}`
  return next === null ? `${name}: waiting up to ${at} for ${who} to exit (${why})` : `${name}: waiting for ${who} to exit, ${next} at ${at} (${why})`
}
