/**
 * Library options -> command line -> library options, for every flag of every command: the helper
 * container's argv (src/runtime/in-container.ts helperArgv(), built by src/cli/options.ts flagsOf()
 * from the grammar) must give the helper exactly the options the caller asked for, through both
 * parsers (the start-up fast parser and oclif's). A flag added to the grammar is covered here at once;
 * --require-handler was lost on the helper route when that argv was written by hand.
 */
import Containers from '../../commands/containers'
import Find from '../../commands/find'
import List from '../../commands/list'
import Reload from '../../commands/reload'
import Run from '../../commands/run'
import Serve from '../../commands/serve'
import Signal from '../../commands/signal'
import Wait from '../../commands/wait'
import {fastParse} from '../../src/cli/fast-parse'
import {CommandGrammar, FlagSpec, GRAMMAR} from '../../src/cli/grammar'
import {flagsOf, optionsOf} from '../../src/cli/options'
import {helperArgv} from '../../src/runtime/in-container'

const CLASSES = {find: Find, list: List, signal: Signal, wait: Wait, run: Run, reload: Reload, serve: Serve, containers: Containers} as const
type Id = keyof typeof CLASSES
const IDS = Object.keys(CLASSES) as Id[]

/** oclif's parse needs of its config only the preparse hook (as in test/unit/fast-parse.test.ts). */
const config = {bin: 'nslocate', runHook: async () => ({successes: [], failures: []})}

async function oclifFlags(id: Id, argv: string[]): Promise<Record<string, unknown>> {
  const Cmd = CLASSES[id] as any
  const {flags} = await new Cmd(argv, config).parse(Cmd, argv)
  return flags
}

/** NAME (and SIGNAL) first; run's COMMAND after `--`, watch's required PATH for reload. */
function head(id: Id): string[] {
  return Object.keys(GRAMMAR[id].args).map((a) => (a === 'signal' ? 'TERM' : 'web'))
}
const tail = (id: Id): string[] => (GRAMMAR[id].strict ? [] : ['--', 'true'])

/** Values an option of this flag may take, as the library is given them. */
function values(spec: FlagSpec): unknown[] {
  if (spec.multiple) return [['/etc/a'], ['/etc/a', '/etc/b']]
  if (spec.duration) return [1500, 0, 3_600_000]
  switch (spec.type) {
    case 'boolean':
      return [true]
    case 'string':
      return ['v', 'with space', '-dash']
    case 'path':
      return ['/abs/x.pid']
    case 'integer':
      return [spec.min ?? 0, Math.min(spec.max ?? 42, 42)]
    case 'option':
      return [...spec.options]
  }
}

/** The options a command line with none of these flags gives (the grammar's defaults). */
async function defaults(id: Id): Promise<Record<string, unknown>> {
  const g: CommandGrammar = GRAMMAR[id]
  const required = id === 'reload' ? {watch: ['/etc/a']} : {}
  return {...optionsOf(g, await oclifFlags(id, [...head(id), ...flagsOf(g, required), ...tail(id)])), ...required}
}

/** The fast parser leaves a repeatable flag to oclif (reload --watch): such a command has no fast path. */
const hasFastPath = (g: CommandGrammar) => !Object.values(g.flags).some((f) => f.multiple)

interface Row {
  id: Id
  options: Record<string, unknown>
}

function rows(): Row[] {
  const out: Row[] = []
  for (const id of IDS) {
    const g: CommandGrammar = GRAMMAR[id]
    for (const spec of Object.values(g.flags)) {
      if (spec.option === undefined) continue
      for (const v of values(spec)) out.push({id, options: {...(id === 'reload' ? {watch: ['/etc/a']} : {}), [spec.option]: v}})
    }
  }
  return out
}

/** The argv that gives `options` (the front of a command line: NAME, flags, COMMAND). */
const argvOf = (id: Id, options: Record<string, unknown>) => [...head(id), ...flagsOf(GRAMMAR[id], options), ...tail(id)]

