import {spawn} from 'node:child_process'
import {constants} from 'node:os'

import {Args, Flags} from '@oclif/core'

import {BaseCommand, pathFlag} from '../src/cli/base-command'
import {NslocateError} from '../src/errors'
import {DEFAULT_LOCK_TIMEOUT_MS, PidfileHandle, acquire, pidfilePathFor} from '../src/acquire/acquire'
import {validateName} from '../src/locate/name'
import {parseDuration} from '../src/signal/parse'
import {signal, waitFor} from '../src/signal/signal'

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const

export default class Run extends BaseCommand {
  static summary = 'Take NAME\'s pidfile, run COMMAND, and hold the pidfile for exactly as long as it lives.'
  static description = `Creates and locks NAME's pidfile (flock and POSIX lock, so every kind of reader sees it held), starts COMMAND, writes its pid (decimal, no newline), forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH to it, and exits with its exit status (128+N when killed by signal N), removing the pidfile.

If NAME is already running, prints "already running (pid P)" and exits with --conflict-exit-code without touching the running instance's file. With --replace, the running instance is sent TERM, given --lock-timeout to exit, then KILL (through a pidfd), and replaced.

The pidfile goes to --pidfile, or DIR/NAME.pid with DIR = --dir, $NSLOCATE_RUNTIME_DIR, /run/nslocate (root) or $XDG_RUNTIME_DIR/nslocate, created 0755 if missing.`
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
    pidfile: pathFlag({summary: 'Write this pidfile instead of DIR/NAME.pid (relative: to the working directory; empty: usage error).', helpValue: 'PATH', exclusive: ['dir']}),
    dir: pathFlag({summary: 'Directory for NAME.pid (relative: to the working directory; empty: usage error).', helpValue: 'DIR', exclusive: ['pidfile']}),
    replace: Flags.boolean({summary: 'Stop a running instance (TERM, then KILL after --lock-timeout) and take over.', default: false}),
    'lock-timeout': Flags.string({summary: 'How long to contend for the lock, and with --replace how long the old instance gets to exit.', default: `${DEFAULT_LOCK_TIMEOUT_MS / 1000}s`, helpValue: 'DURATION'}),
    'conflict-exit-code': Flags.integer({summary: 'Exit status when NAME is already running.', default: 1, min: 0, max: 255}),
  }

  async run(): Promise<void> {
    const {args, flags, argv} = await this.parse(Run)
    const command = (argv as string[]).slice(1)
    if (command.length === 0) throw new NslocateError('USAGE', 'no COMMAND given: nslocate run NAME [flags] -- COMMAND [ARGS...]')
    if (!flags.pidfile) validateName(args.name)
    const lockTimeoutMs = parseDuration(flags['lock-timeout'])
    const opts = {name: args.name, pidfile: flags.pidfile, dir: flags.dir, lockTimeoutMs, pid: null}
    let handle: PidfileHandle
    try {
      handle = await acquire(opts)
    } catch (error) {
      if (!(error instanceof NslocateError) || error.code !== 'CONFLICT') throw error
      if (!flags.replace) {
        const pid = error.details.pid
        this.logToStderr(`nslocate: ${args.name} already running${pid ? ` (pid ${pid})` : ''}`)
        this.exit(flags['conflict-exit-code'])
      }
      const secs = lockTimeoutMs / 1000
      const stopped = await signal(args.name, 'TERM', {pidfile: pidfilePathFor(opts), retry: `TERM/${secs}/KILL/${secs}`, scope: 'main'})
      if (stopped.exit_code !== 0 && stopped.exit_code !== 7) {
        this.error(`cannot replace ${args.name}: ${stopped.message}`, {exit: stopped.exit_code === 4 ? 4 : 1})
      }
      // The lock may be held by a supervisor of the process just stopped: wait (on pidfds) until it lets go.
      const gone = await waitFor(args.name, 'stopped', {pidfile: pidfilePathFor(opts), timeoutMs: lockTimeoutMs})
      if (!gone.reached) this.error(`cannot replace ${args.name}: ${gone.message}`, {exit: 1})
      handle = await acquire(opts)
    }
    const code = await supervise(handle, command)
    this.exit(code)
  }
}

/** Start COMMAND, write its pid, forward signals, release the pidfile when it exits. Resolves to our exit status. */
function supervise(handle: PidfileHandle, command: string[]): Promise<number> {
  return new Promise((resolve) => {
    // Forwarding is installed before the child exists: a signal that arrives between the pid being
    // written and the handlers being installed would otherwise kill the supervisor (default action).
    const pending: NodeJS.Signals[] = []
    let spawned = false
    const handlers = new Map<string, () => void>()
    for (const sig of FORWARDED) {
      // The child is ours and unreaped until 'exit': its pid cannot be reused while we forward.
      const h = () => {
        if (spawned) child.kill(sig)
        else pending.push(sig)
      }
      handlers.set(sig, h)
      process.on(sig, h)
    }
    const child = spawn(command[0], command.slice(1), {stdio: 'inherit'})
    const cleanup = () => {
      for (const [sig, h] of handlers) process.removeListener(sig, h)
      handle.release()
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanup()
      process.stderr.write(`nslocate: cannot start ${command[0]}: ${error.message}\n`)
      resolve(error.code === 'ENOENT' ? 127 : 126)
    })
    child.once('spawn', () => {
      handle.write(child.pid!)
      spawned = true
      for (const sig of pending.splice(0)) child.kill(sig)
    })
    child.once('exit', (code, sig) => {
      cleanup()
      resolve(code ?? 128 + (sig ? (constants.signals as Record<string, number>)[sig] ?? 0 : 0))
    })
  })
}
