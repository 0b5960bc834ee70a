/**
 * Real lock holders in real PID namespaces, for every test tier that needs the kernel's answer.
 *
 *   const h = await spawnHolder({kind: 'posix', file, levels: 2, writePid: true})
 *   h.hostPid, h.nspid            // e.g. 12968 and [12968, 21, 4]: NSpid from /proc/<hostPid>/status
 *   await runIn(h, nodeArgv(`...`))   // a command inside the holder's PID + mount namespaces
 *   await runInSiblingNs(['cat', '/proc/locks'])   // a command in a fresh, unrelated PID namespace
 *   await h.stop()                // or stopAll() in afterAll: kills only what this module started
 *
 * The holders are the C programs in fixtures/holders/ (see the comment at the top of each), compiled
 * once into build/test-holders/ with `cc` and rebuilt when a source is newer than its binary.
 * Namespaces are made with util-linux `unshare --pid --fork --mount-proc --kill-child`, one per level,
 * so each level has its own /proc and NSpid lines have levels + 1 columns. Unless `pid1` is asked for,
 * the holder runs under fixtures/holders/mini-init.c, so it is an ordinary process (pid 2 of its
 * namespace), not a namespace init with its special signal rules.
 *
 * Clean-up: every process started here is tracked; `stopAll()` (call it in afterAll) stops holders
 * the graceful way (SIGKILL to the holder by pid, then the chain above it exits and is reaped), kills
 * everything else by pid, waits, and removes the tempDir()s. If the test process dies anyway,
 * `--kill-child` and PR_SET_PDEATHSIG in the C programs take the trees down. Every wait has a timeout.
 *
 * When a namespace assertion fails, wrap it in `withEvidence(() => ..., () => evidence({holder, file}))`
 * so the failure shows what the kernel showed: /proc/locks, NSpid lines, fdinfo lock lines, ns links.
 */
import {ChildProcess, SpawnOptions, execFileSync, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

/** The repository root (this file is test/helpers/holders.ts). */
export const ROOT = path.resolve(__dirname, '..', '..')
/** The compiled addon, absolute: for probe scripts run in other namespaces (see nodeArgv). */
export const ADDON_PATH = path.join(ROOT, 'build', 'nslocate.node')
const SRC_DIR = path.join(ROOT, 'fixtures', 'holders')
const OUT_DIR = path.join(ROOT, 'build', 'test-holders')

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
  constructor(message: string, readonly status: number | null, readonly signal: string | null,
    readonly stdout: string, readonly stderr: string) {
    super(`${message}\nstatus ${status} signal ${signal}\nstdout: ${stdout}\nstderr: ${stderr}`)
    this.name = 'HolderStartError'
  }
}

/**
 * Where runIn() runs a command: the PID namespace of `hostPid`, the mount namespace of `mountPid`
 * (default hostPid). They differ for the intermediate levels of a nested chain: `unshare` moves
 * *itself* into the new mount namespace (where the next level's /proc gets mounted) but only its
 * children into the new PID namespace, so pid 1 of level k lives in a mount namespace whose /proc
 * belongs to level k + 1; its parent's mount namespace has level k's /proc.
 */
export interface NsTarget {
  hostPid: number
  mountPid?: number
}

export interface RunResult {
  stdout: string
  stderr: string
  /** Exit status, null when killed by a signal. */
  status: number | null
  signal: NodeJS.Signals | null
}

export interface RunOptions {
  /** Kill the command (by pid) and reject after this many ms. Default 15000. */
  timeoutMs?: number
  /** Written to the command's stdin, which is then closed. */
  input?: string
  /** Environment of the command (default: the test's). */
  env?: NodeJS.ProcessEnv
}

// ---------------------------------------------------------------------------------------------
// Compilation

export interface HolderBinaries {
  holder: string
  bsdPidfile: string
  miniInit: string
}

let binaries: HolderBinaries | undefined