describe('options -> flags -> options, for every flag of every command', () => {
  test("every flag of every command is covered (or is the CLI's own: no option)", () => {
    const covered = rows()
    for (const id of IDS) {
      for (const [name, spec] of Object.entries(GRAMMAR[id].flags)) {
        if (spec.option === undefined) expect([`${id} --quiet`, 'signal --verbose', 'run --conflict-exit-code']).toContain(`${id} --${name}`)
        else expect(covered.some((r) => r.id === id && spec.option! in r.options)).toBe(true)
      }
    }
  })

  test.each(rows().map((r) => [r.id, JSON.stringify(r.options), r] as const))('%s %s', async (id, _shown, {options}) => {
    const g: CommandGrammar = GRAMMAR[id]
    const argv = argvOf(id, options)
    const want = {...(await defaults(id)), ...options}
    if (hasFastPath(g)) {
      const fast = fastParse(g, [...argv])
      expect(fast).not.toBeNull()
      expect(optionsOf(g, fast!.flags)).toEqual(want)
    }
    expect(optionsOf(g, await oclifFlags(id, [...argv]))).toEqual(want)
  })
})

describe("the helper container's argv (find, signal, wait through --container)", () => {
  const WHERE = ['container', 'rootPid', 'pod', 'containerName', 'runtime']
  const every = (id: 'find' | 'signal' | 'wait'): Record<string, unknown> => {
    const o: Record<string, unknown> = {}
    for (const spec of Object.values(GRAMMAR[id].flags)) {
      // pidfile and dir exclude each other; where the container is (container, pod, containerName,
      // runtime) is the host's business, and rootPid the helper's own (it gets --root-pid); pid names
      // the process itself and excludes the pidfile and the container options
      if (spec.option === undefined || ['dir', 'pid', ...WHERE].includes(spec.option)) continue
      o[spec.option] = values(spec).at(-1)
    }
    return o
  }

  test.each(['find', 'signal', 'wait'] as const)('%s: every option reaches the helper', async (id) => {
    const options = {...every(id), container: 'web', rootPid: 7, pod: 'shop/web-0', containerName: 'app', runtime: 'cri'}
    const args = id === 'signal' ? ['web', 'TERM'] : ['web']
    const argv = helperArgv(id, args, options)
    expect(argv.slice(0, args.length + 1)).toEqual([id, ...args])
    for (const flag of ['--container', '--root-pid', '--pod', '--container-name', '--runtime']) expect(argv).not.toContain(flag)
    const {container: _c, rootPid: _r, pod: _p, containerName: _n, runtime: _t, ...want} = options
    const g: CommandGrammar = GRAMMAR[id]
    const fast = fastParse(g, argv.slice(1))
    expect(fast).not.toBeNull()
    expect(optionsOf(g, fast!.flags)).toEqual({...(await defaults(id)), ...want})
    expect(optionsOf(g, await oclifFlags(id, argv.slice(1)))).toEqual({...(await defaults(id)), ...want})
  })

  test('signal --require-handler survives the helper route', () => {
    expect(helperArgv('signal', ['web', 'HUP'], {requireHandler: true})).toContain('--require-handler')
    expect(helperArgv('signal', ['web', 'HUP'], {requireHandler: false})).not.toContain('--require-handler')
  })

  test('NAME and SIGNAL are checked on the host: nothing can reach the helper as a flag', () => {
    for (const name of ['-x', '--pidfile=/etc/shadow', '--json', '', '../x']) {
      expect(() => helperArgv('find', [name], {})).toThrow(expect.objectContaining({code: 'USAGE'}))
    }
    for (const sig of ['--wait', '-9', 'TERM --dry-run', '']) {
      expect(() => helperArgv('signal', ['app', sig], {})).toThrow(expect.objectContaining({code: 'USAGE'}))
    }
    expect(helperArgv('signal', ['app', 'sigterm'], {}).slice(0, 3)).toEqual(['signal', 'app', 'TERM'])
    expect(helperArgv('signal', ['app', '0'], {}).slice(0, 3)).toEqual(['signal', 'app', '0'])
  })

  test('the argv of a plain signal is what the helper was always given', () => {
    expect(helperArgv('signal', ['app', 'TERM'], {wait: true})).toEqual(['signal', 'app', 'TERM', '--scope', 'main', '--wait'])
    expect(helperArgv('wait', ['app'], {condition: 'running', timeoutMs: 2500})).toEqual(['wait', 'app', '--for', 'running', '--timeout', '2500ms'])
  })
})
