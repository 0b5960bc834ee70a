/**
 * Step (b) of the unlocked-pidfile rules for a caller without privileges: "may I look into this
 * candidate's mount namespace at all?" is decided on /proc/PID/root itself. A mount point further
 * down that the caller may not traverse (under a 0700 directory) only means "the file is not there";
 * it must not turn a clear answer (stale) into "cannot tell".
 */
import {spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, isAlive, killTracked, track, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'

// stopAll removes the tempDir()s (it was never called: every run left one behind).
afterAll(async () => {
  await killTracked()
  await stopAll()
})

test('uid 65534 on a sleep of its own in another mount namespace that cannot see the file: stale (1), not unknown (4)', async () => {
  const top = tempDir()
  fs.chmodSync(top, 0o755)
  const pub = path.join(top, 'pub')
  const priv = path.join(top, 'priv')
  fs.mkdirSync(path.join(priv, 'm'), {recursive: true})
  fs.mkdirSync(pub, {mode: 0o755})
  fs.chmodSync(pub, 0o755)
  fs.chmodSync(priv, 0o700)
  // In its own mount namespace: an empty tmpfs over pub (so pub/sleep.pid is not this file there),
  // and a mount point under the 0700 directory; then sleep as uid 65534.
  const script = `mount -t tmpfs none ${pub} && mount -t tmpfs none ${priv}/m && echo ready && exec setpriv --reuid 65534 --regid 65534 --clear-groups sleep 60`
  const child = track(spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {stdio: ['ignore', 'pipe', 'inherit']}))
  await new Promise((resolve) => child.stdout!.once('data', resolve))
  await until(() => /^sleep\n$/.test(fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8')), 'sleep has started as uid 65534', 5000)
  const file = path.join(pub, 'sleep.pid')
  fs.writeFileSync(file, String(child.pid)) // after the sleep started: only step (b) can rule it out
  const r = spawnSync(process.execPath, [BIN, 'find', 'sleep', '--pidfile', file, '--json'], {
    uid: 65534,
    gid: 65534,
    env: {PATH: process.env.PATH, HOME: '/tmp'},
    encoding: 'utf8',
  })
  const j = JSON.parse(r.stdout)
  const shown = `${r.stdout}\n${r.stderr}`
  expect({status: r.status, state: j.state, reasons: j.reasons}).toEqual({status: 1, state: 'stale', reasons: ['unlocked_pidfile', 'stale_pidfile']})
  // The evidence names the mount namespaces compared (the sleep's own, and this process's).
  expect(j.evidence.join('\n')).toMatch(
    new RegExp(
      `pid ${child.pid} dropped: pid ${child.pid} is in mount namespace mnt:\\[[0-9]+\\], not this process's mnt:\\[[0-9]+\\]; neither ${file} nor sleep.pid under any of its mount points is this file`,
    ),
  )
  expect(shown).not.toContain('not allowed to look into its mount namespace')
  expect(isAlive(child.pid!)).toBe(true)
})
