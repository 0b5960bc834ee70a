/**
 * Issue 21, 6b: a process's `started` is the same string on every call and in every process
 * (src/proc/start-time.ts: /proc/stat btime + the start tick), and within a second of the truth.
 * One real service, asked by 20 separate `nslocate find` runs (the fast path), the oclif path,
 * `list`, `serve` (/healthz/NAME and /metrics) and ps(1), which computes its lstart the same way.
 * The evidence too (src/locate/identity.ts): a pidfile written before that process started names
 * it by a reused pid, and the evidence that says so gives the same `started`, byte for byte.
 */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, firstLine, killTracked, tmpdir, track} from '../helpers/cli'
import {httpGet} from '../helpers/http'
import {stopAll} from '../helpers/tracked'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

/** A service that takes a POSIX lock on DIR/NAME.pid, writes its pid, says ready and sleeps. */
function service(file: string): ChildProcess {
  const code = `
import fcntl, os, time
f = open(${JSON.stringify(file)}, 'a+')
fcntl.lockf(f, fcntl.LOCK_EX)
f.truncate(0); f.write(str(os.getpid())); f.flush()
print('ready', flush=True)
time.sleep(120)`
  return track(spawn('/usr/bin/python3', ['-c', code], {stdio: ['ignore', 'pipe', 'inherit']}))
}

let dir: string
let svc: ChildProcess
let spawnedAt: {before: number; after: number}

beforeAll(async () => {
  dir = tmpdir()
  const before = Date.now()
  svc = service(path.join(dir, 'ticker.pid'))
  const after = Date.now()
  spawnedAt = {before, after}
  await firstLine(svc, 'the service')
})
afterAll(() => killTracked())

describe('started: one string for one process', () => {
  test('20 consecutive `nslocate find` runs print the same started, in --json and in the text', async () => {
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const {status, json} = await cliJson(['find', 'ticker', '--dir', dir])
      expect({status, pid: json.pid}).toEqual({status: 0, pid: svc.pid})
      seen.add(json.process.started)
    }
    expect(seen.size).toBe(1)
    const started = [...seen][0]
    expect(started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d0Z$/) // whole 10 ms ticks
    for (let i = 0; i < 3; i++) {
      const text = await cli(['find', 'ticker', '--dir', dir])
      expect(text.status).toBe(0)
      expect(text.stdout).toContain(`started ${started}`)
    }
  }, 60_000)

  test('the oclif path, list --json, serve /healthz/NAME and /metrics say the same', async () => {
    const {json: fast} = await cliJson(['find', 'ticker', '--dir', dir])
    const {json: slow} = await cliJson(['find', 'ticker', '--dir', dir], {env: {NSLOCATE_NO_FAST_PATH: '1'}})
    expect(slow.process.started).toBe(fast.process.started)
    // The whole text output too: nothing in it varies between the two paths now.
    const a = await cli(['find', 'ticker', '--dir', dir])
    const b = await cli(['find', 'ticker', '--dir', dir], {env: {NSLOCATE_NO_FAST_PATH: '1'}})
    expect(b.stdout).toBe(a.stdout)
    const listed = await cliJson(['list', '--dir', dir])
    expect(listed.status).toBe(0)
    expect(listed.json).toEqual([expect.objectContaining({name: 'ticker', pid: svc.pid, process: expect.objectContaining({started: fast.process.started})})])

    const serve = track(spawn(process.execPath, [BIN, 'serve', 'ticker', '--dir', dir, '--listen', '127.0.0.1:0'], {stdio: ['ignore', 'pipe', 'inherit']}))
    const address = JSON.parse(await firstLine(serve, 'serve')).address as string
    const health = JSON.parse((await httpGet(`http://${address}/healthz/ticker`)).body)
    expect(health).toMatchObject({state: 'running', pid: svc.pid, process: {started: fast.process.started}})
    const again = JSON.parse((await httpGet(`http://${address}/healthz/ticker`)).body)
    expect(again.process.started).toBe(fast.process.started)
    const metrics = (await httpGet(`http://${address}/metrics`)).body
    const m = /^nslocate_service_start_time_seconds\{name="ticker"\} (\S+)$/m.exec(metrics)
    expect(m).not.toBeNull()
    expect(Number(m![1]) * 1000).toBe(Date.parse(fast.process.started))
  }, 60_000)

  test("a reused pid's evidence: byte-identical in consecutive `find` runs, and its start time is `started`", async () => {
    // An unlocked pidfile naming the service's pid, written an hour before the service started.
    const other = tmpdir()
    const file = path.join(other, 'old.pid')
    fs.writeFileSync(file, `${svc.pid}\n`)
    // A whole second: utimes takes seconds as a float, and a millisecond part may come back 1 ms short.
    const written = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000)
    fs.utimesSync(file, written, written)
    const {json: ticker} = await cliJson(['find', 'ticker', '--dir', dir])
    const runs = []
    for (let i = 0; i < 10; i++) runs.push(await cli(['find', 'old', '--dir', other, '--json']))
    for (const r of runs) expect({status: r.status, stderr: r.stderr}).toEqual({status: 1, stderr: ''}) // stale: LSB 1
    // The whole answer, evidence included, is the same bytes every time.
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1)
    const json = JSON.parse(runs[0].stdout)
    expect(json).toMatchObject({state: 'stale', reasons: ['unlocked_pidfile', 'pid_reused', 'stale_pidfile']})
    expect(json.evidence).toContain(
      `pid ${svc.pid} dropped: it started at ${ticker.process.started}, after the file was written at ${written.toISOString()}: the pid was reused`,
    )
    const texts = []
    for (let i = 0; i < 5; i++) texts.push((await cli(['find', 'old', '--dir', other])).stdout)
    expect(new Set(texts).size).toBe(1)
    expect(texts[0]).toContain(`it started at ${ticker.process.started}, after`)
  }, 60_000)

  test('within a second of the truth, never after it, and to the second what ps -o lstart says', async () => {
    const {json} = await cliJson(['find', 'ticker', '--dir', dir])
    const started = Date.parse(json.process.started)
    // btime is whole seconds, truncated: up to 1 s early; one tick (10 ms) of slack for the start tick.
    expect(started).toBeLessThanOrEqual(spawnedAt.after + 10)
    expect(started).toBeGreaterThan(spawnedAt.before - 1000 - 10)
    const ps = spawnSync('ps', ['-o', 'lstart=', '-p', String(svc.pid)], {encoding: 'utf8', env: {...process.env, TZ: 'UTC', LC_ALL: 'C'}})
    expect(ps.status).toBe(0)
    const lstart = Date.parse(`${ps.stdout.trim()} GMT`)
    expect(Number.isFinite(lstart)).toBe(true)
    expect(Math.floor(started / 1000) * 1000).toBe(lstart)
  }, 30_000)
})
