/**
 * Issue 17, hole 10: `list` over many pidfiles reads the process table's namespaces once per pass,
 * not once per file (it took 50 s for 10,000 files), and gives exactly the answers that locating
 * each file on its own gives. The figure itself (10,000 files: <= 2 s, <= 100 MB) is measured by
 * bench/run.js (list-10k), not asserted here.
 */
import fs = require('node:fs')
import * as path from 'node:path'

import {snakeKeys} from '../../src/cli/json'
import {listPidfiles, locateListed} from '../../src/locate/list-pidfiles'
import {locate} from '../../src/locate/locate'
import {ProcFs} from '../../src/proc/proc-fs'
import {cliJson} from '../helpers/cli'
import {Holder, spawnHolder} from '../helpers/lock-holders'
import {stopAll, tempDir} from '../helpers/tracked'
import {spawnVictim} from '../helpers/victims'

afterAll(() => stopAll())
afterEach(() => jest.restoreAllMocks())

const PID_MAX = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))

/** Counts the reads that cost one per process of the table, and the reads of /proc/locks (however ProcFs reads it). */
class Counting extends ProcFs {
  counts = {listPids: 0, readPidnsLink: 0, readLocks: 0}

  constructor() {
    super()
    const counts = () => this.counts
    const open = fs.openSync
    jest.spyOn(fs, 'openSync').mockImplementation(function (this: unknown, ...args: Parameters<typeof fs.openSync>) {
      if (String(args[0]) === '/proc/locks') counts().readLocks++
      return open.apply(this, args)
    })
  }

  override listPids(): number[] {
    this.counts.listPids++
    return super.listPids()
  }

  override readPidnsLink(pid: number | 'self'): string {
    this.counts.readPidnsLink++
    return super.readPidnsLink(pid)
  }
}

const holders: Holder[] = []

/** This process's descendants (the victim, the holders and their namespaces' inits), and pids 1 and 2. */
function ours(): Set<number> {
  const parent = new Map<number, number>()
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8')
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // gone meanwhile: not one of ours (ours live until afterAll)
    }
  }
  const mine = new Set([process.pid])
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, ppid] of parent)
      if (!mine.has(pid) && mine.has(ppid)) {
        mine.add(pid)
        grew = true
      }
  }
  return mine.add(1).add(2)
}

/**
 * A row without process.started, which moves by the 10 ms of boot time's resolution between two
 * reads, and without what other tests running meanwhile change: the evidence lines about their
 * processes (a pidfile saying 1 or 2 has every PID namespace's pid 1 or 2 as a candidate, and
 * other test files make and end PID namespaces in parallel; a zombie dropped in one read may be
 * reaped before the next) and the number of PID namespaces that exist. The lines about this file's
 * own processes stay, and must be the same.
 */
function steady<T>(rows: T[]): T[] {
  const mine = ours()
  const theirs = (pid: string) => !mine.has(Number(pid))
  return JSON.parse(JSON.stringify(rows), (k, v) => {
    if (k === 'started' && typeof v === 'string') return 'T'
    if (k === 'evidence' && Array.isArray(v))
      return v
        .filter((line) => !/^pid \d+ has exited \(state [ZX]\): not a candidate$/.test(line))
        .filter((line) => {
          const thread = /^pid \d+ is a thread of process (\d+)/.exec(line)
          if (thread) return !theirs(thread[1])
          const about = /^pid (\d+) /.exec(line)
          return !about || !theirs(about[1])
        })
        .map((line) => line.replace(/^(looked for innermost pid \d+ in )\d+ PID namespace\(s\): .*$/, '$1K PID namespace(s)'))
        .map((line) =>
          line.replace(/^(candidates with innermost pid \d+: )(.*)$/, (_: string, head: string, list: string) => {
            const kept = list.split(', ').filter((c) => !theirs(c.split(' ')[0]))
            return head + kept.join(', ')
          }),
        )
    return v
  })
}

/**
 * A directory like a busy runtime directory: many unlocked pidfiles naming dead pids, some naming
 * live processes (one written inside a child PID namespace), a few locked (POSIX and flock), and
 * odd ones (empty, garbage, a symlink).
 */