/** Compile fixtures/holders/*.c into build/test-holders/ when missing or older than the source. */
export function holderBinaries(): HolderBinaries {
  if (binaries) return binaries
  fs.mkdirSync(OUT_DIR, {recursive: true})
  const build = (name: string, src: string, libs: string[] = []): string => {
    const source = path.join(SRC_DIR, src)
    const out = path.join(OUT_DIR, name)
    if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(source).mtimeMs) return out
    // Build under a private name and rename: several jest workers may compile at once.
    const tmp = `${out}.${process.pid}.tmp`
    execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-o', tmp, source, ...libs], {stdio: 'pipe'})
    fs.renameSync(tmp, out)
    return out
  }
  binaries = {
    holder: build('holder', 'holder.c'),
    bsdPidfile: build('bsd-pidfile-holder', 'bsd-pidfile-holder.c', ['-lbsd']),
    miniInit: build('mini-init', 'mini-init.c'),
  }
  return binaries
}

// ---------------------------------------------------------------------------------------------
// Tracking and clean-up

interface Tracked {
  child: ChildProcess
  exited: Promise<void>
  /** Pids (other than child.pid) to SIGKILL on clean-up, with their start time to avoid hitting a reused pid. */
  extra: Array<{pid: number; start: string | null}>
  /** Kill the whole process group (runIn: nsenter's forked child is in it). */
  group: boolean
  /** Graceful stop (holders: kill the holder, let the chain above it exit and be reaped). */
  stop?: () => Promise<void>
}

const tracked = new Set<Tracked>()
const tempDirs = new Set<string>()

// Last resort if a test file forgets stopAll(): synchronous SIGKILL when the test process exits.
// Registered while something is tracked only, so many test files do not pile up listeners.
const onExit = (): void => {
  for (const e of tracked) killTracked(e)
}
let listening = false

function track(child: ChildProcess, group = false): Tracked {
  if (!listening) {
    process.once('exit', onExit)
    listening = true
  }
  const entry: Tracked = {
    child, extra: [], group,
    exited: new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once('exit', () => resolve())
    }),
  }
  tracked.add(entry)
  void entry.exited.then(() => {
    if (entry.extra.every(({pid, start}) => !alive(pid, start))) tracked.delete(entry)
  })
  return entry
}

function killTracked(entry: Tracked): void {
  for (const {pid, start} of entry.extra) if (alive(pid, start)) safeKill(pid)
  const pid = entry.child.pid
  if (pid !== undefined && entry.child.exitCode === null && entry.child.signalCode === null) {
    safeKill(entry.group ? -pid : pid)
  }
}

function safeKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // ESRCH: already gone
  }
}

/**
 * Stop every process this module started and wait for them: holders through their stop(), the rest
 * by SIGKILL to their pid (runIn: to the process group it was given). Then remove the tempDir()s.
 * Rejects (after trying everything) if something is still alive after `timeoutMs`.
 */
export async function stopAll(timeoutMs = 10_000): Promise<void> {
  const entries = [...tracked]
  // Holders gracefully: killing a launcher (the outer unshare) before the chain below it has
  // exited would orphan the namespace inits, leaving them to be reaped by whatever pid 1 is.
  const results = await Promise.allSettled(entries.map((e) => withTimeout((async () => {
    if (e.stop) {
      await e.stop()
    } else {
      killTracked(e)
      await e.exited
    }
    await waitGone(e.extra, timeoutMs)
  })(), timeoutMs, `stopAll: process ${e.child.pid}`)))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  for (const e of entries) tracked.delete(e)
  for (const dir of tempDirs) fs.rmSync(dir, {recursive: true, force: true})
  tempDirs.clear()
  if (listening && tracked.size === 0) {
    process.removeListener('exit', onExit)
    listening = false
  }
}

/**
 * child_process.spawn, tracked: stopAll() SIGKILLs it (by pid) if it is still running.
 * For plain children (e.g. many `sleep`s); stdio defaults to 'ignore'.
 */
export function spawnTracked(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(argv[0], argv.slice(1), {stdio: 'ignore', ...options})
  track(child)
  return child
}

