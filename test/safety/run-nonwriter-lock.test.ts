/**
 * issue 17, hole 3 (run's part): a lock on a pidfile is evidence only from a process that could
 * have written the file. A real unprivileged user who may only read root's stale pidfile holds a
 * lock on it: flock(LOCK_SH) (flock(1) -s), flock(LOCK_EX) on an O_RDONLY descriptor (flock needs
 * no write access), a POSIX read lock (lockf) or an OFD read lock. run used to wait out
 * --lock-timeout and exit 124 (LOCK_SH), or report "already running" (122) for the others: the
 * service could not be started. run now replaces a file that only non-writers lock (a fresh file
 * swapped in with renameat2(RENAME_EXCHANGE)): COMMAND really runs, find names it, the attacker's
 * process is untouched, and with many root starters racing beside the attacker exactly one runs.
 */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, cli, cliJson, dumpEvidence, isAlive, killTracked, track, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {exitOf, killPid, pidIn, runInBackground} from './run-helpers'

/** The attacker's lock, taken on an O_RDONLY descriptor (fixtures/attackers/readonly_lock.py); prints "held" once it is. */
const LOCKER = path.join(ROOT, 'fixtures', 'attackers', 'lock-readonly.py')
/** This file's kind names, as the fixture spells them. */
const FIXTURE_KIND = {'flock-sh': 'flock-sh', 'flock-ex': 'flock-ex', 'posix-read': 'posix-rd', 'ofd-read': 'ofd-rd'} as const

type Kind = 'flock-sh' | 'flock-ex' | 'posix-read' | 'ofd-read'
const KINDS: Kind[] = ['flock-sh', 'flock-ex', 'posix-read', 'ofd-read']

let mallory: TestUser
let base: string
beforeAll(() => {
  mallory = createTestUser('nwlock')
  base = tempDir('nslocate-nwlock-')
  fs.chmodSync(base, 0o755)
})
afterAll(async () => {
  await killTracked()
  mallory.remove()
  await stopAll()
})
afterEach(() => killTracked())

/** A root-owned 0755 directory holding root's stale 0644 pidfile (the pid of a process that has exited). */
function stalePidfile(tag: string): {dir: string; file: string} {
  const dir = fs.mkdtempSync(path.join(base, `${tag}-`))
  fs.chmodSync(dir, 0o755)
  const file = path.join(dir, 'svc.pid')
  const dead = Number(spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'}).stdout.trim())
  fs.writeFileSync(file, String(dead), {mode: 0o644})
  return {dir, file}
}

/**
 * The attacker's process, holding `kind` on `file` (flock-sh is flock(1) -s itself) for `hold`
 * seconds (python, for every kind, when a hold is given).
 */
async function attack(file: string, kind: Kind, hold = 600): Promise<ChildProcess> {
  const argv =
    kind === 'flock-sh' && hold === 600
      ? mallory.as(['/usr/bin/flock', '-s', '-n', file, '/bin/sh', '-c', 'echo held; exec sleep 600'])
      : mallory.as(['/usr/bin/python3', LOCKER, file, FIXTURE_KIND[kind], String(hold)])
  const child = track(spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'inherit']}))
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  await until(() => out.includes('held') || child.exitCode !== null, `the attacker's ${kind} lock`)
  if (!out.includes('held')) throw new Error(`the attacker could not take ${kind}: exit ${child.exitCode}`)
  return child
}

/** The pid COMMAND wrote into `marker` (echo $$), 0 until it has. */
function ranWith(marker: string): number {
  try {
    return /^[0-9]+\n$/.test(fs.readFileSync(marker, 'utf8')) ? Number(fs.readFileSync(marker, 'utf8')) : 0
  } catch {
    return 0
  }
}

/** Pids of the attacker's processes holding a lock line on the inode (fdinfo), as the kernel shows them. */
function lockedBy(pids: number[], ino: number): number[] {
  return pids.filter((pid) => {
    try {
      return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return fs.statSync(`/proc/${pid}/fd/${fd}`).ino === ino && /^lock:/m.test(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))
        } catch {
          return false
        }
      })
    } catch {
      return false
    }
  })
}

