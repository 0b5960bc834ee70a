/**
 * `nslocate run`'s supervisor (docs/architecture.md, "Writing a pidfile", "run's child"):
 * start COMMAND held before execve(2), write its pid, only then let it run; forward signals to it
 * through a pidfd (forward.ts); release the pidfile when it exits. Resolves to COMMAND's exit status
 * (N, or 128+N when signal N killed it).
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
import {endianness} from 'node:os'
import {getSystemErrorMap} from 'node:util'

import {NslocateError, OptionNamer, factOf} from '../errors'
import {forcedOff} from '../kernel/pidfs'
import type {CgroupMode} from '../cgroup/service'
import {pidfdOpen, reapChild, setChildSubreaper, spawnGated, waitPidfd} from '../native/binding'
import {proc} from '../proc/proc-fs'
import {followInheritors, nothingBornSince} from './follow'
import {Reaper, followCgroup} from './follow-cgroup'
import {Forwarder} from './forward'
import {PidfileHandle} from './handle'
import {RunFailure} from './run-status'
import {detachCgroup, enterCgroup} from './service-cgroup'

export {FORWARDED} from './forward'

type Child = ReturnType<typeof spawnGated>

/** How the service's cgroup is used (run's --cgroup, --daemon-pidfile). */
export interface SuperviseOptions {
  /** the service NAME (for messages) */
  name: string
  /** what to do when COMMAND cannot be moved into handle.cgroup: 'required' fails */
  cgroupMode: CgroupMode
  /** the pidfile a daemonizing COMMAND's daemon writes (absolute): the main process once it names one in the cgroup */
  daemonPidfile?: string
}

/**
 * Run `file` with `argv` (argv[0] as the user gave it) under `handle`. Throws RunFailure for run's
 * own failures. `onWritten` is called once the pid (and its identity record: handle.recorded) is in
 * the file, before COMMAND runs: what it prints comes before anything COMMAND prints. With a
 * cgroup (handle.cgroup, made by attachCgroup), COMMAND is moved into it while held at the gate,
 * and run lasts until the cgroup is empty (follow-cgroup.ts).
 */
export async function supervise(handle: PidfileHandle, file: string, argv: string[], onWritten?: () => void, opts?: SuperviseOptions): Promise<number> {
  const forward = new Forwarder().install()
  // As the service's child subreaper, run reaps what COMMAND leaves orphaned (follow-cgroup.ts).
  let reaper: Reaper | null = null
  if (handle.cgroup) {
    try {
      setChildSubreaper()
    } catch {} // without it a daemon's status is not known (it is init's child); the cgroup still holds the service
    reaper = new Reaper(null)
  }
  const release = async () => {
    reaper?.stop()
    forward.uninstall()
    await detachCgroup(handle).catch(() => {})
    handle.release()
  }
  let child: Child
  let pidfd: number
  try {
    // Born in the service's cgroup where the kernel allows (clone3 CLONE_INTO_CGROUP), else moved
    // into it while held at the gate: either way before it executes anything.
    const cgFd = cgroupFd(handle)
    try {
      child = spawnGated(file, argv, envp(), handle.lockFd, cgFd)
    } catch (error) {
      throw new RunFailure('failed', `cannot start ${argv[0]}: ${(error as Error).message}; nothing was started`)
    } finally {
      if (cgFd >= 0) fs.closeSync(cgFd)
    }
    if (reaper) reaper.keep = child.pid
    reaper?.start()
    const enter = () => opts && !child.inCgroup && enterCgroup(handle, opts.name, child.pid, opts.cgroupMode)
    pidfd = await startGated(child, handle, argv, onWritten, enter)
  } catch (error) {
    await release()
    throw error
  }
  // COMMAND's start time: what it leaves behind started no earlier (follow.ts)
  const since = startTime(child.pid)
  forward.aim(pidfd)
  let killed = false
  let status = await reap(child.pid, pidfd, (signal) => (killed = signal > 0))
  if (reaper) reaper.keep = null
  // COMMAND has exited. With a cgroup, the service is whatever is left in it (follow-cgroup.ts).
  // Without, if processes it started still hold the pidfile's lock (it daemonized), the file stays,
  // locked and naming the one left, until none is left (follow.ts). If a signal killed it, what it
  // left are stragglers, not a daemon: the file stays as it is, held, until they are gone.
  forward.aim(-1)
  try {
    if (handle.cgroup && reaper) {
      // The file names the main process left whether COMMAND exited or was killed: with a cgroup the
      // service is whatever is in it. Only the status differs: 128+N when a signal killed COMMAND.
      const daemon = await followCgroup(handle, handle.cgroup, {daemonPidfile: opts?.daemonPidfile, onTarget: (fd) => forward.aim(fd), reaper})
      // COMMAND's own failure (non-zero) is run's status: the start failed, whatever it left running.
      if (daemon !== null && !killed && status === 0) status = daemon
    } else if (!nothingBornSince(child.pid)) await followInheritors(handle, since, !killed, (fd) => forward.aim(fd))
  } catch {} // looking for them failed: the file is released as before
  await release()
  fs.closeSync(pidfd)
  return status
}

