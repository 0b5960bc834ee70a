/**
 * Red-team F8 (second part): a non-root `run` whose HOME it may not read (HOME=/root, as sudo -u
 * or a service manager may leave it) must not print oclif's "(node:PID) [EACCES] ...
 * /root/.local/share/nslocate/package.json" warning: nslocate loads no user plugins.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

let user: TestUser
beforeAll(() => {
  user = createTestUser('runhome')
})
afterAll(async () => {
  user.remove()
  await stopAll()
})

test('HOME unreadable: run prints nothing of its own and runs the command', () => {
  const base = tempDir('nslocate-home-')
  fs.chmodSync(base, 0o755)
  const dir = path.join(base, 'mine')
  fs.mkdirSync(dir, {mode: 0o755})
  fs.chownSync(dir, user.uid, user.gid)
  const argv = user.as(['env', 'HOME=/root', process.execPath, BIN, 'run', 'svc', '--dir', path.join(dir, 'run'), '--', 'sh', '-c', 'echo ran'])
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', timeout: 30_000})
  expect([r.status, r.stdout, r.stderr]).toEqual([0, 'ran\n', ''])
})
