/**
 * What the pidfs tests (issue 20: pidfs ids, the identity record) share:
 *   - services under `nslocate run`, started in the background and awaited until their command runs
 *     (startRun, startService, untilService), siglog ones for signal tests (siglogService);
 *   - pidfs ids read apart from nslocate: stat(1) of a pidfd a python3 process holds (pidfsIds);
 *   - the identity record as getfattr(1) reads it, and set as its writer would (getfattr, setRecord);
 *   - processes in a fresh PID namespace (FRESH_PID_NS, childrenOf, untilChild, victimInChildNs);
 *   - the Python pieces of the drivers that force a pid's reuse within one clock tick (PY_SAME_TICK).
 * Everything started is tracked (cli.ts track, tracked.ts spawnTracked) and ended by pid.
 */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {formatRecord} from '../../src/locate/record'
import {xattrSet} from '../../src/native/binding'
import {exitOf, pidIn, untilRunning} from '../safety/run-helpers'
import {BIN, track, until} from './cli'
import {alive, readPpid, startTime} from './proc'
import {spawnTracked, tempDir} from './tracked'
import {VictimOptions, siglogBinary, spawnVictim} from './victims'

/** The record's extended attribute, spelled out as the documentation gives it (not imported from src/). */
export const RECORD_XATTR = 'user.nslocate.identity'
/** This boot's id (/proc/sys/kernel/random/boot_id), as records carry it. */
export const BOOT_ID = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
/** argv prefix: the command runs as pid 1 of a fresh PID namespace with its own /proc, killed with it. */
export const FRESH_PID_NS = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']

export interface StartOptions {
  env?: NodeJS.ProcessEnv
  /** argv put before nslocate (e.g. a subreaper) */
  prefix?: string[]
  /** collect run's stderr (read it with stderr()); otherwise it is ignored */
  stderr?: boolean
}

export interface Started {
  sup: ChildProcess
  /** what run wrote on stderr so far ('' unless `stderr` was asked for) */
  stderr: () => string
}

/** `nslocate run ARGS...` in the background, in its own process group (cli.ts killTracked() reaches its child too). */
export function startRun(args: string[], opts: StartOptions = {}): Started {
  const argv = [...(opts.prefix ?? []), process.execPath, BIN, 'run', ...args]
  const stdio = ['ignore', 'ignore', opts.stderr ? 'pipe' : 'ignore'] as const
  const sup = track(spawn(argv[0], argv.slice(1), {stdio: [...stdio], detached: true, env: {...process.env, ...opts.env}}), {group: true})
  let err = ''
  sup.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d))
  return {sup, stderr: () => err}
}

/** The pid FILE names once that process runs `comm` (run's child has executed it) and, when given, catches signal `caught`. */
export async function untilService(file: string, comm: string, caught?: number): Promise<number> {
  const pid = await pidIn(file)
  await untilRunning(pid, comm, caught)
  return pid
}

/** startRun(), then untilService(): resolves with the service's pid. */
export async function startService(args: string[], file: string, comm: string, opts: StartOptions & {caught?: number} = {}): Promise<Started & {pid: number}> {
  const started = startRun(args, opts)
  return {...started, pid: await untilService(file, comm, opts.caught)}
}

export interface SiglogService {
  sup: ChildProcess
  dir: string
  pid: number
  /** where siglog logs what it receives (victims.ts readLog) */
  log: string
}

/** The siglogService()s not yet stopped; a pid of 0: not known yet. */
const siglogServices: Array<{sup: ChildProcess; pid: number; start: number | null}> = []

/**
 * `nslocate run svc --dir DIR -- siglog LOG ...extra` in a fresh DIR (tempDir(`tmpPrefix`)): run holds
 * the lock, siglog is the pid. Resolves once siglog's handlers are installed (signal `caught` in its
 * SigCgt; default HUP). stopSiglogServices() ends them.
 */
export async function siglogService(tmpPrefix: string, extra: string[] = [], caught = 1): Promise<SiglogService> {
  const dir = tempDir(tmpPrefix)
  const log = path.join(dir, 'signals.log')
  const {sup} = startRun(['svc', '--dir', dir, '--', siglogBinary(), log, ...extra])
  const entry = {sup, pid: 0, start: null as number | null}
  siglogServices.push(entry)
  entry.pid = await untilService(path.join(dir, 'svc.pid'), 'siglog', caught)
  entry.start = startTime(entry.pid)
  return {sup, dir, pid: entry.pid, log}
}

/**
 * For afterEach: SIGKILL each siglogService() still running (run's child outlives a SIGKILLed run,
 * keeping the lock, so the child goes: by pid and start time; run exits with it), and wait for run.
 */
