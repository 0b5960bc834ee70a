/**
 * issue 17, hole 5: `run dmn -- sh -c 'svc & exit'` exited 0 and removed the pidfile while the
 * background child still held the inherited lock on the deleted inode: find said "no pidfile" and a
 * second run started a second instance. run now follows a command that daemonizes: while processes
 * that inherited the locked descriptor live on after COMMAND exits, the pidfile stays in place and
 * locked and names the one left; run exits (COMMAND's status) and removes the file only once the
 * last of them has exited.
 *
 * These are the runs without a cgroup (--cgroup=none, as when none can be made: a non-root caller
 * without delegation): run follows the processes that share the inherited descriptor. With a
 * cgroup (issue 22) it follows the cgroup instead: test/ns/cgroup-daemon.test.ts.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, cliJson, dumpEvidence, isAlive, killTracked, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {exitOf, killPid, processesWith, runInBackground} from './run-helpers'

afterEach(() => killTracked())
afterAll(() => stopAll())

const DOUBLE_FORK = String.raw`
import os, sys
if os.fork(): os._exit(0)
os.setsid()
if os.fork(): os._exit(0)
os.execvp('sleep', ['sleep', sys.argv[1]])
`

/** Live `sleep` processes whose command line holds `token`. */
function sleepers(token: string): number[] {
  return processesWith(token).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep'
    } catch {
      return false
    }
  })
}

