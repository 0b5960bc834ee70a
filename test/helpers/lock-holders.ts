/**
 * Real lock holders in real PID namespaces, for every test tier that needs the kernel's answer.
 *
 *   const h = await spawnHolder({kind: 'posix', file, levels: 2, writePid: true})
 *   h.hostPid, h.nspid            // e.g. 12968 and [12968, 21, 4]: NSpid from /proc/<hostPid>/status
 *   await runIn(h, nodeArgv(`...`))   // run.ts: a command inside the holder's PID + mount namespaces
 *   await h.stop()                // or stopAll() (tracked.ts) in afterAll
 *
 * The holders are the C programs in fixtures/holders/ (see the comment at the top of each), compiled
 * by compile.ts. Namespaces are made with util-linux `unshare --pid --fork --mount-proc --kill-child`,
 * one per level, so each level has its own /proc and NSpid lines have levels + 1 columns. Unless
 * `pid1` is asked for, the holder runs under fixtures/holders/mini-init.c, so it is an ordinary
 * process (pid 2 of its namespace), not a namespace init with its special signal rules.
 *
 * Every namespace dies with its starter: the outer unshare gets SIGKILL when the test process dies
 * (run.ts DIE_WITH_PARENT), `--kill-child` makes each unshare's child (the next level's init) get
 * SIGKILL when that unshare dies, and mini-init and the holders set PR_SET_PDEATHSIG, so killing
 * the test process takes the whole chain down.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as path from 'node:path'

import {compileFixture} from './compile'
import {allPids, alive, isDescendant, pidnsInodeOf, readNSpid, readPpid, startTime} from './proc'
import {DIE_WITH_PARENT, NsTarget} from './run'
import {withTimeout} from './timing'
import {ProcessId, Tracked, killTracked, safeKill, track, untrack, waitGone} from './tracked'

export type LockKind = 'posix' | 'ofd' | 'flock' | 'none'

export interface HolderOptions {
  /** Lock the holder takes on `file` (exclusive, whole file). 'none' only opens the file. */
  kind: LockKind
  /** Absolute path; created if missing. Must be visible in the holder's mount namespace (/tmp is). */
  file: string
  /** Nested PID namespaces to create, each with its own /proc. 0 = the test's own namespace. */
  levels?: number
  /** Fork after locking and let the parent exit; the child keeps the fd (see fixtures/holders/holder.c). */
  forkAfterLock?: boolean
  /** Truncate the file and write the holding process's getpid() (no newline). */
  writePid?: boolean
  /**
   * Use libbsd pidfile_open(3) + pidfile_write(3) instead (fixtures/holders/bsd-pidfile-holder.c):
   * a flock lock, and the pid always written (no newline). Needs kind 'flock'; writePid is ignored.
   * When the file is already held it prints "held <otherpid>" and exits 3: spawnHolder rejects with
   * a HolderStartError carrying that stdout.
   */
  libbsd?: boolean
  /** Run the holder itself as pid 1 of the innermost namespace (no mini-init). Needs levels >= 1, no forkAfterLock. */
  pid1?: boolean
  /** How long to wait for "ready" (ms). Default 10000. */
  timeoutMs?: number
}

export interface Holder {
  /** Pid of the process that holds the lock, in the test's namespace. */
  hostPid: number
  /** NSpid from /proc/<hostPid>/status, outermost first; length levels + 1. */
  nspid: number[]
  /** The pid the holder sees for itself (last NSpid column): what a pidfile written inside contains. */
  innerPid: number
  /** Inode of /proc/<hostPid>/ns/pid (reused after the namespace dies; compare with care). */
  pidnsInode: number
  /** Pid of the process this module spawned (top of the unshare chain, or mini-init for levels 0). */
  launcherPid: number
  /**
   * One target per nested namespace, outermost first (length `levels`): `runIn(h.nsTargets[k - 1], argv)`
   * runs a command in level k, with that level's /proc. `hostPid` is pid 1 of the level (the holder
   * itself for the innermost level with pid1).
   */
  nsTargets: NsTarget[]
  readonly options: Readonly<HolderOptions>
  /** Kill the holder (and the chain above it) by pid and wait until it is gone. Idempotent. */
  stop(): Promise<void>
}

