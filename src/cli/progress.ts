/**
 * The progress line of `signal --wait`, `signal --retry` and `wait` on a terminal: what the wait
 * waits for and what happens next (the library's words, src/signal/progress.ts), with the elapsed
 * time, redrawn in place on stderr:
 *
 *   web: TERM is ignored by pid 4242 (SIG_IGN); the KILL at 4 s is what will stop it  1.2 s / 4 s
 *
 * Only when stderr is a terminal, and never with --json or --quiet (nor TERM=dumb, which cannot
 * erase a line): piped, the output is byte for byte what it was without it. One line, never wider
 * than the terminal (a wrapped line could not be redrawn), redrawn at most four times a second,
 * erased before the final message, an error, a warning, or the end by Ctrl-C. No colours (NO_COLOR holds trivially).
 * Never on stdout.
 */
import type {OnProgress, Progress} from '../signal/progress'
import {formatWait} from '../signal/progress'
import type {ContainerSpec} from '../runtime/spec'
import type {Output} from './command'
import {escapeText} from './escape'
import {truncateToWidth} from './text-width'

/** Redraws are at least this far apart (ms): at most about four a second. */
export const MIN_REDRAW_MS = 240
/** How often the elapsed time is brought up to date (ms). */
export const TICK_MS = 250
/** A line the command says of itself (expect()) shows only after this long without a word from the library (ms). */
export const EXPECT_AFTER_MS = 400

/** Where the line is drawn: stderr as a terminal (tests give their own). */
export interface Terminal {
  write(text: string): void
  /** the terminal's width now (it may be resized while waiting) */
  columns(): number
  now(): number
}

/** A progress line being drawn. */
export interface ProgressLine {
  /** the library's option onProgress */
  onProgress: OnProgress
  /** what to show if the library says nothing for EXPECT_AFTER_MS (a wait the library cannot report on, e.g. through a helper container) */
  expect(message: string, untilMs: number): void
  /** erases the line and stops; call it before printing anything else */
  end(): void
}

/**
 * A progress line on stderr for this invocation, or null when none is drawn (stderr is not a
 * terminal, --json, --quiet, TERM=dumb). Interrupted (Ctrl-C, SIGTERM), the line is erased and the
 * process then ends by that signal, as it would have without the line.
 */
export function progressLine(out: Output, env: NodeJS.ProcessEnv = process.env): ProgressLine | null {
  if (out.json || out.quiet || env.TERM === 'dumb') return null
  const {isatty} = require('node:tty') as typeof import('node:tty')
  if (!isatty(2)) return null
  const {writeFd} = require('./fast-io') as typeof import('./fast-io')
  const line = drawProgress({write: (text) => writeFd(2, text), columns: () => process.stderr.columns || 80, now: Date.now})
  const interrupted = (sig: NodeJS.Signals) => {
    end()
    // The default action, as without the line; unless another handler is there, which then decides.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig)
  }
  const end = () => {
    process.removeListener('SIGINT', interrupted)
    process.removeListener('SIGTERM', interrupted)
    line.end()
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  return {...line, end}
}

/** ` in container X`, ` in pod Y`, or '' on this host: where a wait's line says the service is. */
export function inPlace(spec: ContainerSpec | null): string {
  return spec?.container ? ` in container ${spec.container}` : spec?.pod ? ` in pod ${spec.pod}` : ''
}

/** The line drawn on `term`: each event at once (at most one redraw per MIN_REDRAW_MS), the elapsed time every TICK_MS. */
export function drawProgress(term: Terminal): ProgressLine {
  const created = term.now()
  let current: Progress | null = null
  let expected: Progress | null = null
  let drawn = false
  let lastDraw = -Infinity
  let ended = false
  const draw = () => {
    const now = term.now()
    if (ended || now - lastDraw < MIN_REDRAW_MS) return
    if (!current && expected && now - created >= EXPECT_AFTER_MS) current = expected
    if (!current) return
    term.write(`\r${renderLine(current, now, term.columns())}\x1b[K`)
    drawn = true
    lastDraw = now
  }
  const timer = setInterval(draw, TICK_MS)
  timer.unref() // the wait keeps the process alive, never the line
  return {
    onProgress: (p) => {
      current = p
      draw()
    },
    expect: (message, untilMs) => {
      expected = {kind: 'wait', name: '', startedAt: created, untilMs, message}
    },
    end: () => {
      if (ended) return
      ended = true
      clearInterval(timer)
      if (drawn) term.write('\r\x1b[K')
    },
  }
}

/**
 * The line for `p` at `now`, at most `columns` - 1 terminal columns wide: the message (cut with "..." if need be),
 * then the elapsed time, and when the wait ends unless the message says it ("1.2 s / 4 s").
 */
export function renderLine(p: Progress, now: number, columns: number): string {
  const until = formatWait(p.untilMs)
  const time = `  ${formatWait(Math.max(0, now - p.startedAt), true)}${p.message.includes(` at ${until}`) ? '' : ` / ${until}`}`
  const room = Math.max(10, columns - 1 - time.length)
  // Columns, not characters: a wide character (CJK) takes two, a combining mark none (src/cli/text-width.ts).
  const shown = truncateToWidth(escapeText(p.message), room, '...')
  return truncateToWidth(shown + time, Math.max(1, columns - 1))
}
