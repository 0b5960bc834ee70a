import {BaseCommand} from '../src/cli/base-command'
import {signalCommand} from '../src/cli/commands/signal'
import {signal as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Signal extends BaseCommand {
  protected readonly command = signalCommand
  static summary = 'Send SIGNAL to exactly the process find identifies, through a pidfd.'
  static description = `Identifies NAME as find does, opens a pidfd on the process, re-checks that it is still that process (the lock is held by the same holder, the start time is unchanged), and only then sends the signal with pidfd_send_signal(2). With --wait or --retry the same pidfd is kept while waiting and escalating, so a pid reused meanwhile never receives anything.

Never signals pid <= 0, nslocate itself or its ancestors, pid 1 of this namespace, or (with --scope group) nslocate's own process group. Scope members are found again before each signal of a schedule, but only from processes still pinned and proven to belong, so a pid reused meanwhile receives nothing. --scope cgroup uses only a cgroup of the service's own that does not hold nslocate: the one nslocate run made for it and recorded beside its pidfile (when the main process is in it), a container's, or a unit's .service/.scope; KILL goes through cgroup.kill. With --wait or --retry, a service run gave a cgroup has exited only once that cgroup is empty, its escapes included. With --root-pid, --container or --pod, a process outside the target's PID namespace is never the answer (outside_target_namespace).

SIGNAL may be a real-time signal (RTMIN, RTMIN+3, SIGRTMAX-1, 34 to 64, as kill -l names them). Signal 0 only probes, so it cannot be combined with --wait or --retry (usage error). --dry-run makes every check a real run makes, the kernel's permission check included.

--retry takes start-stop-daemon's schedule: SIGNAL/TIMEOUT[/SIGNAL/TIMEOUT...], e.g. TERM/30/KILL/5 (send TERM, wait up to 30 s for exit, then KILL, wait 5 s); a bare number N means SIGNAL/N/KILL/N.

Before sending, the target's disposition is read from /proc/PID/status (SigCgt, SigIgn, SigBlk, NSpid) and reported: handled, default (terminate, core, stop, ignore, continue), ignored, blocked (stays pending), or dropped (pid 1 of its PID namespace without a handler: the kernel discards everything but KILL/STOP from an ancestor namespace, and those too from inside). A signal that will not act is still sent (unless --require-handler), and the message names the target and why.

Output: a success is one line on stdout (web: sent TERM to pid 4242:17; exited after 3 ms) and nothing on stderr; a failure is one line on stderr (and at most one hint line), which names the first target the signal does nothing to and why, and how many more (each one in --verbose and --json). What each target does with the signal (  pid 4242 TERM: default (default action: terminate)) and each process skipped (  skipped pid 4243: gone) follow on stderr only with --verbose; --json always has them (dispositions, skipped). --quiet prints nothing on success.

Progress: with --wait or --retry, when stderr is a terminal, one line on stderr says what the wait is waiting for and what happens next, with the time elapsed. What is known at the start is said at once: the target ignores the signal (SIG_IGN), blocks it, has no handler, or the kernel drops it, e.g. web: pid 4242 ignores TERM (SIG_IGN); the KILL at 4 s will stop it  1.2 s, or web: waiting for pid 4242 to exit, KILL at 30 s (sent TERM: it has a handler)  3.4 s. The line is redrawn in place at most four times a second, measured in terminal columns (a wide CJK character counts two, a combining mark none; a longer message is cut with ...) so that it never wraps, and erased before the final message (and on Ctrl-C). Never on stdout, and never when stderr is not a terminal, with --json or --quiet, or with TERM=dumb; no colours. Piped, the output is unchanged. Through a helper container (--container when its processes are not visible here) the line only says that the signal and its wait are under way.

--pid PID:ID names the target itself, as util-linux kill PID:INODE does: no pidfile is read (NAME only labels the answer), and nothing is sent unless the process at PID has exactly the pidfs id ID (exit 7 when it has exited, its pid free or reused; 4 when ID is a live process at another pid or in another PID namespace, or, before Linux 6.17, when it cannot be told whether ID still runs elsewhere; a thread that does not lead its process is refused); the same refusals apply (nslocate, its ancestors, pid 1). Feed it from find: --pid "$(nslocate find NAME --json | jq -r .pidfd_ref)". Linux 6.9+.

Durations (--timeout, --retry) may be up to 100000h; longer is a usage error. Waits of any accepted length are kept: a KILL never comes early.

Exit status (LSB): 0 delivered (and with --wait/--retry, the process is gone); 1 failed, still running when the schedule ran out, sent but without effect on every target (dropped or ignored; nothing was waited for), or nothing sent because no target catches SIGNAL (--require-handler); 2 usage; 4 not permitted (permission, unsafe pidfile, holder not visible, outside the target's namespace, scope refused) or not identified (the pidfile locked but still empty after 2 s: starting); 7 not running (no pidfile, a stale one, the process exited before it could be signalled, or a --container or --pod that is not running; nothing was signalled).`
  static examples = [
    {command: '<%= config.bin %> signal nginx HUP', description: 'Reload nginx.'},
    {command: '<%= config.bin %> signal app TERM --retry TERM/30/KILL/5', description: 'Stop app: TERM, wait up to 30 s, then KILL.'},
    {command: '<%= config.bin %> signal app TERM --scope tree --dry-run --json', description: 'Show which processes a tree-wide TERM would reach.'},
    {command: '<%= config.bin %> signal app 0', description: 'Only check that the process is there and may be signalled.'},
    {
      command: '<%= config.bin %> signal app TERM --pid "$(<%= config.bin %> find app --json | jq -r .pidfd_ref)"',
      description: 'Signal exactly the process find saw: refused, with nothing sent, if it has exited or its pid was reused since.',
    },
    {
      command: '<%= config.bin %> signal nginx HUP --container web',
      description: "Reload nginx in the container web, from the host or from a sidecar that has the runtime's socket.",
    },
  ]
  static enableJsonFlag = true
  // Arguments and flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  // What to type (oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage(signalCommand.id)
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
