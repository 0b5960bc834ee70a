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

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = track(spawn(process.execPath, [BIN, ...args], {cwd: ROOT, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']}))
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const result = new Promise<CliResult>((resolve) => child.on('close', (status, signal) => resolve({status, signal, stdout: out, stderr: err})))
  return {
    child, pid: child.pid!, stdout: () => out, stderr: () => err, result,
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
