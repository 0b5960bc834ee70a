/**
 * How the stopped service ended, from PIDFD_GET_INFO/PIDFD_INFO_EXIT (Linux 6.15+) on a pidfd
 * nslocate opened while it ran. nslocate is never the service's parent here: jest, or a shell, reaps it.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson, until} from '../helpers/cli'
import {readOr} from '../helpers/cgroup'
import {startCli} from './run-cli'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {spawnLockedVictim} from './locked-victim'

afterAll(() => stopAll())

const kernelHasExitInfo = (() => {
  const [maj, min] = require('node:os').release().split('.').map(Number)
  return maj > 6 || (maj === 6 && min >= 15)
})()

/** python3 locks DIR/svc.pid, writes its pid, then exits with `code` once DIR/go exists. */
const SERVICE = (dir: string, code: number) =>
  [
    'import fcntl, os, sys, time',
    `fd = os.open(${JSON.stringify(path.join(dir, 'svc.pid'))}, os.O_RDWR | os.O_CREAT, 0o644)`,
    'fcntl.lockf(fd, fcntl.LOCK_EX)',
    'os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())',
    'print("ready", flush=True)',
    `while not os.path.exists(${JSON.stringify(path.join(dir, 'go'))}): time.sleep(0.02)`,
    `sys.exit(${code})`,
  ].join('\n')

async function startService(argv: string[]): Promise<void> {
  const child = spawnTracked(argv, {stdio: ['ignore', 'pipe', 'inherit']})
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve())
    child.once('exit', (c) => reject(new Error(`service exited early (${c})`)))
  })
}

/** Starts `wait --for stopped` and resolves once it has pinned the service (holds a pidfd), so the exit happens during the wait. */
async function waitStopped(
  dir: string,
  name = 'svc',
  file = path.join(dir, 'svc.pid'),
  json = true,
): Promise<{done: Promise<{status: number | null; json: any; stdout: string}>}> {
  const w = startCli(['wait', name, '--for', 'stopped', '--pidfile', file, '--timeout', '20s', ...(json ? ['--json'] : [])])
  // Twice, 100 ms apart: locate() also opens pidfds, each for a moment, before wait pins for good
  // (an exit between the two would not be one it waited for).
  const pinned = () => w.holdsPidfd() || w.child.exitCode !== null
  await until(pinned, 'the wait to pin the service', 20000)
  await new Promise((r) => setTimeout(r, 100))
  await until(pinned, 'the wait to pin the service (still)', 20000)
  // Wrapped: an async function would flatten a returned promise and wait for the CLI to finish.
  return {done: w.result.then((r) => ({status: r.status, stdout: r.stdout, json: json ? JSON.parse(r.stdout) : null}))}
}

test('this kernel gives exit information (Linux 6.15+); the tests below assert it, not `unknown`', () => {
  expect(kernelHasExitInfo).toBe(true)
})

for (const code of [0, 3]) {
  test(`wait --for stopped: a service that exits with code ${code} (reaped by its parent, jest) reports exit {code: ${code}}`, async () => {
    const dir = tempDir('nslocate-exit-')
    await startService(['python3', '-c', SERVICE(dir, code)])
    const waiting = await waitStopped(dir)
    fs.writeFileSync(path.join(dir, 'go'), '')
    const {status, json} = await waiting.done
    expect(status).toBe(0)
    expect(json).toMatchObject({reached: true, exit: {code}})
  })
}

test('wait --for stopped: death by SIGKILL from elsewhere reports exit {signal: KILL, core: false}; text names it', async () => {
  const v = await spawnLockedVictim()
  const waiting = await waitStopped(v.dir, 'victim', v.pidfile, false)
  process.kill(v.hostPid, 'SIGKILL')
  const r = await waiting.done
  expect(r.status).toBe(0)
  expect(r.stdout).toContain('killed by KILL')
  expect(await v.exited).toEqual({code: null, signal: 'SIGKILL'})
})

test('signal --wait: death by TERM (default action) reports exit {signal: TERM}; a TERM handler that exits 0 reports {code: 0}', async () => {
  const byDefault = await spawnLockedVictim({default: ['TERM']})
  const a = await cliJson(['signal', 'victim', 'TERM', '--pidfile', byDefault.pidfile, '--wait', '--timeout', '5s'])
  expect(a.json).toMatchObject({exit_code: 0, exited: true, exit: {signal: 'TERM', core: false}})
  expect(a.json.message).toContain('(killed by TERM)')
  const handler = await spawnLockedVictim({exitOn: ['TERM']})
  const b = await cliJson(['signal', 'victim', 'TERM', '--pidfile', handler.pidfile, '--wait', '--timeout', '5s'])
  expect(b.json).toMatchObject({exit_code: 0, exited: true, exit: {code: 0}})
  expect(handler.received()).toEqual([expect.objectContaining({signo: 15})])
})

test('a service whose parent (a shell, not jest or nslocate) reaps it: exit {code: 3}; the shell saw the same status', async () => {
  const dir = tempDir('nslocate-exit-')
  const script = path.join(dir, 'svc.py')
  fs.writeFileSync(script, SERVICE(dir, 3))
  await startService(['sh', '-c', `python3 ${script} & wait $!; echo "status $?" > ${dir}/sh.out; exec sleep 30`])
  const waiting = await waitStopped(dir)
  fs.writeFileSync(path.join(dir, 'go'), '')
  const {json} = await waiting.done
  expect(json.exit).toEqual({code: 3})
  // the shell writes it once its wait returns (it runs when the scheduler lets it): polled
  await until(() => readOr(path.join(dir, 'sh.out')).endsWith('\n'), 'the shell to write sh.out', 15000).catch(() => {})
  expect(readOr(path.join(dir, 'sh.out')).trim()).toBe('status 3')
})

test('a parent that never reaps leaves a zombie: the status is `unknown` (the kernel records it only at reap)', async () => {
  const dir = tempDir('nslocate-exit-')
  const script = path.join(dir, 'svc.py')
  fs.writeFileSync(script, SERVICE(dir, 3))
  // sh starts the service and execs sleep: the same pid stays its parent and never calls wait().
  const child = spawn('sh', ['-c', `python3 ${script} & exec sleep 30`], {stdio: ['ignore', 'pipe', 'inherit']})
  try {
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('ready') && resolve()))
    const waiting = await waitStopped(dir)
    fs.writeFileSync(path.join(dir, 'go'), '')
    const {json} = await waiting.done
    expect(json).toMatchObject({reached: true, exit: 'unknown'})
  } finally {
    child.kill('SIGKILL')
  }
})
