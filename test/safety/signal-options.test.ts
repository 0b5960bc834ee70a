/**
 * Issue 12 items 3, 4 and 15: durations past Node's 32-bit timers, signal 0 with --retry/--wait,
 * real-time signals, a process that exits while being signalled, and --dry-run's permission check.
 * Every test asserts what the victim (a siglog) received.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {parseSignal} from '../../src/signal/parse'
import {signal} from '../../src/signal/signal'
import {BIN, cli, cliJson, isAlive, track, until} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, spawnVictim} from '../helpers/victims'

// A shared 2-core machine: CLI runs take seconds under load.
jest.setTimeout(180_000)
afterAll(() => stopAll())

/** A victim named by an unlocked pidfile siglog.pid (NAME siglog) in a 0755 directory. */
async function victim(opts: Parameters<typeof spawnVictim>[0] = {}): Promise<{v: Victim; file: string}> {
  const dir = tempDir('nslocate-sigopt-')
  fs.chmodSync(dir, 0o755)
  const file = path.join(dir, 'siglog.pid')
  const v = await spawnVictim({...opts, pidfile: file})
  return {v, file}
}

/** utime + stime of pid, in clock ticks. */
function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(f[11]) + Number(f[12])
}

/** Does pid have a pidfd open (it has pinned a process)? */
function holdsPidfd(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[pidfd]'
      } catch {
        return false
      }
    })
  } catch {
    return false
  }
}

function startCli(args: string[]): ChildProcess {
  return track(spawn(process.execPath, [BIN, ...args], {stdio: 'ignore'}))
}

/**
 * The CLI keeps waiting for `ms` without spinning: still running, and under 0.5 s of CPU in those
 * ms (a spinning one uses all of it). `started`: when start-up is over (e.g. the victim got the signal).
 */
async function waitsQuietly(c: ChildProcess, ms: number, started: () => boolean): Promise<void> {
  await until(() => started() || c.exitCode !== null, 'nslocate to get going', 30_000)
  await sleep(300)
  const before = cpuTicks(c.pid!)
  await sleep(ms)
  expect(c.exitCode).toBeNull()
  expect(isAlive(c.pid!)).toBe(true)
  expect(cpuTicks(c.pid!) - before).toBeLessThan(50)
  c.kill('SIGKILL')
  await new Promise((r) => c.once('exit', r))
}

describe('durations beyond 2^31-1 ms', () => {
  test('--retry TERM/1000h/KILL/5: TERM arrives, no KILL comes early, and nslocate does not spin', async () => {
    const {v, file} = await victim()
    const c = startCli(['signal', 'siglog', 'TERM', '--pidfile', file, '--retry', 'TERM/1000h/KILL/5'])
    await waitsQuietly(c, 3000, () => v.received().length > 0)
    expect(v.received().map((r) => r.signo)).toEqual([15])
    expect(isAlive(v.pid)).toBe(true)
  })

  test('signal --wait --timeout 1000h does not return at once, and does not spin', async () => {
    const {v, file} = await victim()
    const c = startCli(['signal', 'siglog', 'HUP', '--pidfile', file, '--wait', '--timeout', '1000h'])
    await waitsQuietly(c, 3000, () => v.received().length > 0)
    expect(v.received().map((r) => r.signo)).toEqual([1])
    expect(isAlive(v.pid)).toBe(true)
  })

  test('wait --timeout 1000h does not busy-loop', async () => {
    const {v, file} = await victim()
    const c = startCli(['wait', 'siglog', '--pidfile', file, '--timeout', '1000h'])
    // Start-up is over once it holds a pidfd on the victim.
    await waitsQuietly(c, 3000, () => holdsPidfd(c.pid!))
    expect(v.received()).toEqual([])
  })

  test('a duration above the documented bound (100000h) is a usage error (2); nothing is sent', async () => {
    const {v, file} = await victim()
    for (const args of [
      ['--retry', 'TERM/100001h/KILL/5'],
      ['--wait', '--timeout', '100001h'],
      ['--retry', '1e400'],
    ]) {
      const r = await cli(['signal', 'siglog', 'TERM', '--pidfile', file, ...args])
      expect({args, status: r.status}).toEqual({args, status: 2})
      expect(r.stderr).toMatch(/duration|schedule/)
    }
    expect((await cli(['wait', 'siglog', '--pidfile', file, '--timeout', '100001h'])).status).toBe(2)
    await sleep(100)
    expect(v.received()).toEqual([])
  })
})

test('signal 0 with --retry or --wait is a usage error (2): the victim receives nothing and lives', async () => {
  const {v, file} = await victim()
  for (const args of [['--retry', '1'], ['--wait'], ['--retry', '0/1/KILL/1']]) {
    const r = await cli(['signal', 'siglog', '0', '--pidfile', file, ...args])
    expect({args, status: r.status}).toEqual({args, status: 2})
    expect(r.stderr).toContain('signal 0')
  }
  const r = await cli(['signal', 'siglog', 'TERM', '--pidfile', file, '--retry', 'TERM/1/-0/1'])
  expect(r.status).toBe(2)
  await sleep(1500)
  expect(v.received()).toEqual([])
  expect(isAlive(v.pid)).toBe(true)
  // Without them, 0 still probes.
  expect((await cliJson(['signal', 'siglog', '0', '--pidfile', file])).json).toMatchObject({exit_code: 0, signal: '0'})
  expect(v.received()).toEqual([])
})

