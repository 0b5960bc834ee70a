/** Parsing SIGNAL, DURATION and start-stop-daemon's --retry schedule. Bad input is a usage error that shows what is valid. */
import {constants} from 'node:os'

import {closest} from '../closest'
import {NslocateError} from '../errors'

/** A signal: its name without SIG ("TERM", "RTMIN+2") and its number (0: probe only). */
export interface Sig {
  name: string
  number: number
}

const SIGNALS = constants.signals as Record<string, number>

/** Real signals by short name (TERM, HUP, ...), without aliases such as IOT/POLL/UNUSED. */
function signalTable(): Map<string, number> {
  const m = new Map<string, number>()
  for (const [k, v] of Object.entries(SIGNALS)) {
    if (['SIGIOT', 'SIGPOLL', 'SIGUNUSED', 'SIGLOST', 'SIGINFO'].includes(k)) continue
    m.set(k.slice(3), v)
  }
  return m
}

/** The signal names accepted, without SIG, in signal number order. */
export function validSignalNames(): string[] {
  return [...signalTable().entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k)
}

/** The real-time signals as kill -l names them: 34 RTMIN, 35..49 RTMIN+1..15, 50..63 RTMAX-14..1, 64 RTMAX. */
export const RTMIN = 34
/** The highest real-time signal. */
export const RTMAX = 64

/** The kill -l name of real-time signal `n` (RTMIN..RTMAX), e.g. RTMIN+2 or RTMAX-1. */
export function rtName(n: number): string {
  if (n === RTMIN) return 'RTMIN'
  if (n === RTMAX) return 'RTMAX'
  return n <= RTMIN + 15 ? `RTMIN+${n - RTMIN}` : `RTMAX-${RTMAX - n}`
}

function parseRt(key: string): number | null {
  const m = /^RT(MIN|MAX)(?:([+-])([0-9]{1,2}))?$/.exec(key)
  if (!m) return null
  const offset = m[3] === undefined ? 0 : Number(m[3])
  if (m[2] === (m[1] === 'MIN' ? '-' : '+') && offset !== 0) return null
  const n = m[1] === 'MIN' ? RTMIN + offset : RTMAX - offset
  return n >= RTMIN && n <= RTMAX ? n : null
}

/**
 * Accepts TERM, SIGTERM, term, 15, real-time signals (RTMIN+2, SIGRTMAX-1, 34..64), and 0 (probe
 * only: checks the process is there, sends nothing).
 */
export function parseSignal(input: string): Sig {
  const s = String(input).trim()
  const table = signalTable()
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s)
    if (n === 0) return {name: '0', number: 0}
    for (const [k, v] of table) if (v === n) return {name: k, number: n}
    if (n >= RTMIN && n <= RTMAX) return {name: rtName(n), number: n}
  } else {
    const key = s.toUpperCase().replace(/^SIG/, '')
    const n = table.get(key)
    if (n !== undefined) return {name: key, number: n}
    const rt = parseRt(key)
    if (rt !== null) return {name: rtName(rt), number: rt}
  }
  // A near name is the one thing to say (the forms make the line too long for a terminal then).
  const near = signalSuggestion(s)
  throw new NslocateError('USAGE', `invalid signal ${JSON.stringify(s)}${near || `: ${SIGNAL_FORMS}`}`)
}

/** What SIGNAL may be, in a usage error (`kill -l` lists the names). */
const SIGNAL_FORMS = 'use TERM, SIGTERM, term, a number (15), RTMIN+N, RTMAX-N, or 0'

/** ` (did you mean TERM?)` for a mistyped signal name (src/closest.ts); '' otherwise. */
function signalSuggestion(input: string): string {
  const key = input.toUpperCase().replace(/^SIG/, '')
  if (key.length < 2 || /^[0-9]/.test(key)) return ''
  const near = closest(key, validSignalNames(), {maxEdits: 1})
  return near ? ` (did you mean ${near}?)` : ''
}

/**
 * The longest DURATION accepted: 100000 hours (about 11 years). Longer ones are usage errors.
 * Waits of any accepted length work: they are chunked below Node's 32-bit timer limit (timers.ts).
 */
export const MAX_DURATION_MS = 100_000 * 3_600_000

