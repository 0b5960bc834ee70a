/** Shared by the run-*.test.ts files of the safety tier: supervisors started the way users start them, and what /proc says. */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'

import {BIN, track, until} from '../helpers/cli'

/** `nslocate run ARGS...` in the background, in its own process group (killTracked() reaches its child too). */
export function runInBackground(args: string[], opts: {env?: NodeJS.ProcessEnv} = {}): ChildProcess {
  return track(spawn(process.execPath, [BIN, 'run', ...args], {stdio: 'ignore', detached: true, env: {...process.env, ...opts.env}}), {group: true})
}

export async function pidIn(file: string): Promise<number> {
  await until(() => fs.existsSync(file) && /^[0-9]+$/.test(fs.readFileSync(file, 'utf8')), `${file} to hold a pid`)
  return Number(fs.readFileSync(file, 'utf8'))
}

export function exitOf(child: ChildProcess): Promise<{code: number | null; signal: string | null}> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({code: child.exitCode, signal: child.signalCode})
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
}

/** Live (not zombie) processes whose command line contains `token`. */
export function processesWith(token: string): number[] {
  const out: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8')
      if (!cmdline.includes(token)) continue
      if (/\) [ZX] /.test(fs.readFileSync(`/proc/${name}/stat`, 'utf8'))) continue
      out.push(Number(name))
    } catch {}
  }
  return out
}

/** SIGKILL a pid we started ourselves (a reparented service), and wait until it is gone. */
export async function killPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    return
  }
  const dead = () => {
    try {
      return /\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      return true // reaped (by its parent, or by run as the service's subreaper) between two looks
    }
  }
  await until(dead, `pid ${pid} to die`)
}

/**
 * Wait until `pid` runs `comm` (run's child has passed its gate and executed the program; before
 * that it is a copy of node waiting to be let go) and catches signal `caught` (its handlers are in).
 */
export async function untilRunning(pid: number, comm: string, caught = 0): Promise<void> {
  await until(() => {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
      if (/^Name:\s*(.*)$/m.exec(status)?.[1] !== comm) return false
      if (!caught) return true
      const m = /^SigCgt:\s*([0-9a-f]+)/m.exec(status)
      return Boolean(m && (BigInt(`0x${m[1]}`) >> BigInt(caught - 1)) & 1n)
    } catch {
      return false
    }
  }, `pid ${pid} to run ${comm}`)
}

/**
 * Does `pid` have `file` open (a link in /proc/PID/fd to it)? For run: it opens the pidfile in
 * acquire(), after its early signal handling is in place, so a signal sent from then on is one it
 * handles (a fixed sleep can end before a loaded machine has started it that far).
 */
export function holdsOpen(pid: number, file: string): boolean {
  let fds: string[]
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false // gone
  }
  return fds.some((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file
    } catch {
      return false // closed while listed
    }
  })
}

/** Unmount a test's tmpfs; lazily when something (a failing old build) still holds a file open in it. */
export function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir])
}
