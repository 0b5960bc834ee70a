/**
 * issue 12, item 5: `run` never loses the service on a fault of its own. A pidfile that cannot be
 * written (a real tmpfs filled to the last byte) leaves nothing running and nothing behind; run's
 * own failures exit in the 120s with a message, never a Node stack trace; and the pid is in the
 * file before the program runs. Needs root (mount, a test user).
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, killTracked, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {createTestUser} from '../helpers/users'
import {readLog, siglogBinary} from '../helpers/victims'
import {exitOf, pidIn, processesWith, runInBackground, unmount, untilRunning} from './run-helpers'

const NO_STACK = /^\s+at |Node\.js v|TypeError|Error: [A-Z]+:/m

afterEach(() => killTracked())
afterAll(() => stopAll())

describe('the pidfile cannot be written: a full tmpfs', () => {
  let mnt: string
  beforeAll(() => {
    mnt = path.join(tempDir('nslocate-fulldisk-'), 'mnt')
    fs.mkdirSync(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,mode=0755', 'tmpfs', mnt])
    // Fill it to the last byte: dd stops at ENOSPC.
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'fill')}`, 'bs=4096'], {stdio: 'ignore'})
    const probe = spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'probe')}`, 'bs=1', 'count=1'], {encoding: 'utf8'})
    expect(probe.stderr).toMatch(/No space left/)
    fs.rmSync(path.join(mnt, 'probe'), {force: true})
  })
  afterAll(() => {
    unmount(mnt)
  })

  test('exit 125 with a message; the command never ran, nothing is left running, no pidfile is left', async () => {
    const token = `nslocate-fulldisk-${process.pid}-${Date.now()}`
    const marker = path.join(tempDir('nslocate-marker-'), 'ran')
    const r = await cli(['run', 'svc', '--dir', mnt, '--', 'sh', '-c', `touch ${marker}; exec sleep 30 # ${token}`], {timeoutMs: 15000})
    expect(r.status).toBe(125)
    expect(r.stderr).toContain(`cannot write the pid into ${path.join(mnt, 'svc.pid')}: no space left on the device (ENOSPC)`)
    expect(r.stderr).toContain('sh was not started')
    expect(r.stderr).not.toMatch(NO_STACK)
    expect(fs.existsSync(marker)).toBe(false)
    expect(processesWith(token)).toEqual([])
    expect(fs.readdirSync(mnt)).toEqual(['fill'])
    const find = await cliJson(['find', 'svc', '--dir', mnt])
    expect([find.status, find.json.state]).toEqual([3, 'stopped'])
  })
})

test('the directory cannot be created (an unprivileged caller under a root 0755 directory): exit 125, a message, no stack', async () => {
  const user = createTestUser('runfault')
  try {
    const base = tempDir('nslocate-nocreate-')
    fs.chmodSync(base, 0o755)
    const argv = user.as([process.execPath, BIN, 'run', 'svc', '--dir', path.join(base, 'sub'), '--', 'true'])
    const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', timeout: 15000})
    expect(r.status).toBe(125)
    expect(r.stderr).toContain(`cannot create the directory ${path.join(base, 'sub')} (EACCES: permission denied)`)
    expect(r.stderr).not.toMatch(NO_STACK)
    expect(fs.readdirSync(base)).toEqual([])
  } finally {
    user.remove()
  }
})

test('a missing or unusable command: 127 / 126 with a message, and no pidfile is created', async () => {
  const dir = tempDir('nslocate-badcmd-')
  const missing = await cli(['run', 'svc', '--dir', dir, '--', '/nonexistent/prog'])
  expect([missing.status, missing.stderr.trim()]).toEqual([127, 'nslocate: cannot start /nonexistent/prog: not found'])
  const unknown = await cli(['run', 'svc', '--dir', dir, '--', 'nslocate-no-such-command'])
  expect(unknown.status).toBe(127)
  expect(unknown.stderr).toMatch(/^nslocate: cannot start nslocate-no-such-command: not found in PATH \(/)
  const plain = path.join(dir, 'plain')
  fs.writeFileSync(plain, 'echo hi\n', {mode: 0o644})
  const noexec = await cli(['run', 'svc', '--dir', dir, '--', plain])
  expect([noexec.status, noexec.stderr.trim()]).toEqual([126, `nslocate: cannot start ${plain}: permission denied (not executable)`])
  expect(fs.readdirSync(dir)).toEqual(['plain'])
})

test('the pid is in the file before the program runs (10 rounds)', async () => {
  const dir = tempDir('nslocate-order-')
  const file = path.join(dir, 'svc.pid')
  for (let round = 0; round < 10; round++) {
    const out = path.join(dir, `seen-${round}`)
    // The program's very first act: read its pidfile, then say who it is.
    const r = await cli(['run', 'svc', '--dir', dir, '--', 'sh', '-c', `cat ${file} > ${out}; echo " $$" >> ${out}`])
    expect(r.status).toBe(0)
    const [seen, self] = fs.readFileSync(out, 'utf8').trim().split(/\s+/)
    expect({round, seen}).toEqual({round, seen: self})
  }
}, 180_000)

test('signals sent to run reach the service, from run, and run exits with its status', async () => {
  const dir = tempDir('nslocate-fwd-')
  const log = path.join(dir, 'signals.log')
  const sup = runInBackground(['svc', '--dir', dir, '--', siglogBinary(), log, '--exit-on', 'TERM'])
  const pid = await pidIn(path.join(dir, 'svc.pid'))
  await untilRunning(pid, 'siglog', 10)
  for (const sig of ['SIGUSR1', 'SIGHUP', 'SIGUSR2'] as const) {
    const before = readLog(log).length
    sup.kill(sig)
    await until(() => readLog(log).length > before, `${sig} to arrive`)
  }
  sup.kill('SIGTERM')
  expect(await exitOf(sup)).toEqual({code: 0, signal: null})
  expect(readLog(log).map((l) => [l.pid, l.signo, l.from])).toEqual([
    [pid, 10, sup.pid],
    [pid, 1, sup.pid],
    [pid, 12, sup.pid],
    [pid, 15, sup.pid],
  ])
  expect(fs.existsSync(path.join(dir, 'svc.pid'))).toBe(false)
})

test("the command gets run's stdin, stdout and stderr (blocking), and its environment", () => {
  const dir = tempDir('nslocate-stdio-')
  const r = spawnSync(
    process.execPath,
    [BIN, 'run', 'svc', '--dir', dir, '--', 'sh', '-c', 'cat; echo "out $NSL_T"; echo err >&2; grep ^flags /proc/self/fdinfo/1; exit 7'],
    {input: 'from stdin\n', encoding: 'utf8', env: {...process.env, NSL_T: 'env-ok'}, timeout: 15000},
  )
  expect(r.status).toBe(7)
  const lines = r.stdout.trim().split('\n')
  expect(lines.slice(0, 2)).toEqual(['from stdin', 'out env-ok'])
  // fdinfo flags are octal: O_NONBLOCK is 04000
  expect(Number.parseInt(lines[2].split(/\s+/)[1], 8) & 0o4000).toBe(0)
  expect(r.stderr).toBe('err\n')
})