/** The holder exited before printing "ready": status 3 means the lock was held (libbsd also prints "held <pid>"). */
export class HolderStartError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly signal: string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${message}\nstatus ${status} signal ${signal}\nstdout: ${stdout}\nstderr: ${stderr}`)
    this.name = 'HolderStartError'
  }
}

export interface HolderBinaries {
  holder: string
  bsdPidfile: string
  miniInit: string
}

let binaries: HolderBinaries | undefined

/** Compile fixtures/holders/*.c into build/test-holders/ when missing or older than the source. */
export function holderBinaries(): HolderBinaries {
  binaries ??= {
    holder: compileFixture('holder', 'holders/holder.c'),
    bsdPidfile: compileFixture('bsd-pidfile-holder', 'holders/bsd-pidfile-holder.c', ['-lbsd']),
    miniInit: compileFixture('mini-init', 'holders/mini-init.c'),
  }
  return binaries
}

function checkOptions(o: HolderOptions, levels: number): void {
  if (!Number.isInteger(levels) || levels < 0 || levels > 8) throw new RangeError(`levels must be 0..8, got ${levels}`)
  if (o.libbsd && o.kind !== 'flock') throw new Error('libbsd pidfile(3) takes a flock lock: use kind "flock" with libbsd')
  if (o.pid1 && (levels === 0 || o.forkAfterLock))
    throw new Error('pid1 needs levels >= 1 and no forkAfterLock (a namespace init that exits kills the namespace)')
  if (!path.isAbsolute(o.file)) throw new Error(`file must be absolute: ${o.file}`)
}

/** The launcher's argv: one unshare per level, mini-init unless pid1, then the holder program. */
function holderArgv(o: HolderOptions, levels: number): string[] {
  const bin = holderBinaries()
  const fork = o.forkAfterLock ? ['--fork-after-lock'] : []
  const holder = o.libbsd ? [bin.bsdPidfile, o.file, ...fork] : [bin.holder, o.kind, o.file, ...fork, ...(o.writePid ? ['--write-pid'] : [])]
  const unshares = Array.from({length: levels}, () => ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', '--']).flat()
  return [...(levels > 0 ? DIE_WITH_PARENT : []), ...unshares, ...(o.pid1 ? [] : [bin.miniInit]), ...holder]
}

/** Resolve with the pid the holder prints in "ready <pid>"; on exit or timeout, kill and reject. */
async function awaitReady(child: ChildProcess, entry: Tracked, argv: string[], timeoutMs: number): Promise<number> {
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (d: string) => {
        stdout += d
        const m = /^ready (\d+)\n/m.exec(stdout)
        if (m) resolve(Number(m[1]))
      })
      child.once('error', reject)
      child.once('exit', (status, signal) => {
        // Let the pipes drain so the error carries everything that was printed.
        setImmediate(() => reject(new HolderStartError(`holder ${argv.join(' ')} exited before "ready"`, status, signal, stdout, stderr)))
      })
    }),
    timeoutMs,
    `holder ${argv.join(' ')} to print ready`,
  ).catch(async (error) => {
    killTracked(entry)
    await withTimeout(entry.exited, 5000, 'holder launcher exit').catch(() => undefined)
    if (!(error instanceof HolderStartError)) (error as Error).message += `\nstdout so far: ${stdout}\nstderr so far: ${stderr}`
    throw error
  })
}

/** The holding process in our namespace: a descendant of the launcher whose NSpid has levels + 1 columns ending in innerPid. */
function findHolding(launcher: number, levels: number, innerPid: number): number | undefined {
  if (levels === 0) return innerPid
  return allPids().find((pid) => {
    const ns = readNSpid(pid)
    return ns.length === levels + 1 && ns[levels] === innerPid && isDescendant(pid, launcher)
  })
}

/** pid 1 of each level, found up the parent chain; the mount namespace with that level's /proc is its parent's (see NsTarget). */
function findNsTargets(hostPid: number, launcher: number): NsTarget[] {
  const nsTargets: NsTarget[] = []
  for (let p: number | null = hostPid, i = 0; p && i < 64 && p !== launcher; i++) {
    const ns = readNSpid(p)
    const parent = readPpid(p)
    if (ns.length >= 2 && ns[ns.length - 1] === 1 && parent) nsTargets[ns.length - 2] = {hostPid: p, mountPid: parent}
    p = parent
  }
  return nsTargets
}

/** Kill the holder: the chain above it (mini-init, the unshares) then exits by itself and every level is reaped by its parent. Kill the launcher too if that does not happen. */
async function stopHolder(entry: Tracked, holding: ProcessId): Promise<void> {
  if (alive(holding.pid, holding.start)) safeKill(holding.pid)
  await waitGone([holding], 5000)
  try {
    await withTimeout(entry.exited, 3000, 'launcher exit')
  } catch {
    killTracked(entry)
    await withTimeout(entry.exited, 5000, `launcher ${entry.child.pid} exit after SIGKILL`)
  }
  untrack(entry)
}

/**
 * Start a holder (see HolderOptions) and resolve once it printed "ready <pid>", i.e. once the lock
 * is in its final state. Rejects with HolderStartError if it exits first (status 3: the lock was
 * held by someone else; libbsd prints "held <otherpid>" then).
 */
export async function spawnHolder(options: HolderOptions): Promise<Holder> {
  const levels = options.levels ?? 0
  checkOptions(options, levels)
  const argv = holderArgv(options, levels)
  const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
  const entry = track(child)
  const innerPid = await awaitReady(child, entry, argv, options.timeoutMs ?? 10_000)
  const launcherPid = child.pid!
  const hostPid = findHolding(launcherPid, levels, innerPid)
  const nspid = hostPid === undefined ? [] : readNSpid(hostPid)
  if (hostPid === undefined || nspid.length !== levels + 1 || nspid[levels] !== innerPid) {
    killTracked(entry)
    throw new Error(`holder printed ready ${innerPid} but no descendant of ${launcherPid} has NSpid ending in it with ${levels + 1} columns`)
  }
  const nsTargets = findNsTargets(hostPid, launcherPid)
  if (nsTargets.length !== levels || [...nsTargets].some((t) => t === undefined)) {
    killTracked(entry)
    throw new Error(`holder ${hostPid}: found namespace inits ${JSON.stringify(nsTargets)} for ${levels} levels`)
  }
  const holding = {pid: hostPid, start: startTime(hostPid)}
  entry.extra.push(holding)
  let stopping: Promise<void> | undefined
  const stop = () => (stopping ??= stopHolder(entry, holding))
  entry.stop = stop
  return {hostPid, nspid, innerPid, pidnsInode: pidnsInodeOf(hostPid), launcherPid, nsTargets, options: {...options}, stop}
}
