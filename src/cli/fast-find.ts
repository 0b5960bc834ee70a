/**
 * `nslocate find` without oclif (the command health checks run many times a second). The flags come
 * from src/cli/grammar.ts through src/cli/fast-parse.ts; this mirrors commands/find.ts run() and
 * test/cli checks that both print the same thing.
 */
import {formatFind} from './format'
import {Prepared, fastParseOnly} from './fast-parse'
import {log, logJson} from './fast-io'
import {find, identityOptions} from './grammar'
import {LocateResult, locate, statusExitCode} from '../locate/locate'

/** The flags this runner reads (all of find's): any other flag given goes through oclif. */
export const FAST_FLAGS: readonly string[] = ['pidfile', 'dir', 'allow-unsafe-pidfile', 'root-pid', 'container', 'exec', 'process-name', 'user', 'quiet']

export interface FastFind {
  name: string
  pidfile?: string
  dir?: string
  quiet: boolean
  json: boolean
  allowUnsafe: boolean
  rootPid?: number
  container?: string
  exec?: string
  processName?: string
  user?: string
}

/** Flags the fast path parses, with --json; test/unit/fast-find.test.ts compares them with commands/find.ts. */
export const FAST_FIND_FLAGS = [...Object.keys(find.flags), 'json']

/** argv with the command id: ['find', NAME, ...]. */
export function parseFastFind(argv: string[]): FastFind | null {
  if (argv[0] !== 'find') return null
  const p = fastParseOnly(find, argv.slice(1), FAST_FLAGS)
  if (!p) return null
  const f = p.flags as {pidfile?: string; dir?: string; quiet: boolean; 'allow-unsafe-pidfile': boolean; 'root-pid'?: number; container?: string; exec?: string; 'process-name'?: string; user?: string}
  const out: FastFind = {name: p.args.name, quiet: f.quiet, json: p.json, allowUnsafe: f['allow-unsafe-pidfile']}
  if (f.pidfile !== undefined) out.pidfile = f.pidfile
  if (f.dir !== undefined) out.dir = f.dir
  if (f['root-pid'] !== undefined) out.rootPid = f['root-pid']
  if (f.container !== undefined) out.container = f.container
  const identity = identityOptions(f)
  if (identity.exec !== undefined) out.exec = identity.exec
  if (identity.processName !== undefined) out.processName = identity.processName
  if (identity.user !== undefined) out.user = identity.user
  return out
}

/** Runs a parsed fast `find`; returns the exit status (a Promise of it with --container). */
export function runFastFind(f: FastFind): number | Promise<number> {
  const opts = {pidfile: f.pidfile, dir: f.dir, allowUnsafe: f.allowUnsafe, exec: f.exec, processName: f.processName, user: f.user}
  if (f.container !== undefined) {
    const ref = f.container
    return import('../docker/in-container').then(({locateInContainer}) => locateInContainer(f.name, ref, opts)).then((r) => print(f, r))
  }
  return print(f, locate({name: f.name, ...opts, rootPid: f.rootPid}))
}

function print(f: FastFind, result: LocateResult): number {
  if (f.json) logJson(result)
  else if (!f.quiet) log(formatFind(result))
  return statusExitCode(result.state)
}

/** For src/cli/fast-path.ts: argv after the command id; null when oclif must take the invocation. */
export function prepare(argv: string[]): Prepared | null {
  const f = parseFastFind(['find', ...argv])
  return f && {json: f.json, run: () => runFastFind(f)}
}
