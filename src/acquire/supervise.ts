/**
 * `nslocate run`'s supervisor (docs/architecture.md, "Writing a pidfile", "run's child"):
 * start COMMAND held before execve(2), write its pid, only then let it run; forward signals to it
 * through a pidfd; release the pidfile when it exits. Resolves to run's exit status.
 *
 * Why the gate: the pid must be in the file before the program runs, so that a pidfile that
 * cannot be written (a full disk) leaves nothing running and nothing half-written. The child is
 * forked by the native addon and waits on a pipe; if the write fails the pipe is closed and the
 * child _exits(125) without ever executing COMMAND.
 *
 * Why the child inherits the locked descriptor (handle.lockFd, a READ-ONLY open file description: a
 * service that drops privilege must not be able to write root's pidfile through what it inherited;
 * the read-write one stays close-on-exec here): the flock(2) lock belongs to the open file
 * description, so it stays held as long as either the supervisor or the service (or a process
 * that inherited it from the service) keeps a copy. A SIGKILLed supervisor then leaves the service
 * running *with* its pidfile locked: find names it, and a second `run` conflicts instead of
 * starting a duplicate (the POSIX lock, which belongs to the supervisor process, is gone with it).
 *
 * When COMMAND exits while processes it started still share that description (it daemonized:
 * `sh -c 'svc &'`, a double fork), run follows them (follow.ts): the pidfile stays, locked, naming
 * the one left, signals go to it, and run exits with COMMAND's status once none is left. (When a
 * signal killed COMMAND, the file keeps naming it and run keeps holding it until they are gone.)
 */
import fs = require('node:fs')
import {constants, endianness} from 'node:os'
import {getSystemErrorMap} from 'node:util'

import {pidfdOpen, pidfdSendSignal, reapChild, spawnGated, waitPidfd} from '../native/binding'
import {proc} from '../proc/proc-fs'
import {followInheritors} from './follow'
import {PidfileHandle} from './handle'
import {RUN_STATUS, RunFailure} from './run-status'

export const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const

/** Run `file` with `argv` (argv[0] as the user gave it) under `handle`. Throws RunFailure for run's own failures. */
export async function supervise(handle: PidfileHandle, file: string, argv: string[]): Promise<number> {
  // Forwarding is installed before the child exists: a signal that arrives before the program runs
  // is kept and sent once execve succeeded, never lost and never the supervisor's death.
  const pending: number[] = []
  let pidfd = -1
  let running = false
  // While following what a daemonizing COMMAND left (follow.ts): the pidfd of the process the file names.
  let following = false
  let followed = -1
  const handlers = new Map<string, () => void>()
  for (const sig of FORWARDED) {
    const signo = (constants.signals as Record<string, number>)[sig]
    const h = () => {
      if (following) {
        if (followed < 0) return void pending.push(signo)
        try {
          pidfdSendSignal(followed, signo)
        } catch {} // it has exited: the next one found is named (and signalled) next
        return
      }
      if (!running) return void pending.push(signo)
      try {
        pidfdSendSignal(pidfd, signo)
      } catch {} // it has exited: the exit is being handled
    }
    handlers.set(sig, h)
    process.on(sig, h)
  }
  const cleanup = () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h)
    handle.release()
    if (pidfd >= 0) fs.closeSync(pidfd)
  }
  let child
  try {
    child = spawnGated(file, argv, envp(), handle.lockFd)
  } catch (error) {
    cleanup()
    throw new RunFailure(RUN_STATUS.FAILED, `cannot start ${argv[0]}: ${(error as Error).message}; nothing was started`)
  }
  let gateOpen = true
  const closeGate = () => {
    if (gateOpen) fs.closeSync(child.gateFd)
    gateOpen = false
  }
  // COMMAND's start time: what it leaves behind started no earlier (follow.ts)
  let since = 0
  try {
    since = proc.readStat(child.pid).starttime
  } catch {}
  try {
    try {
      pidfd = pidfdOpen(child.pid)
    } catch (error) {
      throw new Error(`cannot open a pidfd for the child ${child.pid} (${(error as Error).message}); nslocate needs Linux 5.3 or later`)
    }
    handle.write(child.pid)
  } catch (error) {
    // The child is still before execve: closing the gate makes it _exit(125) having run nothing.
    closeGate()
    fs.closeSync(child.errFd)
    await reap(child.pid, pidfd)
    cleanup()
    throw new RunFailure(RUN_STATUS.FAILED, `${(error as Error).message}; ${argv[0]} was not started`)
  }
  try {
    fs.writeSync(child.gateFd, 'g')
  } catch {} // EPIPE: it was killed meanwhile; its exit status says so
  closeGate()
  const execErrno = await readExecResult(child.errFd)
  if (execErrno !== null) {
    await reap(child.pid, pidfd)
    cleanup()
    const [code, text] = getSystemErrorMap().get(-execErrno) ?? [`errno ${execErrno}`, 'error']
    throw new RunFailure(code === 'ENOENT' ? RUN_STATUS.NOT_FOUND : RUN_STATUS.CANNOT_EXECUTE, `cannot start ${argv[0]}: ${text} (${code})`)
  }
  running = true
  for (const signo of pending.splice(0)) {
    try {
      pidfdSendSignal(pidfd, signo)
    } catch {}
  }
  let killed = false
  const status = await reap(child.pid, pidfd, (signal) => (killed = signal > 0))
  running = false
  // COMMAND has exited. If processes it started still hold the pidfile's lock (it daemonized), the
  // file stays, locked and naming the one left, until none is left (follow.ts). If a signal killed
  // it, what it left are stragglers, not a daemon: the file stays as it is, held, until they are gone.
  following = true
  try {
    await followInheritors(handle, since, !killed, (fd) => {
      followed = fd
      if (fd < 0) return
      for (const signo of pending.splice(0)) {
        try {
          pidfdSendSignal(fd, signo)
        } catch {}
      }
    })
  } catch {} // looking for them failed: the file is released as before
  following = false
  cleanup()
  return status
}

function envp(): string[] {
  return Object.entries(process.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)
}

/** null once execve succeeded (EOF on the close-on-exec pipe), else the errno it failed with. */
function readExecResult(fd: number): Promise<number | null> {
  const buf = Buffer.alloc(4)
  return new Promise((resolve) => {
    let got = 0
    const next = () => fs.read(fd, buf, got, 4 - got, null, (error, n) => {
      if (!error && n > 0 && (got += n) < 4) return next()
      fs.closeSync(fd)
      resolve(!error && got === 4 ? (endianness() === 'LE' ? buf.readInt32LE(0) : buf.readInt32BE(0)) : null)
    })
    next()
  })
}

/** Wait for the child to exit (pidfd readable), reap it, and give its status as a shell would. */
async function reap(pid: number, pidfd: number, how?: (signal: number) => void): Promise<number> {
  if (pidfd >= 0) await waitPidfd(pidfd)
  for (;;) {
    const r = reapChild(pid)
    how?.(r && r.code < 0 ? r.signal : 0)
    if (r) return r.code >= 0 ? r.code : 128 + r.signal
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