async function busyDir(n: number): Promise<string> {
  const dir = tempDir('nslocate-list-')
  let p = PID_MAX - 1
  for (let i = 0; i < n; i++) {
    while (fs.existsSync(`/proc/${p}`)) p--
    fs.writeFileSync(path.join(dir, `dead${i}.pid`), `${p--}\n`)
  }
  const victim = await spawnVictim()
  fs.writeFileSync(path.join(dir, 'siglog.pid'), `${victim.pid}\n`)
  fs.writeFileSync(path.join(dir, 'other.pid'), `${victim.pid}\n`)
  fs.writeFileSync(path.join(dir, 'one.pid'), '1\n')
  holders.push(await spawnHolder({kind: 'posix', file: path.join(dir, 'posix.pid'), writePid: true}))
  holders.push(await spawnHolder({kind: 'flock', file: path.join(dir, 'flock.pid'), writePid: true}))
  holders.push(await spawnHolder({kind: 'none', file: path.join(dir, 'inner.pid'), writePid: true, levels: 1}))
  fs.writeFileSync(path.join(dir, 'empty.pid'), '')
  fs.writeFileSync(path.join(dir, 'garbage.pid'), 'x\n')
  fs.symlinkSync('/nonexistent', path.join(dir, 'link.pid'))
  return dir
}

let dir: string

beforeAll(async () => {
  dir = await busyDir(300)
}, 60_000)

test("one pass reads the table's namespace links about once, not once per file", () => {
  const procfs = new Counting()
  const processes = procfs.listPids().length
  procfs.counts = {listPids: 0, readPidnsLink: 0, readLocks: 0}
  const listing = listPidfiles({dir})
  expect(listing.files.length).toBe(309)
  const rows = locateListed(listing, {procfs})
  expect(rows).toHaveLength(309)
  // Before: 300+ listPids and ~300 x processes readlinks. Now: one listing per second of the pass,
  // and per file only the links of the candidates themselves.
  const pass = {...procfs.counts}
  expect(pass.listPids).toBeLessThanOrEqual(3)
  expect(pass.readPidnsLink).toBeLessThan(3 * (processes + 50) + 10 * rows.length)
  expect(pass.readLocks).toBeLessThanOrEqual(10)
  jest.restoreAllMocks()
  // What one locate() per file reads (list before): the whole table again for every unlocked file.
  const each = new Counting()
  for (const f of listing.files) locate({name: f.name, pidfile: f.path, skipNameCheck: !f.validName, procfs: each})
  expect(each.counts.listPids).toBeGreaterThan(290)
  expect(each.counts.readPidnsLink).toBeGreaterThan(5 * pass.readPidnsLink)
  expect(each.counts.readLocks).toBeGreaterThan(290)
})

test('the answers are exactly those of locating each file on its own', () => {
  const listing = listPidfiles({dir})
  const alone = listing.files.map((f) => locate({name: f.name, pidfile: f.path, skipNameCheck: !f.validName}))
  const together = locateListed(listing, {})
  expect(steady(together)).toEqual(steady(alone))
  const states = Object.fromEntries(together.filter((r) => !r.name.startsWith('dead')).map((r) => [r.name, `${r.state} ${r.pidfile?.lock ?? '-'}`]))
  expect(states).toEqual({
    empty: 'stale none',
    flock: 'running flock',
    garbage: 'stale none',
    inner: 'unknown none',
    link: 'unknown -',
    one: 'stale none',
    other: expect.stringMatching(/^(running|unknown) none$/),
    posix: 'running posix',
    siglog: 'running none',
  })
  expect(new Set(together.filter((r) => r.name.startsWith('dead')).map((r) => r.state))).toEqual(new Set(['stale']))
})

test('the CLI (fast path and oclif) lists the same rows as before', async () => {
  const listing = listPidfiles({dir})
  const alone = listing.files.map((f) => locate({name: f.name, pidfile: f.path, skipNameCheck: !f.validName}))
  for (const env of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
    const r = await cliJson(['list', '--dir', dir], {env})
    expect(r.status).toBe(0)
    // The CLI prints the library's rows with its JSON keys (pidfd_id for pidfdId: src/cli/json.ts).
    expect(steady(r.json)).toEqual(steady(snakeKeys(alone) as unknown[]))
  }
}, 60_000)