export async function stopSiglogServices(): Promise<void> {
  for (const s of siglogServices.splice(0)) {
    if (s.pid > 0 && alive(s.pid, s.start)) process.kill(s.pid, 'SIGKILL')
    else if (s.pid === 0 && s.sup.exitCode === null && s.sup.signalCode === null) {
      try {
        process.kill(-s.sup.pid!, 'SIGKILL') // it never got ready: run and whatever it started
      } catch {}
    }
    await exitOf(s.sup)
  }
}

/** The pids that process `holder` ('self': this one) holds pidfds on: the `Pid:` line of each pidfd's fdinfo, in this /proc's numbering. */
export function pidfdTargets(holder: number | 'self'): number[] {
  const out: number[] = []
  let fds: string[]
  try {
    fds = fs.readdirSync(`/proc/${holder}/fd`)
  } catch {
    return out // it exited
  }
  for (const fd of fds) {
    try {
      if (!fs.readlinkSync(`/proc/${holder}/fd/${fd}`).includes('pidfd')) continue
      const m = /^Pid:\s*(-?\d+)$/m.exec(fs.readFileSync(`/proc/${holder}/fdinfo/${fd}`, 'utf8'))
      if (m) out.push(Number(m[1]))
    } catch {
      // closed while listed
    }
  }
  return out
}

/**
 * Resolve once a `nslocate wait` this process started (a child whose cmdline has the argument
 * "wait") holds a pidfd on each of `pids` (host pids, matched by the pidfd's fdinfo): it has
 * pinned what it waits for, so an exit from now on is one it sees. Looked at again 100 ms later
 * (within a second): locate() also opens pidfds, each for a moment, before wait pins for good.
 * Replaces a fixed sleep, which a loaded machine can outlast with the CLI still starting up.
 */
export async function untilWaitPins(pids: number[], timeoutMs = 20_000): Promise<void> {
  const pins = () =>
    fs.readdirSync('/proc').some((p) => {
      if (!/^\d+$/.test(p)) return false
      try {
        if (readPpid(Number(p)) !== process.pid || !fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('\0wait\0')) return false
      } catch {
        return false // gone while listed
      }
      const held = pidfdTargets(Number(p))
      return pids.every((pid) => held.includes(pid))
    })
  const what = `nslocate wait to pin ${pids.join(', ')}`
  await until(pins, what, timeoutMs)
  await new Promise((r) => setTimeout(r, 100))
  await until(pins, `${what} (still, 100 ms later)`, 1000)
}

/** How many pidfds this process holds now on `pid` (its /proc/self/fd entries that are pidfds on it). */
export function pidfdsHere(pid: number): number {
  return pidfdTargets('self').filter((p) => p === pid).length
}

/**
 * Resolve once this process holds more pidfds on `pid` than `before` (pidfdsHere(pid) taken before
 * an in-process waitFor() started): it has pinned what it waits for. Looked at again 100 ms later,
 * as untilWaitPins does; the library's own version of it.
 */
export async function untilPinnedHere(pid: number, before: number, timeoutMs = 20_000): Promise<void> {
  await until(() => pidfdsHere(pid) > before, `waitFor() to pin ${pid}`, timeoutMs)
  await new Promise((r) => setTimeout(r, 100))
  await until(() => pidfdsHere(pid) > before, `waitFor() to pin ${pid} (still, 100 ms later)`, 1000)
}

/** python3 holding a pidfd on each pid given (os.pidfd_open); prints its own pid and the descriptors, then waits for stdin's end. */
const HOLD_PIDFDS = 'import os, sys\nfds = [os.pidfd_open(int(p)) for p in sys.argv[1:]]\nprint(os.getpid(), *fds, flush=True)\nsys.stdin.read()\n'

export interface PidfdHolder {
  holder: ChildProcess
  /** the python3's pid as it sees itself (behind a `prefix`: in that namespace) */
  pid: number
  /** its pidfds, one per pid asked for */
  fds: number[]
  /** let it go (end its stdin) and wait for it */
  release(): Promise<void>
}

/**
 * A python3 process that holds a pidfd on each of `pids` (os.pidfd_open) until released. Behind
 * `prefix` (e.g. nsenter -t PID -p -m --) it runs in that PID namespace, and `pids` are numbered there.
 */
export async function pidfdHolder(pids: number[], prefix: string[] = []): Promise<PidfdHolder> {
  const argv = [...prefix, '/usr/bin/python3', '-c', HOLD_PIDFDS, ...pids.map(String)]
  const holder = spawnTracked(argv, {stdio: ['pipe', 'pipe', 'inherit']})
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    holder.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('\n')) resolve(out.split('\n')[0])
    })
    holder.once('exit', (code) => reject(new Error(`python3 pidfd_open(${pids.join(' ')}) exited (${code}) before printing its fds: ${out}`)))
  })
  const [pid, ...fds] = line.trim().split(' ').map(Number)
  const release = async () => {
    holder.stdin!.end()
    await exitOf(holder)
  }
  return {holder, pid, fds, release}
}

