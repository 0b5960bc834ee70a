/**
 * The progress line's drawing rules (src/cli/progress.ts) on a recorded terminal, and the words the
 * library gives it (src/signal/progress.ts) for each disposition. The real terminal is in
 * progress-pty.test.ts; these pin the rules it cannot time exactly: at most one redraw per
 * MIN_REDRAW_MS, never wider than the terminal, erased at the end, and the command's own line only
 * when the library stays silent.
 */
import {EXPECT_AFTER_MS, MIN_REDRAW_MS, TICK_MS, Terminal, drawProgress, renderLine} from '../../src/cli/progress'
import {decide} from '../../src/signal/disposition'
import {Progress, formatWait, signalWaitMessage, tell} from '../../src/signal/progress'

/** A terminal that records what is written, with a clock the test moves (jest's fake timers). */
function recorder(columns = 80): Terminal & {writes: string[]} {
  const writes: string[] = []
  return {writes, write: (t) => void writes.push(t), columns: () => columns, now: () => Date.now()}
}

/** Erase to the end of the line (EL, CSI K). */
const ERASE = '\x1b[K'

const event = (message: string, untilMs = 4000, startedAt = Date.now()): Progress => ({kind: 'signal', name: 'web', startedAt, untilMs, message})

beforeEach(() => jest.useFakeTimers({now: 1_000_000}))
afterEach(() => jest.useRealTimers())

test('an event is drawn at once; the elapsed time every tick; at most one redraw per MIN_REDRAW_MS; end() erases it once', () => {
  const term = recorder(120)
  const line = drawProgress(term)
  line.onProgress(event('web: pid 42 ignores TERM (SIG_IGN); the KILL at 4 s will stop it'))
  expect(term.writes).toEqual(['\rweb: pid 42 ignores TERM (SIG_IGN); the KILL at 4 s will stop it  0.0 s\x1b[K'])
  // Events closer together than MIN_REDRAW_MS wait for the next tick.
  jest.advanceTimersByTime(100)
  line.onProgress(event('web: waiting for pid 42 to exit, KILL at 4 s (sent TERM: it has a handler)', 4000, 1_000_000))
  expect(term.writes).toHaveLength(1)
  jest.advanceTimersByTime(TICK_MS - 100)
  expect(term.writes).toEqual([term.writes[0], '\rweb: waiting for pid 42 to exit, KILL at 4 s (sent TERM: it has a handler)  0.2 s\x1b[K'])
  jest.advanceTimersByTime(1000)
  expect(term.writes).toHaveLength(6)
  expect(term.writes.at(-1)).toContain('  1.2 s\x1b[K')
  line.end()
  line.end()
  expect(term.writes.at(-1)).toBe('\r\x1b[K')
  expect(term.writes).toHaveLength(7)
  // Nothing after the end, whatever comes.
  line.onProgress(event('late'))
  jest.advanceTimersByTime(1000)
  expect(term.writes).toHaveLength(7)
})

test('redraws over ten seconds: never two within MIN_REDRAW_MS, about four a second', () => {
  const term = recorder()
  const at: number[] = []
  const line = drawProgress({...term, write: (t) => void (at.push(Date.now()), term.write(t))})
  line.onProgress(event('web: waiting for it to be running (no pidfile yet)', 10_000))
  for (let i = 0; i < 100; i++) {
    jest.advanceTimersByTime(100)
    if (i % 3 === 0) line.onProgress(event(`web: waiting for it to be running (pass ${i})`, 10_000, 1_000_000))
  }
  line.end()
  const gaps = at.slice(1, -1).map((t, i) => t - at[i])
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_REDRAW_MS)
  expect(at.length - 1).toBeLessThanOrEqual(10 * 4 + 1)
})

