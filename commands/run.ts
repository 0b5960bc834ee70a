import {BaseCommand} from '../src/cli/base-command'
import {runCommand} from '../src/cli/commands/run'
import {run as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'

export default class Run extends BaseCommand {
  protected readonly command = runCommand
  static summary = "Take NAME's pidfile, run COMMAND, and hold the pidfile for exactly as long as it lives."
  static description = `Creates and locks NAME's pidfile (flock and POSIX lock, so every kind of reader sees it held), starts COMMAND held before it executes, writes its pid (decimal, no newline) and, beside it, its pidfs id and the boot id (the xattr user.nslocate.identity; the content stays the bare pid), only then lets it run, forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH to it, and exits with its exit status (128+N when killed by signal N), removing the pidfile. If the pid cannot be written (a full disk), COMMAND never runs: run removes the file and exits 125.

COMMAND inherits the locked descriptor, so the flock lock lasts as long as the service does: if run itself is killed (SIGKILL), find still names the service and another run of NAME conflicts instead of starting a second instance.

A COMMAND that daemonizes (it exits, leaving processes that inherited the locked descriptor: sh -c 'svc &', a double fork) is followed, as systemd follows Type=forking: the pidfile stays in place, locked, and names the process left (the one whose parent is not among them; the oldest of several), signals are forwarded to it, and run exits with COMMAND's own status, removing the pidfile, only once none of them holds the descriptor. When a signal killed COMMAND, the file keeps COMMAND's pid (held by run) until what it left has exited. A daemon that closes every inherited descriptor cannot be followed: run then ends with COMMAND.

If NAME is already running, prints "already running (pid P)" and exits with --conflict-exit-code (122) without touching the running instance's file. With --replace, the running instance is sent TERM, given --lock-timeout to exit, then KILL (through a pidfd), and replaced. A lock held only by processes that could not have written the pidfile (any user who may read a file may lock it) is no running instance: run replaces such a file with a fresh, locked one in one step (renameat2 RENAME_EXCHANGE; the old one is removed, its lockers keep a file no name leads to) instead of waiting for them.

The pidfile goes to --pidfile, or DIR/NAME.pid with DIR = --dir, $NSLOCATE_RUNTIME_DIR, /run/nslocate (root) or $XDG_RUNTIME_DIR/nslocate (relative paths are taken from the working directory), created 0755 if missing. No symbolic link or directory another user controls is followed on the way, and a file with another link or another owner (but root) is refused (123), as is an existing file that is not empty and does not hold a pid (a pid on its first line, nothing else but blank lines): run never truncates, rewrites or removes such a file. run's own failures exit in the 120s (see EXIT STATUS).`
  static examples = [
    {command: '<%= config.bin %> run web -- node server.js', description: 'Run a service under its pidfile.'},
    {
      command: '<%= config.bin %> run job --conflict-exit-code 0 -- ./nightly.sh',
      description: 'A cron job that quietly skips when the last run is still going.',
    },
    {command: '<%= config.bin %> run web --replace -- node server.js', description: 'Take over from a running instance.'},
  ]
  static strict = false
  // Arguments and flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
