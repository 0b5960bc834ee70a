/**
 * The progress line of `signal --retry` and `wait` as a user sees it: the built CLI on a real
 * pseudo-terminal, against a real service started by `nslocate run` (bash that ignores TERM).
 * - tmux (a private server per test file, its socket in the test's temp directory, killed in afterAll) runs the command
 *   as its pane; capture-pane gives the rendered screen at ~1 s, ~3 s and after the exit: the
 *   line names the fact known at the start and the next step, the elapsed time grows, and at
 *   the end the screen holds the final message and nothing else.
 * - script(1) records the raw bytes written to the terminal: each redraw is "\r...\x1b[K", at
 *   most about four a second, and the line is erased before the final message.
 * - piped, with --json and with --quiet: not one byte of progress (stderr compared byte for byte,
 *   on a pipe and on the terminal).
 */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, ROOT, cli, killTracked, tmpdir, track, until} from '../helpers/cli'

const ESC = '\x1b'
let socket: string
let conf: string

/** tmux on this file's private server (its socket in the test's temp directory); throws with its stderr when it fails. */
function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-S', socket, '-f', conf, ...args], {encoding: 'utf8', cwd: ROOT})
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: status ${r.status}: ${r.stderr}`)
  return r.stdout
}

/**
 * Runs argv as the only pane of a new tmux session, width x 10; the pane stays once it exits
 * (remain-on-exit). Its exit status goes to a file (tmux under jest never hears of its child's
 * exit status: #{pane_dead_status} stays empty), not to the screen.
 */
function onTerminal(session: string, argv: string[], width = 160): void {
  const status = path.join(dir, `${session}.status`)
  // The shell traps INT (its child gets the default action back): Ctrl-C ends the command, and the shell still writes its status.
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    String(width),
    '-y',
    '10',
    '-e',
    'NO_COLOR=1',
    'sh',
    '-c',
    `trap true INT; "$@"; echo $? > ${status}`,
    'sh',
    ...argv,
  )
}

/** The screen once it matches `line` (a progress line may take a while to come on a loaded machine): its lines, and the wall-clock time then. */
async function lineShown(session: string, line: RegExp): Promise<{rows: string[]; when: number}> {
  let rows: string[] = []
  await until(() => (rows = screen(session)).length === 1 && line.test(rows[0]), `${session}: a line matching ${line}`, 30_000)
  return {rows, when: Date.now()}
}

/**
 * The screen as rendered (wrapped lines joined), without the blank lines and tmux's "Pane is dead"
 * note; with the history (-S -), as the dead pane's note scrolls the screen up by a line.
 */
function screen(session: string): string[] {
  return tmux('capture-pane', '-p', '-J', '-S', '-', '-t', session)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !l.startsWith('Pane is dead'))
}

/** The pane's exit status once its command has exited and the pane is dead. */
async function exitOf(session: string, timeoutMs = 15_000): Promise<number> {
  const file = path.join(dir, `${session}.status`)
  await until(() => fs.existsSync(file) && tmux('display-message', '-p', '-t', session, '#{pane_dead}').trim() === '1', `${session} to exit`, timeoutMs)
  return Number(fs.readFileSync(file, 'utf8'))
}

/** Sleeps `ms`. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `nslocate run x --dir DIR -- bash` with TERM ignored (SIG_IGN); resolves with bash's pid once SigIgn says so. */
async function stubborn(dir: string): Promise<{pid: number; sup: ChildProcess}> {
  const sup = track(
    spawn(process.execPath, [BIN, 'run', 'x', '--dir', dir, '--', 'bash', '-c', 'trap "" TERM; while :; do sleep 0.2; done'], {
      stdio: 'ignore',
      detached: true,
    }),
    {group: true},
  )
  let pid = 0
  await until(() => {
    try {
      pid = Number(fs.readFileSync(path.join(dir, 'x.pid'), 'utf8'))
      const ign = /^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
      return ign !== null && ((BigInt(`0x${ign[1]}`) >> 14n) & 1n) === 1n
    } catch {
      return false
    }
  }, 'the service to ignore TERM')
  return {pid, sup}
}

/** What the command wrote to the terminal (script(1) -O, its header and footer lines removed), and its stdout redirected to a file. */
function onScript(dir: string, args: string[]): {status: number | null; tty: string; stdout: string} {
  const log = path.join(dir, `tty-${randomBytes(3).toString('hex')}`)
  const out = `${log}.out`
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  const cmd = `${[process.execPath, BIN, ...args].map(quote).join(' ')} > ${quote(out)}`
  const r = spawnSync('script', ['-q', '-e', '-O', log, '-c', cmd], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, timeout: 30_000})
  const raw = fs.readFileSync(log, 'latin1')
  const body = raw.slice(raw.indexOf('\n') + 1, raw.lastIndexOf('\nScript done'))
  return {status: r.status, tty: body, stdout: fs.readFileSync(out, 'utf8')}
}

let dir: string
beforeAll(() => {
  dir = tmpdir()
  socket = path.join(dir, `nsl-${randomBytes(3).toString('hex')}.sock`)
  conf = path.join(dir, 'tmux.conf')
  fs.writeFileSync(conf, 'set -g remain-on-exit on\nset -g status off\nset -g default-terminal screen\n')
})
afterEach(() => killTracked())
afterAll(() => {
  spawnSync('tmux', ['-S', socket, 'kill-server'])
  fs.rmSync(dir, {recursive: true, force: true})
})

test('signal x TERM --retry TERM/8/KILL/3 on a terminal: from the first line on it says TERM is ignored and the KILL at 8 s will stop it; the time grows; the end leaves only the final message', async () => {
  const svc = fs.mkdtempSync(path.join(dir, 'retry-'))
  const {pid, sup} = await stubborn(svc)
  onTerminal('retry', [process.execPath, BIN, 'signal', 'x', 'TERM', '--dir', svc, '--retry', 'TERM/8/KILL/3'])
  const line = new RegExp(`^x: pid ${pid} ignores TERM \\(SIG_IGN\\); the KILL at 8 s will stop it  ([0-9]+\\.[0-9]) s$`)
  // The first line the screen shows already says it (whenever node got that far), then the time grows with the clock.
  const first = await lineShown('retry', line)
  await pause(1500)
  const second = await lineShown('retry', line)
  const [t1, t2] = [Number(line.exec(first.rows[0])![1]), Number(line.exec(second.rows[0])![1])]
  expect(t1).toBeLessThan(8)
  expect(t2).toBeGreaterThan(t1)
  // never faster than the clock (a line drawn late only lags)
  expect(t2 - t1).toBeLessThanOrEqual((second.when - first.when) / 1000 + 1)
  expect(await exitOf('retry', 60_000)).toBe(0)
  expect(screen('retry')).toEqual([
    expect.stringMatching(new RegExp(`^x: sent TERM, then KILL to pid ${pid}:[0-9]+; exited after [0-9]+ ms \\(killed by KILL\\); TERM ignored$`)),
  ])
  await until(() => sup.exitCode !== null || sup.signalCode !== null, 'run to exit')
})

test('wait x --for running --timeout 6s on a terminal: "waiting for it to be running (no pidfile yet)" with the time out of 6 s; the end leaves only the timeout message', async () => {
  const empty = fs.mkdtempSync(path.join(dir, 'wait-'))
  onTerminal('wait', [process.execPath, BIN, 'wait', 'x', '--dir', empty, '--for', 'running', '--timeout', '6s'], 100)
  const line = /^x: waiting for it to be running \(no pidfile yet\) {2}([0-9]+\.[0-9]) s \/ 6 s$/
  const first = await lineShown('wait', line)
  await pause(1000)
  const second = await lineShown('wait', line)
  expect(Number(line.exec(second.rows[0])![1])).toBeGreaterThan(Number(line.exec(first.rows[0])![1]))
  expect(await exitOf('wait', 60_000)).toBe(1)
  expect(screen('wait')).toEqual(['nslocate: x: timed out after 6000 ms waiting for it to be running'])
})

test.each([
  ['wait', ['wait', 'x', '--for', 'running', '--timeout', '10m'], /^x: waiting for it to be running \(no pidfile yet\) {2}[0-9]+\.[0-9] s \/ 10 min$/],
  [
    'signal --wait',
    ['signal', 'x', 'TERM', '--wait', '--timeout', '10m'],
    /^x: pid [0-9]+ ignores TERM \(SIG_IGN\): it will not exit on TERM; giving up at 10 min {2}[0-9]+\.[0-9] s$/,
  ],
])('Ctrl-C during %s: the progress line is erased, nothing of it is left on the screen; ended by SIGINT (130)', async (what, args, line) => {
  const svc = fs.mkdtempSync(path.join(dir, 'intr-'))
  if (what !== 'wait') await stubborn(svc)
  const session = `intr${what === 'wait' ? 'w' : 's'}`
  onTerminal(session, [process.execPath, BIN, ...args, '--dir', svc])
  await lineShown(session, line)
  tmux('send-keys', '-t', session, 'C-c')
  expect(await exitOf(session, 30_000)).toBe(130)
  expect(screen(session)).toEqual([])
})

test('a pidfile in a directory named with 60 CJK characters, on a 120-column terminal: one line that never wraps, so no redraw leaves a line behind', async () => {
  const wide = path.join(dir, '漢'.repeat(60))
  fs.mkdirSync(wide)
  const pidfile = path.join(wide, 'x.pid')
  // locked and empty: "starting", and the message names the pidfile
  const holder = track(spawn('flock', [pidfile, 'sleep', '30'], {stdio: 'ignore', detached: true}), {group: true})
  await until(
    () => fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(pidfile, {throwIfNoEntry: false})?.ino ?? 'none'} `),
    'flock to hold the pidfile',
  )
  onTerminal('wide', [process.execPath, BIN, 'wait', 'x', '--pidfile', pidfile, '--for', 'running', '--timeout', '8s'], 120)
  const line = /^x: waiting for it to be running \(starting: .*漢\.\.\. {2}[0-9]\.[0-9] s \/ 8 s$/
  await lineShown('wide', line)
  await pause(1500) // several redraws
  const rows = tmux('capture-pane', '-p', '-t', 'wide')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
  expect(rows).toEqual([expect.stringMatching(line)])
  expect(await exitOf('wide', 60_000)).toBe(1)
  process.kill(-holder.pid!, 'SIGKILL')
})

