/**
 * Synopses and conventions (issue 21, deliverables 4 and 7): what --help, the man page and the README
 * say to type; --quiet on every command; -v; no escape sequences with NO_COLOR or off a terminal.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, ROOT, cli, tmpdir} from '../helpers/cli'
import {stopAll} from '../helpers/tracked'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))
const ids = Object.keys(manifest.commands).sort()

describe('synopses', () => {
  test('run says NAME [flags] -- COMMAND [ARGS...] in --help, the man page and the README', async () => {
    const help = await cli(['run', '--help'])
    expect(help.stdout).toMatch(/^USAGE\n {2}\$ nslocate run NAME \[flags\] -- COMMAND \[ARGS\.\.\.\]\n/m)
    const man = fs.readFileSync(path.join(ROOT, 'docs/nslocate.1.md'), 'utf8')
    expect(man).toContain('**nslocate run** *NAME* \\[*flags*\\] \\-\\- *COMMAND* \\[*ARGS*...\\]')
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    expect(readme).toContain('nslocate run NAME [flags] -- COMMAND [ARGS...]')
    const roff = fs.readFileSync(path.join(ROOT, 'docs/nslocate.1'), 'utf8')
    expect(roff).toContain('\\fBnslocate run\\fR \\fINAME\\fR [\\fIflags\\fR] \\-\\- \\fICOMMAND\\fR [\\fIARGS\\fR\\|\\.\\.\\.]')
  })

  test('run --help: ARGUMENTS shows NAME (one name; COMMAND follows --), serve NAME...', async () => {
    const args = (out: string) => out.slice(out.indexOf('ARGUMENTS\n'), out.indexOf('\n\n', out.indexOf('ARGUMENTS\n'))).split('\n')
    const [run, serve] = [await cli(['run', '--help']), await cli(['serve', '--help'])]
    expect(args(run.stdout)).toEqual(['ARGUMENTS', '  NAME  Service name: the pidfile is NAME.pid.'])
    expect(args(serve.stdout)[1]).toMatch(/^ {2}NAME\.\.\. /)
  })

  test('NAME... appears only for serve, the one command that takes several', async () => {
    for (const id of ids) {
      const help = await cli([id, '--help'])
      const usage = help.stdout.slice(help.stdout.indexOf('USAGE'), help.stdout.indexOf('\n\n', help.stdout.indexOf('USAGE')))
      if (id === 'serve') expect(usage).toContain('$ nslocate serve NAME [NAME...] [flags]')
      else expect({id, usage}).toEqual({id, usage: expect.not.stringContaining('NAME...')})
    }
    const man = fs.readFileSync(path.join(ROOT, 'docs/nslocate.1.md'), 'utf8')
    const synopsis = man.slice(man.indexOf('<!-- synopsis:start'), man.indexOf('<!-- synopsis:end'))
    const lines = synopsis.split('\n').filter((l) => l.startsWith('**nslocate '))
    expect(lines.filter((l) => l.includes('...'))).toEqual([
      expect.stringContaining('**nslocate run**'),
      '**nslocate serve** *NAME* \\[*NAME*...\\] \\[*flags*\\]\\',
    ])
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    expect(readme.match(/^nslocate \w+ .*NAME\.\.\..*$/gm)).toEqual(['nslocate serve NAME [NAME...] [flags]'])
  })
})

describe('--quiet', () => {
  test('every command has --quiet/-q', () => {
    for (const id of ids.filter((i) => i !== 'help')) {
      expect({id, q: manifest.commands[id].flags.quiet?.char}).toEqual({id, q: 'q'})
    }
  })

  test('completion -q: the script is the output asked for, printed all the same; an error still one line', async () => {
    const [plain, quiet] = [await cli(['completion', 'bash']), await cli(['completion', 'bash', '-q'])]
    expect([quiet.status, quiet.stderr, quiet.stdout]).toEqual([0, '', plain.stdout])
    expect(plain.stdout).toContain('complete ')
    const bad = await cli(['completion', 'fish', '--quiet'])
    expect([bad.status, bad.stdout, bad.stderr]).toEqual([
      2,
      '',
      'nslocate: unknown shell "fish": use bash or zsh\nusage: nslocate completion bash|zsh; see nslocate completion --help\n',
    ])
  })

  test.each([
    ['fast path', {}],
    ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
  ])('prints nothing on success, still the error line when it fails (%s)', async (_w, env) => {
    const dir = tmpdir()
    fs.writeFileSync(path.join(dir, 'self.pid'), String(process.pid))
    for (const argv of [
      ['list', '--dir', dir, '-q'],
      ['find', 'self', '--dir', dir, '-q'],
      ['containers', '--quiet'],
    ]) {
      const r = await cli(argv, {env})
      expect({argv, out: r.stdout, err: r.stderr}).toEqual({argv, out: '', err: ''})
    }
    const failed = await cli(['signal', 'absent', 'TERM', '--dir', dir, '-q'], {env})
    expect([failed.status, failed.stdout, failed.stderr.split('\n')[0]]).toEqual([7, '', 'nslocate: absent is not running (no pidfile); nothing was signalled'])
  })
})

describe('-v and colour', () => {
  test('nslocate -v prints what --version prints', async () => {
    const [v, version] = await Promise.all([cli(['-v']), cli(['--version'])])
    expect([v.status, v.stdout]).toEqual([0, version.stdout])
  })

  /** `nslocate ARGS` under a pseudo-terminal (script(1)), its output as the terminal got it. */
  // Without CI in the environment: under CI=true oclif's colour library (ansis) prints no colour
  // even on a terminal, and the bold-headings test below would fail for that reason alone.
  const onTerminal = (args: string[], env: Record<string, string> = {}) => {
    const base: NodeJS.ProcessEnv = {...process.env, TERM: 'xterm', ...env}
    delete base.CI
    return spawnSync('script', ['-qec', [process.execPath, BIN, ...args].join(' '), '/dev/null'], {encoding: 'utf8', env: base}).stdout
  }
  // eslint-disable-next-line no-control-regex
  const ESC = /\x1b/

  test.each([[['find', '--help']], [['--help']], [['find']], [['fnd']], [['find', 'x', '--pidfile', '/a', '--dir', '/b']]])(
    'nslocate %j: no escape sequence with NO_COLOR on a terminal, nor when piped',
    async (args) => {
      expect(ESC.test(onTerminal(args, {NO_COLOR: '1'}))).toBe(false)
      const piped = await cli(args)
      expect(ESC.test(piped.stdout + piped.stderr)).toBe(false)
    },
  )

  test('on a terminal without NO_COLOR the help has bold headings (so the NO_COLOR test can fail)', () => {
    expect(onTerminal(['find', '--help'])).toContain('\x1b[1mUSAGE')
  })
})

test("the command ids bin/run.js knows before oclif are the manifest's", () => {
  const {COMMAND_IDS} = require(path.join(ROOT, 'dist/src/cli/top-level.js'))
  // help is @oclif/plugin-help's (not in the project's manifest)
  expect([...COMMAND_IDS].filter((id: string) => id !== 'help').sort()).toEqual(ids)
})