test('real-time signals as kill -l names them: the victim logs the right signo', async () => {
  const {v, file} = await victim()
  const cases: Array<[string, number, string]> = [
    ['RTMIN', 34, 'RTMIN'],
    ['RTMIN+3', 37, 'RTMIN+3'],
    ['SIGRTMIN+1', 35, 'RTMIN+1'],
    ['rtmax-2', 62, 'RTMAX-2'],
    ['SIGRTMAX', 64, 'RTMAX'],
    ['34', 34, 'RTMIN'],
    ['49', 49, 'RTMIN+15'],
    ['50', 50, 'RTMAX-14'],
    ['64', 64, 'RTMAX'],
  ]
  for (const [i, [input, signo, name]] of cases.entries()) {
    // Two through the CLI, the rest through the library (the same code, without a start-up each).
    const r = ['SIGRTMIN+1', '50'].includes(input)
      ? (await cliJson(['signal', 'siglog', input, '--pidfile', file])).json
      : await signal('siglog', input, {pidfile: file})
    // The CLI prints exit_code; the library says what happened (outcome).
    expect({input, signal: r.signal, ok: 'exit_code' in r ? r.exit_code === 0 : r.outcome === 'signalled'}).toEqual({input, signal: name, ok: true})
    // The same signo may come twice (SIGRTMAX, then 64): wait for this one, the (i+1)th line.
    await until(() => v.received().length > i && v.received()[i].signo === signo, `signal ${signo} (#${i + 1})`)
  }
  expect(v.received().map((r) => r.signo)).toEqual(cases.map((c) => c[1]))
  for (const bad of ['RTMIN+31', 'RTMAX+1', 'RTMIN-1', '65', '32', '33', 'RT']) {
    expect(() => parseSignal(bad)).toThrow(/invalid signal/)
  }
  expect((await cli(['signal', 'siglog', 'RTMAX+1', '--pidfile', file])).status).toBe(2)
  expect(v.received()).toHaveLength(cases.length)
})

test('a process that exits while being signalled gives 7 (or 0 when it was reached), never 4 or 1: 60 rounds', async () => {
  const statuses: Record<string, number> = {}
  for (let i = 0; i < 60; i++) {
    const {v, file} = await victim()
    const c = track(spawn(process.execPath, [BIN, 'signal', 'siglog', 'TERM', '--pidfile', file, '--json'], {stdio: ['ignore', 'pipe', 'pipe']}))
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    const done = new Promise<number | null>((resolve) => c.once('close', resolve))
    // Kill the victim the moment nslocate has pinned it (a pidfd is open), or, every third round,
    // a little before (while it is still being identified).
    const early = i % 3 === 2
    await until(() => c.exitCode !== null || (early ? fs.readdirSync(`/proc/${c.pid}/fd`).length > 20 : holdsPidfd(c.pid!)), 'nslocate to pin', 30_000).catch(
      () => {},
    )
    process.kill(v.pid, 'SIGKILL')
    const status = await done
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1
    if (status !== 0 && status !== 7) throw new Error(`round ${i}: status ${status}\n${out}`)
    if (status === 7) expect(JSON.parse(out).delivered).toEqual([])
    await v.exited
  }
  process.stdout.write(`exit-while-signalled statuses over 60 rounds: ${JSON.stringify(statuses)}\n`)
}, 300_000)

describe("--dry-run applies the real run's permission checks", () => {
  let user: TestUser
  beforeAll(() => {
    user = createTestUser('dryrun')
  })
  afterAll(() => user.remove())

  test('an unprivileged caller facing a root service: dry run and real run both refuse (4), nothing sent', async () => {
    // A POSIX lock (perl takes it, writes its pid, then execs siglog, which keeps it): F_GETLK names
    // the holder to anyone who may read the file, so an unprivileged caller identifies the service.
    const dir = tempDir('nslocate-sigopt-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'siglog.pid')
    fs.writeFileSync(file, '', {mode: 0o644})
    const lockThenExec =
      'use Fcntl; $^F = 100; open(my $fh, "+<", shift) or die "open: $!"; fcntl($fh, F_SETLK, pack("s s x4 q q i x4", F_WRLCK, SEEK_SET, 0, 0, 0)) or die "lock: $!"; syswrite($fh, "$$"); exec @ARGV or die'
    const v = await spawnVictim({prefix: ['perl', '-e', lockThenExec, file]})
    expect((await cliJson(['find', 'siglog', '--pidfile', file])).json).toMatchObject({state: 'running', pid: v.pid, pidfile: {lock: 'posix'}})
    const run = (extra: string[]) =>
      new Promise<{status: number | null; out: string}>((resolve) => {
        const argv = user.as([process.execPath, BIN, 'signal', 'siglog', 'TERM', '--pidfile', file, '--json', ...extra])
        const c = track(spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], cwd: '/'}))
        let out = ''
        c.stdout!.on('data', (d) => (out += d))
        c.once('close', (status) => resolve({status, out}))
      })
    const real = await run([])
    const dry = await run(['--dry-run'])
    expect(real.status).toBe(4)
    expect(dry.status).toBe(real.status)
    const j = JSON.parse(dry.out)
    expect(j.would_deliver).toEqual([])
    expect(j.message).not.toContain('would send')
    // The caller lacks CAP_KILL: the message names it.
    expect(JSON.parse(real.out).message).toContain('CAP_KILL')
    await sleep(100)
    expect(v.received()).toEqual([])
  })

  test('root\'s dry run still says "would send" and sends nothing', async () => {
    const {v, file} = await victim()
    const r = await cliJson(['signal', 'siglog', 'TERM', '--pidfile', file, '--dry-run'])
    expect(r.json).toMatchObject({exit_code: 0, dry_run: true, would_deliver: [{pid: v.pid}]})
    expect(r.json.message).toContain('would send TERM')
    await sleep(100)
    expect(v.received()).toEqual([])
  })
})
