/**
 * What the library's functions can answer, as closed unions. The library says what happened; the
 * CLI turns it into an exit status at the edge (src/cli/exit-status.ts, the one table, from which
 * the man page's EXIT STATUS section is generated). No exit status is decided below src/cli/.
 */

/** locate(): the service's state (find's and list's answer). */
export type State = 'running' | 'stale' | 'stopped' | 'unknown'

/**
 * signal(): what was done.
 * - `signalled`: delivered (with wait/retry: and every process signalled has exited);
 * - `probed`: signal 0, the process is there and may be signalled;
 * - `would_signal`: dryRun, every check passed, nothing sent;
 * - `still_running`: delivered, but something signalled outlived the timeout or the schedule;
 * - `no_effect`: delivered, but it acts on none of its targets (dropped, ignored) and nothing was waited for;
 * - `no_handler`: requireHandler, and no target catches the signal: nothing sent;
 * - `not_permitted`: kill(2) permission denied (also on a dry run);
 * - `refused`: cannot tell which process it is, it cannot be seen from here, it is one nslocate never signals, or the scope was refused: nothing sent;
 * - `not_running`: no pidfile, a stale one, or it exited before it could be signalled: nothing sent.
 */
export type SignalOutcome = 'signalled' | 'probed' | 'would_signal' | 'still_running' | 'no_effect' | 'no_handler' | 'not_permitted' | 'refused' | 'not_running'

/** waitFor(): `reached`; `not_reached` (timed out, or the namespace ended while waiting for running); `cannot_tell`. */
export type WaitOutcome = 'reached' | 'not_reached' | 'cannot_tell'

/**
 * `run` (and acquire()) failing on its own account, before or around COMMAND:
 * - `conflict`: NAME is already running;
 * - `unsafe`: the pidfile was refused by the safety rules (or is not a pidfile);
 * - `timeout`: the lock could not be taken in time (or replace could not stop the instance);
 * - `failed`: the pidfile or its directory could not be created, locked or written, or the fork failed;
 * - `interrupted`: a forwarded signal arrived before COMMAND was started;
 * - `cannot_execute` / `not_found`: COMMAND cannot be executed / was not found;
 * - `usage`: a bad option.
 */
export type RunOutcome = 'conflict' | 'unsafe' | 'timeout' | 'failed' | 'interrupted' | 'cannot_execute' | 'not_found' | 'usage'

/** Which processes signal() reaches: the main process, its process group, its own cgroup, or it and its descendants. */
export const SCOPES = ['main', 'group', 'cgroup', 'tree'] as const

/** One of SCOPES. */
export type Scope = (typeof SCOPES)[number]
