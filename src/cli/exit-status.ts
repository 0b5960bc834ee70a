/**
 * The exit status of every command, in one table (contract 2 of issue 18): the library answers
 * with outcomes (src/outcomes.ts) and coded errors (src/errors.ts); the CLI, and only the CLI,
 * turns them into exit statuses here. Both the oclif path and the start-up fast path use
 * statusOf() and errorStatus(), and the man page's EXIT STATUS section is generated from this table
 * (scripts/gen-docs.js reads dist/src/cli/exit-status.js): `intro`, `meaning` and `notes` are its
 * prose, in markdown; a row's `term` is how its status is shown when not as the plain number. run's `intro`
 * ends with two definitions (*N*, *128+N*) in the rows' markdown: statuses that are COMMAND's, not run's.
 *
 * Data only, no imports but types: every fast-path bundle carries it.
 */
import type {ErrorCode} from '../errors'

/** The commands of the CLI. */
export type CommandName = 'find' | 'list' | 'signal' | 'wait' | 'run' | 'reload' | 'serve' | 'containers'

/** One exit status of a command: what exits with it, and its description for the docs. */
export interface ExitStatusRow {
  status: number
  /** the library outcomes (State, SignalOutcome, WaitOutcome, RunOutcome, ...) that exit with it */
  outcomes: readonly string[]
  /** the error codes that exit with it */
  errors: readonly ErrorCode[]
  /** markdown; shown as the status's description */
  meaning: string
  /** markdown: how the status is shown when not as `N` (the definition's term) */
  term?: string
}

/** A command's exit statuses as the docs show them: intro, rows, notes. */
export interface CommandExitStatus {
  intro?: string
  rows: ExitStatusRow[]
  notes?: string[]
}

/** The EXIT STATUS section's opening paragraph (before the commands). */
export const EXIT_STATUS_INTRO =
  "Every command exits with 2 for a usage error: an unknown command or flag, a missing argument, a bad NAME, SIGNAL, DURATION or schedule, or an empty `--pidfile` or `--dir` (`--pidfile ''`, `--pidfile=`, `--dir ''`; `run` included): an empty value never means \"search the default directories\". An error that stops a command exits with the status of its code (see *Errors* under OUTPUT). Other statuses depend on the command."

/** A row of the table: status, the outcomes and error codes that exit with it, its prose. */
const row = (status: number, outcomes: string[], errors: ErrorCode[], meaning: string, term?: string): ExitStatusRow =>
  term === undefined ? {status, outcomes, errors, meaning} : {status, outcomes, errors, meaning, term}

/** Status 2: a usage error. */
const usage = (meaning = 'Usage error.'): ExitStatusRow => ({status: 2, outcomes: [], errors: ['USAGE'], meaning})

/** reload and serve run until stopped. */
const STOPPED: ExitStatusRow = {status: 0, outcomes: ['stopped'], errors: [], meaning: 'Stopped by SIGTERM or SIGINT.'}

