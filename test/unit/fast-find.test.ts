import Find from '../../commands/find'
import {fastParse} from '../../src/cli/fast-parse'
import {find} from '../../src/cli/grammar'
import {optionsOf} from '../../src/cli/options'

/** Flags the fast path parses, with --json. */
const FAST_FIND_FLAGS = [...Object.keys(find.flags), 'json']

/** What the fast path gives find's module (src/cli/commands/find.ts): NAME, --quiet, --json and the library's options. */
function parseFastFind(argv: string[]): Record<string, unknown> | null {
  if (argv[0] !== 'find') return null
  const p = fastParse(find, argv.slice(1))
  return p && {name: p.args.name, quiet: p.flags.quiet, json: p.json, ...optionsOf(find, p.flags)}
}

describe('parseFastFind (start-up fast path of find)', () => {
  test('knows exactly the flags of commands/find.ts', () => {
    expect([...FAST_FIND_FLAGS].sort()).toEqual([...Object.keys(Find.flags), 'json'].sort())
  })
  test.each([
    [['find', 'web'], {name: 'web', quiet: false, json: false, allowUnsafe: false}],
    [['find', 'web', '-q'], {name: 'web', quiet: true}],
    [['find', '--json', 'web', '--dir', '/d'], {name: 'web', json: true, dir: '/d'}],
    [['find', 'web', '--pidfile=/x.pid', '--allow-unsafe-pidfile'], {pidfile: '/x.pid', allowUnsafe: true}],
    [['find', 'web', '--root-pid', '42'], {rootPid: 42}],
    [['find', 'web', '--container', 'app', '--json'], {container: 'app', json: true}],
    [['find', 'web', '--container=0123abcd', '--pidfile', '/run/web.pid'], {container: '0123abcd', pidfile: '/run/web.pid'}],
    [
      ['find', 'web', '--exec', '/usr/sbin/nginx', '--process-name=nginx', '--user', 'www-data'],
      {exec: '/usr/sbin/nginx', processName: 'nginx', user: 'www-data'},
    ],
  ])('%j is parsed', (argv, want) => {
    expect(parseFastFind(argv)).toMatchObject(want)
  })
  test.each([
    [['find']], // missing NAME: oclif says so
    [['find', 'a/b']], // bad NAME: oclif path gives the usage error
    [['find', 'web', '--help']],
    [['find', 'web', '--container', 'app', '--root-pid', '1']], // exclusive: oclif says so
    [['find', 'web', '--root-pid', '1', '--container', 'app']],
    [['find', 'web', '--container']],
    [['find', 'web', '--container', '--json']],
    [['find', 'web', '--dir']],
    [['find', 'web', '--dir', '--json']],
    [['find', 'web', '--pidfile', 'a', '--dir', 'b']],
    [['find', 'web', 'extra']],
    [['find', 'web', '--root-pid', '0']],
    [['find', 'web', '--root-pid', 'x']],
    [['find', 'web', '--quiet=yes']],
    [['find', 'web', '--bogus']],
    [['find', 'web', '--exec']],
    [['find', 'web', '--user', '1', '--user', '2']],
    [['list']],
  ])('%j falls back to oclif', (argv) => {
    expect(parseFastFind(argv)).toBeNull()
  })
})