/** Every process of the attacker's (setpriv execs; flock(1) forks sh, which execs sleep). */
function attackerPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^[0-9]+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) === mallory.uid
      } catch {
        return false
      }
    })
}

test.each(KINDS)(
  "an unprivileged user's %s on root's stale pidfile: run starts the service; find names it; the attacker is untouched",
  async (kind) => {
    const {dir, file} = stalePidfile(kind)
    const inode = fs.statSync(file).ino
    const attacker = await attack(file, kind)
    const holders = lockedBy(attackerPids(), inode)
    expect(holders.length).toBeGreaterThan(0)
    const marker = path.join(dir, 'ran')
    const sup = runInBackground(['svc', '--pidfile', file, '--lock-timeout', '3s', '--', 'sh', '-c', `echo $$ > ${marker}; exec sleep 300`])
    let pid = 0
    try {
      await until(() => ranWith(marker) > 0 || sup.exitCode !== null, 'COMMAND to run', 15_000)
      expect(sup.exitCode).toBeNull()
      pid = ranWith(marker)
      expect(await pidIn(file)).toBe(pid)
      expect(fs.statSync(file).ino).not.toBe(inode)
      expect(fs.statSync(file).mode & 0o7777).toBe(0o644)
      const found = await cliJson(['find', 'svc', '--pidfile', file])
      if (found.status !== 0) console.log(dumpEvidence([pid]), found.json.evidence)
      expect([found.status, found.json.state, found.json.pid]).toEqual([0, 'running', pid])
      // the attacker still runs and still holds its lock, on the old (now unlinked) inode
      expect(attacker.exitCode).toBeNull()
      expect(lockedBy(attackerPids(), inode)).toEqual(holders)
      // nothing else was left in the directory (no temporary name, no lock file)
      expect(fs.readdirSync(dir).sort()).toEqual(['ran', 'svc.pid'])
      // and the service is protected as usual: a second run conflicts
      const second = await cli(['run', 'svc', '--pidfile', file, '--', 'true'])
      expect([second.status, second.stderr.trim()]).toEqual([122, `nslocate: svc already running (pid ${pid})`])
    } finally {
      if (pid) await killPid(pid)
    }
    expect(await exitOf(sup)).toEqual({code: 137, signal: null})
    expect(fs.existsSync(file)).toBe(false)
  },
  60_000,
)

test("--replace with the attacker's LOCK_SH on a stale pidfile: starts at once, no 124", async () => {
  const {dir, file} = stalePidfile('replace')
  await attack(file, 'flock-sh')
  const marker = path.join(dir, 'ran')
  const sup = runInBackground(['svc', '--pidfile', file, '--replace', '--lock-timeout', '3s', '--', 'sh', '-c', `echo $$ > ${marker}; exec sleep 300`])
  await until(() => ranWith(marker) > 0 || sup.exitCode !== null, 'COMMAND to run', 15_000)
  expect(sup.exitCode).toBeNull()
  const pid = ranWith(marker)
  expect(await pidIn(file)).toBe(pid)
  await killPid(pid)
  expect(await exitOf(sup)).toEqual({code: 137, signal: null})
})

test("a privilege-dropped service whose supervisor was SIGKILLed is not replaced: its lock is not a writer's, but the file names it", async () => {
  const {dir, file} = stalePidfile('dropped')
  fs.unlinkSync(file)
  const marker = path.join(dir, 'second')
  const sup = runInBackground(['svc', '--pidfile', file, '--', ...mallory.as(['/bin/sleep', '300'])])
  const pid = await pidIn(file)
  try {
    await until(() => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep', 'the service to run')
    sup.kill('SIGKILL')
    await exitOf(sup)
    const second = await cli(['run', 'svc', '--pidfile', file, '--lock-timeout', '2s', '--', 'touch', marker])
    expect([second.status, second.stderr.trim()]).toEqual([122, `nslocate: svc already running (pid ${pid})`])
    expect(fs.existsSync(marker)).toBe(false)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(pid))
    expect(isAlive(pid)).toBe(true)
  } finally {
    await killPid(pid)
  }
}, 60_000)

