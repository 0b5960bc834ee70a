/**
 * Running commands, in the test's namespaces or in others':
 *   await run(['cat', '/proc/locks'])
 *   await runIn(h, nodeArgv(`...`))                  // inside a holder's PID + mount namespaces
 *   await runInSiblingNs(['cat', '/proc/locks'])      // in a fresh, unrelated PID namespace
 *   parseJsonResult<LockProbeResult>(await run(lockProbeArgv(file)))
 * Every command is tracked (tracked.ts) and killed by pid on timeout.
 */
import {spawn} from 'node:child_process'

import {ADDON_PATH} from './paths'
import {killTracked, track, untrack} from './tracked'
import {withTimeout} from './timing'

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

/** argv prefix: the command gets SIGKILL when the process that spawned it dies (PR_SET_PDEATHSIG, kept across exec). */
export const DIE_WITH_PARENT = ['setpriv', '--pdeathsig', 'KILL', '--']

/** Run argv, collect output, kill it (by pid, or its own process group when `group`) on timeout. */
export async function run(argv: string[], options: RunOptions & {group?: boolean} = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const child = spawn(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe'], detached: Boolean(options.group), env: options.env ?? process.env})
  const entry = track(child, Boolean(options.group))
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  child.stdin!.on('error', () => undefined)
  child.stdin!.end(options.input ?? '')
  try {
    return await withTimeout(
      new Promise<RunResult>((resolve, reject) => {
        child.once('error', reject)
        // 'close' (not 'exit'): all output has been read.
        child.once('close', (status, signal) => resolve({stdout, stderr, status, signal}))
      }),
      timeoutMs,
      `${argv.join(' ')}`,
    )
  } catch (error) {
    killTracked(entry)
    await withTimeout(entry.exited, 5000, `${argv[0]} exit after SIGKILL`).catch(() => undefined)
    throw Object.assign(error as Error, {stdout, stderr})
  } finally {
    untrack(entry)
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
  // timeout kills. Should the test process die instead, PR_SET_PDEATHSIG (setpriv --pdeathsig, kept
  // across exec) takes down nsenter with it, and the command inside with nsenter.
  const nsenter = ['nsenter', `--pid=/proc/${target.hostPid}/ns/pid`, `--mount=/proc/${mountPid}/ns/mnt`, '--']
  return run([...DIE_WITH_PARENT, ...nsenter, ...DIE_WITH_PARENT, ...argv], {...options, group: true})
}

/**
 * Run argv as pid 1 of a fresh PID namespace (with its own /proc): a sibling of every holder's
 * namespace. The namespace dies with its starter: unshare dies with the test process
 * (DIE_WITH_PARENT), and `--kill-child` makes the kernel SIGKILL the namespace's init, and with it
 * the whole namespace, when unshare dies.
 */
export function runInSiblingNs(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  return run([...DIE_WITH_PARENT, 'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', '--', ...argv], options)
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
  return nodeArgv(
    `
const a = require(ADDON), fs = require('fs')
const fd = fs.openSync(args[0], 'r')
const named = (r) => ({type: ['unlocked', 'read', 'write'][r.type], pid: r.pid})
console.log(JSON.stringify({posix: named(a.getlk(fd, false)), ofd: named(a.getlk(fd, true)),
  self: process.pid, pidns: fs.readlinkSync('/proc/self/ns/pid')}))`,
    file,
  )
}
