/**
 * waitFor('stopped') on a POSIX-locked service: once every pinned process has exited, one F_GETLK
 * decides (the full re-locate of an unlocked pidfile would read /proc/locks and scan the process
 * table). What it must still get right: the pidfile left behind by a SIGKILLed holder is `stale`,
 * a removed one is `stopped`, and a lock taken again by a new instance is never called stopped.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {waitFor} from '../../src/signal/signal'
import {spawnHolder} from '../helpers/lock-holders'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

describe.each([0, 1])('waitFor stopped, POSIX holder %i namespace level(s) deep', (levels) => {
  test('SIGKILL leaves the file unlocked: stale, answered by F_GETLK after the pidfd wake-up', async () => {
    const file = path.join(tempDir(), 'w.pid')
    const h = await spawnHolder({kind: 'posix', file, writePid: true, levels})
    const waiting = waitFor('w', 'stopped', {pidfile: file, timeoutMs: 10_000})
    await new Promise((r) => setTimeout(r, 200))
    process.kill(h.hostPid, 'SIGKILL')
    const r = await waiting
    expect(r).toMatchObject({reached: true, outcome: 'reached'})
    expect(r.target).toMatchObject({
      state: 'stale',
      pid: null,
      holder: null,
      reasons: ['unlocked_pidfile', 'stale_pidfile'],
      pidfile: {path: file, lock: 'none', pid: h.innerPid},
    })
    expect(r.target.evidence.join('\n')).toContain(`after the exit of pid ${h.hostPid}: fcntl(F_GETLK) finds ${file} no longer locked`)
    await h.stop()
  })
})

test('waitFor stopped: the pidfile removed on exit is `stopped` (no_pidfile)', async () => {
  const file = path.join(tempDir(), 'rm.pid')
  // A service that locks its pidfile, writes its pid, and removes the file when told to stop.
  const py = `import fcntl, os, signal, sys, time
f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX); f.write(str(os.getpid())); f.flush()
def bye(*_):
    os.unlink(sys.argv[1]); os._exit(0)
signal.signal(signal.SIGTERM, bye); print('ready', flush=True)
while True: time.sleep(1)`
  const child = spawn('python3', ['-c', py, file], {stdio: ['ignore', 'pipe', 'inherit']})
  try {
    await new Promise((resolve) => child.stdout!.once('data', resolve))
    const waiting = waitFor('rm', 'stopped', {pidfile: file, timeoutMs: 10_000})
    await new Promise((r) => setTimeout(r, 200))
    child.kill('SIGTERM')
    const r = await waiting
    expect(r).toMatchObject({reached: true, outcome: 'reached', target: {state: 'stopped', pidfile: null, reasons: ['no_pidfile']}})
    expect(fs.existsSync(file)).toBe(false)
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
})

test('waitFor stopped: a new instance holding the lock again is not "stopped"; it is waited for in turn', async () => {
  const file = path.join(tempDir(), 'again.pid')
  const first = await spawnHolder({kind: 'posix', file, writePid: true})
  const waiting = waitFor('again', 'stopped', {pidfile: file, timeoutMs: 1500})
  await new Promise((r) => setTimeout(r, 200))
  // The second instance blocks in F_SETLKW until the first releases: the lock passes straight to it.
  const py = `import fcntl, os, sys, time
f = open(sys.argv[1], 'r+'); fcntl.lockf(f, fcntl.LOCK_EX); f.seek(0); f.truncate(); f.write(str(os.getpid())); f.flush()
print('locked', flush=True); time.sleep(30)`
  const second = spawn('python3', ['-c', py, file], {stdio: ['ignore', 'pipe', 'inherit']})
  try {
    await new Promise((r) => setTimeout(r, 300)) // the second is now blocked on the lock
    const locked = new Promise((resolve) => second.stdout!.once('data', resolve))
    process.kill(first.hostPid, 'SIGKILL')
    await locked
    const r = await waiting
    // Either the wake-up saw the lock taken again (then it waited on the new holder and timed out),
    // or it looked in the instant between the two; it must never report the NEW holder as stopped.
    if (r.reached) {
      expect(r.target).toMatchObject({state: 'stale', pid: null})
      expect(r.target.evidence.join('\n')).toContain('no longer locked')
    } else {
      expect(r).toMatchObject({outcome: 'not_reached', target: {state: 'running', pid: second.pid}})
    }
  } finally {
    second.kill('SIGKILL')
  }
})

test('waitFor --root-pid that is not a namespace init: its exit is "cannot tell" (4), never "stopped", while a new instance may run', async () => {
  const dir = tempDir()
  const file = path.join(dir, 'svc.pid')
  const first = await spawnHolder({kind: 'posix', file, writePid: true})
  // The root pid only lends its mount namespace (here: ours); it is an ordinary process.
  const root = spawn('sleep', ['60'], {stdio: 'ignore'})
  try {
    const waiting = waitFor('svc', 'stopped', {pidfile: file, rootPid: root.pid!, timeoutMs: 10_000})
    await new Promise((r) => setTimeout(r, 200))
    root.kill('SIGKILL')
    await new Promise((r) => root.once('exit', r))
    // A new instance takes over with a new file (new inode) before the old one exits.
    const second = await spawnHolder({kind: 'posix', file: path.join(dir, 'next.pid'), writePid: true})
    fs.renameSync(path.join(dir, 'next.pid'), file)
    process.kill(first.hostPid, 'SIGKILL')
    const r = await waiting
    expect(r).toMatchObject({reached: false, outcome: 'cannot_tell', target: {state: 'unknown', reasons: ['root_exited']}})
    expect(r.message).toContain("not its PID namespace's init")
    expect(fs.existsSync(`/proc/${second.hostPid}`)).toBe(true)
    await second.stop()
  } finally {
    root.kill('SIGKILL')
  }
})

test("waitFor --root-pid that is its namespace's init: its exit ends every process there, so the service is stopped (0)", async () => {
  const dir = tempDir()
  const file = path.join(dir, 'init.pid')
  // The holder is pid 1 of a new PID namespace; it also serves as the root pid.
  const h = await spawnHolder({kind: 'posix', file, writePid: true, levels: 1, pid1: true})
  const waiting = waitFor('init', 'stopped', {pidfile: file, rootPid: h.hostPid, timeoutMs: 10_000})
  await new Promise((r) => setTimeout(r, 200))
  process.kill(h.hostPid, 'SIGKILL')
  const r = await waiting
  expect(r).toMatchObject({reached: true, outcome: 'reached'})
  await h.stop()
})
