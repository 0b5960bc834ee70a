/**
 * nslocate reload against real inotify, real atomic symlink swaps and real victims that log every
 * signal they receive (siglog): what the service received is asserted, not only the JSON lines.
 */
import * as path from 'node:path'

import {cli, killTracked, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {ConfigMapVolume, writeAtomic} from './configmap'
import {spawnLockedVictim} from './locked-victim'
import {events, nextEvent, startCli, stopCli} from './run-cli'

afterAll(async () => {
  await killTracked()
  await stopAll()
})

const HUP = 1
const hups = (v: {received(): Array<{signo: number}>}) => v.received().filter((r) => r.signo === HUP).length
const reload = (args: string[]) => startCli(['reload', ...args])
/** oclif wraps error text at the terminal width: undo that before matching. */
const flat = (text: string) => text.replace(/·?\s*\n\s*›\s*/g, ' ')
const started = (r: ReturnType<typeof reload>) => nextEvent(r, (e) => e.event === 'service')

test('a ConfigMap volume: every atomic ..data swap is one HUP (watched as the mount point and as a key through its symlink); SIGTERM stops it (0)', async () => {
  const v = await spawnLockedVictim()
  const vol = new ConfigMapVolume(path.join(v.dir, 'config'), {'app.conf': 'v1'})
  const asDir = reload(['victim', '--pidfile', v.pidfile, '--watch', vol.dir, '--debounce', '150ms'])
  await started(asDir)
  for (let i = 2; i <= 4; i++) {
    vol.update({'app.conf': `v${i}`})
    await until(() => hups(v) === i - 1, `HUP number ${i - 1}`, 10000)
    await nextEvent(asDir, (e) => e.event === 'signal', 5000, events(asDir).filter((e) => e.event !== 'signal').length + (i - 2))
  }
  const sigs = events(asDir).filter((e) => e.event === 'signal')
  expect(sigs).toHaveLength(3)
  expect(sigs.every((e) => e.result === 'signalled' && e.pid === v.hostPid && e.dispositions[0].disposition === 'handled')).toBe(true)
  const r = await stopCli(asDir)
  expect(r.status).toBe(0)
  expect(events(asDir).slice(-1)[0]).toMatchObject({event: 'stop', reason: 'SIGTERM'})

  // The key itself (app.conf -> ..data/app.conf): its directory's events are the swap's.
  const asKey = reload(['victim', '--pidfile', v.pidfile, '--watch', path.join(vol.dir, 'app.conf'), '--debounce', '150ms'])
  await started(asKey)
  const before = hups(v)
  vol.update({'app.conf': 'v5'})
  await until(() => hups(v) === before + 1, 'HUP after the swap seen through the key', 10000)
  vol.update({'app.conf': 'v6'})
  await until(() => hups(v) === before + 2, 'HUP after a second swap (re-armed)', 10000)
  // The same content again: a swap, but nothing to reload.
  vol.update({'app.conf': 'v6'})
  await nextEvent(asKey, (e) => e.event === 'unchanged')
  expect(hups(v)).toBe(before + 2)
  await stopCli(asKey)
})

test('a failing --validate sends nothing; once it passes, the HUP goes out', async () => {
  const v = await spawnLockedVictim()
  const conf = path.join(v.dir, 'app.conf')
  writeAtomic(conf, 'good 1\n')
  const r = reload(['victim', '--pidfile', v.pidfile, '--watch', conf, '--debounce', '100ms', '--validate', `grep -q '^good' ${conf}`])
  await started(r)
  writeAtomic(conf, 'broken\n')
  const failed = await nextEvent(r, (e) => e.event === 'validation')
  expect(failed).toMatchObject({ok: false, exit_code: 1})
  await new Promise((res) => setTimeout(res, 500))
  expect(hups(v)).toBe(0)
  expect(events(r).some((e) => e.event === 'signal')).toBe(false)
  writeAtomic(conf, 'good 2\n')
  await nextEvent(r, (e) => e.event === 'signal')
  await until(() => hups(v) === 1, 'HUP after a passing validation')
  expect(
    events(r)
      .filter((e) => e.event === 'validation')
      .map((e) => e.ok),
  ).toEqual([false, true])
  await stopCli(r)
})

test('a service restarted between two changes gets the second HUP at its new pid', async () => {
  const first = await spawnLockedVictim()
  const conf = path.join(first.dir, 'app.conf')
  writeAtomic(conf, 'a')
  const r = reload(['victim', '--pidfile', first.pidfile, '--watch', conf, '--debounce', '100ms'])
  await started(r)
  writeAtomic(conf, 'b')
  await until(() => hups(first) === 1, 'HUP to the first instance')
  process.kill(first.hostPid, 'SIGKILL')
  await first.exited
  const second = await spawnLockedVictim({dir: first.dir, log: path.join(first.dir, 'second.log')})
  expect(second.hostPid).not.toBe(first.hostPid)
  writeAtomic(conf, 'c')
  await until(() => hups(second) === 1, 'HUP to the restarted instance')
  // the victim logs the HUP as it arrives; the reloader prints its event just after sending
  await until(() => events(r).filter((e) => e.event === 'signal').length === 2, 'the second signal event')
  const sigs = events(r).filter((e) => e.event === 'signal')
  expect(sigs.map((e) => e.pid)).toEqual([first.hostPid, second.hostPid])
  await stopCli(r)
})

test('100 changes in one second give at most a few signals (counted in the victim log)', async () => {
  const v = await spawnLockedVictim()
  const conf = path.join(v.dir, 'app.conf')
  writeAtomic(conf, '0')
  const r = reload(['victim', '--pidfile', v.pidfile, '--watch', conf, '--debounce', '200ms'])
  await started(r)
  const t0 = Date.now()
  // A pause of the writer itself as long as the debounce (this process not scheduled, a GC: on a
  // loaded machine; 190 ms, as the reloader may see the gap a little wider) splits the burst in
  // two, and the second part earns a HUP of its own: each such pause allows one HUP more, at most
  // two of them (a burst with more is not the burst this test means). A debounce that fires
  // after 150 ms of quiet, or a 200 ms throttle, still gives more.
  let last = t0
  let pauses = 0
  for (let i = 1; i <= 100; i++) {
    writeAtomic(conf, String(i))
    const now = Date.now()
    if (now - last >= 190) pauses++
    last = now
    await new Promise((res) => setTimeout(res, Math.max(0, t0 + i * 10 - Date.now())))
  }
  await until(() => hups(v) >= 1, 'at least one HUP')
  await new Promise((res) => setTimeout(res, 1000))
  const n = hups(v)
  expect(n).toBeGreaterThanOrEqual(1)
  expect({pauses, tight: pauses <= 2}).toEqual({pauses, tight: true})
  expect({n, pauses, atMost: n <= 3 + pauses}).toEqual({n, pauses, atMost: true})
  expect(events(r).filter((e) => e.event === 'signal')).toHaveLength(n)
  await stopCli(r)
})

test('a service that is not running is logged and waited for, not fatal; once it runs, the next change reaches it', async () => {
  const dir = tempDir('nslocate-sidecar-')
  const conf = path.join(dir, 'app.conf')
  writeAtomic(conf, '1')
  const r = reload(['victim', '--pidfile', path.join(dir, 'victim.pid'), '--watch', conf, '--debounce', '100ms'])
  expect(await started(r)).toMatchObject({state: 'stopped', pid: null})
  writeAtomic(conf, '2')
  expect(await nextEvent(r, (e) => e.event === 'signal')).toMatchObject({result: 'not_running', exit_code: 7})
  const v = await spawnLockedVictim({dir})
  expect(await nextEvent(r, (e) => e.event === 'service' && e.state === 'running')).toMatchObject({pid: v.hostPid})
  expect(hups(v)).toBe(0) // a service that just started has read the config itself
  writeAtomic(conf, '3')
  await until(() => hups(v) === 1, 'HUP once it runs')
  expect(r.child.exitCode).toBeNull()
  await stopCli(r)
})

test('usage errors at start exit 2 and say what to do: a missing watch path, a bad signal, no --watch, a bad duration', async () => {
  const dir = tempDir('nslocate-sidecar-')
  const missing = await cli(['reload', 'app', '--watch', path.join(dir, 'nope.conf'), '--pidfile', path.join(dir, 'app.pid')])
  expect(missing.status).toBe(2)
  expect(flat(missing.stderr)).toContain(`--watch ${path.join(dir, 'nope.conf')}: no such file or directory`)
  const badSig = await cli(['reload', 'app', '--watch', dir, '--signal', 'BOGUS'])
  expect(badSig.status).toBe(2)
  expect(flat(badSig.stderr)).toContain('invalid signal "BOGUS"')
  expect((await cli(['reload', 'app'])).status).toBe(2)
  const badDur = await cli(['reload', 'app', '--watch', dir, '--debounce', 'soon'])
  expect(badDur.status).toBe(2)
  expect(flat(badDur.stderr)).toContain('invalid duration "soon"')
  expect(missing.stdout + badSig.stdout).toBe('')
})

test('an ignored HUP is reported per event as no_effect (the service is named), and the reloader goes on', async () => {
  const v = await spawnLockedVictim({ignore: ['HUP']})
  const conf = path.join(v.dir, 'app.conf')
  writeAtomic(conf, 'x')
  const r = reload(['victim', '--pidfile', v.pidfile, '--watch', conf, '--debounce', '100ms'])
  await started(r)
  writeAtomic(conf, 'y')
  const e = await nextEvent(r, (x) => x.event === 'signal')
  expect(e).toMatchObject({result: 'no_effect', exit_code: 1, dispositions: [expect.objectContaining({disposition: 'ignored', pid: v.hostPid})]})
  expect(e.message).toContain(`sent HUP to pid ${v.hostPid}:`)
  expect(e.message).toContain('it ignores HUP (SIG_IGN)')
  expect(v.received()).toEqual([])
  expect(r.child.exitCode).toBeNull()
  await stopCli(r)
})
