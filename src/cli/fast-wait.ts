/** `nslocate wait` (host, no --container) without oclif: mirrors commands/wait.ts run(); test/cli compares the two. */
import {Prepared, fastParseOnly} from './fast-parse'
import {report} from './fast-io'
import {identityOptions, wait} from './grammar'
import {describeExit} from '../signal/landing'
import {parseDuration} from '../signal/parse'
import {waitFor} from '../signal/signal'

export const FAST_FLAGS: readonly string[] = ['pidfile', 'dir', 'allow-unsafe-pidfile', 'root-pid', 'for', 'timeout', 'exec', 'process-name', 'user']

export function prepare(argv: string[]): Prepared | null {
  const p = fastParseOnly(wait, argv, FAST_FLAGS)
  if (!p) return null
  const flags = p.flags as {pidfile?: string; dir?: string; 'allow-unsafe-pidfile': boolean; 'root-pid'?: number; for: 'running' | 'stopped'; timeout: string; exec?: string; 'process-name'?: string; user?: string}
  return {json: p.json, run: async () => {
    const opts = {pidfile: flags.pidfile, dir: flags.dir, allowUnsafe: flags['allow-unsafe-pidfile'], timeoutMs: parseDuration(flags.timeout), ...identityOptions(flags)}
    const result = await waitFor(p.args.name, flags.for, {...opts, rootPid: flags['root-pid']})
    if (result.exit) result.message += ` (${describeExit(result.exit)})`
    return report(p.json, result)
  }}
}
