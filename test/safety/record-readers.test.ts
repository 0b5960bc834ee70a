/**
 * issue 20, item 3: the pidfiles `nslocate run` writes carry an identity record (an xattr), and
 * readers nobody here wrote read them exactly as before: the shell (`kill -0 $(cat F)`, one word),
 * procps `pgrep -F` (and `-L`: the file is locked), dpkg's `start-stop-daemon --status --pidfile`
 * (LSB status: 0 running, 1 dead with the file left, 3 not running), and libbsd's pidfile_open(3),
 * which reads the pid only when nothing follows the digits and must still say "already running,
 * pid N" (fixtures/libbsd/pidfile-open.c). None of them disturbs the file or its record.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {compileFixture} from '../helpers/compile'
import {killTracked, until} from '../helpers/cli'
import {getfattr, startService} from '../helpers/pidfs'
import {stopAll, tempDir} from '../helpers/tracked'
import {exitOf, killPid} from './run-helpers'

afterEach(() => killTracked())
afterAll(() => stopAll())

/** libbsd's pidfile_open(3) on FILE, as a daemon's start-up does it (fixtures/libbsd/pidfile-open.c). */
const pidfileOpen = () => compileFixture('libbsd-pidfile-open', 'libbsd/pidfile-open.c', ['-lbsd'])

/** argv run to its end: status, stdout, stderr. */
function sh(argv: string[]): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', timeout: 15_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** The file's bytes, its record (getfattr) and its mtime: what no reader may change. */
function snapshot(file: string): {content: string; record: string; mtime: string} {
  const record = getfattr(file)
  const mtime = spawnSync('stat', ['-c', '%.9Y', file], {encoding: 'utf8'})
  return {content: fs.readFileSync(file, 'latin1'), record: record.value ?? `(${record.stderr.trim()})`, mtime: mtime.stdout}
}

/**
 * A subreaper (prctl PR_SET_CHILD_SUBREAPER) that runs argv and reaps every orphan below it until
 * none is left: a service whose supervisor was SIGKILLed is reaped once killed, so its pid is gone
 * (pid 1 here does not reap).
 */
const REAPER = [
  '/usr/bin/python3',
  '-c',
  `import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
if os.fork() == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break`,
]

test('while run holds F: sh, pgrep -F (-L), start-stop-daemon --status and libbsd pidfile_open read the pid as before; then 3 once it stopped', async () => {
  const dir = tempDir('nslocate-recr-')
  const file = path.join(dir, 'svc.pid')
  const {sup, pid} = await startService(['svc', '--pidfile', file, '--', 'sleep', '100'], file, 'sleep')
  const before = snapshot(file)
  expect(before.content).toBe(String(pid))
  expect(before.record).toMatch(new RegExp(`^v1 pid=${pid} pidfd_id=[1-9][0-9]* boot_id=\\S+ mtime=[0-9]+$`))

  // $(cat F) is one word: the pid, and kill -0 finds the process
  expect(sh(['sh', '-c', 'f=$1; set -- $(cat "$f"); echo "$#:$1"; kill -0 $(cat "$f") && echo alive', 'sh', file])).toEqual({
    status: 0,
    stdout: `1:${pid}\nalive\n`,
    stderr: '',
  })
  expect(sh(['pgrep', '-F', file])).toEqual({status: 0, stdout: `${pid}\n`, stderr: ''})
  // -L: fail unless the pidfile is locked (procps tries flock(LOCK_SH|LOCK_NB), then F_GETLK)
  expect(sh(['pgrep', '-L', '-F', file])).toEqual({status: 0, stdout: `${pid}\n`, stderr: ''})
  expect(sh(['start-stop-daemon', '--status', '--pidfile', file])).toEqual({status: 0, stdout: '', stderr: ''})
  // pidfile_open: the flock is held, so it reads the pid (digits, nothing after) and fails with EEXIST
  expect(sh([pidfileOpen(), file])).toEqual({status: 3, stdout: `already running, pid ${pid}\n`, stderr: ''})
  expect(snapshot(file)).toEqual(before)

  process.kill(sup.pid!, 'SIGTERM')
  expect(await exitOf(sup)).toEqual({code: 128 + 15, signal: null})
  expect(fs.existsSync(file)).toBe(false)
  // stopped, file removed: LSB 3 "program is not running"
  expect(sh(['start-stop-daemon', '--status', '--pidfile', file])).toEqual({status: 3, stdout: '', stderr: ''})
  expect(sh(['pgrep', '-F', file])).toEqual({status: 1, stdout: '', stderr: "pgrep: pidfile not valid\nTry `pgrep --help' for more information.\n"})
  expect(sh([pidfileOpen(), file])).toEqual({status: 0, stdout: `not running, took ${file}\n`, stderr: ''})
  expect(fs.existsSync(file)).toBe(false)
})

test('the service dead with its file left behind (run SIGKILLed, then the service): start-stop-daemon says 1, pgrep finds nothing, pidfile_open takes the file', async () => {
  const dir = tempDir('nslocate-recr-dead-')
  const file = path.join(dir, 'svc.pid')
  const {sup: reaper, pid} = await startService(['svc', '--pidfile', file, '--', 'sleep', '100'], file, 'sleep', {prefix: REAPER})
  try {
    const sup = Number(fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ')[1])
    // the supervisor goes first: the service keeps the file locked through the descriptor it inherited
    process.kill(sup, 'SIGKILL')
    await until(() => !fs.existsSync(`/proc/${sup}`), `run (pid ${sup}) to be gone`)
    expect(sh([pidfileOpen(), file])).toEqual({status: 3, stdout: `already running, pid ${pid}\n`, stderr: ''})
    expect(sh(['start-stop-daemon', '--status', '--pidfile', file])).toEqual({status: 0, stdout: '', stderr: ''})
    const held = snapshot(file)

    process.kill(pid, 'SIGKILL')
    expect(await exitOf(reaper)).toEqual({code: 0, signal: null})
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false)
    // the file is left as it was, record and all
    expect(snapshot(file)).toEqual(held)
    expect(sh(['start-stop-daemon', '--status', '--pidfile', file])).toEqual({status: 1, stdout: '', stderr: ''})
    expect(sh(['pgrep', '-F', file])).toEqual({status: 1, stdout: '', stderr: ''})
    // (dash's own message, blank line and all)
    expect(sh(['sh', '-c', 'kill -0 $(cat "$1")', 'sh', file])).toEqual({status: 1, stdout: '', stderr: 'sh: 1: kill: No such process\n\n'})
    // nobody holds it now: pidfile_open takes it (and removes it)
    expect(sh([pidfileOpen(), file])).toEqual({status: 0, stdout: `not running, took ${file}\n`, stderr: ''})
    expect(fs.existsSync(file)).toBe(false)
  } finally {
    await killPid(pid)
  }
})
