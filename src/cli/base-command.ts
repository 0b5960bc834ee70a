/** Shared flags and error handling for nslocate's commands. Commands stay thin: parse, call the library, print. */
import {Command, Flags} from '@oclif/core'

import {format} from 'node:util'

import {NslocateError} from '../errors'
import {withAbsolutePaths} from '../locate/search-path'
import {escapeLines, escapeText} from './escape'

/**
 * A path option (--pidfile, --dir): an empty value is a usage error (exit 2), never "not given"
 * (which would search the default directories), and a relative one is made absolute against the
 * working directory at once.
 */
export function pathFlag(opts: {summary: string; helpValue: string; exclusive?: string[]; key?: 'pidfile' | 'dir'}) {
  const key = opts.key ?? (opts.helpValue === 'DIR' ? 'dir' : 'pidfile')
  return Flags.string({
    summary: opts.summary, helpValue: opts.helpValue, exclusive: opts.exclusive,
    parse: async (input: string) => withAbsolutePaths({[key]: input})[key] as string,
  })
}

export const pidfileFlags = {
  pidfile: pathFlag({summary: 'Use this pidfile instead of searching for NAME.pid (relative: to the working directory).', helpValue: 'PATH', exclusive: ['dir']}),
  dir: pathFlag({summary: 'Look for NAME.pid in this directory first (relative: to the working directory).', helpValue: 'DIR', exclusive: ['pidfile']}),
  'allow-unsafe-pidfile': Flags.boolean({summary: 'Trust a pidfile the safety rules refuse: symlinked, world- or group-writable, foreign-owned, locked by another user, or on an unsafe path (prints a warning; a non-regular file is never accepted).', default: false}),
}

export const containerFlags = {
  // An empty value (CID=$(docker ps -q ...) found nothing) must never mean "no container", which
  // would search the host: commands test `!== undefined`, and containerTarget() refuses '' (USAGE).
  container: Flags.string({summary: 'The service runs in this Docker container (name or id): read its pidfile inside the container, through the Docker API.', helpValue: 'REF', exclusive: ['root-pid']}),
  'root-pid': Flags.integer({summary: 'Look inside the mount and PID namespaces of process PID (e.g. 1 in a sidecar that shares the app\'s PID namespace).', helpValue: 'PID', min: 1, exclusive: ['container']}),
}

/**
 * Explicit identity, as start-stop-daemon's --exec, --name and --user: required of every answer,
 * locked pidfile or not (a process that does not match is never reported or signalled).
 */
export const identityFlags = {
  exec: Flags.string({summary: 'The service runs this executable: a process whose /proc/PID/exe is another file is not it (as start-stop-daemon --exec).', helpValue: 'PATH'}),
  'process-name': Flags.string({summary: 'The service is named NAME: its comm, executable, argv[0] or script name, exactly (as start-stop-daemon --name).', helpValue: 'NAME'}),
  user: Flags.string({summary: 'The service runs as this user (real uid; a name or a number), as start-stop-daemon --user.', helpValue: 'USER|UID'}),
}

/** The library's options from identityFlags. */
export function identityOptions(flags: {exec?: string; 'process-name'?: string; user?: string}): {exec?: string; processName?: string; user?: string} {
  return {exec: flags.exec, processName: flags['process-name'], user: flags.user}
}

export abstract class BaseCommand extends Command {
  // Every text line goes out escaped (src/cli/escape.ts): a comm, a path or a container name with
  // ESC never reaches the terminal raw. --json (logJson) is not touched: JSON escapes by itself.
  log(message = '', ...args: unknown[]): void {
    super.log(escapeLines(format(message, ...args)))
  }

  logToStderr(message = '', ...args: unknown[]): void {
    super.logToStderr(escapeLines(format(message, ...args)))
  }

  warn(input: string | Error): string | Error {
    return super.warn(typeof input === 'string' ? escapeLines(input) : Object.assign(input, {message: escapeLines(input.message)}))
  }

  /** For results that carry their own verdict: print the message (stdout on success, stderr otherwise) and set the exit status. */
  protected report<T extends {exit_code: number; message: string}>(result: T, extra: string[] = []): T {
    if (!this.jsonEnabled()) {
      if (result.exit_code === 0) this.log(escapeText(result.message))
      else this.logToStderr(`nslocate: ${escapeText(result.message)}`)
      for (const line of extra) this.logToStderr(escapeText(line))
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
      // oclif prefixes an error thrown by a flag's parse() with "Parsing --FLAG" and a help hint: keep our message.
      const parsed = /^Parsing --\S+ \n\t([\s\S]*)\nSee more help with --help$/.exec(error.message)
      if (parsed) error.message = parsed[1]
      if (this.jsonEnabled()) {
        this.logJson({error: {code: error.code, message: error.message, ...error.details}})
        this.exit(error.exitCode)
      }
      this.error(escapeLines(error.message), {exit: error.exitCode, code: error.code})
    }
    if (!this.jsonEnabled() && typeof error.message === 'string') error.message = escapeLines(error.message)
    return super.catch(error)
  }
}
