/**
 * A starting service: its pidfile is locked but still empty. The lock holder may be a supervisor
 * (flock(1), daemon(1), a wrapper script) rather than the service, so `signal` must never send to
 * it for the service: it waits up to STARTING_GRACE_MS for the pid to be written, then signals
 * that pid, or sends nothing (exit 4, skipped reason `starting`). The holder here is a real
 * supervisor (python) that flocks the file, logs every signal it receives and, in the second test,
 * starts the service (a siglog victim) after 500 ms and writes its pid.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {STARTING_GRACE_MS} from '../../src/signal/signal'
import {cliJson, isAlive, killTracked, track, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {readLog, siglogBinary} from '../helpers/victims'

jest.setTimeout(60_000)
afterEach(() => killTracked())
afterAll(() => stopAll())

const SUPERVISOR = String.raw`
import fcntl, os, signal, subprocess, sys, time
pidfile, log, delay, siglog, siglog_log = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
def note(n, f):
    with open(log, 'a') as l: l.write('%d\n' % n)
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(s, note)
fd = os.open(pidfile, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print('locked', flush=True)
if delay == -2:
    os.pwrite(fd, b'notapid', 0)
if delay >= 0:
    time.sleep(delay)
    child = subprocess.Popen([siglog, siglog_log], stdout=subprocess.PIPE)
    # siglog says "ready" once its handlers are in (its log file exists before they are: a HUP
    # sent the moment the pid is written would otherwise kill it)
    child.stdout.readline()
    os.ftruncate(fd, 0); os.pwrite(fd, str(child.pid).encode(), 0)
    print('wrote %d' % child.pid, flush=True)
while True: time.sleep(1)
`

function supervisor(dir: string, delay: number): {child: ChildProcess; file: string; log: string; siglogLog: string; out: () => string} {
  const script = path.join(dir, 'supervisor.py')
  fs.writeFileSync(script, SUPERVISOR)
  const file = path.join(dir, 'svc.pid')
  const log = path.join(dir, 'supervisor.log')
  const siglogLog = path.join(dir, 'service.log')
  const child = track(
    spawn('/usr/bin/python3', [script, file, log, String(delay), siglogBinary(), siglogLog], {stdio: ['ignore', 'pipe', 'inherit'], detached: true}),
    {group: true},
  )
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  return {child, file, log, siglogLog, out: () => out}
}

const lines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [])

test('a pidfile that stays locked and empty: nothing is sent to its holder (exit 4, skipped starting) after the grace period', async () => {
  const dir = tempDir('nslocate-starting-')
  const s = supervisor(dir, -1)
  await until(() => s.out().includes('locked'), 'the supervisor to lock the pidfile')
  const t0 = Date.now()
  const {status, json} = await cliJson(['signal', 'svc', 'TERM', '--pidfile', s.file])
  const took = Date.now() - t0
  expect(status).toBe(4)
  expect(json.delivered).toEqual([])
  expect(json.skipped).toEqual([{pid: s.child.pid, pidfd_id: expect.any(Number), reason: 'starting'}])
  expect(json.message).toContain('is starting')
  expect(took).toBeGreaterThanOrEqual(STARTING_GRACE_MS)
  // what the holder actually received: nothing
  await new Promise((r) => setTimeout(r, 200))
  expect(lines(s.log)).toEqual([])
  expect(isAlive(s.child.pid!)).toBe(true)
})

test('the pid written 500 ms after locking: the signal goes to that service, never to the supervisor holding the lock', async () => {
  const dir = tempDir('nslocate-starting-')
  const s = supervisor(dir, 0.5)
  await until(() => s.out().includes('locked'), 'the supervisor to lock the pidfile')
  const {status, json} = await cliJson(['signal', 'svc', 'HUP', '--pidfile', s.file])
  await until(() => /wrote (\d+)/.test(s.out()), 'the supervisor to write the pid')
  const service = Number(/wrote (\d+)/.exec(s.out())![1])
  expect(status).toBe(0)
  expect(json.delivered.map((d: {pid: number}) => d.pid)).toEqual([service])
  await until(() => readLog(s.siglogLog).some((r) => r.signo === 1), 'the service to log HUP')
  expect(readLog(s.siglogLog).map((r) => r.signo)).toEqual([1])
  expect(lines(s.log)).toEqual([])
})

test('a locked pidfile holding garbage is not waited for and its holder gets nothing (exit 4 at once, garbage named)', async () => {
  const dir = tempDir('nslocate-starting-')
  const s = supervisor(dir, -2)
  await until(() => s.out().includes('locked') && fs.readFileSync(s.file, 'utf8') === 'notapid', 'the supervisor to lock and fill the pidfile')
  const t0 = Date.now()
  const {status, json} = await cliJson(['signal', 'svc', 'TERM', '--pidfile', s.file])
  expect(status).toBe(4)
  expect(Date.now() - t0).toBeLessThan(STARTING_GRACE_MS)
  expect(json.delivered).toEqual([])
  expect(json.skipped).toEqual([{pid: s.child.pid, pidfd_id: expect.any(Number), reason: 'starting'}])
  expect(json.message).toContain('garbage_pidfile')
  await new Promise((r) => setTimeout(r, 200))
  expect(lines(s.log)).toEqual([])
  expect(isAlive(s.child.pid!)).toBe(true)
})