/** `stat -L -c %i /proc/P/fd/N` (behind `prefix`, in another namespace): the inode of the pidfd process P holds as N, its pidfs id. */
export function statInode(pid: number, fd: number, prefix: string[] = []): number {
  const argv = [...prefix, 'stat', '-L', '-c', '%i', `/proc/${pid}/fd/${fd}`]
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8'})
  if (r.status !== 0 || !/^[0-9]+\n$/.test(r.stdout)) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stdout}${r.stderr}`)
  return Number(r.stdout)
}

/**
 * The pidfs ids of `pids` as the kernel shows them to anyone, nothing of nslocate's involved: a python3
 * process holds a pidfd on each (pidfdHolder) and stat(1) prints each one's inode (statInode; what
 * util-linux's `getino --pidfs -p PID` prints). Behind `prefix`, both run in that namespace.
 */
export async function pidfsIds(pids: number[], prefix: string[] = []): Promise<number[]> {
  const h = await pidfdHolder(pids, prefix)
  try {
    return h.fds.map((fd) => statInode(h.pid, fd, prefix))
  } finally {
    await h.release()
  }
}

export async function pidfsId(pid: number): Promise<number> {
  return (await pidfsIds([pid]))[0]
}

/** `getfattr --absolute-names -n user.nslocate.identity --only-values FILE`: the raw record, or null and why (status, stderr). */
export function getfattr(file: string): {value: string | null; status: number | null; stderr: string} {
  const r = spawnSync('getfattr', ['--absolute-names', '-n', RECORD_XATTR, '--only-values', file], {encoding: 'latin1'})
  return {value: r.status === 0 ? r.stdout : null, status: r.status, stderr: r.stderr}
}

/** The record for `pid` (as numbered in FILE) and pidfs id `id`, bound to FILE's current mtime. */
export function recordText(file: string, pid: number, id: number, bootId = BOOT_ID): string {
  return formatRecord({pid, pidfdId: id, bootId, mtimeNs: fs.statSync(file, {bigint: true}).mtimeNs.toString()})
}

/** Sets FILE's record to `value` as a writer of the file (here root) does: setxattr on a descriptor. */
export function setRecord(file: string, value: string | Buffer): void {
  const fd = fs.openSync(file, 'r')
  try {
    xattrSet(fd, RECORD_XATTR, Buffer.isBuffer(value) ? value : Buffer.from(value))
  } finally {
    fs.closeSync(fd)
  }
}

/** The children of `pid` (/proc/PID/task/PID/children), [] once it is gone. */
export function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** The first child of `pid`, once it has one (e.g. the init of the namespace an `unshare --fork` made). */
export async function untilChild(pid: number, what: string): Promise<number> {
  let child = 0
  await until(() => (child = childrenOf(pid)[0] ?? 0) > 0, what)
  return child
}

/**
 * A siglog victim (spawnVictim `opts`) in a fresh PID namespace, not its PID 1 (an sh is, `init` here):
 * its pid here (`hostPid`) and there (`inner`). With `opts.pidfile`, siglog wrote `inner` into it.
 */
export async function victimInChildNs(opts: VictimOptions) {
  const victim = await spawnVictim({...opts, prefix: [...FRESH_PID_NS, 'sh', '-c', '"$@" & wait', 'sh']})
  const init = childrenOf(victim.pid)[0]
  const hostPid = childrenOf(init)[0]
  expect(fs.readFileSync(`/proc/${hostPid}/comm`, 'utf8')).toBe('siglog\n')
  if (opts.pidfile) expect(Number(fs.readFileSync(opts.pidfile, 'utf8'))).toBe(victim.ready[0])
  return {victim, init, hostPid, inner: victim.ready[0]}
}

/**
 * Python, for drivers run as pid 1 of a fresh PID namespace (as root: ns_last_pid is written), put
 * before the driver's own code. same_tick_reuse(start, stop, attempts) starts A (start('A') -> a
 * pid), notes its start time (field 22 of /proc/PID/stat) and pidfs id (fstat of os.pidfd_open),
 * calls noted(a, tick, id_a), stops it (stop(a): kill and reap), writes A-1 into
 * /proc/sys/kernel/ns_last_pid and starts B (start('B')), which gets A's pid; until B also started
 * in A's clock tick, so only the pidfs id tells them apart. With `at_tick_start`, each try begins
 * at the start of a tick of CLOCK_BOOTTIME (the clock start times count in USER_HZ ticks).
 * Returns (pid, tick, id_a, attempt), or None after `attempts` tries.
 */
export const PY_SAME_TICK = fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'pidfs', 'sametick.py'), 'utf8')
