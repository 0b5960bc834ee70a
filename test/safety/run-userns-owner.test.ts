/**
 * Red-team F6: inside a user namespace (unshare -r) a directory whose owner is not mapped shows
 * uid 65534; run's refusal must say that 65534 is the overflow id of an unmapped owner and what
 * to do, not just "owned by uid 65534".
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

let someone: TestUser
beforeAll(() => {
  someone = createTestUser('runuserns')
})
afterAll(async () => {
  someone.remove()
  await stopAll()
})

test('a directory of an unmapped owner: the message explains the overflow uid and points at --dir', () => {
  const base = tempDir('nslocate-userns-')
  fs.chmodSync(base, 0o755)
  const dir = path.join(base, 'theirs')
  fs.mkdirSync(dir, {mode: 0o755})
  fs.chownSync(dir, someone.uid, someone.gid)
  const r = spawnSync('unshare', ['-r', process.execPath, BIN, 'run', 'x', '--dir', path.join(dir, 'sub'), '--', 'true'], {encoding: 'utf8', timeout: 30_000})
  expect(r.stderr.trim().split('\n')).toEqual([
    expect.stringMatching(/^nslocate: refusing to write a pidfile in .*\/theirs: it is owned by an unmapped user \(overflow uid 65534\)$/),
    'hint: run outside the user namespace, or use --dir or --pidfile under a directory you own',
  ])
  expect(r.status).toBe(123)
  expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false)
})
