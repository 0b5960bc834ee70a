/**
 * The start-up fast path of one command (src/cli/fast-path.ts): parse with the fast parser, hand the
 * invocation to the command's module with the fast Output, and run it as oclif's path would: exit
 * status, error printing. Each bundle (scripts/bundle-fast.js) is this file and one command's module.
 */
import {CommandModule, quietOf, runToAnswer} from './command'
import {Prepared, fastParse} from './fast-parse'
import {selectionOf} from './hint'

/** argv after the command id; null when oclif must take the invocation (help, an unknown flag, a bad value). */
export function prepare(command: CommandModule, argv: string[]): Prepared | null {
  const p = fastParse(command.grammar, argv)
  if (!p) return null
  const {fastOutput} = require('./fast-io') as typeof import('./fast-io')
  const inv = {args: p.args, flags: p.flags, argv: p.argv, raw: argv, json: p.json}
  const selection = selectionOf(command.grammar, p.flags, p.args.name)
  const out = () => fastOutput(p.json, quietOf(p.flags, p.json), selection)
  return {command: command.id, json: p.json, exit: command.exit, selection, run: () => runToAnswer(command, inv, out())}
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
  const fail = (error: unknown) => done(failed(p.command, p.json, error, p.selection))
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