// Long lines: the man page's prose, one paragraph each.
/** Every command's exit statuses: what statusOf() and errorReport() exit with, and the man page's table. */
export const EXIT_STATUS: Record<CommandName, CommandExitStatus> = {
  find: {
    intro: 'The status of `find` follows the LSB convention for an init script\'s "status" action, so nslocate can serve directly as a health check:',
    rows: [
      row(0, ['running'], [], 'Running (`state` `running`), even when the holder cannot be seen from here.'),
      row(1, ['stale'], ['TIMEOUT'], 'Not running, but the pidfile exists (`stale`).'),
      usage(
        'Usage error, including an empty `--container` value (never taken to mean "no container") and no image for the helper container (see `NSLOCATE_HELPER_IMAGE`).',
      ),
      row(
        3,
        ['stopped'],
        ['NOT_RUNNING'],
        'Not running (`stopped`): no pidfile; or the `--container` (or `--pod`) container is not running or does not exist (reason `container_not_running`: a result like any other, naming the container when its runtime knows it). Also when the `--root-pid` process is gone (error `NOT_RUNNING`).',
      ),
      row(
        4,
        ['unknown'],
        ['NATIVE_LOAD', 'UNSUPPORTED', 'PERMISSION', 'UNSAFE_PIDFILE', 'NOT_VISIBLE', 'GONE', 'CONFLICT', 'DOCKER', 'RUNTIME', 'IO'],
        'Cannot tell (`unknown`: unsafe, unreadable or ambiguous pidfile, a possible service in another PID namespace that nothing identifies, a process that does not match `--exec`, `--process-name` or `--user`, or permission denied on the pidfile or a directory on the way, which is never taken for "no pidfile"), or an error such as a missing native addon. The message says which.',
      ),
    ],
    notes: [
      'A `--container` (or `--pod`) container that is not running (created and never started, exited, dead, or restarting between two attempts) or that no runtime knows is one answer on every command: the service is `stopped`, reason `container_not_running`, a result and not an error. `find` exits 3, `list` 3 (no row), `signal` 7 (nothing sent), `wait --for stopped` 0 at once (`--for running` looks again every 250 ms), and `serve` reports `stopped` (503). A paused container is running: its processes are there, frozen, and are found as in a running container. That answer is taken only from a runtime trusted for the container: "no such container" only when every runtime asked answered so, and never from another user\'s socket; otherwise it is `DOCKER` or `RUNTIME` (4), naming the runtime that cannot tell (see *Containers that do not run* under NOTES).',
    ],
  },
  list: {
    rows: [
      row(0, ['complete'], [], 'The listing worked, whatever the states of the services.'),
      usage(),
      row(
        3,
        ['not_running'],
        ['NOT_RUNNING'],
        'The `--container` (or `--pod`) container is not running or does not exist: no row (nothing runs in it, and its files cannot be read), and a line saying which container and its state. Also when the `--root-pid` process is gone (error `NOT_RUNNING`).',
      ),
      row(
        4,
        ['incomplete'],
        ['NATIVE_LOAD', 'UNSUPPORTED', 'PERMISSION', 'UNSAFE_PIDFILE', 'NOT_RUNNING', 'NOT_VISIBLE', 'GONE', 'CONFLICT', 'TIMEOUT', 'DOCKER', 'RUNTIME', 'IO'],
        'A directory could not be read (the others are still listed), or an error.',
      ),
    ],
  },
  signal: {
    intro: "The status follows the LSB codes for an init script's actions:",
    rows: [
      row(
        0,
        ['signalled', 'probed', 'would_signal'],
        [],
        'Delivered; with `--wait` or `--retry`, every process signalled has exited (and the cgroup `run` gave the service, if any, is empty). With `--dry-run`: every check passed and nothing was sent. With signal 0: the process is there and may be signalled.',
      ),
      row(
        1,
        ['still_running', 'no_effect', 'no_handler'],
        ['TIMEOUT'],
        'Delivered, but a process signalled was still running when `--timeout` or the schedule ran out.',
      ),
      usage(),
      row(
        4,
        ['not_permitted', 'refused'],
        ['NATIVE_LOAD', 'UNSUPPORTED', 'PERMISSION', 'UNSAFE_PIDFILE', 'NOT_VISIBLE', 'CONFLICT', 'DOCKER', 'RUNTIME', 'IO'],
        "Not permitted: nslocate cannot tell which process it is (unsafe, unreadable or ambiguous pidfile, `identity_mismatch`, or `permission_denied` on the way to it), the holder cannot be seen from here, the process is one nslocate never signals (see *Signal safety* under NOTES), it is outside the `--root-pid`/`--container` target's PID namespace (`outside_target_namespace`), the scope was refused (`shared_cgroup`, nslocate's own process group), or kill(2) permission was denied (also with `--dry-run`, which makes the kernel's permission check too). Nothing was signalled.",
      ),
      row(
        7,
        ['not_running'],
        ['NOT_RUNNING', 'GONE'],
        'Not running: no pidfile, a stale pidfile, or the process exited (while it was being identified, or after it was pinned; or its pid was reused, or the lock changed hands) before it could be signalled; also a `--container` (or `--pod`) container that is not running or does not exist (its `target` is `stopped`, reason `container_not_running`), and a `--root-pid` process that has exited (error `NOT_RUNNING`). Nothing was signalled.',
      ),
    ],
    notes: [
      'Status `1` also covers two cases of *Signals that do not act* (NOTES): the signal was sent but does nothing to any of its targets (each is `dropped`, `ignored`, or has a default action of `ignore`) and nothing was waited for; and, with `--require-handler`, no target catches the signal, so nothing was sent. When it acts on at least one target, the status is `0` and the message names the others.',
    ],
  },
  wait: {
    rows: [
      row(
        0,
        ['reached'],
        [],
        "The condition holds: at once, or before `--timeout`. For `--for stopped` of a service `run` gave a cgroup, only once the cgroup is empty (its escapes included), whatever the pidfile says; `--for main-stopped` holds once the main process found at the start has exited. For `--for stopped` and `--for main-stopped`, a `--container` (or `--pod`) container that is not running or does not exist (its `target` is `stopped`, reason `container_not_running`, as `find` says), or a `--root-pid` process that was the init of its PID namespace (a container's init) and exits while waiting, means the service is not running: the condition holds. For `--for running`, such a container is looked at again every 250 ms until it runs, also when it restarts while being waited on.",
      ),
      row(
        1,
        ['not_reached'],
        ['TIMEOUT'],
        "Timed out. For `--for running`, also while the service is only starting (a locked pidfile that is still empty); for `--for stopped`, also while the service's cgroup still holds a process after its main process has exited. The message says so.",
      ),
      usage(),
      row(
        4,
        ['cannot_tell'],
        ['NATIVE_LOAD', 'UNSUPPORTED', 'PERMISSION', 'UNSAFE_PIDFILE', 'NOT_RUNNING', 'NOT_VISIBLE', 'GONE', 'CONFLICT', 'DOCKER', 'RUNTIME', 'IO'],
        "Cannot tell (state `unknown`: unsafe, unreadable or ambiguous pidfile, `identity_mismatch`, or `permission_denied` on the way to it, so `--for stopped` never succeeds on a denial; a `--root-pid` process that was not a namespace's init exited), or an error. While the pidfile is locked and still empty, `--for running` keeps waiting even if its holder does not match the identity options (it may be a supervisor).",
      ),
    ],
  },
  reload: {
    rows: [
      STOPPED,
      row(1, [], ['IO'], 'The `--listen` address cannot be used (in use, or not an address of this machine).'),
      usage(
        'Usage error, at start: a bad flag, signal or duration, an empty `--validate`, or a `--watch` path that does not exist or cannot be read. A service that is not running, a failing validation and a failed signal are events, not exit statuses.',
      ),
    ],
  },
  serve: {
    rows: [
      STOPPED,
      row(1, [], ['IO'], 'The `--listen` address cannot be used.'),
      usage('Usage error: a bad NAME, `--listen` or `--interval`, or `--pidfile` with several NAMEs.'),
    ],
  },
  run: {
    intro:
      "`run` exits with its command's status, so it can stand in for the command. Its own failures use the 120s, after the convention of env(1) (125, 126, 127), so that a script can tell them from what its command usually exits with; in every one of them no command is left running and no pidfile is left behind by this `run`:\n\n*N*\n:   The command exited with status *N*. With a cgroup (see *The service's cgroup* under NOTES), `run` exits only once the cgroup is empty, and when the command daemonized (it exited, leaving processes in the cgroup), with the status of the daemon (the one `--daemon-pidfile` names, else the first main process whose exit does not hand over to a process it started, as the middle of a double fork does), when `run` could reap it (it is the service's subreaper) and the command itself exited 0; with the command's otherwise. Processes that outlive the daemon are waited for, but their statuses are not `run`'s. Without a cgroup, if the command daemonized (it exited, leaving processes that hold the pidfile's inherited lock), `run` exits with the command's status once the last of them has exited, not before (see `run` under COMMANDS).\n\n*128+N*\n:   The command was killed by signal *N* (143 for TERM, 137 for KILL), or, with a cgroup, so was the daemon `run` followed. Only for the command and its daemon: a signal `run` forwards that arrives before the command was started is 125.",
    rows: [
      row(
        2,
        ['usage'],
        ['USAGE'],
        'Usage error, including no COMMAND after `--`, and a `--pidfile` that names a directory (`/`, or a path ending in `/`, `/.` or `/..`: "names a directory, not a file").',
      ),
      row(
        122,
        ['conflict'],
        ['CONFLICT'],
        "NAME is already running and `--replace` was not given; or, with or without `--replace`, the cgroup a SIGKILLed `run` of the same pidfile left still holds processes (the message names the cgroup and the pids: see *The service's cgroup* under NOTES). The running instance and its pidfile are left alone, and COMMAND is not started.",
        '`122` (`--conflict-exit-code`)',
      ),
      row(
        123,
        ['unsafe'],
        ['UNSAFE_PIDFILE'],
        "The pidfile was refused as unsafe: on a kernel pseudo file system (proc, sysfs, cgroup...), a symbolic link, not a regular file, another name of a file (more than one link), owned by another user, may be written by others with a mode that cannot be changed, or reached through a symbolic link or directory another user controls (see *Pidfile safety* under NOTES); or an existing file is not empty and holds no pid (a pid on its first line and nothing else but blank lines: `refusing to overwrite FILE: it holds N bytes that are not a pid`), so a mistyped `--pidfile` never destroys a file; or, when replacing a file only non-writers lock, its lock file `.NAME.nslocate-replacing` belongs to another user. Nothing was written, created or removed, and the file's content and mode are as they were.",
      ),
      row(
        124,
        ['timeout'],
        ['TIMEOUT'],
        'The lock could not be taken in time: other starters kept contending for it beyond `--lock-timeout`, or, with `--replace`, the running instance did not go away within the timeouts or may not be signalled.',
      ),
      row(
        125,
        ['failed', 'interrupted'],
        ['NATIVE_LOAD', 'UNSUPPORTED', 'PERMISSION', 'NOT_RUNNING', 'NOT_VISIBLE', 'GONE', 'DOCKER', 'RUNTIME', 'IO'],
        "`run` itself failed: the pidfile or its directory could not be created or opened (permission, read-only file system, not a directory), the pid could not be written (no space left on the device), the child could not be forked, or the native addon is missing; with `--cgroup required`, no cgroup could be made for the service or the child could not be moved into it (`no cgroup for NAME: WHY; nothing was started`: see *The service's cgroup* under NOTES); or `run` was interrupted (TERM, INT, HUP, QUIT, USR1, USR2 or WINCH) while it was still taking the pidfile, before the command was started: it then removes the file and says `interrupted by SIGTERM before COMMAND was started`. COMMAND was not executed: it is started held before it executes and is only let go once its pid is in the file; when the write fails, the held child exits without running anything and the file is removed.",
      ),
      row(126, ['cannot_execute'], [], 'COMMAND was found but cannot be executed (not executable, a directory, an exec format error).'),
      row(127, ['not_found'], [], 'COMMAND was not found (looked up in `PATH` as execvp(3) does, before anything is created).'),
    ],
  },
  containers: {
    rows: [
      row(0, ['listed'], [], 'Listed.'),
      usage(),
      row(
        4,
        [],
        ['DOCKER', 'RUNTIME', 'PERMISSION', 'IO', 'NATIVE_LOAD', 'UNSUPPORTED', 'TIMEOUT'],
        'The engine could not be asked (unreachable, permission denied on the socket), or an error.',
      ),
    ],
  },
}

/** The exit status of `outcome` (a State, SignalOutcome, WaitOutcome, RunOutcome, ...) for `command`. */
export function statusOf(command: CommandName, outcome: string): number {
  for (const row of EXIT_STATUS[command].rows) if (row.outcomes.includes(outcome)) return row.status
  throw new Error(`exit-status: no status for outcome ${outcome} of ${command}`)
}

/** The exit status of an error that stopped `command`: by its code (an NslocateError), else 1 (a bug). */
export function errorStatus(command: CommandName, error: unknown): number {
  const code = (error as {name?: string; code?: string} | null)?.code
  if ((error as {name?: string} | null)?.name !== 'NslocateError' || typeof code !== 'string') return 1
  for (const row of EXIT_STATUS[command].rows) if ((row.errors as readonly string[]).includes(code)) return row.status
  return code === 'USAGE' ? 2 : 4
}
