/**
 * `started` (issue 21, 6b): btime of /proc/stat plus the start tick, /proc/PID/stat field 22
 * (src/proc/start-time.ts). Pure parsing and arithmetic over captured text, then the same on the
 * live /proc: a ProcFs gives the kernel's btime, and a process's start comes out within a second of
 * the truth, never after it.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {Candidate, decideUnlocked} from '../../src/locate/identity'
import {ProcessFacts, describeProcess, readFacts} from '../../src/locate/process-info'
import {processNames} from '../../src/locate/process-names'
import {ProcFs} from '../../src/proc/proc-fs'
import {CLOCK_TICKS, parseBtime, startedIso, startedMs} from '../../src/proc/start-time'

// Captured from this project's machine (Linux 6.18, 2 CPUs), /proc/stat whole.
const PROC_STAT = `cpu  4731 12 3377 1211964 3005 0 185 0 0 0
cpu0 2361 6 1695 605846 1561 0 107 0 0 0
cpu1 2370 6 1682 606118 1444 0 78 0 0 0
intr 1153201 0 9 0 0 0 0 0 0 0 0 0 0 156 0 0 0 0 0 0 0 0 0 0 0 0 0 0
ctxt 2208473
btime 1796489276
processes 14760
procs_running 1
procs_blocked 0
softirq 846913 0 104231 11 10512 37339 0 1043 398127 0 295650
`

describe('parseBtime (proc(5): "btime 1769999999", boot time in seconds since the Epoch)', () => {
  test('a captured /proc/stat', () => {
    expect(parseBtime(PROC_STAT)).toBe(1796489276)
  })
  test.each([
    ['no btime line', PROC_STAT.replace(/^btime.*\n/m, '')],
    ['empty', ''],
    ['not a number', 'btime abc\n'],
    ['two numbers', 'btime 12 34\n'],
    ['negative', 'btime -5\n'],
    ['a fraction', 'btime 1796489276.5\n'],
    ['another key ending in btime', 'xbtime 5\n'],
    ['beyond a safe integer', `btime ${'9'.repeat(20)}\n`],
  ])('%s: null', (_, text) => {
    expect(parseBtime(text)).toBeNull()
  })
  test('btime as the last line, without a newline', () => {
    expect(parseBtime('cpu 1 2 3\nbtime 42')).toBe(42)
  })
})

describe('startedMs / startedIso: boot instant + ticks / USER_HZ, in whole ms', () => {
  test.each([
    // [boot (s), starttime (ticks), ISO]
    [1796489276, 0, '2026-12-05T16:47:56.000Z'],
    [1796489276, 1, '2026-12-05T16:47:56.010Z'],
    [1796489276, 123456, '2026-12-05T17:08:30.560Z'],
    [1796489276, 99, '2026-12-05T16:47:56.990Z'],
    [1796489276, 100, '2026-12-05T16:47:57.000Z'],
  ])('boot %i s, starttime %i ticks -> %s', (boot, ticks, iso) => {
    expect(startedIso(boot * 1000, ticks)).toBe(iso)
    expect(startedMs(boot * 1000, ticks)).toBe(Date.parse(iso))
    expect(Number.isInteger(startedMs(boot * 1000, ticks))).toBe(true)
  })
  test('USER_HZ is 100 (10 ms ticks); another HZ rounds to the ms', () => {
    expect(CLOCK_TICKS).toBe(100)
    expect(startedMs(0, 1, 300)).toBe(3) // 3.33 ms
    expect(startedMs(0, 2, 300)).toBe(7) // 6.67 ms
  })
  test('the same inputs give the same string: nothing is sampled', () => {
    const a = Array.from({length: 50}, () => startedIso(1796489276000, 4242))
    expect(new Set(a).size).toBe(1)
  })
})

describe('on the live /proc', () => {
  const procfs = new ProcFs()
  test("stableBootMs() is the kernel's btime, in ms, on every call", () => {
    const btime = parseBtime(fs.readFileSync('/proc/stat', 'utf8'))
    expect(btime).not.toBeNull()
    const seen = new Set(Array.from({length: 20}, () => new ProcFs().stableBootMs()))
    expect([...seen]).toEqual([btime! * 1000])
  })
  test('stableBootMs() is within a second before the sampled boot instant (bootTimeMs, /proc/uptime)', () => {
    const diff = procfs.bootTimeMs() - procfs.stableBootMs()
    // btime is truncated to the second; the sampled one is good to ~10 ms (uptime's resolution).
    expect(diff).toBeGreaterThan(-50)
    expect(diff).toBeLessThan(1050)
  })
  test('a ProcFs without /proc/stat falls back to bootTimeMs() truncated to the second', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nsl-start-'))
    try {
      fs.writeFileSync(path.join(root, 'uptime'), '1000.25 1900.00\n')
      const p = new ProcFs(root)
      expect(p.stableBootMs() % 1000).toBe(0)
      expect(p.bootTimeMs() - p.stableBootMs()).toBeGreaterThanOrEqual(0)
      expect(p.bootTimeMs() - p.stableBootMs()).toBeLessThan(1000)
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })
  test("this process's `started`: identical on every read, within a second before the truth", () => {
    // The truth: this process started process.uptime() seconds ago (measured by Node from its own start).
    const truth = Date.now() - process.uptime() * 1000
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) {
      // A fresh ProcFs each time, as a separate `nslocate find` has: nothing reused between reads.
      const p = new ProcFs()
      const facts = readFacts(p, process.pid, p.bootTimeMs())
      expect(facts).not.toBeNull()
      seen.add(describeProcess(p, facts!, []).started)
    }
    expect(seen.size).toBe(1)
    const started = Date.parse([...seen][0])
    // Node's uptime starts a little after exec (a few ms to ~100 ms on a busy machine).
    expect(started).toBeLessThanOrEqual(truth + 20)
    expect(started).toBeGreaterThan(truth - 1000 - 500)
  })
})

describe('the evidence of a reused pid says the printed start time (identity.ts), never the sampled one', () => {
  // A process that started at tick 123456 of a boot at btime 1796489276 (whole seconds): printed
  // 2026-12-05T17:08:30.560Z. The sampled boot instant (/proc/uptime) is 0.43 s later than btime.
  const started = startedIso(1796489276_000, 123456)
  const sampledMs = startedMs(1796489276_430, 123456)
  const candidate = (startedBefore: boolean): Candidate => ({
    facts: {
      pid: 4242,
      status: {} as ProcessFacts['status'],
      stat: {starttime: 123456, comm: 'web'} as ProcessFacts['stat'],
      startedMs: sampledMs,
      pidfdId: null,
    },
    writer: {ok: true, self: true, why: 'it runs as the file owner'},
    names: processNames('web', '/usr/bin/web', ['/usr/bin/web']),
    ownNs: true,
    nsInit: false,
    sees: true,
    seesWhy: 'pid 4242 sees the file',
    startedBefore,
    started,
    placed: null,
    nameMatch: 'its comm "web" matches',
    identity: null,
  })
  const decide = (mtimeMs: number) => decideUnlocked([candidate(false)], {content: 4242, names: ['web'], mtimeMs, ptraceHint: ''})

  test('the file written long before: the printed start, then the file time', () => {
    const mtimeMs = Date.parse('2026-12-05T17:00:00.000Z')
    const d = decide(mtimeMs)
    expect({state: d.state, reasons: d.reasons}).toEqual({state: 'stale', reasons: ['pid_reused']})
    expect(d.evidence).toContain(`pid 4242 dropped: it started at ${started}, after the file was written at 2026-12-05T17:00:00.000Z: the pid was reused`)
    expect(d.evidence.join('\n')).not.toContain(new Date(sampledMs).toISOString())
  })

  test('written within the second before: the printed start is not after it, and the evidence says why', () => {
    // Sampled: 17:08:30.990 > 17:08:30.700 + slack (reused); printed: 17:08:30.560, before the file's time.
    const mtimeMs = Date.parse('2026-12-05T17:08:30.700Z')
    expect(Date.parse(started)).toBeLessThan(mtimeMs)
    const d = decide(mtimeMs)
    expect(d.reasons).toEqual(['pid_reused'])
    expect(d.evidence).toContain(
      `pid 4242 dropped: it started after the file was written at 2026-12-05T17:08:30.700Z (measured to 10 ms; its start time as printed, ${started}, counts from the boot time in whole seconds, so up to 1 s early): the pid was reused`,
    )
    expect(d.evidence.join('\n')).not.toContain(new Date(sampledMs).toISOString())
  })
})
