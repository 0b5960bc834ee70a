/**
 * The start-up parser (src/cli/fast-parse.ts) against oclif's own parser, both reading the one
 * grammar (src/cli/grammar.ts). The argument vectors are generated from the grammar, for every flag
 * of every command, so a flag added there is covered here at once:
 * - valid vectors: the fast parser accepts them, and oclif parses them to the same args and flags;
 * - invalid vectors: the fast parser gives up (bin/run.js then runs oclif) and oclif refuses them
 *   with a usage error (exit 2);
 * - unusual but valid ones (--help, `--` in a strict command): the fast parser gives up.
 */

import Find from '../../commands/find'
import List from '../../commands/list'
import Reload from '../../commands/reload'
import Serve from '../../commands/serve'
import Run from '../../commands/run'
import Signal from '../../commands/signal'
import Wait from '../../commands/wait'
import {prepareFast} from '../../src/cli/fast-path'
import {fastParse} from '../../src/cli/fast-parse'
import {CommandGrammar, FlagSpec, GRAMMAR, RUN_DEFAULT_CONFLICT_EXIT, RUN_DEFAULT_LOCK_TIMEOUT} from '../../src/cli/grammar'
import {DEFAULT_LOCK_TIMEOUT_MS} from '../../src/acquire/acquire'
import {errorStatus, statusOf} from '../../src/cli/exit-status'
import type {CommandModule} from '../../src/cli/command'
import Containers from '../../commands/containers'

const CLASSES = {find: Find, list: List, signal: Signal, wait: Wait, run: Run} as const
type Id = keyof typeof CLASSES
const MODULES: Record<Id, CommandModule> = {
  find: require('../../src/cli/commands/find').findCommand,
  list: require('../../src/cli/commands/list').listCommand,
  signal: require('../../src/cli/commands/signal').signalCommand,
  wait: require('../../src/cli/commands/wait').waitCommand,
  run: require('../../src/cli/commands/run').runCommand,
}

/** NAME (and SIGNAL) as a plain invocation gives them; run's COMMAND after `--`. */
function base(id: Id): {head: string[]; tail: string[]} {
  const g: CommandGrammar = GRAMMAR[id]
  const head = Object.keys(g.args).map((a) => (a === 'signal' ? 'TERM' : 'web'))
  return {head, tail: g.strict ? [] : ['--', 'sleep', '1']}
}

function good(spec: FlagSpec): string[] {
  switch (spec.type) {
    case 'boolean':
      return []
    case 'string':
      return ['v', '5s']
    case 'path':
      return ['rel/x', '/abs/dir']
    case 'integer':
      return [String(spec.min ?? 0), String(Math.min(spec.max ?? 42, 42))]
    case 'option':
      return [...spec.options]
  }
}

function bad(spec: FlagSpec): string[] {
  switch (spec.type) {
    case 'boolean':
      return []
    case 'string':
      return []
    case 'path':
      return ['']
    case 'integer':
      return [...(spec.min !== undefined ? [String(spec.min - 1)] : []), ...(spec.max !== undefined ? [String(spec.max + 1)] : []), 'x', '1.5']
    case 'option':
      return ['bogus']
  }
}

interface Row {
  id: Id
  argv: string[]
  kind: 'valid' | 'invalid' | 'unusual'
}

function rows(): Row[] {
  const out: Row[] = []
  for (const id of Object.keys(CLASSES) as Id[]) {
    const g: CommandGrammar = GRAMMAR[id]
    const {head, tail} = base(id)
    const v = (...a: string[]) => out.push({id, argv: [...head, ...a, ...tail], kind: 'valid'})
    const x = (...a: string[]) => out.push({id, argv: [...head, ...a, ...tail], kind: 'invalid'})
    // run (strict: false) takes what oclif cannot read as a flag as one more argument, and run() decides
    const xs = g.strict ? x : (...a: string[]) => out.push({id, argv: [...head, ...a, ...tail], kind: 'unusual'})
    const u = (...a: string[]) => out.push({id, argv: [...head, ...a, ...tail], kind: 'unusual'})
    v()
    for (const [name, spec] of Object.entries(g.flags)) {
      if (spec.type === 'boolean') {
        v(`--${name}`)
        if (spec.char) v(`-${spec.char}`)
        xs(`--${name}=yes`)
        x(`--no-${name}`)
      } else {
        for (const val of good(spec)) {
          v(`--${name}`, val)
          v(`--${name}=${val}`)
        }
        for (const val of bad(spec)) x(`--${name}=${val}`)
        if (spec.type === 'path') x(`--${name}`, '')
        // A missing value: oclif says so (a strict command) or takes what follows.
        if (g.strict) x(`--${name}`)
        u(`--${name}`, '-x')
      }
      for (const other of spec.exclusive ?? []) {
        const o = g.flags[other]
        x(
          `--${name}=${spec.type === 'boolean' ? '' : good(spec)[0]}`.replace(/=$/, ''),
          `--${other}=${o.type === 'boolean' ? '' : good(o)[0]}`.replace(/=$/, ''),
        )
      }
    }
    if (g.json) {
      v('--json')
      x('--json=1')
    }
    u('--help')
    u('-h')
    x('--bogus')
    x('--bogus=1')
    if (g.strict) x('extra')
    if (g.strict) u('--', 'x')
    if (head.length > 0) {
      out.push({id, argv: [...tail], kind: g.strict ? 'invalid' : 'unusual'}) // no NAME (run: the COMMAND's first word would be taken)
      out.push({id, argv: ['a/b', ...head.slice(1), ...tail], kind: 'unusual'}) // oclif's path: the command reports the bad NAME
    }
    if (!g.strict) {
      out.push({id, argv: [...head], kind: 'unusual'}) // no COMMAND: run() says so
      out.push({id, argv: [...head, '--'], kind: 'unusual'})
      out.push({id, argv: [...head, 'sleep', '1'], kind: 'unusual'}) // COMMAND without `--`
    }
  }
  return out
}

