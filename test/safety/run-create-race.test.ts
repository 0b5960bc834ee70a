/**
 * Red-team F2 (run part): someone who may only read the pidfile's directory must never lock a
 * pidfile root's `run` has just created before run does. A real racer (an unprivileged test user)
 * opens the path read-only and flocks it in a tight loop, holding each lock it gets for a while;
 * over many rounds root's run must start its command every time, and leave no file behind.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, killTracked, track} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

const RACER = String.raw`
import fcntl, os, sys, time
path, won = sys.argv[1], sys.argv[2]
n = 0
while True:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        continue
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino != os.fstat(fd).st_ino: raise OSError()
        n += 1
        with open(won, 'w') as f: f.write(str(n))
        time.sleep(0.3)
    except OSError:
        pass
    os.close(fd)
`

let mallory: TestUser
beforeAll(() => {
  mallory = createTestUser('runrace')
})
afterAll(async () => {
  mallory.remove()
  await stopAll()
})
afterEach(() => killTracked())

test("a racer who can read the directory never locks the pidfile before root's run (30 rounds)", async () => {
  const base = tempDir('nslocate-createrace-')
  fs.chmodSync(base, 0o755)
  const script = path.join(base, 'racer.py')
  fs.writeFileSync(script, RACER, {mode: 0o644})
  const dir = path.join(base, 'run')
  fs.mkdirSync(dir, {mode: 0o755})
  const file = path.join(dir, 'svc.pid')
  const won = path.join(mallory.home, 'won')
  const argv = mallory.as(['/usr/bin/python3', script, file, won])
  track(spawn(argv[0], argv.slice(1), {stdio: 'ignore'}))
  await new Promise((resolve) => setTimeout(resolve, 300))
  const statuses: Array<number | null> = []
  for (let round = 0; round < 30; round++) {
    const r = await cli(['run', 'svc', '--pidfile', file, '--', 'true'])
    statuses.push(r.status)
    if (r.status !== 0) console.log(`round ${round}: ${r.stderr}`)
    expect(fs.existsSync(file)).toBe(false)
  }
  expect(statuses).toEqual(Array(30).fill(0))
  // it never held the lock of the live pidfile (a lock on a name already unlinked is harmless)
  expect(fs.existsSync(won)).toBe(false)
}, 120_000)
