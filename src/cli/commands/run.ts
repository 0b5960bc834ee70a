/**
 * `nslocate run NAME [flags] -- COMMAND...`: take NAME's pidfile (or report a conflict / replace the
 * running instance), run COMMAND under it, and exit with its status. run's own failures are printed
 * here (`nslocate: MESSAGE`) with their status from the table; usage errors are thrown, for the
 * front end's error printing.
 */
import type {CommandModule, Invocation, Output} from '../command'
import {printError} from '../error-lines'
import {statusOf} from '../exit-status'
import {run as grammar} from '../grammar'
import {adviceOf, messageOf, optionsOf} from '../options'
import {positionals, unexpectedArguments} from '../usage'
import {NslocateError} from '../../errors'
import {AcquireOptions, DEFAULT_LOCK_TIMEOUT_MS, PidfileHandle, acquire, pidfilePathFor} from '../../acquire/acquire'
import {resolveCommand} from '../../acquire/command'
import {RunFailure, runOutcomeOf} from '../../acquire/run-status'
import {catchEarlySignals} from '../../acquire/early-signals'
import {supervise} from '../../acquire/supervise'
import {daemonPidfilePath} from '../../acquire/follow-cgroup'
import type {CgroupMode} from '../../cgroup/service'
import {pidfsAvailable} from '../../kernel/pidfs'
import {validateName} from '../../locate/name'
import type {RunOutcome} from '../../outcomes'
import type * as Signals from '../../signal/signal'
import type * as Locate from '../../locate/locate'

type RunOptions = {pidfile?: string; dir?: string; replace: boolean; lockTimeoutMs: number; cgroup: CgroupMode; daemonPidfile?: string}

/** `nslocate run NAME -- COMMAND`: runs COMMAND holding NAME's pidfile; exits with its status at once. */
export const runCommand: CommandModule = {
  id: 'run',
  grammar,
  // oclif's path ended with this.exit(status): the process ends then, whatever handles are open.
  exit: true,
  run(inv: Invocation, out: Output): Promise<number> {
    // COMMAND is everything after the first "--", verbatim: oclif's parser mangles a "--" of the
    // command's own (setpriv ... -- prog), so it is not taken from the parsed argv then.
    // NAME comes before `--`: a word after it is COMMAND's, never NAME (oclif's parser would take it).
    const {args, dashes} = positionals(grammar, inv.raw)
    if (dashes >= 0 && args.length === 0) throw new NslocateError('USAGE', 'missing argument NAME')
    if (dashes >= 0 && args.length > 1) throw new NslocateError('USAGE', unexpectedArguments(args.slice(1)))
    const command = dashes >= 0 ? inv.raw.slice(dashes + 1) : inv.argv.slice(1)
    return runService(inv.args.name, optionsOf(grammar, inv.flags) as RunOptions, inv.flags['conflict-exit-code'] as number, command, out)
  },
}