/**
 * The command's own parse() (oclif's Command.parse: the json flag aggregated, then oclif's Parser)
 * needs of its config only the preparse hook; a full Config.load() cannot run under jest here
 * (oclif 5 imports an ES module dynamically).
 */
const config = {bin: 'nslocate', runHook: async () => ({successes: [], failures: []})}

/** oclif's parse, exactly as the command's run() calls it. */
async function oclifParse(
  id: Id,
  argv: string[],
): Promise<{ok: true; args: any; flags: any; argv: string[]} | {ok: false; exit: number | undefined; error: Error}> {
  const Cmd = CLASSES[id] as any
  const cmd = new Cmd(argv, config)
  try {
    const r = await cmd.parse(Cmd, argv)
    return {ok: true, args: r.args, flags: r.flags, argv: r.argv}
  } catch (error: any) {
    // oclif's own errors carry their exit; a library error thrown by a flag's parse gets it from the CLI's table
    return {ok: false, exit: error.oclif?.exit ?? errorStatus(id, error), error}
  }
}

describe('the fast parser agrees with oclif on vectors generated from the grammar', () => {
  const table = rows()
  test('the table covers every flag of every command', () => {
    for (const id of Object.keys(CLASSES) as Id[]) {
      for (const name of Object.keys(GRAMMAR[id].flags)) expect(table.some((r) => r.id === id && r.argv.some((a) => a.startsWith(`--${name}`)))).toBe(true)
    }
  })

  test.each(table.map((r) => [r.kind, r.id, r.argv] as const))('%s: %s %j', async (kind, id, argv) => {
    const fast = fastParse(GRAMMAR[id], [...argv])
    const slow = await oclifParse(id, [...argv])
    if (kind === 'valid') {
      expect(fast).not.toBeNull()
      if (!slow.ok) throw slow.error
      const {json, ...flags} = slow.flags
      expect(fast!.args).toEqual(slow.args)
      expect(fast!.flags).toEqual(Object.fromEntries(Object.keys(GRAMMAR[id].flags).map((k) => [k, flags[k]])))
      expect(Object.keys(flags).every((k) => k in GRAMMAR[id].flags)).toBe(true)
      expect(fast!.json).toBe(Boolean(json))
      if (!GRAMMAR[id].strict) expect(fast!.argv).toEqual(slow.argv)
    } else {
      expect(fast).toBeNull()
      if (kind === 'invalid') {
        // what the user then sees: oclif's usage error
        expect(slow.ok).toBe(false)
        expect(slow.ok ? 0 : slow.exit).toBe(2)
      }
    }
  })
})

test('every command takes its args and flags from the grammar', () => {
  const all = {...CLASSES, reload: Reload, serve: Serve, containers: Containers}
  expect(Object.keys(all).sort()).toEqual(Object.keys(GRAMMAR).sort())
  for (const [id, Cmd] of Object.entries(all)) {
    const g: CommandGrammar = GRAMMAR[id as keyof typeof GRAMMAR]
    expect(Object.keys(Cmd.flags).sort()).toEqual(Object.keys(g.flags).sort())
    expect(Object.keys(Cmd.args ?? {})).toEqual(Object.keys(g.args))
    expect(Cmd.strict ?? true).toBe(g.strict)
    expect(Boolean(Cmd.enableJsonFlag)).toBe(g.json)
    for (const [k, f] of Object.entries(Cmd.flags)) expect((f as {summary?: string}).summary).toBe(g.flags[k].summary)
  }
})

describe('the fast path', () => {
  test.each(Object.keys(MODULES))('%s: the fast path and oclif run the one module of the command, with its grammar', (id) => {
    expect(MODULES[id as Id].id).toBe(id)
    expect(MODULES[id as Id].grammar).toBe(GRAMMAR[id as Id])
    expect((new (CLASSES[id as Id] as any)([], config) as {command: CommandModule}).command).toBe(MODULES[id as Id])
  })
  test('every flag is taken by the fast path (none is "not handled")', () => {
    expect(prepareFast(['signal', 'web', 'TERM'])).not.toBeNull()
    expect(prepareFast(['signal', 'web', 'TERM', '--container', 'app'])).not.toBeNull()
    expect(prepareFast(['wait', 'web', '--container', 'app'])).not.toBeNull()
    expect(prepareFast(['list', '--root-pid', '1'])).not.toBeNull()
    expect(prepareFast(['find', 'web', '--container', 'app'])).not.toBeNull()
  })
  test('other commands, no command, and help go to oclif', () => {
    for (const argv of [[], ['containers'], ['help'], ['--help'], ['find', '--help'], ['constructor'], ['__proto__']]) expect(prepareFast(argv)).toBeNull()
  })
  test("run's defaults in the grammar are the library's", () => {
    expect(RUN_DEFAULT_LOCK_TIMEOUT).toBe(`${DEFAULT_LOCK_TIMEOUT_MS / 1000}s`)
    expect(RUN_DEFAULT_CONFLICT_EXIT).toBe(statusOf('run', 'conflict'))
  })
})
