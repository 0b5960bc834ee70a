/**
 * serve / reload --listen: real HTTP requests against the endpoint, metrics parsed from the
 * Prometheus text. A running, stopped, restarted and not-visible service shows in both endpoints.
 */
import * as http from 'node:http'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, killTracked, until} from '../helpers/cli'
import {spawnHolder} from '../helpers/lock-holders'
import {stopAll, tempDir} from '../helpers/tracked'
import {writeAtomic} from './configmap'
import {spawnLockedVictim} from './locked-victim'
import {RunningCli, nextEvent, startCli, stopCli} from './run-cli'

afterAll(async () => {
  await killTracked()
  await stopAll()
})

function request(address: string, urlPath: string, method = 'GET'): Promise<{status: number; type: string; body: string}> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  return new Promise((resolve, reject) => {
    const req = http.request({host, port, path: urlPath, method, agent: false}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode!, type: String(res.headers['content-type']), body}))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Prometheus text format: `name{a="b",c="d"} value` lines; comments skipped. */
export function parseMetrics(text: string): Array<{name: string; labels: Record<string, string>; value: number}> {
  const out: Array<{name: string; labels: Record<string, string>; value: number}> = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    out.push({name: m[1], labels, value: Number(m[3])})
  }
  return out
}

const metric = (text: string, name: string, labels: Record<string, string> = {}) =>
  parseMetrics(text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

async function serve(args: string[], prefix: string[] = []): Promise<{r: RunningCli; address: string}> {
  const r = startCli(['serve', ...args, '--listen', '0', '--interval', '200ms'], {}, prefix)
  const e = await nextEvent(r, (x) => x.event === 'listen')
  return {r, address: e.address}
}

test("running -> stopped -> restarted: /healthz/NAME 200/503/200 with find's JSON; /metrics up, pid, start time, restarts seen", async () => {
  const first = await spawnLockedVictim()
  const {r, address} = await serve(['victim', '--pidfile', first.pidfile])
  expect(address).toMatch(/^127\.0\.0\.1:\d+$/) // loopback by default
  const up = await request(address, '/healthz/victim')
  expect(up.status).toBe(200)
  expect(up.type).toBe('application/json')
  expect(JSON.parse(up.body)).toMatchObject({name: 'victim', state: 'running', pid: first.hostPid, pidfile: {path: first.pidfile, lock: 'posix'}})
  let m = await request(address, '/metrics')
  expect(m.type).toContain('text/plain')
  expect(metric(m.body, 'nslocate_service_up', {name: 'victim'})).toBe(1)
  expect(metric(m.body, 'nslocate_service_main_pid', {name: 'victim'})).toBe(first.hostPid)
  const startedAt = metric(m.body, 'nslocate_service_start_time_seconds', {name: 'victim'})!
  const statStart = JSON.parse(up.body).process.started
  expect(Math.abs(startedAt - Date.parse(statStart) / 1000)).toBeLessThan(1)
  expect(metric(m.body, 'nslocate_service_restarts_seen_total', {name: 'victim'})).toBe(0)
  expect(metric(m.body, 'nslocate_reloads_total')).toBeUndefined() // serve alone does not reload

  process.kill(first.hostPid, 'SIGKILL')
  await first.exited
  const down = await request(address, '/healthz/victim')
  expect(down.status).toBe(503)
  expect(JSON.parse(down.body)).toMatchObject({state: 'stale', pid: null})
  m = await request(address, '/metrics')
  expect(metric(m.body, 'nslocate_service_up', {name: 'victim'})).toBe(0)
  expect(metric(m.body, 'nslocate_service_state', {name: 'victim', state: 'stale'})).toBe(1)
  expect(metric(m.body, 'nslocate_service_main_pid', {name: 'victim'})).toBeUndefined()

  const second = await spawnLockedVictim({dir: first.dir, log: path.join(first.dir, 'second.log')})
  await until(async () => (await request(address, '/healthz/victim')).status === 200, 'healthy again')
  m = await request(address, '/metrics')
  expect(metric(m.body, 'nslocate_service_main_pid', {name: 'victim'})).toBe(second.hostPid)
  expect(metric(m.body, 'nslocate_service_restarts_seen_total', {name: 'victim'})).toBe(1)
  expect(second.received()).toEqual([]) // nothing is ever signalled over HTTP
  expect((await stopCli(r)).status).toBe(0)
})

test('a service whose lock holder is not visible (serve runs in a child PID namespace): running but not visible, in both endpoints', async () => {
  const dir = tempDir('nslocate-serve-')
  const file = path.join(dir, 'hidden.pid')
  const h = await spawnHolder({kind: 'posix', file, writePid: true})
  const {r, address} = await serve(['hidden', '--pidfile', file], ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'])
  const res = await request(address, '/healthz/hidden')
  const body = JSON.parse(res.body)
  expect(body).toMatchObject({state: 'running', pid: null, visible: false})
  expect(body.reasons).toContain('holder_not_visible')
  expect(res.status).toBe(200)
  const m = await request(address, '/metrics')
  expect(metric(m.body, 'nslocate_service_up', {name: 'hidden'})).toBe(1)
  expect(metric(m.body, 'nslocate_service_visible', {name: 'hidden'})).toBe(0)
  expect(metric(m.body, 'nslocate_service_main_pid', {name: 'hidden'})).toBeUndefined()
  // unshare ignores TERM while it waits: stop the server inside (pid 1 there, with a TERM handler).
  const inner = Number(fs.readFileSync(`/proc/${r.pid}/task/${r.pid}/children`, 'utf8').trim())
  process.kill(inner, 'SIGTERM')
  expect((await stopCli(r)).status).toBe(0)
  await h.stop()
})

test('several names, /healthz for all, an unknown name 404, anything but GET/HEAD 405; a bad --listen is usage (2), a taken port 1', async () => {
  const a = await spawnLockedVictim({name: 'a'})
  const {r, address} = await serve(['a', 'b', '--dir', a.dir])
  const all = await request(address, '/healthz')
  expect(all.status).toBe(503)
  expect(JSON.parse(all.body)).toEqual({a: 'running', b: 'stopped'})
  expect((await request(address, '/healthz/b')).status).toBe(503)
  expect((await request(address, '/healthz/zzz')).status).toBe(404)
  const post = await request(address, '/healthz/a', 'POST')
  expect(post.status).toBe(405)
  expect(JSON.parse(post.body).error.message).toContain('read-only')
  expect((await request(address, '/healthz/a', 'HEAD')).status).toBe(200)
  const bad = await cli(['serve', 'a', '--listen', 'nowhere'])
  expect(bad.status).toBe(2)
  const taken = await cli(['serve', 'a', '--listen', address], {timeoutMs: 20000})
  expect(taken.status).toBe(1)
  expect(taken.stderr).toContain('EADDRINUSE')
  expect((await stopCli(r)).status).toBe(0)
})

test('reload --listen: reloads by result and the last reload time in /metrics', async () => {
  const v = await spawnLockedVictim()
  const conf = path.join(v.dir, 'app.conf')
  writeAtomic(conf, '1')
  const r = startCli(['reload', 'victim', '--pidfile', v.pidfile, '--watch', conf, '--debounce', '100ms', '--listen', '0', '--validate', `grep -q ok ${conf}`])
  const {address} = await nextEvent(r, (e) => e.event === 'listen')
  await nextEvent(r, (e) => e.event === 'service')
  writeAtomic(conf, 'bad')
  await nextEvent(r, (e) => e.event === 'validation')
  writeAtomic(conf, 'ok')
  const t0 = Date.now() / 1000
  await nextEvent(r, (e) => e.event === 'signal')
  const m = (await request(address, '/metrics')).body
  expect(metric(m, 'nslocate_reloads_total', {name: 'victim', result: 'signalled'})).toBe(1)
  expect(metric(m, 'nslocate_reloads_total', {name: 'victim', result: 'validation_failed'})).toBe(1)
  expect(metric(m, 'nslocate_reloads_total', {name: 'victim', result: 'failed'})).toBe(0)
  expect(Math.abs(metric(m, 'nslocate_last_reload_timestamp_seconds', {name: 'victim'})! - t0)).toBeLessThan(5)
  expect(v.received().map((x) => x.signo)).toEqual([1])
  expect((await stopCli(r)).status).toBe(0)
})
