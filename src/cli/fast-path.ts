/**
 * The start-up fast path: loading @oclif/core costs more than Node's own start, so the plain
 * invocations of find, list, signal, wait and run are parsed from the grammar (src/cli/grammar.ts)
 * and given to the command's module (src/cli/commands/) without it. An invocation the fast parser
 * does not fully understand (--help, an unknown flag, a bad value) returns null and goes through
 * oclif, with oclif's messages.
 *
 * As shipped, each command's module is bundled with this file into its own file, dist/fast/COMMAND.js
 * (scripts/bundle-fast.js, for the commands of FAST_COMMANDS), which bin/run.js loads directly;
 * prepareFast() is the same dispatch for the library and the tests.
 */
import type {CommandModule} from './command'
import type {Prepared} from './fast-parse'
import {prepare} from './fast-prepared'

export {prepare, runPrepared} from './fast-prepared'

const MODULES: Record<string, () => CommandModule> = {
  find: () => require('./commands/find').findCommand,
  list: () => require('./commands/list').listCommand,
  signal: () => require('./commands/signal').signalCommand,
  wait: () => require('./commands/wait').waitCommand,
  run: () => require('./commands/run').runCommand,
}

/** The commands with a fast path, one bundle each. */
export const FAST_COMMANDS: readonly string[] = Object.keys(MODULES)

/** argv: process.argv.slice(2), the command id first. */
export function prepareFast(argv: string[]): Prepared | null {
  const load = Object.prototype.hasOwnProperty.call(MODULES, argv[0]) ? MODULES[argv[0]] : undefined
  return load ? prepare(load(), argv.slice(1)) : null
}