/** A fresh directory under os.tmpdir(), removed by stopAll(). */
export function tempDir(prefix = 'nslocate-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

// ---------------------------------------------------------------------------------------------
// /proc readers (small on purpose: the project's own parsers are under test elsewhere)

function readStatus(pid: number): Record<string, string> | null {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim()
  }
  return out
}

/** NSpid of a process, outermost first ([] if it is gone). proc(5): "NSpid:\t12968\t21\t4". */
export function readNSpid(pid: number): number[] {
  const s = readStatus(pid)
  return s?.NSpid ? s.NSpid.split(/\s+/).map(Number) : []
}

function readPpid(pid: number): number | null {
  const s = readStatus(pid)
  return s ? Number(s.PPid) : null
}

/** Field 22 of /proc/PID/stat (start time in clock ticks): with the pid, identifies a process. */
function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** Alive = exists, same start time, not a zombie. */
function alive(pid: number, start: string | null): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[0] !== 'Z' && fields[0] !== 'X' && (start === null || fields[19] === start)
  } catch {
    return false
  }
}

/** Inode of /proc/PID/ns/pid ("pid:[4026532801]"). */
export function pidnsInodeOf(pid: number): number {
  const link = fs.readlinkSync(`/proc/${pid}/ns/pid`)
  const m = /^pid:\[(\d+)\]$/.exec(link)
  if (!m) throw new Error(`unexpected ns link ${link}`)
  return Number(m[1])
}

function allPids(): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number)
}

function isDescendant(pid: number, ancestor: number): boolean {
  for (let p: number | null = pid, i = 0; p && i < 64; i++) {
    if (p === ancestor) return true
    p = readPpid(p)
  }
  return false
}

async function waitGone(procs: Array<{pid: number; start: string | null}>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (procs.some(({pid, start}) => alive(pid, start))) {
    if (Date.now() > deadline) {
      throw new Error(`still alive after ${timeoutMs} ms: ${procs.filter(({pid, start}) => alive(pid, start)).map((p) => p.pid).join(' ')}`)
    }
    await sleep(5)
  }
}

// ---------------------------------------------------------------------------------------------
// Holders

function unshareArgv(levels: number): string[] {
  const argv: string[] = []
  for (let i = 0; i < levels; i++) argv.push('unshare', '--pid', '--fork', '--mount-proc', '--kill-child', '--')
  return argv
}

/**
 * Start a holder (see HolderOptions) and resolve once it printed "ready <pid>", i.e. once the lock
 * is in its final state. Rejects with HolderStartError if it exits first (status 3: the lock was
 * held by someone else; libbsd prints "held <otherpid>" then).
 */
