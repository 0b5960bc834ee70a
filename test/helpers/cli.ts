/** Run the built CLI (bin/run.js -> dist/) as a subprocess, as users do. `npm test` builds first. */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT} from './paths'
import {alive, statusOf} from './proc'
import {tempDir} from './tracked'

export {ROOT}
export const BIN = path.join(ROOT, 'bin', 'run.js')

export interface CliResult {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export function cli(args: string[], opts: {env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string} = {}): Promise<CliResult> {
  return runCollect([process.execPath, BIN, ...args], {...opts, what: `nslocate ${args.join(' ')}`})
}

/** Run argv (e.g. the CLI behind a user switch) to its end and collect its output; rejects after timeoutMs (SIGKILL). */
export function runCollect(argv: string[], opts: {env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; what?: string} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {env: {...process.env, ...opts.env}, cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${opts.what ?? argv.join(' ')} did not finish in ${opts.timeoutMs ?? 20000} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, opts.timeoutMs ?? 20000)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({status, signal, stdout, stderr})
    })
  })
}

/** The JSON a CLI run printed on stdout (with its status and output in the error when it is not JSON). */
export function jsonOf(r: CliResult): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

export async function cliJson<T = any>(args: string[], opts: Parameters<typeof cli>[1] = {}): Promise<{status: number | null; json: T; stderr: string}> {
  const r = await cli([...args, '--json'], opts)
  let json: T
  try {
    json = JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON from nslocate ${args.join(' ')} (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
  return {status: r.status, json, stderr: r.stderr}
}

/** A fresh directory under os.tmpdir(), removed by stopAll() or when the test process exits (tracked.ts tempDir). */
export function tmpdir(prefix = 'nslocate-test-'): string {
  return tempDir(prefix)
}

/** Processes started by tests, killed by pid in afterAll even when a test fails. */
const started = new Set<ChildProcess>()
const groups = new WeakSet<ChildProcess>()

/** Track a child for killTracked(); `group`: it was spawned detached, kill its whole process group. */
export function track<T extends ChildProcess>(child: T, opts: {group?: boolean} = {}): T {
  started.add(child)
  if (opts.group) groups.add(child)
  child.once('exit', () => started.delete(child))
  return child
}

/** SIGKILL every tracked child (and, for detached ones, its process group) and wait for them to exit. */
export async function killTracked(): Promise<void> {
  const waits: Array<Promise<unknown>> = []
  for (const c of started) {
    if (c.exitCode !== null || c.signalCode !== null) continue
    waits.push(new Promise((resolve) => c.once('exit', resolve)))
    try {
      if (groups.has(c)) process.kill(-c.pid!, 'SIGKILL')
      else c.kill('SIGKILL')
    } catch {}
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([Promise.all(waits), new Promise((r) => (timer = setTimeout(r, 5000)))])
  clearTimeout(timer)
  started.clear()
}

/** Wait until predicate() is true, polling every 10 ms; throws with `what` after timeoutMs. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** The process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  return alive(pid, null)
}

/** Evidence to print when a namespace assertion fails. */
export function dumpEvidence(pids: number[] = []): string {
  const out = ['/proc/locks:', safeRead('/proc/locks')]
  for (const pid of pids) out.push(`/proc/${pid}/status NSpid: ${statusOf(pid)?.nspid.join('\t') ?? '?'}`)
  return out.join('\n')
}

function safeRead(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8')
  } catch (error) {
    return `(${(error as Error).message})`
  }
}

export function sh(cmd: string): string {
  return spawnSync('bash', ['-c', cmd], {encoding: 'utf8'}).stdout
}

/**
 * The first line `child` prints on stdout (a service's "ready", serve's listen event); rejects, with
 * what it printed on stdout and stderr, when it exits first.
 */
export function firstLine(child: ChildProcess, what = child.spawnargs.join(' ')): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
    })
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before printing a line: ${out}${err}`)))
  })
}
