/**
 * Which options option pid (`PID:ID`, pid-ref.ts) may come with. Apart from pid-ref.ts so that the
 * library's entry (src/api/library.ts) checks them without loading what pinning needs.
 */
import {NslocateError} from '../errors'

/**
 * The options option pid cannot be given with: where to look for a pidfile, and what the located
 * process must be. (`runtime` is left out: its default, auto, is always there and names nothing.)
 */
export const NOT_WITH_PID = ['pidfile', 'dir', 'rootPid', 'container', 'pod', 'containerName', 'exec', 'processName', 'user'] as const

/** USAGE when option pid comes with an option it replaces (NOT_WITH_PID); `fn` names the library function in the message. */
export function checkPidRefOptions(options: Record<string, unknown>, fn?: string): void {
  if (options.pid === undefined) return
  const other = NOT_WITH_PID.find((k) => options[k] !== undefined)
  if (other === undefined) return
  throw new NslocateError(
    'USAGE',
    // (so no pidfile is read and no identity is checked)
    (n) => `${fn ? `${fn}(): ` : ''}give ${n('pid')} or ${n(other)}, not both: ${n('pid')} names the process itself`,
    {details: {option: other}},
  )
}