test('nothing drawn and nothing erased when nothing was said; the command line own line only after EXPECT_AFTER_MS of silence', () => {
  const quiet = recorder()
  drawProgress(quiet).end()
  expect(quiet.writes).toEqual([])
  const term = recorder()
  const line = drawProgress(term)
  line.expect('web: signalling in container app (schedule TERM/4/KILL/3)', 7000)
  jest.advanceTimersByTime(EXPECT_AFTER_MS - 1)
  expect(term.writes).toEqual([])
  jest.advanceTimersByTime(TICK_MS)
  expect(term.writes).toHaveLength(1)
  expect(term.writes[0]).toMatch(/^\rweb: signalling in container app \(schedule TERM\/4\/KILL\/3\) {2}0\.[4-7] s \/ 7 s/)
  expect(term.writes[0].endsWith(ERASE)).toBe(true)
  line.end()
  // A library event first: the command's own line is never shown.
  const told = recorder()
  const l2 = drawProgress(told)
  l2.expect('web: waiting for it to be stopped', 30_000)
  l2.onProgress(event('web: waiting for pid 7 to exit', 30_000))
  jest.advanceTimersByTime(2000)
  expect(told.writes.every((w) => w.includes('pid 7') || w === '\r\x1b[K')).toBe(true)
  l2.end()
})

test('one line, never as wide as the terminal: the message is cut, the time kept; control characters escaped', () => {
  const p = event(`web: waiting for it to be running (starting: /run/${'x'.repeat(80)}.pid is locked by pid 9 but holds no pid yet)`, 3000, 0)
  const shown = renderLine(p, 1234, 70)
  expect(shown).toBe('web: waiting for it to be running (starting: /run/xxx...  1.2 s / 3 s')
  expect(shown).toHaveLength(69) // columns - 1: a line as wide as the terminal would wrap
  expect(renderLine(event('we\x1b[2Jb: waiting', 3000, 0), 0, 80)).toBe('we\\x1b[2Jb: waiting  0.0 s / 3 s')
  expect(renderLine(event('web: pid 4 ignores TERM (SIG_IGN); the KILL at 30 s will stop it', 30_000, 0), 61_000, 80)).toBe(
    'web: pid 4 ignores TERM (SIG_IGN); the KILL at 30 s will stop it  1 min 01 s',
  )
})

test('wide characters count two columns, combining marks none: a directory named in CJK never makes the line wider than the terminal', () => {
  const head = 'web: waiting for it to be running (starting: /tmp/'
  const p = event(`${head}${'漢'.repeat(60)}/web.pid is locked by pid 9 but holds no pid yet)`, 3000, 0)
  const shown = renderLine(p, 0, 80)
  // 79 columns: the head (50), 13 wide characters (26), "..." (3), less than the 66 the message may take, then the time
  const time = '  0.0 s / 3 s'
  expect(shown).toBe(`${head}${'漢'.repeat(Math.floor((80 - 1 - time.length - head.length - 3) / 2))}...${time}`)
  expect(columnsOf(shown)).toBeLessThanOrEqual(79)
  // e + COMBINING ACUTE: one column each, so all 30 fit where 60 characters would not
  const accents = renderLine(event(`web: ${'e\u0301'.repeat(30)}`, 3000, 0), 0, 50)
  expect(accents).toBe(`web: ${'e\u0301'.repeat(30)}  0.0 s / 3 s`)
  // a terminal too narrow for anything but the time: still never a full row
  for (const columns of [20, 12, 5]) expect(columnsOf(renderLine(p, 0, columns))).toBeLessThanOrEqual(columns - 1)
})

/** Columns as a terminal draws them, for the test's own characters: CJK ideographs 2, combining marks 0, ASCII 1. */
function columnsOf(s: string): number {
  return [...s].reduce((w, c) => w + (/[\u4e00-\u9fff]/.test(c) ? 2 : /\p{Mn}/u.test(c) ? 0 : 1), 0)
}

test.each([
  [0, '0.0 s'],
  [1249, '1.2 s'],
  [59_999, '59.9 s'],
  [65_000, '1 min 05 s'],
  [3_725_000, '1 h 02 min'],
])('formatWait(%d, clock) = %s', (ms, text) => expect(formatWait(ms, true)).toBe(text))

