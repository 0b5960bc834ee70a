/**
 * The --json output at the edge (contract 3 of issue 18): the library's results are camelCase and
 * carry outcomes; the JSON the CLI prints keeps today's snake_case keys and its `exit_code`.
 */
import {CommandName, statusOf} from './exit-status'

/** The one rename table: library field -> JSON key. String VALUES (reasons, outcomes) are left alone. */
export const JSON_KEYS: Readonly<Record<string, string>> = {
  waitedMs: 'waited_ms',
  dryRun: 'dry_run',
  podUid: 'pod_uid',
  wouldDeliver: 'would_deliver',
  defaultAction: 'default_action',
  noEffect: 'no_effect',
  namespaceInit: 'namespace_init',
  durationMs: 'duration_ms',
  debounceMs: 'debounce_ms',
  exitCode: 'exit_code',
  pidfdId: 'pidfd_id',
  holderPidfdId: 'holder_pidfd_id',
  pidfdRef: 'pidfd_ref',
  bootId: 'boot_id',
  mtimeNs: 'mtime_ns',
}

const LIBRARY_KEYS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(JSON_KEYS).map(([k, v]) => [v, k]))

/** `value` with every key of `table` renamed, at any depth (key order kept). */
function renameKeys(value: unknown, table: Readonly<Record<string, string>>): unknown {
  if (Array.isArray(value)) return value.map((v) => renameKeys(v, table))
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[table[k] ?? k] = renameKeys(v, table)
  return out
}

/** `value` as printed: every key of JSON_KEYS renamed, at any depth. */
export const snakeKeys = (value: unknown): unknown => renameKeys(value, JSON_KEYS)

/** The inverse of snakeKeys(). */
export const camelKeys = (value: unknown): unknown => renameKeys(value, LIBRARY_KEYS)

/**
 * A result as printed: snake_case keys, and its `outcome` given as the `exit_code` it exits with
 * (in the outcome's place, as the JSON has had it). A result that already has `exit_code` keeps it.
 */
export function resultJson(command: CommandName, result: object): unknown {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(result)) {
    if (k === 'outcome' && typeof v === 'string') out.exit_code = statusOf(command, v)
    else out[JSON_KEYS[k] ?? k] = snakeKeys(v)
  }
  return out
}

type Printed = {exit_code?: number; dry_run?: boolean; signal?: string; exited?: boolean | null; delivered?: unknown[]; skipped?: Array<{reason: string}>}

/** The outcome a printed signal or wait result stands for (its exit_code, told apart by the fields beside it). */
function outcomeOf(command: 'find' | 'signal' | 'wait', j: Printed): string | undefined {
  const status = j.exit_code
  if (command === 'wait') return ({0: 'reached', 1: 'not_reached', 4: 'cannot_tell'} as Record<number, string>)[status!]
  if (command !== 'signal') return undefined
  const delivered = j.delivered?.length ?? 0
  switch (status) {
    case 0:
      return j.dry_run ? 'would_signal' : /^(SIG)?0$/.test(j.signal ?? '') ? 'probed' : 'signalled'
    case 1:
      return delivered === 0 ? 'no_handler' : j.exited === false ? 'still_running' : 'no_effect'
    case 4:
      return j.skipped?.some((s) => s.reason === 'permission') ? 'not_permitted' : 'refused'
    case 7:
      return 'not_running'
    default:
      return undefined
  }
}

/**
 * A result printed with --json (by the helper container's nslocate) as the library returns it:
 * camelCase fields, and `outcome` in the place of `exit_code`.
 */
export function libraryResult(command: 'find' | 'signal' | 'wait', printed: unknown): unknown {
  const j = printed as Printed & Record<string, unknown>
  if (j === null || typeof j !== 'object' || Array.isArray(j)) return printed
  const outcome = outcomeOf(command, j)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(j)) {
    // `hint` is the command line's (the advice with the helper's flags): the result's is `advice`
    if (k === 'hint') continue
    if (k === 'exit_code' && outcome !== undefined) out.outcome = outcome
    else out[LIBRARY_KEYS[k] ?? k] = camelKeys(v)
  }
  return out
}