// NSLOCATE_RACE_ROUNDS=N repeats each race N times.
/**
 * 12 root `run svc --pidfile FILE` starters at once, each writing its shell's pid to `log` when
 * its COMMAND starts: what runs once 11 have given up (each with --conflict-exit-code 9).
 */
async function raceStarters(file: string, log: string): Promise<{running: ChildProcess[]; codes: number[]; started: string[]}> {
  const starters = Array.from({length: 12}, () =>
    runInBackground(['svc', '--pidfile', file, '--conflict-exit-code', '9', '--lock-timeout', '20s', '--', 'sh', '-c', `echo $$ >> ${log}; exec sleep 300`]),
  )
  await until(() => starters.filter((s) => s.exitCode !== null).length >= 11, '11 starters to give up', 60_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const running = starters.filter((s) => s.exitCode === null && s.signalCode === null)
  const codes = starters.map((s) => s.exitCode).filter((c): c is number => c !== null)
  const started = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []
  return {running, codes, started}
}

const ROUNDS = process.env.NSLOCATE_RACE_ROUNDS ? Number(process.env.NSLOCATE_RACE_ROUNDS) : 3
test.each(KINDS)(
  `%s held by the attacker while 12 root starters race: exactly one runs, the others conflict (${ROUNDS} rounds)`,
  async (kind) => {
    for (let round = 0; round < ROUNDS; round++) {
      const {dir, file} = stalePidfile(`race-${kind}-${round}`)
      const inode = fs.statSync(file).ino
      const attacker = await attack(file, kind)
      const holders = lockedBy(attackerPids(), inode)
      const log = path.join(dir, 'started.log')
      const {running, codes, started} = await raceStarters(file, log)
      if (running.length !== 1 || started.length !== 1)
        console.log(`round ${round}: running ${running.length}, codes ${codes.join(',')}, started ${started.join(',')}`)
      expect(running).toHaveLength(1)
      expect(codes).toEqual(Array(11).fill(9))
      expect(started).toHaveLength(1)
      const pid = Number(started[0])
      expect(fs.readFileSync(file, 'utf8')).toBe(String(pid))
      const found = await cliJson(['find', 'svc', '--pidfile', file])
      expect([found.json.state, found.json.pid]).toEqual(['running', pid])
      expect(fs.readdirSync(dir).sort()).toEqual(['started.log', 'svc.pid'])
      expect(attacker.exitCode).toBeNull()
      expect(lockedBy(attackerPids(), inode)).toEqual(holders)
      await killTracked()
      await killPid(pid)
    }
  },
  Math.max(120_000, ROUNDS * 4 * 20_000),
)

test.each(['flock-sh', 'posix-read'] as Kind[])(
  `%s held by the attacker and let go at a random moment while 12 root starters race: exactly one runs (${ROUNDS * 2} rounds)`,
  async (kind) => {
    for (let round = 0; round < ROUNDS * 2; round++) {
      const {dir, file} = stalePidfile(`letgo-${kind}-${round}`)
      // let go 0 to 0.6 s after the starters were spawned (they take about that long to reach the lock)
      const hold = Math.random() * 0.6
      const attacker = await attack(file, kind, hold)
      const log = path.join(dir, 'started.log')
      const {running, codes, started} = await raceStarters(file, log)
      if (running.length !== 1 || started.length !== 1)
        console.log(`let go after ${hold.toFixed(2)} s, round ${round}: running ${running.length}, codes ${codes.join(',')}, started ${started.join(',')}`)
      expect(running).toHaveLength(1)
      expect(codes).toEqual(Array(11).fill(9))
      expect(started).toHaveLength(1)
      const pid = Number(started[0])
      expect(fs.readFileSync(file, 'utf8')).toBe(String(pid))
      expect(fs.readdirSync(dir).sort()).toEqual(['started.log', 'svc.pid'])
      await exitOf(attacker)
      await killTracked()
      await killPid(pid)
    }
  },
  Math.max(120_000, ROUNDS * 2 * 20_000),
)
