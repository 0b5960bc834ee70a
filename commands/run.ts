import {Args, Flags} from '@oclif/core'

import {BaseCommand, pathFlag} from '../src/cli/base-command'
import {NslocateError} from '../src/errors'
import {AcquireOptions, DEFAULT_LOCK_TIMEOUT_MS, PidfileHandle, acquire, pidfilePathFor} from '../src/acquire/acquire'
import {resolveCommand} from '../src/acquire/command'
import {refuseDirectoryName} from '../src/acquire/paths'
import {withAbsolutePaths} from '../src/locate/search-path'
import {RUN_STATUS, RunFailure, runStatusOf} from '../src/acquire/run-status'
import {catchEarlySignals} from '../src/acquire/early-signals'
import {supervise} from '../src/acquire/supervise'
import {validateName} from '../src/locate/name'
import {parseDuration} from '../src/signal/parse'
import {signal, waitFor} from '../src/signal/signal'

export default class Run extends BaseCommand {
  static summary = 'Take NAME\'s pidfile, run COMMAND, and hold the pidfile for exactly as long as it lives.'
  static description = `Creates and locks NAME's pidfile (flock and POSIX lock, so every kind of reader sees it held), starts COMMAND held before it executes, writes its pid (decimal, no newline), only then lets it run, forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH to it, and exits with its exit status (128+N when killed by signal N), removing the pidfile. If the pid cannot be written (a full disk), or one of those signals arrives while the pidfile is still being taken, COMMAND never runs: run removes the file and exits 125.

COMMAND inherits a read-only descriptor holding the flock lock (never the read-write one run writes through), so the flock lock lasts as long as the service does: if run itself is killed (SIGKILL), find still names the service and another run of NAME conflicts instead of starting a second instance.

If NAME is already running, prints "already running (pid P)" and exits with --conflict-exit-code (122) without touching the running instance's file. With --replace, the running instance is sent TERM, given --lock-timeout to exit, then KILL (through a pidfd), and replaced.

The pidfile goes to --pidfile, or DIR/NAME.pid with DIR = --dir, $NSLOCATE_RUNTIME_DIR, /run/nslocate (root) or $XDG_RUNTIME_DIR/nslocate (relative paths are taken from the working directory), created 0755 if missing. No symbolic link or directory another user controls is followed on the way, and a file with another link or another owner (but root) is refused (123). run's own failures exit in the 120s (see EXIT STATUS).`
  static examples = [
    {command: '<%= config.bin %> run web -- node server.js', description: 'Run a service under its pidfile.'},
    {command: '<%= config.bin %> run job --conflict-exit-code 0 -- ./nightly.sh', description: 'A cron job that quietly skips when the last run is still going.'},
    {command: '<%= config.bin %> run web --replace -- node server.js', description: 'Take over from a running instance.'},
  ]
  static strict = false
  static args = {
    name: Args.string({description: 'Service name: the pidfile is NAME.pid.', required: true}),
  }
  static flags = {
    pidfile: Flags.string({
      summary: 'Write this pidfile instead of DIR/NAME.pid (relative: to the working directory; empty, or a path naming a directory such as "/" or "x/": usage error).', helpValue: 'PATH', exclusive: ['dir'],
      parse: async (input: string) => {
        refuseDirectoryName(input)
        return withAbsolutePaths({pidfile: input}).pidfile as string
      },
    }),
    dir: pathFlag({summary: 'Directory for NAME.pid (relative: to the working directory; empty: usage error).', helpValue: 'DIR', exclusive: ['pidfile']}),
    replace: Flags.boolean({summary: 'Stop a running instance (TERM, then KILL after --lock-timeout) and take over.', default: false}),
    'lock-timeout': Flags.string({summary: 'How long to contend for the lock, and with --replace how long the old instance gets to exit.', default: `${DEFAULT_LOCK_TIMEOUT_MS / 1000}s`, helpValue: 'DURATION'}),
    'conflict-exit-code': Flags.integer({summary: 'Exit status when NAME is already running.', default: RUN_STATUS.CONFLICT, min: 0, max: 255}),
  }

  async run(): Promise<void> {
    const {args, flags, argv} = await this.parse(Run)
    // Everything after the first "--" is COMMAND verbatim: oclif's parser mangles a "--" of the
    // command's own (setpriv ... -- prog), so it is not taken from the parsed argv then.
    const dashes = this.argv.indexOf('--')
    const command = dashes >= 0 ? this.argv.slice(dashes + 1) : (argv as string[]).slice(1)
    if (command.length === 0) throw new NslocateError('USAGE', 'no COMMAND given: nslocate run NAME [flags] -- COMMAND [ARGS...]')
    if (!flags.pidfile) validateName(args.name)
    const lockTimeoutMs = parseDuration(flags['lock-timeout'])
    const opts = {name: args.name, pidfile: flags.pidfile, dir: flags.dir, lockTimeoutMs, pid: null}
    let status: number
    // A forwarded signal that arrives before supervise() has installed its own handlers (while the
    // pidfile is being taken) must neither kill run with the file left behind nor be lost: it is
    // noted here, and run gives the file up and exits INTERRUPTED without starting COMMAND.
    const early = catchEarlySignals()
    try {
      // The command is looked up first: a missing program touches no pidfile.
      const file = resolveCommand(command[0])
      const handle = await this.take(opts, flags.replace)
      if (handle !== null && early.signal !== null) {
        handle.release()
        throw new RunFailure(RUN_STATUS.INTERRUPTED, `interrupted by ${early.signal} before ${command[0]} was started; nothing was started and the pidfile was removed`)
      }
      if (handle === null) status = flags['conflict-exit-code']
      else {
        const supervised = supervise(handle, file, command) // installs its forwarding synchronously
        early.stop()
        status = await supervised
      }
    } catch (error) {
      if (error instanceof RunFailure) status = this.fail(error.status, error.message)
      else if (error instanceof NslocateError && error.code !== 'USAGE') status = this.fail(runStatusOf(error), error.message)
      else throw error
    }
    early.stop()
    this.exit(status)
  }

  /** The pidfile, or null when NAME is already running (and not replaced). */
  private async take(opts: AcquireOptions, replace: boolean): Promise<PidfileHandle | null> {
    try {
      return await acquire(opts)
    } catch (error) {
      if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
      if (!replace) {
        const pid = error.details.pid
        this.logToStderr(`nslocate: ${opts.name} already running${pid ? ` (pid ${pid})` : ''}`)
        return null
      }
    }
    const ms = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
    const secs = ms / 1000
    const file = pidfilePathFor(opts)
    const stopped = await signal(opts.name, 'TERM', {pidfile: file, retry: `TERM/${secs}/KILL/${secs}`, scope: 'main'})
    if (stopped.exit_code !== 0 && stopped.exit_code !== 7) throw new RunFailure(RUN_STATUS.TIMEOUT, `cannot replace ${opts.name}: ${stopped.message}`)
    // The lock may be held by a supervisor of the process just stopped: wait (on pidfds) until it lets go.
    const gone = await waitFor(opts.name, 'stopped', {pidfile: file, timeoutMs: ms})
    if (!gone.reached) throw new RunFailure(RUN_STATUS.TIMEOUT, `cannot replace ${opts.name}: ${gone.message}`)
    try {
      return await acquire(opts)
    } catch (error) {
      if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
      this.logToStderr(`nslocate: ${opts.name} already running again (pid ${error.details.pid ?? '?'}) after it was replaced: another starter took it`)
      return null
    }
  }

  private fail(status: number, message: string): number {
    this.logToStderr(`nslocate: ${message}`)
    return status
  }
}
