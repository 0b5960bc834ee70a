/** Shared flags and error handling for nslocate's commands. Commands stay thin: parse, call the library, print. */
import {Command, Flags} from '@oclif/core'

import {NslocateError} from '../errors'

export const pidfileFlags = {
  pidfile: Flags.string({summary: 'Use this pidfile instead of searching for NAME.pid.', helpValue: 'PATH', exclusive: ['dir']}),
  dir: Flags.string({summary: 'Look for NAME.pid in this directory first.', helpValue: 'DIR', exclusive: ['pidfile']}),
  'allow-unsafe-pidfile': Flags.boolean({summary: 'Trust a symlinked, world-writable or foreign-owned pidfile (prints a warning).', default: false}),
}

export const containerFlags = {
  // An empty value (CID=$(docker ps -q ...) found nothing) must never mean "no container", which
  // would search the host: commands test `!== undefined`, and containerTarget() refuses '' (USAGE).
  container: Flags.string({summary: 'The service runs in this Docker container (name or id): read its pidfile inside the container, through the Docker API.', helpValue: 'REF', exclusive: ['root-pid']}),
  'root-pid': Flags.integer({summary: 'Look inside the mount and PID namespaces of process PID (e.g. 1 in a sidecar that shares the app\'s PID namespace).', helpValue: 'PID', min: 1, exclusive: ['container']}),
}

export abstract class BaseCommand extends Command {
  /** For results that carry their own verdict: print the message (stdout on success, stderr otherwise) and set the exit status. */
  protected report<T extends {exit_code: number; message: string}>(result: T, extra: string[] = []): T {
    if (!this.jsonEnabled()) {
      if (result.exit_code === 0) this.log(result.message)
      else this.logToStderr(`nslocate: ${result.message}`)
      for (const line of extra) this.logToStderr(line)
    }
    process.exitCode = result.exit_code
    return result
  }

  /** Turn library errors into the documented exit status; anything else is a bug and exits 1 with its stack under DEBUG. */
  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // With --json, oclif's own parse errors (unknown flag, missing argument, bad value) become a USAGE error object.
    if (!(error instanceof NslocateError) && error.oclif?.exit === 2 && this.jsonEnabled()) {
      error = new NslocateError('USAGE', error.message.split('\n')[0], {cause: error})
    }
    if (error instanceof NslocateError) {
      if (this.jsonEnabled()) {
        this.logJson({error: {code: error.code, message: error.message, ...error.details}})
        this.exit(error.exitCode)
      }
      this.error(error.message, {exit: error.exitCode, code: error.code})
    }
    return super.catch(error)
  }
}
