/** `nslocate list` (host, no --container/--root-pid) without oclif: mirrors commands/list.ts run(); test/cli compares the two. */
import {Prepared, fastParseOnly} from './fast-parse'
import {log, logJson, warn} from './fast-io'
import {formatList} from './format'
import {identityOptions, list} from './grammar'
import {listPidfiles} from '../locate/list-pidfiles'
import {locate} from '../locate/locate'

export const FAST_FLAGS: readonly string[] = ['dir', 'allow-unsafe-pidfile', 'exec', 'process-name', 'user']

export function prepare(argv: string[]): Prepared | null {
  const p = fastParseOnly(list, argv, FAST_FLAGS)
  if (!p) return null
  const flags = p.flags as {dir?: string; 'allow-unsafe-pidfile': boolean; exec?: string; 'process-name'?: string; user?: string}
  return {json: p.json, run: () => {
    const listing = listPidfiles({dir: flags.dir})
    if (!p.json) {
      for (const u of listing.unreadable) warn(`cannot read ${u.dir}: ${u.message}`)
      if (listing.denied.length > 0) {
        warn(`could not look into ${listing.denied.join(', ')} (permission denied): a NAME.pid there is not listed; run as root or as the directory's owner`)
      }
    }
    const allowUnsafe = flags['allow-unsafe-pidfile']
    const rows = listing.files.map((f) => locate({name: f.name, pidfile: f.path, skipNameCheck: !f.validName, allowUnsafe, ...identityOptions(flags)}))
    if (p.json) logJson(rows)
    else log(formatList(rows))
    return listing.unreadable.length > 0 ? 4 : 0
  }}
}
