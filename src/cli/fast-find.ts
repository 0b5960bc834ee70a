/**
 * The start-up fast path for `nslocate find`, the command health checks run many times a second.
 * Loading @oclif/core costs more than Node's own start (~60 ms here), so bin/run.js hands plain
 * `find` invocations to this parser first. It accepts exactly the common grammar and returns null
 * for anything else (help, an unknown or malformed flag, a bad NAME), which then goes
 * through oclif as usual, with oclif's messages. Both paths call the same locate() and formatFind(),
 * and test/cli checks that they print the same thing.
 */
import * as path from 'node:path'

import {formatFind} from './format'
import {LocateResult, locate, statusExitCode} from '../locate/locate'
import {NAME_PATTERN} from '../locate/name'

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

/** Flags this parser knows; a test compares them with commands/find.ts. */
export const FAST_FIND_FLAGS = ['pidfile', 'dir', 'quiet', 'json', 'allow-unsafe-pidfile', 'root-pid', 'container', 'exec', 'process-name', 'user']

export function parseFastFind(argv: string[]): FastFind | null {
  if (argv[0] !== 'find') return null
  const out: FastFind = {name: '', quiet: false, json: false, allowUnsafe: false}
  let name: string | undefined
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]
    const eq = a.startsWith('--') ? a.indexOf('=') : -1
    const flag = eq > 0 ? a.slice(0, eq) : a
    const inline = eq > 0 ? a.slice(eq + 1) : undefined
    const value = () => {
      const v = inline ?? argv[++i]
      return v === undefined || (inline === undefined && v.startsWith('-')) ? null : v
    }
    switch (flag) {
      case '--pidfile':
      case '--dir': {
        // An empty value goes through oclif, which refuses it (USAGE, exit 2) with the same message.
        const v = value()
        if (v === null || v === '' || out.pidfile !== undefined || out.dir !== undefined) return null
        // Relative: to the working directory, now (as the oclif flags do).
        if (flag === '--pidfile') out.pidfile = path.resolve(v)
        else out.dir = path.resolve(v)
        break
      }
      case '--root-pid': {
        const v = value()
        if (v === null || !/^[1-9][0-9]*$/.test(v) || out.rootPid !== undefined || out.container !== undefined) return null
        out.rootPid = Number(v)
        break
      }
      case '--container': {
        const v = value()
        if (v === null || v === '' || out.container !== undefined || out.rootPid !== undefined) return null
        out.container = v
        break
      }
      case '--exec':
      case '--process-name':
      case '--user': {
        const v = value()
        const key = flag === '--exec' ? 'exec' : flag === '--user' ? 'user' : 'processName'
        if (v === null || out[key] !== undefined) return null
        out[key] = v
        break
      }
      case '--quiet':
      case '-q':
        if (inline !== undefined) return null
        out.quiet = true
        break
      case '--json':
        if (inline !== undefined) return null
        out.json = true
        break
      case '--allow-unsafe-pidfile':
        if (inline !== undefined) return null
        out.allowUnsafe = true
        break
      default:
        if (a.startsWith('-') || name !== undefined) return null
        name = a
    }
  }
  if (name === undefined || !NAME_PATTERN.test(name) || name === '.' || name === '..') return null
  out.name = name
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
  if (f.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  else if (!f.quiet) process.stdout.write(formatFind(result) + '\n')
  return statusExitCode(result.state)
}
