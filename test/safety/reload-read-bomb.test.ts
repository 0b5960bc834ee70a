/**
 * Issue 17, hole 4: the `reload` read bomb. The owner of a watched directory (a real unprivileged
 * user) adds entries whose content never ends or never comes: `zz -> /proc/self/pagemap` (a
 * "regular" procfs file whose st_size is 0, and whose read runs on for terabytes), a FIFO, links to
 * /dev/zero and /dev/urandom, and (made by root: mknod needs CAP_MKNOD) a /dev/zero device node.
 * The reloader must go on answering its --listen /healthz within a second with a bounded RSS, and
 * a real change of the config must still reach the real service as a HUP (counted in its log).
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'

import {killTracked, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {writeAtomic} from '../sidecar/configmap'
import {spawnLockedVictim} from '../sidecar/locked-victim'
import {RunningCli, events, nextEvent, startCli, stopCli} from '../sidecar/run-cli'

const users: TestUser[] = []
afterAll(async () => {
  await killTracked()
  await stopAll()
  for (const u of users) u.remove()
})

const HUP = 1
const hups = (v: {received(): Array<{signo: number}>}) => v.received().filter((r) => r.signo === HUP).length
const RSS_LIMIT_MB = 300

/** GET path; resolves with the status and the time it took, or status 0 when no answer came within timeoutMs. */
function probe(address: string, urlPath: string, timeoutMs = 1000): Promise<{status: number; ms: number}> {
  const i = address.lastIndexOf(':')
  const t0 = Date.now()
  return new Promise((resolve) => {
    const req = http.request({host: address.slice(0, i), port: Number(address.slice(i + 1)), path: urlPath, agent: false, timeout: timeoutMs}, (res) => {
      res.resume()
      res.on('end', () => resolve({status: res.statusCode!, ms: Date.now() - t0}))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve({status: 0, ms: Date.now() - t0}))
    req.end()
  })
}

function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

/** A config directory owned by a fresh unprivileged user (0755 on the way down), with app.conf in it. */
function ownedConfigDir(): {dir: string; user: TestUser} {
  const user = createTestUser('rbomb')
  users.push(user)
  const dir = tempDir('nslocate-rbomb-')
  fs.chmodSync(dir, 0o755)
  fs.chownSync(dir, user.uid, user.gid)
  writeAtomic(path.join(dir, 'app.conf'), 'v1\n')
  return {dir, user}
}

function asUser(user: TestUser, argv: string[]): void {
  const [cmd, ...args] = user.as(argv)
  const r = spawnSync(cmd, args, {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`${argv.join(' ')} as ${user.name} failed: ${r.stderr}`)
}

/** What the directory's owner may do: symlinks to pseudo files and devices, and a FIFO; then root's device node. */
function plantBombs(dir: string, user: TestUser): void {
  const script = 'set -e; cd "$1"; ln -s /proc/self/pagemap zz; mkfifo fifo; ln -s /dev/zero zero; ln -s /dev/urandom urandom'
  asUser(user, ['/bin/sh', '-c', script, 'sh', dir])
  const m = spawnSync('mknod', ['-m', '0666', path.join(dir, 'zero-node'), 'c', '1', '5'], {encoding: 'utf8'})
  if (m.status !== 0) throw new Error(`mknod failed: ${m.stderr}`)
}

/** Probes /healthz/victim every 200 ms for `forMs`, with RSS; every answer must be 200 within a second. */
async function watchHealth(r: RunningCli, address: string, forMs: number): Promise<{worstMs: number; failures: number; maxRssMb: number; samples: number}> {
  let worstMs = 0
  let failures = 0
  let maxRssMb = 0
  let samples = 0
  const end = Date.now() + forMs
  while (Date.now() < end) {
    const p = await probe(address, '/healthz/victim')
    samples++
    worstMs = Math.max(worstMs, p.ms)
    if (p.status !== 200 || p.ms >= 1000) failures++
    maxRssMb = Math.max(maxRssMb, rssMb(r.pid))
    if (r.child.exitCode !== null) break
    await new Promise((res) => setTimeout(res, 200))
  }
  return {worstMs, failures, maxRssMb, samples}
}

test('bombs planted in a watched directory while reload runs: /healthz answers within 1 s, RSS stays bounded, a real change still HUPs the service', async () => {
  const v = await spawnLockedVictim()
  const {dir, user} = ownedConfigDir()
  const r = startCli(['reload', 'victim', '--pidfile', v.pidfile, '--watch', dir, '--debounce', '100ms', '--listen', '0'])
  const {address} = await nextEvent(r, (e) => e.event === 'listen')
  await nextEvent(r, (e) => e.event === 'service')
  expect((await probe(address, '/healthz/victim')).status).toBe(200)

  plantBombs(dir, user)
  // The new names are a change of the directory: it is fingerprinted (debounce 100 ms) during this.
  const health = await watchHealth(r, address, 4000)
  process.stderr.write(`reload-read-bomb (planted while running): ${JSON.stringify(health)}\n`)
  expect(r.child.exitCode).toBeNull()
  expect(health).toMatchObject({failures: 0})
  expect(health.worstMs).toBeLessThan(1000)
  expect(health.maxRssMb).toBeLessThan(RSS_LIMIT_MB)
  // The planted names were seen as a change (and reloaded once): the reloader is not stuck.
  await nextEvent(r, (e) => e.event === 'signal', 5000)
  await until(() => hups(v) === 1, 'the HUP for the planted names', 5000)

  // A real change of the config is still a change, and one more HUP to the real service.
  const changes = events(r).filter((e) => e.event === 'change').length
  writeAtomic(path.join(dir, 'app.conf'), 'v2\n')
  await until(() => hups(v) === 2, 'the HUP for app.conf v2', 10000)
  await until(() => events(r).filter((e) => e.event === 'signal').length === 2, 'the second signal event', 5000)
  expect(events(r).filter((e) => e.event === 'change').length).toBe(changes + 1)
  expect(
    events(r)
      .filter((e) => e.event === 'signal')
      .every((e) => e.result === 'signalled' && e.pid === v.hostPid),
  ).toBe(true)
  // Nothing changed since: another event (a touch of a bomb's link) sends nothing.
  fs.utimesSync(path.join(dir, 'app.conf'), new Date(), new Date())
  await nextEvent(r, (e) => e.event === 'unchanged', 5000)
  expect(hups(v)).toBe(2)
  expect(rssMb(r.pid)).toBeLessThan(RSS_LIMIT_MB)
  expect((await stopCli(r)).status).toBe(0)
}, 60_000)

test('bombs already there at start, and a watched key that is a link to /proc/self/pagemap: reload starts, answers, and HUPs on a real change', async () => {
  const v = await spawnLockedVictim()
  const {dir, user} = ownedConfigDir()
  plantBombs(dir, user)
  const key = path.join(dir, 'key.conf')
  asUser(user, ['/bin/ln', '-s', '/proc/self/pagemap', key])
  expect(fs.readlinkSync(key)).toBe('/proc/self/pagemap')
  const t0 = Date.now()
  const r = startCli(['reload', 'victim', '--pidfile', v.pidfile, '--watch', dir, '--watch', key, '--debounce', '100ms', '--listen', '0'])
  const {address} = await nextEvent(r, (e) => e.event === 'listen')
  await nextEvent(r, (e) => e.event === 'start', 10000)
  await nextEvent(r, (e) => e.event === 'service', 5000)
  const startMs = Date.now() - t0
  const health = await watchHealth(r, address, 2000)
  process.stderr.write(`reload-read-bomb (present at start): start after ${startMs} ms, ${JSON.stringify(health)}\n`)
  expect(health).toMatchObject({failures: 0})
  expect(health.maxRssMb).toBeLessThan(RSS_LIMIT_MB)

  writeAtomic(path.join(dir, 'app.conf'), 'v2\n')
  await until(() => hups(v) === 1, 'the HUP for app.conf v2', 10000)
  // The key now names a real file: a change too.
  fs.unlinkSync(key)
  writeAtomic(key, 'real\n')
  await until(() => hups(v) === 2, 'the HUP for key.conf made a real file', 10000)
  expect(rssMb(r.pid)).toBeLessThan(RSS_LIMIT_MB)
  expect((await stopCli(r)).status).toBe(0)
}, 60_000)