async function runService(name: string, o: RunOptions, conflictStatus: number, command: string[], out: Output): Promise<number> {
  if (command.length === 0) throw new NslocateError('USAGE', 'no COMMAND given after --')
  if (!o.pidfile) validateName(name)
  const opts: AcquireOptions = {name, pidfile: o.pidfile, dir: o.dir, lockTimeoutMs: o.lockTimeoutMs, pid: null, cgroup: o.cgroup ?? 'auto'}
  // run's own failures read as every error does: one line, then the advice as a hint (src/cli/error-lines.ts).
  const fail = (outcome: RunOutcome, message: string, advice: string | null = null): number => {
    printError(out, 'run', outcome, message, advice)
    return statusOf('run', outcome)
  }
  // A forwarded signal that arrives before supervise() has installed its own handlers (while the
  // pidfile is being taken) must neither kill run with the file left behind nor be lost: it is
  // noted here, and run gives the file up and exits INTERRUPTED without starting COMMAND.
  const early = catchEarlySignals()
  try {
    // The command is looked up first: a missing program touches no pidfile.
    const file = resolveCommand(command[0])
    const handle = await take(opts, o.replace, out)
    if (handle !== null && early.signal !== null) {
      handle.release()
      return fail('interrupted', `interrupted by ${early.signal} before ${command[0]} was started; nothing was started and the pidfile was removed`)
    }
    if (handle === null) return conflictStatus
    // installs its forwarding synchronously
    const supervised = supervise(
      handle,
      file,
      command,
      // No cgroup (--cgroup auto, none could be made) prints nothing: the record says why, find shows it.
      () => noteUnrecorded(handle, out),
      {name, cgroupMode: opts.cgroup ?? 'auto', daemonPidfile: daemonPidfilePath(o.daemonPidfile)},
    )
    early.stop()
    return await supervised
  } catch (error) {
    if (error instanceof RunFailure) return fail(error.outcome, messageOf(error), adviceOf(error))
    if (error instanceof NslocateError && error.code !== 'USAGE') return fail(runOutcomeOf(error), messageOf(error), adviceOf(error))
    throw error
  } finally {
    early.stop()
  }
}

/**
 * One line when the kernel gives process ids but none could be recorded beside the pid (the file
 * system keeps no user extended attributes): find then relies on the lock and the start time, as
 * before. Silent when recorded, before Linux 6.9 (nothing to record) and with --quiet, so a normal start prints nothing.
 */
function noteUnrecorded(handle: PidfileHandle, out: Output): void {
  if (out.quiet || handle.recorded !== null || handle.recordNote === null || !pidfsAvailable()) return
  out.logToStderr(`nslocate: no identity recorded beside the pid in ${handle.path}: ${handle.recordNote}`)
}

/** The pidfile, or null when NAME is already running (and not replaced). */
async function take(opts: AcquireOptions, replace: boolean, out: Output): Promise<PidfileHandle | null> {
  try {
    return await acquire(opts)
  } catch (error) {
    if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
    if (!replace || error.details.cgroup !== undefined) {
      const pid = error.details.pid
      // A cgroup an earlier run left still holds processes: the message names them, the advice says how to stop them.
      if (error.details.cgroup !== undefined) printError(out, 'run', 'conflict', messageOf(error), adviceOf(error))
      else out.logToStderr(`nslocate: ${opts.name} already running${pid ? ` (pid ${pid})` : ''}`)
      return null
    }
  }
  const ms = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  const secs = ms / 1000
  const file = pidfilePathFor(opts)
  // Loaded only to replace: the plain `run` starts without it.
  const {signal, waitFor} = require('../../signal/signal') as typeof Signals
  const {locate} = require('../../locate/locate') as typeof Locate
  // An instance with a cgroup of its own is stopped as a whole (its escapes included), else its main process.
  const scope = locate(opts.name, {pidfile: file}).cgroup?.dir ? 'cgroup' : 'main'
  // What signal or wait said, as they print it, and their advice, the hint; the status, 124, says
  // that it was not replaced (a prefix on the line, "cannot replace NAME: ", would push the longest
  // verdicts over the width).
  const cannot = (verdict: {message: string; advice?: string}) => new RunFailure('timeout', verdict.message, verdict.advice ?? null)
  const stopped = await signal(opts.name, 'TERM', {pidfile: file, retry: `TERM/${secs}/KILL/${secs}`, scope})
  if (stopped.outcome !== 'signalled' && stopped.outcome !== 'not_running') throw cannot(stopped)
  // The lock may be held by a supervisor of the process just stopped: wait (on pidfds) until it lets go.
  const gone = await waitFor(opts.name, 'stopped', {pidfile: file, timeoutMs: ms})
  if (!gone.reached) throw cannot(gone)
  try {
    return await acquire(opts)
  } catch (error) {
    if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
    out.logToStderr(`nslocate: ${opts.name} already running again (pid ${error.details.pid ?? '?'}) after it was replaced: another starter took it`)
    return null
  }
}
