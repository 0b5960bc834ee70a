/**
 * The start-up parser: reads an argument vector against a command's grammar (src/cli/grammar.ts)
 * without loading oclif. It accepts only what it fully understands and returns null for anything
 * else (--help, an unknown, repeated or malformed flag, a bad value, exclusive flags, a bad NAME),
 * which bin/run.js then hands to oclif, so every message and exit status stays oclif's.
 * test/unit/fast-parse.test.ts checks, for argument vectors generated from the grammar, that
 * whatever this accepts oclif's parser accepts with the same result.
 */
import {isValidName} from '../locate/name'
import {withAbsolutePaths} from '../locate/search-path'
import type {CommandName} from './exit-status'
import {CommandGrammar, FlagSpec} from './grammar'
import type {Selection} from './hint'

/**
 * --pidfile/--dir validation, shared with the oclif flags: empty is a usage error, relative is made
 * absolute; with `file`, a path naming a directory is a usage error too (before resolving drops "/").
 */
export function validatePath(key: 'pidfile' | 'dir', input: string, file = false): string {
  if (file) (require('../acquire/paths') as typeof import('../acquire/paths')).refuseDirectoryName(input)
  return withAbsolutePaths({[key]: input})[key] as string
}

/** A command line as the fast path parsed it (the shape of oclif's parse()). */
export interface FastParsed {
  args: Record<string, string>
  /** every flag of the grammar: given, defaulted, or undefined */
  flags: Record<string, unknown>
  /** the flags given on the command line (not defaulted) */
  given: Set<string>
  /** with strict: false, the positional arguments and everything after `--` (as oclif's argv) */
  argv: string[]
  json: boolean
}

/** A fast invocation ready to run: its exit status (or a Promise of it); command and json: how errors are printed. */
export interface Prepared {
  command: CommandName
  json: boolean
  /** the service the invocation means (an error's hint suggests commands with its flags) */
  selection: Selection
  run: () => number | Promise<number>
  /** end the process with the status (as oclif's this.exit() does), whatever handles are still open */
  exit?: boolean
}

const INTEGER = /^(0|[1-9][0-9]{0,14})$/

function value(spec: FlagSpec, v: string): unknown {
  switch (spec.type) {
    case 'string':
      return v
    case 'path':
      try {
        return validatePath(spec.key, v, spec.file)
      } catch {
        return undefined
      }
    case 'integer': {
      if (!INTEGER.test(v)) return undefined
      const n = Number(v)
      return (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max) ? undefined : n
    }
    case 'option':
      return spec.options.includes(v) ? v : undefined
    default:
      return undefined
  }
}

/** argv without the command id, e.g. ['web', '--quiet'] for `nslocate find web --quiet`. */
export function fastParse(g: CommandGrammar, argv: string[]): FastParsed | null {
  const flags: Record<string, unknown> = {}
  const given = new Set<string>()
  const positional: string[] = []
  let json = false
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      if (g.strict) return null
      i++
      break
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a)
      continue
    }
    let name: string | undefined
    let inline: string | undefined
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      name = eq > 0 ? a.slice(2, eq) : a.slice(2)
      inline = eq > 0 ? a.slice(eq + 1) : undefined
      if (name === 'json' && g.json && !json && inline === undefined) {
        json = true
        continue
      }
      if (!Object.prototype.hasOwnProperty.call(g.flags, name)) return null
    } else {
      name = Object.keys(g.flags).find((k) => g.flags[k].char !== undefined && `-${g.flags[k].char}` === a)
      if (name === undefined) return null
    }
    const spec = g.flags[name]
    if (given.has(name) || spec.multiple) return null
    if (spec.type === 'boolean') {
      if (inline !== undefined) return null
      flags[name] = true
    } else {
      const v = inline ?? argv[++i]
      if (v === undefined || (inline === undefined && v.startsWith('-'))) return null
      const parsed = value(spec, v)
      if (parsed === undefined) return null
      flags[name] = parsed
    }
    given.add(name)
  }
  // run (not strict): COMMAND after `--` is required, and is what follows it
  if (!g.strict && i >= argv.length) return null
  return complete(g, positional, given, flags, json, argv.slice(i))
}

/** The arguments, the exclusive and required flags checked, the defaults filled in. */
function complete(
  g: CommandGrammar,
  positional: string[],
  given: Set<string>,
  flags: Record<string, unknown>,
  json: boolean,
  rest: string[],
): FastParsed | null {
  const argNames = Object.keys(g.args)
  if (positional.length !== argNames.length) return null
  const args: Record<string, string> = {}
  argNames.forEach((k, j) => (args[k] = positional[j]))
  for (const k of argNames) if (g.args[k].name && !isValidName(args[k])) return null
  for (const k of given) if (g.flags[k].exclusive?.some((x) => given.has(x))) return null
  for (const [k, spec] of Object.entries(g.flags)) if (spec.required && !given.has(k)) return null
  for (const [k, spec] of Object.entries(g.flags)) {
    if (!given.has(k)) flags[k] = 'default' in spec ? spec.default : undefined
  }
  return {args, flags, given, argv: g.strict ? [] : [...positional, ...rest], json}
}
