/**
 * The runtime × placement table of issue 19's closing note, as test/runtime/placements-matrix.test.ts
 * observed it: one row per runtime and placement, the result of find, signal and wait in each cell
 * (exit status, then state or outcome). Every cell is what a real run printed and what the victim
 * logged; a cell that was never reached says "not run". Written to build/runtime-placements.md
 * ($NSLOCATE_PLACEMENTS_TABLE overrides it) after every recorded cell, so a run that fails half-way
 * still leaves what it saw.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT} from '../helpers/paths'

export const TABLE_FILE = process.env.NSLOCATE_PLACEMENTS_TABLE || path.join(ROOT, 'build', 'runtime-placements.md')

export const RUNTIMES = ['Docker', 'Podman (rootful)', 'CRI (containerd)'] as const
export type Runtime = (typeof RUNTIMES)[number]

/** The four placements of issue 19, then the host's TERM/stopped check on a fresh app. */
export const PLACEMENTS = ['host', 'shared PID namespace', 'shared volume only', 'helper container', 'host, fresh app: TERM'] as const
export type Placement = (typeof PLACEMENTS)[number]

export type Column = 'how' | 'find' | 'signal' | 'wait'

type Row = Partial<Record<Column, string>>

/** One table per test file: the cells recorded so far, written out as markdown on every record. */
export class MatrixTable {
  private readonly rows = new Map<string, Row>()
  private readonly notes: string[] = []

  constructor(
    readonly file: string = TABLE_FILE,
    private readonly title = 'nslocate: runtime × placement',
  ) {}

  /** Record one cell (and write the table). */
  record(runtime: Runtime, placement: Placement, column: Column, text: string): void {
    const key = `${runtime}\0${placement}`
    const row = this.rows.get(key) ?? {}
    row[column] = text
    this.rows.set(key, row)
    this.write()
  }

  /** A line under the table (versions, how to read it). */
  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text)
    this.write()
  }

  markdown(): string {
    const head = ['runtime', 'placement', 'where nslocate runs', '`find --json`', '`signal HUP` (the app’s log)', '`wait --for running --timeout 2s`']
    const lines = [`# ${this.title}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
    for (const runtime of RUNTIMES) {
      for (const placement of PLACEMENTS) {
        const row = this.rows.get(`${runtime}\0${placement}`) ?? {}
        const cells = [runtime, placement, row.how ?? '', row.find ?? 'not run', row.signal ?? 'not run', row.wait ?? 'not run']
        lines.push(`| ${cells.map(cell).join(' | ')} |`)
      }
    }
    if (this.notes.length) lines.push('', ...this.notes.map((n) => `- ${n}`))
    return `${lines.join('\n')}\n`
  }

  write(): void {
    fs.mkdirSync(path.dirname(this.file), {recursive: true})
    fs.writeFileSync(this.file, this.markdown())
  }
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** What a printed result says, short: the error code, or the fields that decide it. */
export interface Printed {
  status: number | null
  json: any
}

/** `exit S, STATE pid P (visible|not visible) [reasons]` or `exit S, CODE: message`. */
export function findCell(r: Printed, pidNote = ''): string {
  const j = r.json ?? {}
  if (j.error) return `exit ${r.status}, ${j.error.code}: ${short(j.error.message)}`
  const pid = j.pid === null || j.pid === undefined ? 'pid null' : `pid ${j.pid}${pidNote}`
  const reasons = Array.isArray(j.reasons) && j.reasons.length ? ` [${j.reasons.join(', ')}]` : ''
  return `exit ${r.status}, ${j.state}, ${pid}, ${j.visible === false ? 'holder not visible' : 'visible'}${reasons}`
}

/** An error's code and message; `(the same message as find)` when find printed that very message. */
function errorText(error: {code: string; message: string}, sameAs?: Printed): string {
  return sameAs?.json?.error?.message === error.message ? `${error.code} (the same message as find)` : `${error.code}: ${short(error.message)}`
}

/** `exit S, delivered to P / refused (reasons); the app logged ...`. */
export function signalCell(r: Printed, logged: string, find?: Printed): string {
  const j = r.json ?? {}
  if (j.error) return `exit ${r.status}, ${errorText(j.error, find)}; ${logged}`
  const delivered = Array.isArray(j.delivered) ? j.delivered : []
  const what = delivered.length
    ? `delivered to pid ${delivered.map((d: {pid: number}) => d.pid).join(', ')}${j.helper ? ` (by a helper container, ${j.helper})` : ''}`
    : `nothing delivered${j.target?.reasons?.length ? ` [${j.target.reasons.join(', ')}]` : ''}`
  return `exit ${r.status}, ${what}; ${logged}`
}

/** `exit S, reached|not reached (target STATE)` or `exit S, CODE: message`. */
export function waitCell(r: Printed, find?: Printed): string {
  const j = r.json ?? {}
  if (j.error) return `exit ${r.status}, ${errorText(j.error, find)}`
  const target = j.target ? ` (target ${j.target.state}${j.target.reasons?.length ? ` [${j.target.reasons.join(', ')}]` : ''})` : ''
  return `exit ${r.status}, ${j.reached ? 'reached' : 'not reached'} ${j.condition ?? ''}${target}, ${j.waited_ms ?? '?'} ms`
}

function short(s: unknown): string {
  const t = String(s ?? '')
  return t.length > 300 ? `${t.slice(0, 297)}...` : t
}
