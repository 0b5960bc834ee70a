/** `nslocate signal` (host, no --container) without oclif: mirrors commands/signal.ts run(); test/cli compares the two. */
import {Prepared, fastParseOnly} from './fast-parse'
import {report} from './fast-io'
import {signal as grammar, identityOptions} from './grammar'
import {dispositionLines} from '../signal/landing'
import {parseDuration} from '../signal/parse'
import {signal} from '../signal/signal'

export const FAST_FLAGS: readonly string[] = ['pidfile', 'dir', 'allow-unsafe-pidfile', 'root-pid', 'scope', 'wait', 'timeout', 'retry', 'dry-run', 'require-handler', 'exec', 'process-name', 'user']

export function prepare(argv: string[]): Prepared | null {
  const p = fastParseOnly(grammar, argv, FAST_FLAGS)
  if (!p) return null
  const flags = p.flags as {pidfile?: string; dir?: string; 'allow-unsafe-pidfile': boolean; 'root-pid'?: number; scope: 'main' | 'group' | 'cgroup' | 'tree'; wait: boolean; timeout: string; retry?: string; 'dry-run': boolean; 'require-handler': boolean; exec?: string; 'process-name'?: string; user?: string}
  return {json: p.json, run: async () => {
    const opts = {
      pidfile: flags.pidfile, dir: flags.dir, allowUnsafe: flags['allow-unsafe-pidfile'], scope: flags.scope,
      wait: flags.wait, timeoutMs: parseDuration(flags.timeout), retry: flags.retry, dryRun: flags['dry-run'],
      requireHandler: flags['require-handler'], ...identityOptions(flags),
    }
    const result = await signal(p.args.name, p.args.signal, {...opts, rootPid: flags['root-pid']})
    return report(p.json, result, [...dispositionLines(result.dispositions), ...result.skipped.map((s) => `  skipped pid ${s.pid}: ${s.reason}`)])
  }}
}
