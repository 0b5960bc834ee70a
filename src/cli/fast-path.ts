/**
 * The start-up fast path bin/run.js tries first: loading @oclif/core costs more than Node's own
 * start, so the plain invocations of find, list, signal, wait and run are parsed from the grammar
 * (src/cli/grammar.ts) and run here. Anything else returns null and goes through oclif.
 * Each command's runner is loaded only when that command is asked for.
 */
import type {Prepared} from './fast-parse'

const RUNNERS: Record<string, () => {prepare(argv: string[]): Prepared | null}> = {
  find: () => require('./fast-find'),
  list: () => require('./fast-list'),
  signal: () => require('./fast-signal'),
  wait: () => require('./fast-wait'),
  run: () => require('./fast-run'),
}

/** argv: process.argv.slice(2), the command id first. */
export function prepareFast(argv: string[]): Prepared | null {
  const load = Object.prototype.hasOwnProperty.call(RUNNERS, argv[0]) ? RUNNERS[argv[0]] : undefined
  return load ? load().prepare(argv.slice(1)) : null
}

/** Runs a prepared invocation and sets process.exitCode; library errors print as BaseCommand.catch prints them. */
export function runPrepared(p: Prepared): void {
  const {failed} = require('./fast-io') as typeof import('./fast-io')
  const done = (status: number) => {
    process.exitCode = status
    if (p.exit) process.exit(status)
  }
  const crash = (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
  const fail = (error: unknown) => {
    const s = failed(p.json, error)
    if (typeof s === 'number') done(s)
    else s.then(done, crash)
  }
  let status: number | Promise<number>
  try {
    status = p.run()
  } catch (error) {
    try {
      fail(error)
    } catch (bug) {
      crash(bug)
    }
    return
  }
  if (typeof status === 'number') done(status)
  else status.then(done, fail).catch(crash)
}