test('wait on a terminal, raw bytes: each redraw is \\r...\\x1b[K, at most about four a second, the line erased before the final message', () => {
  const empty = fs.mkdtempSync(path.join(dir, 'raw-'))
  const r = onScript(empty, ['wait', 'x', '--dir', empty, '--for', 'running', '--timeout', '2s'])
  expect(r.status).toBe(1)
  expect(r.stdout).toBe('')
  const frames = r.tty.split('\r\x1b[K')
  // What is left after the last erase is the final message alone (on stderr, through the terminal's \r\n).
  expect(frames.at(-1)).toBe('nslocate: x: timed out after 2000 ms waiting for it to be running\r\n')
  const draws = frames
    .slice(0, -1)
    .join('')
    .split('\r')
    .filter((d) => d !== '')
  expect(draws.length).toBeGreaterThanOrEqual(5)
  expect(draws.length).toBeLessThanOrEqual(10) // 2 s: the first draw, then at most 4 a second
  for (const d of draws) expect(d).toMatch(new RegExp(`^x: waiting for it to be running \\(no pidfile yet\\) {2}[0-9]\\.[0-9] s / 2 s${ESC}\\[K$`))
  // No colour or other escape sequence but the erase.
  expect(r.tty.split(`${ESC}[K`).join('')).not.toContain(ESC)
})

