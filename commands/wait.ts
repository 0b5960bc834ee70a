import {BaseCommand} from '../src/cli/base-command'
import {waitCommand} from '../src/cli/commands/wait'
import {wait as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Wait extends BaseCommand {
  protected readonly command = waitCommand
  static summary = 'Wait until NAME is running, or until it has stopped.'
  static description = `--for stopped pins the running process (and the lock holder, when it is another process) with pidfds and returns as soon as they have exited (no polling of the pid); for a service nslocate run gave a cgroup, only once that cgroup is empty as well (cgroup.events, watched with inotify), whatever its processes did to leave the main one (setsid, a double fork), also when the pidfile is gone or stale. --for main-stopped returns as soon as the main process found at the start has exited, whatever else of the service lives on. --for running re-checks every 25 ms until find identifies the service: a locked pidfile that names its process, or an unlocked one resolved to one process. A locked pidfile that is still empty is only starting (find's starting field is true): its holder may be a supervisor, so the wait goes on.

With --container or --pod, a container that does not exist or is not running holds no running service: --for stopped holds at once, --for running looks at the container again every 250 ms.

--for stopped and --for main-stopped report how the main process ended as "exit": {"code": N} or {"signal": "TERM", "core": false}, read with PIDFD_GET_INFO/PIDFD_INFO_EXIT once its parent has reaped it (Linux 6.15+; "unknown" on older kernels or while it is an unreaped zombie); null when the service was not running when the wait began.

--pid PID:ID (with --for stopped) waits for that very process, as util-linux waitpid PID:INODE does: no pidfile is read, and it holds once the process with the pidfs id ID has exited; when ID is a live process at another pid or in another PID namespace, or, before Linux 6.17, when it cannot be told whether ID still runs elsewhere, the answer is cannot tell. Linux 6.9+.

With --root-pid, --container or --pod, a process outside the target's PID namespace is never the service (outside_target_namespace: cannot tell).

Progress: when stderr is a terminal, one line on stderr says what the wait is waiting on, with the time elapsed and the timeout: web: waiting for it to be running (no pidfile yet)  1.2 s / 3 s, web: waiting for pid 4242:17 to exit  2.0 s / 30 s, web: waiting for its cgroup DIR to be empty (it holds pid 4250)  5.1 s / 30 s. The line is redrawn in place at most four times a second, measured in terminal columns (a wide CJK character counts two, a combining mark none; a longer message is cut with ...) so that it never wraps, and erased before the final message (and on Ctrl-C). Never on stdout, and never when stderr is not a terminal, with --json or --quiet, or with TERM=dumb; no colours. Piped, the output is unchanged.

Exit status: 0 the condition holds, 1 timed out (for --for stopped, also while the service's cgroup still holds a process; the message names them), 2 usage, 4 cannot tell (unsafe pidfile, ambiguous, permission, outside the target's namespace).`
  static examples = [
    {command: '<%= config.bin %> wait db --for running --timeout 30s && ./migrate', description: 'Start work once db runs.'},
    {command: '<%= config.bin %> signal app TERM && <%= config.bin %> wait app --timeout 10s', description: 'Stop, then wait until it has stopped.'},
    {
      command: '<%= config.bin %> wait app --pid "$(<%= config.bin %> find app --json | jq -r .pidfd_ref)" --timeout 10s',
      description: 'Wait for exactly the process find saw to exit.',
    },
  ]
  static enableJsonFlag = true
  // Arguments and flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  // What to type (oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage(waitCommand.id)
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
