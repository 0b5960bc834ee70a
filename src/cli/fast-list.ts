/** `nslocate list` (host, no --container/--root-pid) without oclif: mirrors commands/list.ts run(); test/cli compares the two. */
import {Prepared, fastParseOnly} from './fast-parse'
import {log, warn, writeFd} from './fast-io'
import {formatList} from './format'
import {identityOptions, list} from './grammar'
import {eachListed, listPidfiles} from '../locate/list-pidfiles'
import type {LocateResult} from '../locate/locate'

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
    // Row by row, as each file is located: with --json each row is printed as it comes (JsonRows),
    // so a long listing never sits in memory; the table needs every row for its column widths, and
    // keeps only what formatList() shows.
    const json = p.json ? new JsonRows() : null
    const rows: LocateResult[] = []
    for (const r of eachListed(listing, {allowUnsafe, ...identityOptions(flags)})) {
      if (json) json.add(r)
      else rows.push({...r, evidence: [], process: null})
    }
    if (json) json.end()
    else log(formatList(rows))
    return listing.unreadable.length > 0 ? 4 : 0
  }}
}

/**
 * fast-io's logJson(rows), byte for byte (JSON.stringify(rows, null, 2) and a newline), printed a
 * row at a time: list of 10,000 pidfiles took 170 MB RSS when every row was kept and printed as one
 * string (bench/README.md, list-scale). A row's text is its JSON.stringify([row], null, 2) without
 * the brackets (the array's own layout for that element), copied at once into a Buffer outside
 * the JS heap and written 64 KiB at a time: text waiting in the heap for its turn would outlive
 * collections, and the young generation grows with every byte that does.
 */
class JsonRows {
  private readonly buf = Buffer.allocUnsafeSlow(1 << 16)
  private used = 0
  private count = 0

  add(row: LocateResult): void {
    const text = JSON.stringify([row], null, 2).slice(2, -2)
    const size = 2 + Buffer.byteLength(text)
    if (this.used + size > this.buf.length) this.flush()
    const sep = this.count++ === 0 ? '[\n' : ',\n'
    if (size > this.buf.length) return writeFd(1, sep + text)
    this.used += this.buf.write(sep, this.used, 'latin1')
    this.used += this.buf.write(text, this.used)
  }

  end(): void {
    if (this.count === 0) return writeFd(1, '[]\n')
    this.flush()
    writeFd(1, '\n]\n')
  }

  private flush(): void {
    if (this.used > 0) writeFd(1, this.buf.toString('utf8', 0, this.used))
    this.used = 0
  }
}
