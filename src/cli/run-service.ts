/**
 * The body of `nslocate run`, shared by commands/run.ts (oclif) and the start-up fast path
 * (src/cli/fast-run.ts): take NAME's pidfile (or report a conflict / replace the running instance),
 * run COMMAND under it, and return the exit status. Library errors other than the run failures
 * (USAGE) are thrown for the caller's error printing.
 */
import {NslocateError} from '../errors'
import {AcquireOptions, DEFAULT_LOCK_TIMEOUT_MS, PidfileHandle, acquire, pidfilePathFor} from '../acquire/acquire'
import {resolveCommand} from '../acquire/command'
import {RUN_STATUS, RunFailure, runStatusOf} from '../acquire/run-status'
import {catchEarlySignals} from '../acquire/early-signals'
import {supervise} from '../acquire/supervise'
import {validateName} from '../locate/name'
import {parseDuration} from '../signal/parse'
import type * as Signals from '../signal/signal'

export interface RunFlags {
  pidfile?: string
  dir?: string
  replace: boolean
  'lock-timeout': string
  'conflict-exit-code': number
}

/** command: COMMAND [ARGS...]; logToStderr prints one (escaped) line. */
export async function runService(name: string, flags: RunFlags, command: string[], logToStderr: (line: string) => void): Promise<number> {
  if (command.length === 0) throw new NslocateError('USAGE', 'no COMMAND given: nslocate run NAME [flags] -- COMMAND [ARGS...]')
  if (!flags.pidfile) validateName(name)
  const lockTimeoutMs = parseDuration(flags['lock-timeout'])
  const opts = {name, pidfile: flags.pidfile, dir: flags.dir, lockTimeoutMs, pid: null}
  const fail = (status: number, message: string): number => {
    logToStderr(`nslocate: ${message}`)
    return status
  }
  // A forwarded signal that arrives before supervise() has installed its own handlers (while the
  // pidfile is being taken) must neither kill run with the file left behind nor be lost: it is
  // noted here, and run gives the file up and exits INTERRUPTED without starting COMMAND.
  const early = catchEarlySignals()
  try {
    // The command is looked up first: a missing program touches no pidfile.
    const file = resolveCommand(command[0])
    const handle = await take(opts, flags.replace, logToStderr)
    if (handle !== null && early.signal !== null) {
      handle.release()
      throw new RunFailure(RUN_STATUS.INTERRUPTED, `interrupted by ${early.signal} before ${command[0]} was started; nothing was started and the pidfile was removed`)
    }
    if (handle === null) return flags['conflict-exit-code']
    const supervised = supervise(handle, file, command) // installs its forwarding synchronously
    early.stop()
    return await supervised
  } catch (error) {
    if (error instanceof RunFailure) return fail(error.status, error.message)
    if (error instanceof NslocateError && error.code !== 'USAGE') return fail(runStatusOf(error), error.message)
    throw error
  } finally {
    early.stop()
  }
}

/** The pidfile, or null when NAME is already running (and not replaced). */
async function take(opts: AcquireOptions, replace: boolean, logToStderr: (line: string) => void): Promise<PidfileHandle | null> {
  try {
    return await acquire(opts)
  } catch (error) {
    if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
    if (!replace) {
      const pid = error.details.pid
      logToStderr(`nslocate: ${opts.name} already running${pid ? ` (pid ${pid})` : ''}`)
      return null
    }
  }
  const ms = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const secs = ms / 1000
  const file = pidfilePathFor(opts)
  // Loaded only to replace: the plain `run` starts without it.
  const {signal, waitFor} = require('../signal/signal') as typeof Signals
  const stopped = await signal(opts.name, 'TERM', {pidfile: file, retry: `TERM/${secs}/KILL/${secs}`, scope: 'main'})
  if (stopped.exit_code !== 0 && stopped.exit_code !== 7) throw new RunFailure(RUN_STATUS.TIMEOUT, `cannot replace ${opts.name}: ${stopped.message}`)
  // The lock may be held by a supervisor of the process just stopped: wait (on pidfds) until it lets go.
  const gone = await waitFor(opts.name, 'stopped', {pidfile: file, timeoutMs: ms})
  if (!gone.reached) throw new RunFailure(RUN_STATUS.TIMEOUT, `cannot replace ${opts.name}: ${gone.message}`)
  try {
    return await acquire(opts)
  } catch (error) {
    if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
    logToStderr(`nslocate: ${opts.name} already running again (pid ${error.details.pid ?? '?'}) after it was replaced: another starter took it`)
    return null
  }
}
