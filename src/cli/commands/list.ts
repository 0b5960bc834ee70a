/** `nslocate list`: every pidfile find would find, one row each. */
import {ContainerSpec, splitContainer} from '../../runtime/spec'
import type {CommandModule, Invocation, Output} from '../command'
import {statusOf} from '../exit-status'
import {formatList} from '../format'
import {list as grammar} from '../grammar'
import {snakeKeys} from '../json'
import {optionsOf} from '../options'
import {ListOptions, ListResult, list} from '../../list/list'
import type {LocateResult} from '../../locate/locate'

/** `nslocate list`: every *.pid service of the runtime directories (or --dir), here or in --container. */
export const listCommand: CommandModule = {
  id: 'list',
  grammar,
  run(inv: Invocation, out: Output): number | Promise<number> {
    const {spec, rest: opts} = splitContainer(optionsOf(grammar, inv.flags) as ListOptions & ContainerSpec)
    if (!spec) return print(list(opts), out)
    return import('../../runtime/in-container').then(({listInContainer}) => listInContainer(spec, opts)).then((r) => print(r, out))
  },
}

function print(listing: ListResult, out: Output): number {
  if (listing.notRunning !== undefined) out.warn(listing.notRunning)
  for (const u of listing.unreadable) out.warn(`cannot read ${u.dir}: ${u.message}`)
  if (listing.denied.length > 0) {
    out.warn(`could not look into ${listing.denied.join(', ')} (permission denied): a NAME.pid there is not listed`, "run as root or as the directory's owner")
  }
  // Row by row, as each file is located: with --json each row is printed as it comes, so a long
  // listing never sits in memory; the table needs every row for its column widths, and keeps only
  // what formatList() shows.
  if (out.json) {
    const rows = out.jsonRows()
    for (const r of listing.services) rows.add(snakeKeys(r))
    rows.end()
  } else if (listing.notRunning === undefined) {
    const rows: LocateResult[] = []
    for (const r of listing.services) rows.push({...r, evidence: [], process: null})
    out.log(formatList(rows))
  }
  return statusOf('list', listing.outcome)
}