/** An open descriptor of the handle's cgroup directory (the very one made: its inode, its owner this user), or -1. */
function cgroupFd(handle: PidfileHandle): number {
  const cg = handle.cgroup
  // NSLOCATE_FORCE_FALLBACK=clone-into-cgroup: as before Linux 5.7 (fork, then the cgroup.procs write)
  if (!cg || forcedOff('clone-into-cgroup')) return -1
  try {
    const fd = fs.openSync(cg.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
    const st = fs.fstatSync(fd)
    if (st.ino === cg.ino && st.uid === (process.geteuid?.() ?? 0)) return fd
    fs.closeSync(fd)
  } catch {}
  return -1
}

function startTime(pid: number): number {
  try {
    return proc.readStat(pid).starttime
  } catch {
    return 0
  }
}

/**
 * Opens a pidfd on the child (still held before execve), writes its pid (the identity recorded is
 * the pidfd's: the very process forked, whatever holds its pid later), then lets it run. Resolves
 * to the pidfd once execve succeeded; else the child is reaped (having run nothing) and RunFailure thrown.
 */
async function startGated(child: Child, handle: PidfileHandle, argv: string[], onWritten?: () => void, enter?: () => void): Promise<number> {
  let pidfd = -1
  let refused: unknown = null
  try {
    // Into the service's cgroup first, while it runs nothing: all it will ever start is born there.
    try {
      enter?.()
    } catch (error) {
      // --cgroup=required: run's own error, given as it is (the held child exits below, having run nothing)
      refused = error
      throw error
    }
    try {
      pidfd = pidfdOpen(child.pid)
    } catch (error) {
      throw new NslocateError(
        'UNSUPPORTED',
        `cannot open a pidfd for the child ${child.pid} (${(error as Error).message}); nslocate needs Linux 5.3 or later`,
        {
          cause: error,
        },
      )
    }
    handle.write(child.pid, {pidfd})
  } catch (error) {
    // The child is still before execve: closing the gate makes it _exit(125) having run nothing.
    fs.closeSync(child.gateFd)
    fs.closeSync(child.errFd)
    await reapAndClose(child.pid, pidfd)
    if (refused instanceof NslocateError) throw refused
    if (error instanceof NslocateError) throw notStarted(error, argv[0])
    throw new RunFailure('failed', `${(error as Error).message}; ${argv[0]} was not started`)
  }
  try {
    onWritten?.()
  } catch {} // a report that cannot be printed does not stop the service
  try {
    fs.writeSync(child.gateFd, 'g')
  } catch {} // EPIPE: it was killed meanwhile; its exit status says so
  fs.closeSync(child.gateFd)
  const execErrno = await readExecResult(child.errFd)
  if (execErrno !== null) {
    await reapAndClose(child.pid, pidfd)
    const [code, text] = getSystemErrorMap().get(-execErrno) ?? [`errno ${execErrno}`, 'error']
    throw new RunFailure(code === 'ENOENT' ? 'not_found' : 'cannot_execute', `cannot start ${argv[0]}: ${text} (${code})`)
  }
  return pidfd
}

/**
 * `error` (the pid could not be written: a full disk; no pidfd) as run's failure: its fact, that
 * COMMAND was not started, then its advice, which stays the hint (`cannot write the pid into FILE:
 * ENOSPC; web was not started`, hint `free space there or choose another --dir`).
 */
function notStarted(error: NslocateError, command: string): RunFailure {
  const message = (n: OptionNamer) => {
    const advice = error.renderAdvice(n)
    const text = error.render(n)
    return advice === null ? `${text}; ${command} was not started` : `${factOf(text, advice)}; ${command} was not started; ${advice}`
  }
  return new RunFailure('failed', message, error.advice === null ? null : (n) => error.renderAdvice(n) ?? '')
}

async function reapAndClose(pid: number, pidfd: number): Promise<void> {
  await reap(pid, pidfd)
  if (pidfd >= 0) fs.closeSync(pidfd)
}

function envp(): string[] {
  return Object.entries(process.env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
}

/** null once execve succeeded (EOF on the close-on-exec pipe), else the errno it failed with. */
function readExecResult(fd: number): Promise<number | null> {
  const buf = Buffer.alloc(4)
  return new Promise((resolve) => {
    let got = 0
    const next = () =>
      fs.read(fd, buf, got, 4 - got, null, (error, n) => {
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
