/**
 * Everything a test starts, tracked so it can be cleaned up by pid: spawnTracked() children, run()
 * commands, holders (lock-holders.ts), victims (victims.ts), and tempDir()s. Call stopAll() in
 * afterAll. If a test file forgets, process 'exit' listeners SIGKILL what is still tracked and
 * remove the temp dirs, and the suite's leak check (test/helpers/leak-check.js, run by
 * scripts/test.js) fails the run on anything left over.
 */
import {ChildProcess, SpawnOptions, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {alive} from './proc'
import {sleep, withTimeout} from './timing'

/** A process and its start time (/proc/PID/stat field 22), so a reused pid is never killed. */
export interface ProcessId {
  pid: number
  start: number | null
}

export interface Tracked {
  child: ChildProcess
  exited: Promise<void>
  /** Pids (other than child.pid) to SIGKILL on clean-up. */
  extra: ProcessId[]
  /** Kill the whole process group (runIn: nsenter's forked child is in it). */
  group: boolean
  /** Graceful stop (holders: kill the holder, let the chain above it exit and be reaped). */
  stop?: () => Promise<void>
}

const tracked = new Set<Tracked>()
const tempDirs = new Set<string>()

/** Remove the tempDir()s (synchronously: also run on process exit for files that never call stopAll()). */
function removeTempDirs(): void {
  for (const dir of tempDirs) fs.rmSync(dir, {recursive: true, force: true})
  tempDirs.clear()
  process.removeListener('exit', removeTempDirs)
}

// Last resort if a test file forgets stopAll(): synchronous SIGKILL when the test process exits.
// Registered while something is tracked only, so many test files do not pile up listeners.
const onExit = (): void => {
  for (const e of tracked) killTracked(e)
}
let listening = false

/** Track a spawned child until it exits (and its `extra` pids are gone). */
export function track(child: ChildProcess, group = false): Tracked {
  if (!listening) {
    process.once('exit', onExit)
    listening = true
  }
  const entry: Tracked = {
    child,
    extra: [],
    group,
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

/** Stop tracking (the entry's processes are known to be gone). */
export function untrack(entry: Tracked): void {
  tracked.delete(entry)
}

/** SIGKILL the entry's extra pids (if still the same processes) and its child (or its group). */
export function killTracked(entry: Tracked): void {
  for (const {pid, start} of entry.extra) if (alive(pid, start)) safeKill(pid)
  const pid = entry.child.pid
  if (pid !== undefined && entry.child.exitCode === null && entry.child.signalCode === null) {
    safeKill(entry.group ? -pid : pid)
  }
}

export function safeKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // ESRCH: already gone
  }
}

/** Resolve once none of `procs` is alive; reject naming the survivors after `timeoutMs`. */
export async function waitGone(procs: ProcessId[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (procs.some(({pid, start}) => alive(pid, start))) {
    if (Date.now() > deadline) {
      throw new Error(
        `still alive after ${timeoutMs} ms: ${procs
          .filter(({pid, start}) => alive(pid, start))
          .map((p) => p.pid)
          .join(' ')}`,
      )
    }
    await sleep(5)
  }
}

async function stopOne(e: Tracked, timeoutMs: number): Promise<void> {
  if (e.stop) {
    await e.stop()
  } else {
    killTracked(e)
    await e.exited
  }
  await waitGone(e.extra, timeoutMs)
}

/**
 * Stop every process this module tracks and wait for them: holders through their stop(), the rest
 * by SIGKILL to their pid (runIn: to the process group it was given). Then remove the tempDir()s.
 * Rejects (after trying everything) if something is still alive after `timeoutMs`.
 */
export async function stopAll(timeoutMs = 10_000): Promise<void> {
  const entries = [...tracked]
  // Holders gracefully: killing a launcher (the outer unshare) before the chain below it has
  // exited would orphan the namespace inits, leaving them to be reaped by whatever pid 1 is.
  const results = await Promise.allSettled(entries.map((e) => withTimeout(stopOne(e, timeoutMs), timeoutMs, `stopAll: process ${e.child.pid}`)))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
  for (const e of entries) tracked.delete(e)
  removeTempDirs()
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

/** A fresh directory under os.tmpdir(), removed by stopAll(), or when the test process exits. */
export function tempDir(prefix = 'nslocate-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (tempDirs.size === 0) process.once('exit', removeTempDirs)
  tempDirs.add(dir)
  return dir
}
