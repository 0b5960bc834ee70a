/** `nslocate run NAME [flags] -- COMMAND...` without oclif: the same body (src/cli/run-service.ts) as commands/run.ts. */
import {Prepared, fastParseOnly} from './fast-parse'
import {logToStderr} from './fast-io'
import {run} from './grammar'
import {RunFlags, runService} from './run-service'

export const FAST_FLAGS: readonly string[] = Object.keys(run.flags)

export function prepare(argv: string[]): Prepared | null {
  const p = fastParseOnly(run, argv, FAST_FLAGS)
  // commands/run.ts ends with this.exit(status): oclif then exits at once, so does this.
  if (!p) return null
  // COMMAND is everything after the first "--", verbatim (as commands/run.ts takes it).
  const dashes = argv.indexOf('--')
  const command = dashes >= 0 ? argv.slice(dashes + 1) : p.argv.slice(1)
  return {json: false, exit: true, run: () => runService(p.args.name, p.flags as unknown as RunFlags, command, logToStderr)}
}