test.each([
  [4000, '4 s'],
  [1500, '1.5 s'],
  [120_000, '2 min'],
  [90_000, '1 min 30 s'],
  [7_500_000, '2 h 5 min'],
])('formatWait(%d) = %s', (ms, text) => expect(formatWait(ms)).toBe(text))

const masks = (ign: number[], cgt: number[]) => ({
  blocked: 0n,
  ignored: ign.reduce((m, s) => m | (1n << BigInt(s - 1)), 0n),
  caught: cgt.reduce((m, s) => m | (1n << BigInt(s - 1)), 0n),
})
const one = [{pid: 42, pidfdId: 7}]

test.each([
  [
    'ignored, KILL next',
    decide(15, masks([15], []), false, false, null, 42, 'TERM'),
    'KILL',
    4000,
    'web: pid 42 ignores TERM (SIG_IGN); the KILL at 4 s will stop it',
  ],
  [
    'ignored, --wait only',
    decide(15, masks([15], []), false, false, null, 42, 'TERM'),
    null,
    30_000,
    'web: pid 42 ignores TERM (SIG_IGN): it will not exit on TERM; giving up at 30 s',
  ],
  [
    'ignored, INT next',
    decide(15, masks([15], []), false, false, null, 42, 'TERM'),
    'INT',
    5000,
    'web: pid 42 ignores TERM (SIG_IGN); nothing happens until INT at 5 s',
  ],
  [
    'dropped (a namespace init)',
    decide(15, masks([], []), false, true, 'same_namespace', 42, 'TERM'),
    'KILL',
    5000,
    'web: TERM is dropped for pid 42 (PID 1, no handler); the KILL at 5 s will stop it',
  ],
  [
    'handled',
    decide(15, masks([], [15]), false, false, null, 42, 'TERM'),
    'KILL',
    30_000,
    'web: waiting for pid 42 to exit, KILL at 30 s (sent TERM: it has a handler)',
  ],
  [
    'default',
    decide(15, masks([], []), false, false, null, 42, 'TERM'),
    null,
    30_000,
    'web: waiting up to 30 s for pid 42 to exit (sent TERM: no handler, default action terminate)',
  ],
  [
    'blocked',
    decide(15, masks([], []), true, false, null, 42, 'TERM'),
    'KILL',
    4000,
    'web: waiting for pid 42 to exit, KILL at 4 s (sent TERM: blocked, it stays pending)',
  ],
  [
    'KILL',
    decide(9, masks([], []), false, false, null, 42, 'KILL'),
    null,
    3000,
    'web: waiting up to 3 s for pid 42 to exit (sent KILL, which cannot be caught)',
  ],
])('signalWaitMessage: %s', (_what, d, next, untilMs, message) => {
  expect(signalWaitMessage('web', d.signal, one, [d], next, untilMs)).toBe(message)
})

test('signalWaitMessage: several targets, one of them ignoring it; no disposition read', () => {
  const ign = decide(15, masks([15], []), false, false, null, 43, 'TERM')
  const dft = decide(15, masks([], []), false, false, null, 42, 'TERM')
  expect(signalWaitMessage('web', 'TERM', [...one, {pid: 43, pidfdId: 8}], [dft, ign], 'KILL', 4000)).toBe(
    'web: waiting for pids 42, 43 to exit, KILL at 4 s (sent TERM; pid 42 has no TERM handler (default action: terminate); pid 43 ignores TERM (SIG_IGN))',
  )
  expect(signalWaitMessage('web', 'TERM', one, [], 'KILL', 4000)).toBe('web: waiting for pid 42 to exit, KILL at 4 s (sent TERM)')
})

test('tell(): a callback that throws cannot stop the caller', () => {
  const seen: Progress[] = []
  expect(() =>
    tell(() => {
      throw new Error('drawing failed')
    }, event('x')),
  ).not.toThrow()
  tell((p) => seen.push(p), event('y'))
  tell(undefined, event('z'))
  expect(seen.map((p) => p.message)).toEqual(['y'])
})