/** The pid the file names once it names a live `sleep` (the daemon), not the command run started. */
async function daemonIn(file: string, token: string): Promise<number> {
  const end = Date.now() + 15_000
  for (;;) {
    const daemons = sleepers(token)
    const text = readOr(file) // one read: run rewrites the file meanwhile
    if (daemons.length === 1 && text === String(daemons[0])) return daemons[0]
    if (Date.now() > end) throw new Error(`the pidfile never named the daemon: file ${JSON.stringify(text)}, daemons ${daemons.join(',')}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test.each([
  ["sh -c 'sleep & exit 0'", (token: string) => ['sh', '-c', `sleep ${token} & exit 0`]],
  ['a double fork with setsid', (token: string) => ['/usr/bin/python3', '-c', DOUBLE_FORK, token]],
])(
  '%s: find names the daemon, a second run conflicts, run exits and removes the file once the daemon is killed',
  async (_what, argv) => {
    const dir = tempDir('nslocate-daemonize-')
    const file = path.join(dir, 'dmn.pid')
    // The daemon's argv carries a token of the test's own (sleep ignores what follows its number as
    // a second duration, so it must be a number: 300 + a unique count of seconds).
    const token = String(300 + (process.pid % 1000) * 1000 + Math.floor(Math.random() * 1000))
    const sup = runInBackground(['dmn', '--pidfile', file, '--cgroup=none', '--', ...argv(token)])
    let daemon = 0
    try {
      daemon = await daemonIn(file, token)
      // run has not exited: it follows the daemon, and keeps the file in place and locked.
      expect(sup.exitCode).toBeNull()
      const found = await cliJson(['find', 'dmn', '--pidfile', file])
      if (found.status !== 0) console.log(dumpEvidence([daemon, sup.pid!]), found.json.evidence)
      expect([found.status, found.json.state, found.json.pid]).toEqual([0, 'running', daemon])

      const marker = path.join(dir, 'second-ran')
      const second = await cli(['run', 'dmn', '--pidfile', file, '--', 'touch', marker])
      expect(second.status).toBe(122)
      expect(second.stderr.trim()).toMatch(/^nslocate: dmn already running \(pid [0-9]+\)$/)
      expect(fs.existsSync(marker)).toBe(false)
      expect(sleepers(token)).toEqual([daemon])

      process.kill(daemon, 'SIGKILL')
      expect(await exitOf(sup)).toEqual({code: 0, signal: null})
      expect(fs.existsSync(file)).toBe(false)
      expect(fs.readdirSync(dir)).toEqual([])
    } finally {
      if (daemon) await killPid(daemon)
      for (const p of sleepers(token)) await killPid(p)
    }
  },
  60_000,
)

test('a daemon that leaves two processes holding the lock: run waits for both; TERM to run reaches the daemon', async () => {
  const dir = tempDir('nslocate-daemonize-')
  const file = path.join(dir, 'dmn.pid')
  const token = String(400 + (process.pid % 1000) * 1000 + Math.floor(Math.random() * 1000))
  // COMMAND (sh) starts a daemon (an inner sh) that starts a worker (sleep), and exits 3; the
  // daemon and its worker both hold the inherited descriptor.
  const sup = runInBackground(['dmn', '--pidfile', file, '--cgroup=none', '--', 'sh', '-c', `sh -c 'sleep ${token} & wait' & exit 3`])
  const pids: number[] = []
  try {
    // COMMAND has exited (run reaped it) and the file names the worker's parent, the inner sh
    await until(
      () => {
        const w = sleepers(token)
        return w.length === 1 && readOr(file) === String(ppidOf(w[0]))
      },
      'COMMAND to exit, leaving its daemon',
      15_000,
    )
    const worker = sleepers(token)[0]
    const daemon = ppidOf(worker)
    pids.push(daemon, worker)
    // The file names the topmost process left (the sh that waits), not its worker.
    expect(fs.readFileSync(`/proc/${daemon}/comm`, 'utf8').trim()).toBe('sh')
    expect(sup.exitCode).toBeNull()
    // TERM to run is forwarded to the daemon (sh dies of it); the worker still holds the lock: run waits on, naming it.
    process.kill(sup.pid!, 'SIGTERM')
    await until(() => !isAlive(daemon), 'TERM to reach the daemon')
    await until(() => readOr(file) === String(worker), 'the file to name the worker')
    expect(sup.exitCode).toBeNull()
    expect(isAlive(worker)).toBe(true)
    process.kill(worker, 'SIGKILL')
    // COMMAND's own status (the outer sh exited 3)
    expect(await exitOf(sup)).toEqual({code: 3, signal: null})
    expect(fs.existsSync(file)).toBe(false)
  } finally {
    for (const p of [...pids, ...sleepers(token)]) await killPid(p)
  }
}, 60_000)

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function ppidOf(pid: number): number {
  try {
    return Number(/^\d+ \(.*\) \S+ (\d+)/s.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))![1])
  } catch {
    return 0
  }
}

test('COMMAND killed by a signal with a child still holding the lock: run keeps the file (naming COMMAND) until the child is gone, a second run conflicts', async () => {
  const dir = tempDir('nslocate-daemonize-')
  const file = path.join(dir, 'dmn.pid')
  const token = String(500 + (process.pid % 1000) * 1000 + Math.floor(Math.random() * 1000))
  const sup = runInBackground(['dmn', '--pidfile', file, '--cgroup=none', '--', 'sh', '-c', `sleep ${token} & exec sleep 300`])
  let straggler = 0
  let command = 0
  try {
    await until(() => sleepers(token).length === 1 && /^[0-9]+$/.test(readOr(file)), 'COMMAND and its child to run')
    straggler = sleepers(token)[0]
    command = Number(readOr(file))
    await until(() => fs.readFileSync(`/proc/${command}/cmdline`, 'utf8') === 'sleep\0' + '300\0', 'COMMAND to exec sleep 300')
    process.kill(command, 'SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 500))
    // a service that was killed is not taken for a daemon: the file still names it, and is held
    expect(sup.exitCode).toBeNull()
    expect(readOr(file)).toBe(String(command))
    const second = await cli(['run', 'dmn', '--pidfile', file, '--', 'true'])
    expect(second.status).toBe(122)
    process.kill(straggler, 'SIGKILL')
    expect(await exitOf(sup)).toEqual({code: 137, signal: null})
    expect(fs.existsSync(file)).toBe(false)
  } finally {
    for (const p of [command, straggler, ...sleepers(token)]) if (p) await killPid(p)
  }
}, 60_000)
