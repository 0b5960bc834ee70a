/**
 * The start-up fast path: loading @oclif/core costs more than Node's own start, so the plain
 * invocations of find, list, signal, wait and run are parsed from the grammar (src/cli/grammar.ts)
 * and run without it. Anything else returns null and goes through oclif.
 *
 * As shipped, each command's runner is bundled with src/cli/fast-prepared.ts into its own file,
 * dist/fast/COMMAND.js (scripts/bundle-fast.js, for the commands of FAST_COMMANDS), which bin/run.js
 * loads directly; this module is the same dispatch for the library and the tests.
 */
import type {Prepared} from './fast-parse'

export {runPrepared} from './fast-prepared'

const RUNNERS: Record<string, () => {prepare(argv: string[]): Prepared | null}> = {
  find: () => require('./fast-find'),
  list: () => require('./fast-list'),
  signal: () => require('./fast-signal'),
  wait: () => require('./fast-wait'),
  run: () => require('./fast-run'),
}

/** The commands with a fast path, one bundle each. */
export const FAST_COMMANDS: readonly string[] = Object.keys(RUNNERS)

/** argv: process.argv.slice(2), the command id first. */
export function prepareFast(argv: string[]): Prepared | null {
  const load = Object.prototype.hasOwnProperty.call(RUNNERS, argv[0]) ? RUNNERS[argv[0]] : undefined
  return load ? load().prepare(argv.slice(1)) : null
}

