/**
 * The start-up fast path (bin/run.js -> src/cli/fast-path.ts) against oclif's path
 * (NSLOCATE_NO_FAST_PATH=1) for every command: same exit status, same stdout, same stderr, against a
 * real service (`nslocate run` holding a siglog victim, which logs each signal it receives), and the
 * plain invocations really do not load oclif.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, killTracked, tmpdir, track, until} from '../helpers/cli'
import {readLog, siglogBinary} from '../helpers/victims'
import {untilRunning} from '../safety/run-helpers'

const OCLIF = {NSLOCATE_NO_FAST_PATH: '1'}
/** what may differ between two runs a moment apart: times, and how many PID namespaces exist right now */
const strip = (s: string) =>
  s
    .replace(/"started": "[^"]+"/g, '')
    .replace(/started \S+/g, '')
    .replace(/in \d+ PID namespace\(s\): [^\n]*/g, '')
    .replace(/"(elapsed|waited)_ms": \d+/g, '')
    .replace(/after \d+ ms/g, '')

let dir: string
let logDir: string
let log: string
let _service: ChildProcess // kept for the whole file; stopped with the tracked processes
let pid: number
let preload: string

beforeAll(async () => {
  dir = tmpdir()
  logDir = tmpdir()
  log = path.join(logDir, 'signals.log')
  preload = path.join(logDir, 'oclif-probe.js')
  fs.writeFileSync(
    preload,
    "process.on('exit', () => { if (Object.keys(require.cache).some((k) => k.includes('/@oclif/'))) process.stderr.write('OCLIF LOADED\\n') })\n",
  )
  // The service runs under `nslocate run` (the fast path too): run holds the lock, siglog is the pid.
  _service = track(spawn(process.execPath, [BIN, 'run', 'svc', '--dir', dir, '--', siglogBinary(), log], {stdio: 'ignore', detached: true}), {group: true})
  const file = path.join(dir, 'svc.pid')
  await until(() => fs.existsSync(file) && /^[0-9]+$/.test(fs.readFileSync(file, 'utf8')) && fs.existsSync(log), 'svc.pid to name siglog')
  pid = Number(fs.readFileSync(file, 'utf8'))
  // siglog opens its log before it installs its handlers (1 to 64, in order): the cases read them.
  await untilRunning(pid, 'siglog', 64)
})

afterAll(async () => {
  await killTracked()
  fs.rmSync(dir, {recursive: true, force: true})
  fs.rmSync(logDir, {recursive: true, force: true})
})

describe('fast path and oclif path print the same', () => {
  const cases: Array<[string, () => string[], NodeJS.ProcessEnv?]> = [
    // main's fast find printed library errors unwrapped, oclif wraps them at 80 columns
    [
      'find --container, no engine at DOCKER_HOST (a long library error)',
      () => ['find', 'svc', '--container', 'web'],
      {DOCKER_HOST: 'unix:///nonexistent/nslocate-test/a/rather/long/path/to/the/docker.sock'},
    ],
    ['find running', () => ['find', 'svc', '--dir', dir]],
    ['find --json', () => ['find', 'svc', '--dir', dir, '--json']],
    ['find -q', () => ['find', 'svc', '--dir', dir, '-q']],
    ['find absent', () => ['find', 'absent', '--dir', dir]],
    ['list', () => ['list', '--dir', dir]],
    ['list --json', () => ['list', '--dir', dir, '--json']],
    ['list of a missing directory (warning, exit 4)', () => ['list', '--dir', path.join(dir, 'missing')]],
    ['signal 0', () => ['signal', 'svc', '0', '--dir', dir]],
    ['signal --dry-run --json', () => ['signal', 'svc', 'TERM', '--dry-run', '--scope', 'tree', '--dir', dir, '--json']],
    ['signal --dry-run --require-handler', () => ['signal', 'svc', 'USR1', '--dry-run', '--require-handler', '--dir', dir]],
    ['signal absent', () => ['signal', 'absent', 'TERM', '--dir', dir]],
    ['signal of a bad signal name', () => ['signal', 'svc', 'NOSUCH', '--dir', dir]],
    ['signal with a bad --timeout (library usage error)', () => ['signal', 'svc', '0', '--wait', '--timeout', 'soon', '--dir', dir]],
    ['the same with --json', () => ['signal', 'svc', '0', '--wait', '--timeout', 'soon', '--dir', dir, '--json']],
    ['wait --for running', () => ['wait', 'svc', '--for', 'running', '--timeout', '2s', '--dir', dir]],
    ['wait --for stopped, timing out', () => ['wait', 'svc', '--timeout', '100ms', '--dir', dir, '--json']],
    ['wait for an absent service to stop', () => ['wait', 'absent', '--dir', dir]],
    ['run: conflict', () => ['run', 'svc', '--dir', dir, '--', 'true']],
    ['run: conflict, own exit code', () => ['run', 'svc', '--dir', dir, '--conflict-exit-code', '9', '--', 'true']],
    ['run: the exit status of COMMAND', () => ['run', 'other', '--dir', dir, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']],
    ['run: a missing program', () => ['run', 'other', '--dir', dir, '--', path.join(dir, 'no-such-program')]],
  ]
  test.each(cases)('%s', async (_what, argv, env = {}) => {
    const fast = await cli(argv(), {env})
    const slow = await cli(argv(), {env: {...env, ...OCLIF}})
    expect({status: fast.status, out: strip(fast.stdout), err: strip(fast.stderr)}).toEqual({
      status: slow.status,
      out: strip(slow.stdout),
      err: strip(slow.stderr),
    })
  })
})

test('signal USR1 by either path: the service received it twice, nothing else', async () => {
  const before = readLog(log).length
  const fast = await cli(['signal', 'svc', 'USR1', '--dir', dir])
  const slow = await cli(['signal', 'svc', 'USR1', '--dir', dir], {env: OCLIF})
  expect([fast.status, slow.status]).toEqual([0, 0])
  expect(fast.stdout).toBe(slow.stdout)
  await until(() => readLog(log).length >= before + 2, 'siglog to log two signals')
  const got = readLog(log).slice(before)
  expect(got.map((r) => [r.pid, r.signo])).toEqual([
    [pid, 10],
    [pid, 10],
  ])
  expect(got.every((r) => r.from > 0 && r.from !== pid)).toBe(true)
})

describe('the plain invocations do not load oclif; help and errors do', () => {
  const probe = (argv: string[]) => cli(argv, {env: {NODE_OPTIONS: `--require ${preload}`}})
  test.each([
    [['find', 'svc', '--dir', 'DIR', '-q']],
    [['list', '--dir', 'DIR']],
    [['signal', 'svc', '0', '--dir', 'DIR']],
    [['wait', 'svc', '--for', 'running', '--dir', 'DIR']],
    [['run', 'svc', '--dir', 'DIR', '--', 'true']],
  ])('%j', async (argv) => {
    const r = await probe(argv.map((a) => (a === 'DIR' ? dir : a)))
    expect(r.stderr).not.toContain('OCLIF LOADED')
  })
  test.each([[['find', '--help']], [['signal', 'svc', '--dir', 'DIR']], [['wait', 'svc', '--for', 'later', '--dir', 'DIR']]])('%j', async (argv) => {
    const r = await probe(argv.map((a) => (a === 'DIR' ? dir : a)))
    expect(r.stderr).toContain('OCLIF LOADED')
  })
})
