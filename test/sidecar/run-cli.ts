/** The built CLI as a long-running subprocess: its pid, its output so far, and whether it holds a pidfd yet. */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'

import {BIN, CliResult, ROOT, track} from '../helpers/cli'

export interface RunningCli {
  child: ChildProcess
  pid: number
  stdout(): string
  stderr(): string
  /** resolves when it exits */
  result: Promise<CliResult>
  /** true once it has a pidfd open (it has pinned a process) */
  holdsPidfd(): boolean
}

/** `prefix`: argv put before node (e.g. an unshare chain); then `pid` is the prefix's. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): RunningCli {
  const argv = [...prefix, process.execPath, BIN, ...args]
  const child = track(spawn(argv[0], argv.slice(1), {cwd: ROOT, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']}))
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const result = new Promise<CliResult>((resolve) => child.on('close', (status, signal) => resolve({status, signal, stdout: out, stderr: err})))
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    result,
    holdsPidfd: () => {
      try {
        return fs.readdirSync(`/proc/${child.pid}/fd`).some((fd) => {
          try {
            return /pidfd/.test(fs.readlinkSync(`/proc/${child.pid}/fd/${fd}`))
          } catch {
            return false
          }
        })
      } catch {
        return false
      }
    },
  }
}

/** The JSON lines a long-running command (reload, serve) printed so far. */
export function events(r: RunningCli): Array<Record<string, any>> {
  return r
    .stdout()
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l)
      } catch {
        return {event: 'not-json', line: l}
      }
    })
}

/** Resolves with the first event matching pred; rejects with everything printed after timeoutMs. */
export async function nextEvent(r: RunningCli, pred: (e: Record<string, any>) => boolean, timeoutMs = 15000, after = 0): Promise<Record<string, any>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const hit = events(r).slice(after).find(pred)
    if (hit) return hit
    if (Date.now() > end || r.child.exitCode !== null)
      throw new Error(`no matching event after ${timeoutMs} ms (exit ${r.child.exitCode}).\nstdout:\n${r.stdout()}\nstderr:\n${r.stderr()}`)
    await new Promise((res) => setTimeout(res, 20))
  }
}

/** SIGTERM, then the result (it must stop by itself within timeoutMs). */
export async function stopCli(r: RunningCli, timeoutMs = 10000) {
  if (r.child.exitCode === null) r.child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const res = await Promise.race([
    r.result,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not stop within ${timeoutMs} ms after SIGTERM`)), timeoutMs))),
  ])
  clearTimeout(timer)
  return res
}
