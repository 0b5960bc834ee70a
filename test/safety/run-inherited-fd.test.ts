/**
 * Red-team F1: the pidfile descriptor COMMAND inherits must not let it write root's pidfile. A
 * service that drops privilege (setpriv to an unprivileged test user) scans /proc/self/fd for the
 * pidfile and tries write, pwrite, ftruncate and a reopen for writing through every descriptor of
 * it, putting an innocent victim's pid there. The file must keep COMMAND's pid, and after run is
 * SIGKILLed and the service exits, `signal` must send the victim nothing.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, isAlive, killTracked, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnVictim} from '../helpers/victims'
import {exitOf, killPid, pidIn, runInBackground} from './run-helpers'

const ATTACKER = String.raw`
import os, sys, time
pidfile, victim, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
tried = []
for n in sorted(int(x) for x in os.listdir('/proc/self/fd')):
    try:
        if os.readlink('/proc/self/fd/%d' % n) != pidfile: continue
    except OSError: continue
    for what, act in (('ftruncate', lambda: os.ftruncate(n, 0)),
                      ('pwrite', lambda: os.pwrite(n, victim, 0)),
                      ('write', lambda: os.write(n, victim)),
                      ('reopen', lambda: os.close(os.open('/proc/self/fd/%d' % n, os.O_WRONLY)))):
        try:
            act(); tried.append('%d:%s:ok' % (n, what))
        except OSError as e:
            tried.append('%d:%s:%s' % (n, what, e.errno))
with open(out + '.tmp', 'w') as f: f.write(' '.join(tried))
os.rename(out + '.tmp', out)
time.sleep(60)
`

let mallory: TestUser
beforeAll(() => {
  mallory = createTestUser('runfd')
})
afterAll(async () => {
  mallory.remove()
  await stopAll()
})
afterEach(() => killTracked())

test('a privilege-dropped COMMAND cannot write the pidfile through what it inherited; signal then spares the victim', async () => {
  const base = tempDir('nslocate-inheritfd-')
  fs.chmodSync(base, 0o755)
  const script = path.join(base, 'attacker.py')
  fs.writeFileSync(script, ATTACKER, {mode: 0o644})
  const dir = path.join(base, 'run')
  fs.mkdirSync(dir, {mode: 0o755})
  const file = path.join(dir, 'svc.pid')
  const out = path.join(mallory.home, 'tried')
  const victim = await spawnVictim()

  const sup = runInBackground(['svc', '--pidfile', file, '--', ...mallory.as(['/usr/bin/python3', script, file, String(victim.pid), out])])
  const child = await pidIn(file)
  await until(() => fs.existsSync(out), 'the attacker to report')
  const tried = fs.readFileSync(out, 'utf8').split(' ')
  // It saw the pidfile (the lock is inherited) and every attempt failed.
  expect(tried.length).toBeGreaterThanOrEqual(4)
  expect(tried.filter((t) => t.endsWith(':ok'))).toEqual([])
  expect(fs.readFileSync(file, 'utf8')).toBe(String(child))

  sup.kill('SIGKILL')
  await exitOf(sup)
  await killPid(child)
  const r = await cli(['signal', 'svc', 'TERM', '--pidfile', file])
  expect(r.status).not.toBe(0)
  expect(isAlive(victim.pid)).toBe(true)
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect(victim.received()).toEqual([])
  expect(fs.readFileSync(file, 'utf8')).not.toBe(String(victim.pid))
}, 60_000)