test('piped, --json and --quiet: no progress at all, stderr byte for byte; on the terminal too', async () => {
  const empty = fs.mkdtempSync(path.join(dir, 'quiet-'))
  const args = ['wait', 'x', '--dir', empty, '--for', 'running', '--timeout', '1s']
  const piped = await cli(args)
  expect([piped.status, piped.stdout, piped.stderr]).toEqual([1, '', 'nslocate: x: timed out after 1000 ms waiting for it to be running\n'])
  const json = onScript(empty, [...args, '--json'])
  expect([json.status, json.tty, JSON.parse(json.stdout).reached]).toEqual([1, '', false])
  // --quiet: a failure is still its one line, and nothing else.
  const quiet = onScript(empty, [...args, '--quiet'])
  expect([quiet.status, quiet.tty, quiet.stdout]).toEqual([1, 'nslocate: x: timed out after 1000 ms waiting for it to be running\r\n', ''])

  for (const extra of [[], ['--json'], ['--quiet']]) {
    const svc = fs.mkdtempSync(path.join(dir, 'sig-'))
    const {pid} = await stubborn(svc)
    const sig = ['signal', 'x', 'TERM', '--dir', svc, '--retry', 'TERM/1/KILL/3', ...extra]
    if (extra.length === 0) {
      const r = await cli(sig)
      expect([r.status, r.stderr]).toEqual([0, ''])
      expect(r.stdout).toMatch(new RegExp(`^x: sent TERM, then KILL to pid ${pid}:[0-9]+; exited after [0-9]+ ms \\(killed by KILL\\); TERM ignored\\n$`))
      continue
    }
    const r = onScript(svc, sig)
    expect([r.status, r.tty]).toEqual([0, ''])
    if (extra[0] === '--json') expect(JSON.parse(r.stdout)).toMatchObject({exit_code: 0, exited: true})
    else expect(r.stdout).toBe('')
  }
})