/** How long signal()'s wait and waitFor() wait when no timeoutMs is given: 30 s. */
export const DEFAULT_WAIT_MS = 30_000

/** 500ms, 30s, 2m, 1h, or plain seconds (1.5); at most MAX_DURATION_MS. */
export function parseDuration(input: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$/.exec(String(input))
  if (!m) throw new NslocateError('USAGE', `invalid duration ${JSON.stringify(input)}: use e.g. 500ms, 30s, 2m, 1h, or plain seconds`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  const ms = Math.round(n * {ms: 1, s: 1000, m: 60_000, h: 3_600_000}[unit]!)
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new NslocateError('USAGE', `invalid duration ${JSON.stringify(input)}: the longest accepted is 100000h (about 11 years)`)
  }
  return ms
}

/** One step of a --retry schedule: send a signal, or wait up to `ms` ms for the process to go. */
export type Step = {kind: 'signal'; sig: Sig} | {kind: 'wait'; ms: number}

/**
 * start-stop-daemon's --retry: `TERM/30/KILL/5` sends TERM, waits up to 30 s for the process to go,
 * then sends KILL and waits 5 s. A bare number N means SIGNAL/N/KILL/N. Items are signals
 * (names or numbers, optionally with a leading -) or timeouts (plain seconds or durations).
 */
export function parseRetry(input: string, first: Sig): Step[] {
  const s = String(input).trim()
  if (/^[0-9]+(?:\.[0-9]+)?(ms|s|m|h)?$/.test(s)) {
    const ms = parseDuration(s)
    return [
      {kind: 'signal', sig: first},
      {kind: 'wait', ms},
      {kind: 'signal', sig: parseSignal('KILL')},
      {kind: 'wait', ms},
    ]
  }
  const items = s.split('/')
  if (items.length < 2 || items.some((i) => i === '')) {
    // The item at fault, when one is empty (TERM//5, /5, TERM/), is named as any other item is.
    const empty = items.length < 2 ? -1 : items.indexOf('')
    const fact = empty < 0 ? 'not SIGNAL/TIMEOUT... nor a number of seconds' : `item ${empty + 1} is empty`
    const advice = 'use SIGNAL/TIMEOUT[/SIGNAL/TIMEOUT...] such as TERM/30/KILL/5, or a number of seconds'
    throw new NslocateError('USAGE', (n) => `invalid ${n('retry')} schedule ${JSON.stringify(s)}: ${fact}; ${advice}`, {advice})
  }
  const steps: Step[] = []
  // A bad item is named by its place, and by what belongs there: a signal first and after a timeout, a timeout (or a signal) after a signal.
  const bad = (i: number, why: string, advice?: string) =>
    new NslocateError(
      'USAGE',
      (n) => `invalid ${n('retry')} schedule ${JSON.stringify(s)}: item ${i + 1} (${JSON.stringify(items[i])}) ${why}${advice ? `; ${advice}` : ''}`,
      {
        advice,
      },
    )
  items.forEach((item, i) => {
    const afterSignal = steps.length > 0 && steps[steps.length - 1].kind === 'signal'
    if (/^[0-9]+(?:\.[0-9]+)?(ms|s|m|h)?$/.test(item) && steps.length > 0) {
      try {
        steps.push({kind: 'wait', ms: parseDuration(item)})
      } catch {
        throw bad(i, 'is too long: at most 100000h')
      }
      return
    }
    if (/^[0-9]/.test(item) && steps.length === 0) throw bad(i, 'must be a signal', 'start the schedule with one, e.g. TERM/30/KILL/5')
    let sig: Sig
    try {
      sig = parseSignal(item.replace(/^-/, ''))
    } catch {
      throw bad(i, afterSignal ? 'must be a timeout in seconds' : 'must be a signal (TERM, KILL, 9, ...)')
    }
    if (sig.number === 0) throw bad(i, 'is signal 0, a probe: it cannot be part of a schedule')
    steps.push({kind: 'signal', sig})
  })
  if (steps[steps.length - 1].kind !== 'wait') {
    throw new NslocateError('USAGE', (n) => `invalid ${n('retry')} schedule ${JSON.stringify(s)}: it must end with a timeout (the wait after the last signal)`)
  }
  return steps
}