export async function spawnHolder(options: HolderOptions): Promise<Holder> {
  const {kind, file, levels = 0, forkAfterLock = false, writePid = false, libbsd = false, pid1 = false} = options
  const timeoutMs = options.timeoutMs ?? 10_000
  if (!Number.isInteger(levels) || levels < 0 || levels > 8) throw new RangeError(`levels must be 0..8, got ${levels}`)
  if (libbsd && kind !== 'flock') throw new Error('libbsd pidfile(3) takes a flock lock: use kind "flock" with libbsd')
  if (pid1 && (levels === 0 || forkAfterLock)) throw new Error('pid1 needs levels >= 1 and no forkAfterLock (a namespace init that exits kills the namespace)')
  if (!path.isAbsolute(file)) throw new Error(`file must be absolute: ${file}`)
  const bin = holderBinaries()
  const holderArgv = libbsd
    ? [bin.bsdPidfile, file, ...(forkAfterLock ? ['--fork-after-lock'] : [])]
    : [bin.holder, kind, file, ...(forkAfterLock ? ['--fork-after-lock'] : []), ...(writePid ? ['--write-pid'] : [])]
  const argv = [...unshareArgv(levels), ...(pid1 ? [] : [bin.miniInit]), ...holderArgv]

  const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
  const entry = track(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (d: string) => { stderr += d })
  const innerPid = await withTimeout(new Promise<number>((resolve, reject) => {
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
  }), timeoutMs, `holder ${argv.join(' ')} to print ready`).catch(async (error) => {
    killTracked(entry)
    await withTimeout(entry.exited, 5000, 'holder launcher exit').catch(() => undefined)
    if (!(error instanceof HolderStartError)) (error as Error).message += `\nstdout so far: ${stdout}\nstderr so far: ${stderr}`
    throw error
  })

  // Find the holding process in our namespace: a descendant of the launcher whose NSpid has
  // levels + 1 columns and ends with the pid it printed.
  let hostPid: number | undefined
  if (levels === 0) {
    hostPid = innerPid
  } else {
    for (const pid of allPids()) {
      const ns = readNSpid(pid)
      if (ns.length === levels + 1 && ns[levels] === innerPid && isDescendant(pid, child.pid!)) {
        hostPid = pid
        break
      }
    }
  }
  const nspid = hostPid === undefined ? [] : readNSpid(hostPid)
  if (hostPid === undefined || nspid.length !== levels + 1 || nspid[levels] !== innerPid) {
    killTracked(entry)
    throw new Error(`holder printed ready ${innerPid} but no descendant of ${child.pid} has NSpid ending in it with ${levels + 1} columns`)
  }
  // pid 1 of each level, found up the parent chain; the mount namespace with that level's /proc is
  // its parent's (see NsTarget).
  const nsTargets: NsTarget[] = []
  for (let p: number | null = hostPid, i = 0; p && i < 64 && p !== child.pid; i++) {
    const ns = readNSpid(p)
    const parent = readPpid(p)
    if (ns.length >= 2 && ns[ns.length - 1] === 1 && parent) nsTargets[ns.length - 2] = {hostPid: p, mountPid: parent}
    p = parent
  }
  if (nsTargets.length !== levels || [...nsTargets].some((t) => t === undefined)) {
    killTracked(entry)
    throw new Error(`holder ${hostPid}: found namespace inits ${JSON.stringify(nsTargets)} for ${levels} levels`)
  }
  const holding = {pid: hostPid, start: startTime(hostPid)}
  entry.extra.push(holding)

  let stopping: Promise<void> | undefined
  const holder: Holder = {
    hostPid, nspid, innerPid, pidnsInode: pidnsInodeOf(hostPid), launcherPid: child.pid!, nsTargets, options: {...options},
    stop() {
      stopping ??= (async () => {
        // Kill the holder: the chain above it (mini-init, the unshares) then exits by itself and
        // every level is reaped by its parent. Kill the launcher too if that does not happen.
        if (alive(holding.pid, holding.start)) safeKill(holding.pid)
        await waitGone([holding], 5000)
        try {
          await withTimeout(entry.exited, 3000, 'launcher exit')
        } catch {
          killTracked(entry)
          await withTimeout(entry.exited, 5000, `launcher ${child.pid} exit after SIGKILL`)
        }
        tracked.delete(entry)
      })()
      return stopping
    },
  }
  entry.stop = holder.stop
  return holder
}

// ---------------------------------------------------------------------------------------------
// Running commands in namespaces

