/**
 * Two starters of the same service, both root (the 50-starter race of test/cli, seen failing in CI
 * under load with two and three instances running): a starter that created the pidfile and then lost
 * the lock to another starter that opened it meanwhile must not unlink that starter's live, locked
 * pidfile on its way out. If it did, a third starter would create a new inode at the path and run a
 * second instance. The racer here is such a second starter (it may open the 0400 file: it is root),
 * written in python so that it opens and locks within microseconds of the file appearing; each time
 * it wins it checks, while still holding the lock, that its inode is still the one at the path.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliAs} from '../helpers/as-user'
import {BIN, cli, killTracked, track, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

const RACER = String.raw`
import fcntl, os, sys, time
path, log = sys.argv[1], sys.argv[2]
while True:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        continue
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        ino = os.fstat(fd).st_ino
        if os.stat(path).st_ino != ino: raise OSError()
        time.sleep(0.2)
        try:
            same = os.stat(path).st_ino == ino
        except OSError:
            same = False
        with open(log, 'a') as f: f.write('held\n' if same else 'unlinked\n')
        if same: os.unlink(path)
        os.close(fd)
        time.sleep(0.25)  # let some rounds of run win uncontested
        continue
    except OSError:
        pass
    os.close(fd)
`

let reader: TestUser
beforeAll(() => {
  reader = createTestUser('startrd')
})
afterAll(async () => {
  reader.remove()
  await stopAll()
})
afterEach(() => killTracked())

test("a starter that lost the lock to another never unlinks the winner's pidfile (40 rounds)", async () => {
  const dir = tempDir('nslocate-starterrace-')
  const script = path.join(dir, 'racer.py')
  fs.writeFileSync(script, RACER)
  const file = path.join(dir, 'svc.pid')
  const log = path.join(dir, 'racer.log')
  track(spawn('/usr/bin/python3', [script, file, log], {stdio: 'ignore'}))
  const statuses: Array<number | null> = []
  for (let round = 0; round < 40; round++) statuses.push((await cli(['run', 'svc', '--pidfile', file, '--', 'true'])).status)
  // wait for the racer's last hold to be logged
  await new Promise((resolve) => setTimeout(resolve, 400))
  const outcomes = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []
  // Both kinds of round happened: run won (0) and the racer won (run conflicted, 122) ...
  expect(statuses.filter((s) => s === 0).length).toBeGreaterThan(0)
  expect(statuses.filter((s) => s === 122).length).toBeGreaterThan(0)
  expect(statuses.every((s) => s === 0 || s === 122)).toBe(true)
  // ... and whenever the racer held the lock, its file stayed at the path until it removed it itself.
  expect(outcomes.length).toBeGreaterThan(0)
  expect(outcomes.filter((o) => o !== 'held')).toEqual([])
}, 120_000)

test('the winner of a file another root starter created (still 0400, empty) makes it 0644: other users can read the live pidfile', async () => {
  const dir = tempDir('nslocate-starterrace-')
  fs.chmodSync(dir, 0o755)
  const file = path.join(dir, 'svc.pid')
  // what a starter that created the file and then lost the lock to us leaves: empty, 0400, unlocked
  fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o400))
  expect(fs.statSync(file).mode & 0o777).toBe(0o400)
  track(spawn(process.execPath, [BIN, 'run', 'svc', '--pidfile', file, '--', 'sleep', '60'], {stdio: 'ignore', detached: true}), {group: true})
  await until(() => fs.readFileSync(file, 'utf8') !== '', 'run to write the pid')
  expect(fs.statSync(file).mode & 0o777).toBe(0o644)
  const r = cliAs(reader, ['find', 'svc', '--pidfile', file, '--json'])
  expect([r.status, r.json?.state]).toEqual([0, 'running'])
  expect(r.json.pid).toBe(Number(fs.readFileSync(file, 'utf8')))
})
