/** Runs what a fast-path runner prepared (src/cli/fast-path.ts), as oclif's path would: exit status, error printing. */
import type {Prepared} from './fast-parse'

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