/** Run argv, collect output, kill it (by pid, or its own process group when `group`) on timeout. */
export async function run(argv: string[], options: RunOptions & {group?: boolean} = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const child = spawn(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe'], detached: Boolean(options.group), env: options.env ?? process.env})
  const entry = track(child, Boolean(options.group))
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  child.stdin!.on('error', () => undefined)
  child.stdin!.end(options.input ?? '')
  try {
    return await withTimeout(new Promise<RunResult>((resolve, reject) => {
      child.once('error', reject)
      // 'close' (not 'exit'): all output has been read.
      child.once('close', (status, signal) => resolve({stdout, stderr, status, signal}))
    }), timeoutMs, `${argv.join(' ')}`)
  } catch (error) {
    killTracked(entry)
    await withTimeout(entry.exited, 5000, `${argv[0]} exit after SIGKILL`).catch(() => undefined)
    throw Object.assign(error as Error, {stdout, stderr})
  } finally {
    tracked.delete(entry)
  }
}

/**
 * Run argv inside the PID namespace of `target.hostPid` and the mount namespace of `target.mountPid`
 * (default the same process), like `nsenter -t PID -p -m`: /proc is the one mounted for that
 * namespace, pids are numbered as processes there see them. A Holder is a valid target (its own
 * namespace); for the levels above it use `holder.nsTargets`. The working directory becomes "/".
 */
export function runIn(target: NsTarget, argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const mountPid = target.mountPid ?? target.hostPid
  // nsenter forks into the namespace; its child shares nsenter's new process group, which is what a
  // timeout kills.
  return run(['nsenter', `--pid=/proc/${target.hostPid}/ns/pid`, `--mount=/proc/${mountPid}/ns/mnt`, '--', ...argv],
    {...options, group: true})
}

/** Run argv as pid 1 of a fresh PID namespace (with its own /proc): a sibling of every holder's namespace. */
export function runInSiblingNs(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', '--', ...argv], options)
}

/**
 * argv for a Node.js one-off script that can load the addon anywhere: `ADDON` is defined as the
 * absolute path of build/nslocate.node and `args` as the extra arguments.
 *   runIn(h, nodeArgv(`const a = require(ADDON); ...; console.log(JSON.stringify(x))`, file))
 */
export function nodeArgv(script: string, ...args: string[]): string[] {
  const prelude = `const ADDON = ${JSON.stringify(ADDON_PATH)}; const args = process.argv.slice(1);\n`
  return [process.execPath, '-e', prelude + script, ...args]
}

/** JSON.parse the last line of stdout; throws with the whole result when the command failed. */
export function parseJsonResult<T = unknown>(r: RunResult): T {
  const last = r.stdout.trim().split('\n').pop() ?? ''
  if (r.status !== 0 || !last) {
    throw new Error(`command failed: status ${r.status} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  }
  return JSON.parse(last) as T
}

/** What lockProbeArgv prints. `type` is 'unlocked' | 'read' | 'write'; pids as the kernel reports them to the prober. */
export interface LockProbeResult {
  posix: {type: string; pid: number}
  ofd: {type: string; pid: number}
  /** The prober's own pid and pid namespace link ("pid:[4026532184]"), as seen where it ran. */
  self: number
  pidns: string
}

/**
 * argv of a Node.js probe that opens `file` O_RDONLY and prints one JSON line (LockProbeResult):
 * F_GETLK and F_OFD_GETLK straight from the addon (build/nslocate.node), no library code involved.
 * Run it with runIn()/runInSiblingNs()/run() and read it with parseJsonResult().
 */
export function lockProbeArgv(file: string): string[] {
  return nodeArgv(`
const a = require(ADDON), fs = require('fs')
const fd = fs.openSync(args[0], 'r')
const named = (r) => ({type: ['unlocked', 'read', 'write'][r.type], pid: r.pid})
console.log(JSON.stringify({posix: named(a.getlk(fd, false)), ofd: named(a.getlk(fd, true)),
  self: process.pid, pidns: fs.readlinkSync('/proc/self/ns/pid')}))`, file)
}

export interface ProcLock {
  /** POSIX | OFDLCK | FLOCK | ... */
  kind: string
  /** READ | WRITE */
  type: string
  /** As /proc/locks prints it: numbered in the namespace of the /proc mount (here: the test's), -1 for OFD. */
  pid: number
  line: string
}

/**
 * The /proc/locks lines (of the test's /proc) on `file`, waiters ("->") left out. proc(5), fs/locks.c:
 *   "1: FLOCK  ADVISORY  WRITE 6242 fe:00:2146516 0 EOF"  (device in hex)
 */
export function procLocks(file: string): ProcLock[] {
  const st = fs.statSync(file)
  const key = `${devString(st.dev)}:${st.ino}`
  return fs.readFileSync('/proc/locks', 'utf8').split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] !== '->' && f[5] === key)
    .map((f) => ({kind: f[1], type: f[3], pid: Number(f[4]), line: f.join(' ')}))
}

// ---------------------------------------------------------------------------------------------
// Evidence for failing namespace tests

/**
 * What the kernel shows about a lock and its holders, as text for a failure message:
 * the file's dev:inode and its /proc/locks lines (from the test's /proc), and for each process
 * (the holder, the chain above it up to the launcher, plus `pids`): NSpid, NStgid, PPid, ns/pid
 * link, and the fdinfo of every fd open on the file (the `lock:` lines).
 */
export function evidence(opts: {holder?: Holder; file?: string; pids?: number[]}): string {
  const out: string[] = []
  const file = opts.file ?? opts.holder?.options.file
  let dev: number | undefined
  let ino: number | undefined
  let key: string | undefined
  if (file) {
    try {
      const st = fs.statSync(file)
      dev = st.dev
      ino = st.ino
      key = `${devString(st.dev)}:${st.ino}`
      // /proc/locks prints MAJ:MIN:INODE with the device in hex (fs/locks.c lock_get_status).
      out.push(`file ${file}: ${devString(st.dev)}:${st.ino} (as /proc/locks writes it)`)
    } catch (error) {
      out.push(`file ${file}: ${(error as Error).message}`)
    }
  }
  try {
    const locks = fs.readFileSync('/proc/locks', 'utf8').trim().split('\n')
    const mine = key === undefined ? locks : locks.filter((l) => l.split(/\s+/).includes(key!))
    out.push(`/proc/locks (${locks.length} lines, ${key === undefined ? 'all' : 'those on ' + key}):`, ...mine.map((l) => '  ' + l))
  } catch (error) {
    out.push(`/proc/locks: ${(error as Error).message}`)
  }
  const pids = new Set<number>(opts.pids ?? [])
  if (opts.holder) {
    for (let p: number | null = opts.holder.hostPid, i = 0; p && i < 16; i++) {
      pids.add(p)
      if (p === opts.holder.launcherPid) break
      p = readPpid(p)
    }
  }
  for (const pid of pids) {
    const s = readStatus(pid)
    if (!s) {
      out.push(`pid ${pid}: gone`)
      continue
    }
    let link = '?'
    try { link = fs.readlinkSync(`/proc/${pid}/ns/pid`) } catch { /* permission or gone */ }
    out.push(`pid ${pid} (${s.Name}, ${s.State}) PPid ${s.PPid} NSpid ${s.NSpid} NStgid ${s.NStgid} ns ${link}`)
    let fds: string[] = []
    try { fds = fs.readdirSync(`/proc/${pid}/fd`) } catch { /* gone */ }
    for (const fd of fds) {
      try {
        const st = fs.statSync(`/proc/${pid}/fd/${fd}`)
        if (ino === undefined || st.ino !== ino || st.dev !== dev) continue
        const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').trim().split('\n')
        out.push(`  fd ${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`, ...info.map((l) => '    ' + l))
      } catch { /* closed meanwhile */ }
    }
  }
  return out.join('\n')
}

function devString(dev: number): string {
  // st_dev is glibc's makedev() encoding; /proc/locks prints MAJ:MIN in hex (fs/locks.c, lock_get_status).
  const d = BigInt(dev)
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn)
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`
}

/**
 * Run `fn`; if it throws (an assertion failed), append `describe()` to the error message and rethrow.
 *   await withEvidence(() => expect(probe).toEqual({type: 'write', pid: h.hostPid}), () => evidence({holder: h}))
 */
export async function withEvidence<T>(fn: () => T | Promise<T>, describe: () => string | Promise<string>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    let text: string
    try { text = await describe() } catch (e) { text = `(collecting evidence failed: ${(e as Error).message})` }
    const e = error as Error
    const extra = `\n\n--- evidence ---\n${text}\n`
    if (e && typeof e === 'object') e.message += extra
    throw error
  }
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Reject with "timed out after N ms waiting for WHAT" unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}
