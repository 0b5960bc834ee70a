import {BaseCommand} from '../src/cli/base-command'
import {runCommand} from '../src/cli/commands/run'
import {run as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Run extends BaseCommand {
  protected readonly command = runCommand
  static summary = "Take NAME's pidfile, run COMMAND, and hold the pidfile for exactly as long as it lives."
  static description = `Creates and locks NAME's pidfile (flock and POSIX lock, so every kind of reader sees it held), starts COMMAND held before it executes, writes its pid (decimal, no newline) and, beside it, its pidfs id and the boot id (the xattr user.nslocate.identity; the content stays the bare pid), only then lets it run, forwards TERM, INT, HUP, QUIT, USR1, USR2 and WINCH to it, and exits with its exit status (128+N when killed by signal N), removing the pidfile. If the pid cannot be written (a full disk), COMMAND never runs: run removes the file and exits 125.

COMMAND inherits the locked descriptor, so the flock lock lasts as long as the service does: if run itself is killed (SIGKILL), find still names the service and another run of NAME conflicts instead of starting a second instance.

COMMAND is moved into a cgroup of the service's own while it is held before it executes (cgroup v2, under run's own cgroup: CALLER/nslocate/NAME-HASH, HASH the first 8 hex digits of the SHA-256 of the pidfile's absolute path; recorded beside the pid in the xattr user.nslocate.cgroup), so every process it ever starts is born in it, whatever it does to leave its process group, session or descriptors (setsid, a double fork, nohup ... &): find lists them all, signal --scope cgroup reaches them all (KILL through cgroup.kill), and wait --for stopped returns once the cgroup is empty. run is their child subreaper, keeps the pidfile locked while the cgroup holds a process, and removes the cgroup once it is empty. Making one needs write access to run's cgroup (root, or a cgroup delegated to the caller). With --cgroup auto (the default), when none can be made run records why beside the pid (find shows it; run itself prints nothing) and runs COMMAND without one; --cgroup required exits 125 instead, starting nothing; --cgroup none makes none. See "The service's cgroup" in nslocate(1).

A COMMAND that daemonizes (it exits, leaving processes behind: sh -c 'svc &', a double fork) is followed, as systemd follows Type=forking: the pidfile stays in place, locked, and names the daemon, signals are forwarded to it, and the pidfile is removed only once the service has ended. With a cgroup, the service is every process in it: the daemon is the process --daemon-pidfile names once that file names one in the cgroup, else the one left (among several, the one none of whose ancestors is among them; the oldest of those), named again when it exits and others remain; run reaps it and, once the cgroup is empty, exits with the daemon's own status (a process that exits handing over to one it started, as the middle of a double fork does, is not the daemon). Without one, the service is the processes that still hold the inherited locked descriptor, named the same way, and run exits with COMMAND's own status once none of them holds it; a daemon that closes every inherited descriptor cannot be followed then: run ends with COMMAND. When a signal killed COMMAND, run exits 128+N once what it left has exited; meanwhile, with a cgroup, the file names what is left, without one it keeps COMMAND's pid (held by run).

If NAME is already running, prints "already running (pid P)" and exits with --conflict-exit-code (122) without touching the running instance's file. When the cgroup a SIGKILLed run of the same pidfile left still holds processes, it prints "NAME is still running: its cgroup DIR, left by an earlier run, holds pid P" and a hint how to stop them (echo 1 > DIR/cgroup.kill), and exits the same way, --replace or not. With --replace, the running instance (with a cgroup, every process in it) is sent TERM, given --lock-timeout to exit, then KILL (through a pidfd), and replaced. A lock held only by processes that could not have written the pidfile (any user who may read a file may lock it) is no running instance: run replaces such a file with a fresh, locked one in one step (renameat2 RENAME_EXCHANGE; the old one is removed, its lockers keep a file no name leads to) instead of waiting for them.

The pidfile goes to --pidfile, or DIR/NAME.pid with DIR = --dir, $NSLOCATE_RUNTIME_DIR, /run/nslocate (root) or $XDG_RUNTIME_DIR/nslocate (relative paths are taken from the working directory), created 0755 if missing. No symbolic link or directory another user controls is followed on the way, and a file with another link or another owner (but root) is refused (123), as is an existing file that is not empty and does not hold a pid (a pid on its first line, nothing else but blank lines): run never truncates, rewrites or removes such a file. run's own failures exit in the 120s (see EXIT STATUS).`
  static examples = [
    {command: '<%= config.bin %> run web -- node server.js', description: 'Run a service under its pidfile.'},
    {
      command: '<%= config.bin %> run job --conflict-exit-code 0 -- ./nightly.sh',
      description: 'A cron job that quietly skips when the last run is still going.',
    },
    {command: '<%= config.bin %> run web --replace -- node server.js', description: 'Take over from a running instance.'},
    {
      command: '<%= config.bin %> run nginx --daemon-pidfile /run/nginx.pid -- nginx',
      description: "A daemon that forks: followed in its cgroup; the pidfile names the process nginx's own pidfile names.",
    },
  ]
  static strict = false
  // Arguments and flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  // What to type (oclif's own usage line would show NAME... and no COMMAND): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage('run')
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
