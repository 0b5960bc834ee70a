/**
 * Shell completion in real shells (issue 21, deliverable 7): bash and zsh run under tmux with the
 * script `nslocate completion SHELL` prints, keys are typed as a user types them, and the test
 * asserts on what the screen shows after TAB.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, tmpdir} from '../helpers/cli'
import {stopAll} from '../helpers/tracked'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

const CI = process.env.CI === 'true'
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0

/**
 * A tmux server of this test's own, a shell in it, nslocate on its PATH. Its socket (-S) is in the
 * test's temp dir, removed with it: a -L socket would stay behind in /tmp/tmux-UID after the server.
 */
class Terminal {
  private readonly socket: string
  constructor(
    readonly home: string,
    shell: string[],
  ) {
    this.socket = path.join(home, 'tmux.sock')
    const bin = path.join(home, 'bin')
    fs.mkdirSync(bin, {recursive: true})
    fs.writeFileSync(path.join(bin, 'nslocate'), `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`, {mode: 0o755})
    const env = ['env', '-i', `HOME=${home}`, `PATH=${bin}:/usr/bin:/bin`, 'TERM=xterm', 'PS1=$ ', 'PROMPT=$ ']
    this.tmux('new-session', '-d', '-s', 't', '-x', '160', '-y', '40', [...env, ...shell].map((w) => `'${w}'`).join(' '))
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], {encoding: 'utf8'})
  }

  type(...keys: string[]): void {
    this.tmux('send-keys', '-t', 't', ...keys)
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-J', '-t', 't') // -J: trailing spaces kept (completion adds one)
  }

  /** Waits until the screen matches `re` (completion runs in the shell, asynchronously to us). */
  async expect(re: RegExp, ms = 30_000): Promise<string> {
    const end = Date.now() + ms
    for (;;) {
      const s = this.screen()
      if (re.test(s)) return s
      if (Date.now() > end) throw new Error(`screen never matched ${re}:\n${s}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  kill(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server'])
  }
}

const shells = [
  ['bash', ['bash', '--norc', '--noprofile'], (script: string) => `source ${script}`],
  ['zsh', ['zsh', '-f'], (script: string) => `autoload -Uz compinit && compinit -u && source ${script}`],
] as const

describe.each(shells)('%s', (shell, argv, load) => {
  const usable = has(shell) && has('tmux')
  // Under CI every shell must be there (scripts/setup.sh installs zsh); locally a missing one is skipped.
  const maybe = usable || CI ? test : test.skip
  let term: Terminal | null = null
  afterEach(() => term?.kill())

  maybe('nslocate si<TAB> completes signal; signal x --pid<TAB> lists --pid and --pidfile; --scope <TAB> its values', async () => {
    const home = tmpdir()
    const r = await cli(['completion', shell])
    expect([r.status, r.stderr]).toEqual([0, ''])
    const script = path.join(home, `nslocate.${shell}`)
    fs.writeFileSync(script, r.stdout)
    term = new Terminal(home, [...argv])
    await term.expect(/\$ $/m)
    term.type(load(script), 'Enter')
    term.type('clear', 'Enter')
    await term.expect(/^\$ $/m)
    term.type('nslocate si', 'Tab')
    await term.expect(/^\$ nslocate signal $/m)
    term.type('x --pid', 'Tab', 'Tab')
    const s = await term.expect(/--pidfile/)
    expect(s).toMatch(/^\$ nslocate signal x --pid\S*\s*$/m)
    expect(s).toMatch(/--pid\b/)
    term.type('C-u', 'clear', 'Enter')
    await term.expect(/^\$ $/m)
    term.type('nslocate wait x --for ', 'Tab', 'Tab')
    const w = await term.expect(/main-stopped/)
    for (const v of ['running', 'stopped', 'main-stopped']) expect(w).toContain(v)
    term.type('C-u', 'clear', 'Enter')
    await term.expect(/^\$ $/m)
    term.type('nslocate signal web HU', 'Tab')
    await term.expect(/^\$ nslocate signal web HUP $/m)
  })

  // An attacker's file names in a directory root completes in: TAB must put each name on the
  // command line quoted, so that Enter hands nslocate that very name and runs nothing else.
  const hostile = [
    ['a command substitution', 'web.pid$(touch${IFS}PWNED)', 'we', String.raw`web.pid\$\(touch\$\{IFS\}PWNED\)`],
    ['a space', 'my service.pid', 'my', String.raw`my\ service.pid`],
    // (zsh reads a bare `[` as the start of a subscript: its user types `\[`)
    ['a glob that matches another file', '[x].pid', '[', String.raw`\[x\].pid`],
  ] as const
  maybe.each(hostile)(
    '--pidfile NAME<TAB> with %s in the name: inserted quoted, Enter runs nothing and names that file',
    async (_what, name, typed, bashShows) => {
      const home = tmpdir()
      const dir = path.join(home, 'files')
      fs.mkdirSync(dir)
      for (const f of [name, 'x.pid']) fs.writeFileSync(path.join(dir, f), '')
      const r = await cli(['completion', shell])
      const script = path.join(home, `nslocate.${shell}`)
      fs.writeFileSync(script, r.stdout)
      term = new Terminal(home, [...argv])
      await term.expect(/\$ $/m)
      term.type(load(script), 'Enter')
      term.type(`cd ${dir}`, 'Enter')
      term.type('clear', 'Enter')
      await term.expect(/^\$ $/m)
      term.type('-l', `nslocate find web --json --pidfile ${shell === 'zsh' && typed === '[' ? '\\[' : typed}`)
      term.type('Tab')
      // the line as the shell shows it after TAB: the name quoted (zsh quotes as bash does for these)
      const line = (await term.expect(/--pidfile \S.*\S ?$/m)).split('\n').find((l) => l.startsWith('$ nslocate'))!
      const shown = line.replace(/^.*--pidfile /, '').trimEnd()
      if (shell === 'bash') expect(shown).toBe(bashShows)
      expect(shown).not.toBe(name)
      term.type('-l', ' > out.json; echo done-$?')
      term.type('Enter')
      await term.expect(/^done-\d+/m)
      const out = JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8'))
      expect([out.pidfile?.path, fs.readdirSync(dir).sort(), fs.existsSync(path.join(home, 'PWNED'))]).toEqual([
        path.join(dir, name),
        [name, 'out.json', 'x.pid'].sort(),
        false,
      ])
    },
  )
})

test('an unknown shell is a usage error of one line and a hint', async () => {
  const r = await cli(['completion', 'fish'])
  expect([r.status, r.stdout, r.stderr]).toEqual([
    2,
    '',
    'nslocate: unknown shell "fish": use bash or zsh\nusage: nslocate completion bash|zsh; see nslocate completion --help\n',
  ])
})
