/**
 * Victims that record every signal they receive, with its sender (fixtures/victims/siglog.c), so a
 * test asserts what a process actually received. Started through tracked.ts's spawnTracked(), so
 * stopAll() cleans them up by pid.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {compileFixture} from './compile'
import {settled} from './timing'
import {spawnTracked, tempDir} from './tracked'

/** Compile siglog into build/test-holders/ when missing or older than its source. */
export function siglogBinary(): string {
  return compileFixture('siglog', 'victims/siglog.c')
}

export interface Received {
  /** receiver's own pid (in its namespace) */
  pid: number
  signo: number
  /** sender's pid in the receiver's namespace (0: sender outside it) */
  from: number
  uid: number
  code: number
}

export interface Victim {
  /** pid in our namespace (of the process we spawned; with a prefix such as unshare, see `ready`) */
  pid: number
  /** pids the victim printed: its own, then its children (as numbered in its own namespace) */
  ready: number[]
  log: string
  received(): Received[]
  /** resolves with the exit (code, signal) */
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
}

export interface VictimOptions {
  exitOn?: string[]
  ignore?: string[]
  default?: string[]
  children?: number
  pidfile?: string
  /** argv put before siglog (e.g. ['setpriv', '--reuid=...', '--'] or an unshare chain) */
  prefix?: string[]
  /** where the log goes (default: a fresh tempDir()); must be writable by the victim */
  log?: string
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

/** Start a victim and resolve once it printed "ready". */
export function spawnVictim(opts: VictimOptions = {}): Promise<Victim> {
  const log = opts.log ?? path.join(tempDir('nslocate-victim-'), 'signals.log')
  const argv = [...(opts.prefix ?? []), siglogBinary(), log]
  for (const s of opts.exitOn ?? []) argv.push('--exit-on', s)
  for (const s of opts.ignore ?? []) argv.push('--ignore', s)
  for (const s of opts.default ?? []) argv.push('--default', s)
  if (opts.children) argv.push('--children', String(opts.children))
  if (opts.pidfile) argv.push('--pidfile', opts.pidfile)
  const child = spawnTracked(argv, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...opts.env}})
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`siglog did not get ready in ${opts.timeoutMs ?? 10000} ms: ${err}`)), opts.timeoutMs ?? 10000)
    child.stderr!.on('data', (d) => (err += d))
    child.stdout!.on('data', (d) => {
      out += d
      const m = /^ready ([\d ]+)\n/m.exec(out)
      if (!m) return
      clearTimeout(timer)
      resolve({pid: child.pid!, ready: m[1].trim().split(' ').map(Number), log, received: () => readLog(log), exited})
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (!/^ready /m.test(out)) reject(new Error(`siglog exited (${code ?? signal}) before ready: ${err}`))
    })
  })
}

export function readLog(log: string): Received[] {
  let text: string
  try {
    text = fs.readFileSync(log, 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pid, signo, from, uid, code] = l.split(' ').map(Number)
      return {pid, signo, from, uid, code}
    })
}

/**
 * What a victim (or the log at a path) received, once it logged at least `count` signals (polled:
 * a signalled process runs when the scheduler lets it), read again `settleMs` later so that a
 * signal that must not come has had the time to show as well (timing.ts settled()).
 */
export function receivedSettled(from: string | {received(): Received[]}, count: number, settleMs = 200): Promise<Received[]> {
  const read = typeof from === 'string' ? () => readLog(from) : () => from.received()
  return settled(read, (l) => l.length >= count, {settleMs})
}
