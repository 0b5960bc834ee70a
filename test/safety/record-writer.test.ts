/**
 * issue 20, item 3 (the writing side): every pidfile `nslocate run` and the library's acquire()
 * write carries the identity record beside its content. The content stays the bare decimal pid (no
 * newline); the xattr `user.nslocate.identity` = "v1 pid=PID pidfd_id=ID boot_id=UUID mtime=NS"
 * says which process that pid is. Everything is read back by programs nobody here wrote: getfattr
 * (Debian's attr), stat(1) of a pidfd python3 opened on the process, /proc/sys/kernel/random/boot_id.
 * Where the file system refuses user xattrs (ramfs), run still runs, nothing is recorded, and run
 * says why in one line; rewriting the content (--replace, a daemon followed, a restarted child)
 * rewrites the record.
 */
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {acquire} from '../../src/acquire/acquire'
import {BIN, ROOT, killTracked, track, until} from '../helpers/cli'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {exitOf, pidIn, processesWith, unmount, untilRunning} from './run-helpers'

const XATTR = 'user.nslocate.identity'
const mounts: string[] = []

afterEach(() => killTracked())
afterAll(async () => {
  await stopAll()
  for (const m of mounts) unmount(m)
})

/** `nslocate run ARGS...` in the background (own process group), its stderr collected. */
function runBackground(args: string[], env: NodeJS.ProcessEnv = {}): {sup: ChildProcess; stderr: () => string} {
  const sup = track(spawn(process.execPath, [BIN, 'run', ...args], {stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: {...process.env, ...env}}), {
    group: true,
  })
  let err = ''
  sup.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  return {sup, stderr: () => err}
}

/** getfattr -n user.nslocate.identity --only-values FILE: the raw value, or null and why (its stderr). */
function getfattr(file: string): {value: string | null; status: number | null; stderr: string} {
  const r = spawnSync('getfattr', ['--absolute-names', '-n', XATTR, '--only-values', file], {encoding: 'latin1'})
  return {value: r.status === 0 ? r.stdout : null, status: r.status, stderr: r.stderr}
}

/**
 * The pidfs id of `pid`, as stat(1) reads it off a pidfd another program holds: python3 opens one
 * (os.pidfd_open) and prints its number; `stat -L -c %i /proc/PY/fd/N` is the pidfd's inode.
 */
async function idByStat(pid: number): Promise<number> {
  const py = spawnTracked(
    ['/usr/bin/python3', '-c', 'import os, sys, time\nprint(os.pidfd_open(int(sys.argv[1])), flush=True)\ntime.sleep(100)', String(pid)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  try {
    const fd = await firstLine(py)
    const r = spawnSync('stat', ['-L', '-c', '%i', `/proc/${py.pid}/fd/${fd}`], {encoding: 'utf8'})
    if (r.status !== 0 || !/^[0-9]+\n$/.test(r.stdout)) throw new Error(`stat of the pidfd on ${pid}: ${r.stderr}`)
    return Number(r.stdout)
  } finally {
    py.kill('SIGKILL')
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      if (buf.includes('\n')) resolve(buf.split('\n')[0])
    })
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited (${code}) before printing: ${buf}`)))
  })
}

const BOOT_ID = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim()

/** stat(1)'s mtime of FILE in nanoseconds ("%.9Y": seconds.nanoseconds). */
function mtimeNs(file: string): string {
  const r = spawnSync('stat', ['-c', '%.9Y', file], {encoding: 'utf8'})
  const m = /^([0-9]+)\.([0-9]{9})\n$/.exec(r.stdout)
  if (!m) throw new Error(`stat -c %.9Y ${file}: ${r.stdout}${r.stderr}`)
  return String(BigInt(m[1]) * 1_000_000_000n + BigInt(m[2]))
}

/** The record the documented format says FILE must carry for the process `pid`, from the outside readers. */
async function expectedRecord(file: string, pid: number): Promise<string> {
  return `v1 pid=${pid} pidfd_id=${await idByStat(pid)} boot_id=${BOOT_ID} mtime=${mtimeNs(file)}`
}

/** FILE holds exactly the digits of `pid` (bytes) and the record of that very process. */
async function expectWrittenFor(file: string, pid: number): Promise<void> {
  expect(fs.readFileSync(file)).toEqual(Buffer.from(String(pid), 'latin1'))
  expect(getfattr(file)).toEqual({value: await expectedRecord(file, pid), status: 0, stderr: ''})
}

/** The parent pid of `pid` (/proc/PID/stat). */
function ppidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

test('run: the file holds exactly the child pid, and the record names that child (pidfs id as stat(1) reads it, boot id, mtime)', async () => {
  const dir = tempDir('nslocate-recw-run-')
  const file = path.join(dir, 'svc.pid')
  const {sup, stderr} = runBackground(['svc', '--pidfile', file, '--', 'sleep', '100'])
  const child = await pidIn(file)
  await untilRunning(child, 'sleep')
  // the pid is run's own child (forked by run, then executed sleep)
  expect(ppidOf(child)).toBe(sup.pid)
  await expectWrittenFor(file, child)
  const value = getfattr(file).value!
  expect(value).toMatch(/^v1 pid=[1-9][0-9]* pidfd_id=[1-9][0-9]* boot_id=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} mtime=[0-9]+$/)

  process.kill(sup.pid!, 'SIGTERM')
  expect(await exitOf(sup)).toEqual({code: 128 + 15, signal: null})
  expect(fs.existsSync(file)).toBe(false)
  // nothing said on a start that recorded
  expect(stderr()).toBe('')
})

test('acquire(): the library writes its own pid and records its own identity; handle.recorded is what the file carries', async () => {
  const dir = tempDir('nslocate-recw-lib-')
  const lib = JSON.stringify(path.join(ROOT, 'dist/src'))
  const svc = spawnTracked(
    [
      process.execPath,
      '-e',
      `require(${lib}).acquire({name: 'lib', dir: ${JSON.stringify(dir)}}).then((h) => {
        console.log(JSON.stringify({pid: h.pid, path: h.path, recorded: h.recorded, recordNote: h.recordNote}))
        setInterval(() => {}, 1000)
      })`,
    ],
    {stdio: ['ignore', 'pipe', 'inherit']},
  )
  const said = JSON.parse(await firstLine(svc))
  const file = path.join(dir, 'lib.pid')
  expect([said.pid, said.path, said.recordNote]).toEqual([svc.pid, file, null])
  await expectWrittenFor(file, svc.pid!)
  const id = await idByStat(svc.pid!)
  expect(said.recorded).toEqual({pid: svc.pid, pidfdId: id, bootId: BOOT_ID, mtimeNs: mtimeNs(file)})
})

test("acquire() then write() for a restarted child: each write replaces the record with the new child's", async () => {
  const dir = tempDir('nslocate-recw-restart-')
  const lib = JSON.stringify(path.join(ROOT, 'dist/src'))
  // A supervisor written with the library: it holds the pidfile and writes the pid of each child it
  // (re)starts. Its children die with it (PR_SET_PDEATHSIG).
  const svc = spawnTracked(
    [
      process.execPath,
      '-e',
      `const cp = require('child_process')
      const start = () => cp.spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'sleep', '100'], {stdio: 'ignore'})
      require(${lib}).acquire({name: 're', dir: ${JSON.stringify(dir)}, pid: null}).then((h) => {
        const report = () => console.log(JSON.stringify({pid: h.pid, recorded: h.recorded, recordNote: h.recordNote}))
        let child = start()
        child.once('spawn', () => { h.write(child.pid); report() })
        process.stdin.on('data', () => {
          child.once('exit', () => { child = start(); child.once('spawn', () => { h.write(child.pid); report() }) })
          child.kill('SIGKILL')
        })
      })`,
    ],
    {stdio: ['pipe', 'pipe', 'inherit']},
  )
  const lines: string[] = []
  let buf = ''
  svc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d
    while (buf.includes('\n')) {
      lines.push(buf.slice(0, buf.indexOf('\n')))
      buf = buf.slice(buf.indexOf('\n') + 1)
    }
  })
  const file = path.join(dir, 're.pid')
  await until(() => lines.length === 1, 'the first child to be written')
  const first = JSON.parse(lines[0])
  await untilRunning(first.pid, 'sleep')
  await expectWrittenFor(file, first.pid)
  const firstRecord = getfattr(file).value
  expect(first.recorded.pidfdId).toBe(await idByStat(first.pid))

  svc.stdin!.write('restart\n')
  await until(() => lines.length === 2, 'the restarted child to be written')
  const second = JSON.parse(lines[1])
  expect(second.pid).not.toBe(first.pid)
  await untilRunning(second.pid, 'sleep')
  await expectWrittenFor(file, second.pid)
  expect(getfattr(file).value).not.toBe(firstRecord)
  expect(second.recorded).toEqual({pid: second.pid, pidfdId: await idByStat(second.pid), bootId: BOOT_ID, mtimeNs: mtimeNs(file)})
  expect(second.recorded.pidfdId).not.toBe(first.recorded.pidfdId)
  expect(second.recordNote).toBeNull()
})

test('--replace: the new instance rewrites the record for its own child', async () => {
  const dir = tempDir('nslocate-recw-replace-')
  const file = path.join(dir, 'svc.pid')
  const one = runBackground(['svc', '--pidfile', file, '--', 'sleep', '100'])
  const first = await pidIn(file)
  await untilRunning(first, 'sleep')
  await expectWrittenFor(file, first)

  const two = runBackground(['svc', '--pidfile', file, '--replace', '--lock-timeout', '5s', '--', 'sleep', '101'])
  // the old instance was sent TERM, forwarded to its sleep: run exits 128+15
  expect(await exitOf(one.sup)).toEqual({code: 128 + 15, signal: null})
  await until(() => fs.existsSync(file) && /^[0-9]+$/.test(fs.readFileSync(file, 'latin1')) && fs.readFileSync(file, 'latin1') !== String(first), 'the new pid')
  const second = Number(fs.readFileSync(file, 'latin1'))
  await untilRunning(second, 'sleep')
  expect(ppidOf(second)).toBe(two.sup.pid)
  await expectWrittenFor(file, second)

  process.kill(two.sup.pid!, 'SIGTERM')
  expect(await exitOf(two.sup)).toEqual({code: 128 + 15, signal: null})
  expect([one.stderr(), two.stderr()]).toEqual(['', ''])
})

test('a daemonizing command: run rewrites the record each time the file is made to name another process left', async () => {
  const dir = tempDir('nslocate-recw-follow-')
  const file = path.join(dir, 'dmn.pid')
  // sleep ignores what follows its number as a second duration: unique numbers are the tokens
  const base = 300 + (process.pid % 1000) * 1000 + Math.floor(Math.random() * 500)
  const [tokenA, tokenB] = [String(base), String(base + 1)]
  const {sup, stderr} = runBackground(['dmn', '--pidfile', file, '--', 'sh', '-c', `sleep ${tokenA} & sleep ${tokenB} & exit 0`])
  let a = 0
  let b = 0
  // (run's own command line holds the tokens too: only the sleeps count)
  const sleeping = (token: string) =>
    processesWith(token).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/comm`, 'latin1') === 'sleep\n'
      } catch {
        return false // exited
      }
    })
  await until(() => {
    ;[a] = sleeping(tokenA)
    ;[b] = sleeping(tokenB)
    return Boolean(a && b) && fs.existsSync(file) && [String(a), String(b)].includes(fs.readFileSync(file, 'latin1'))
  }, 'the file to name one of the two sleeps left')
  const named = Number(fs.readFileSync(file, 'latin1'))
  const other = named === a ? b : a
  // the content and the record change in two steps: wait for the record to follow
  const wanted = async () => getfattr(file).value === (await expectedRecord(file, named))
  await until(wanted, `the record of pid ${named}`)
  await expectWrittenFor(file, named)

  process.kill(named, 'SIGKILL')
  await until(
    async () => fs.readFileSync(file, 'latin1') === String(other) && getfattr(file).value === (await expectedRecord(file, other)),
    `the record of pid ${other}`,
  )
  await expectWrittenFor(file, other)

  process.kill(other, 'SIGKILL')
  expect(await exitOf(sup)).toEqual({code: 0, signal: null})
  expect(fs.existsSync(file)).toBe(false)
  expect(stderr()).toBe('')
})

test('ramfs (no user xattrs): run runs, the content is the pid, no record exists, and run says why in one line', async () => {
  const mnt = path.join(tempDir('nslocate-recw-ramfs-'), 'mnt')
  fs.mkdirSync(mnt)
  expect(spawnSync('mount', ['-t', 'ramfs', 'ramfs', mnt]).status).toBe(0)
  mounts.push(mnt)
  try {
    // the file system really refuses them (setfattr, not our code)
    fs.writeFileSync(path.join(mnt, 'probe'), '')
    const probe = spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', path.join(mnt, 'probe')], {encoding: 'utf8'})
    expect([probe.status, probe.stderr]).toEqual([1, `setfattr: ${path.join(mnt, 'probe')}: Operation not supported\n`])
    fs.unlinkSync(path.join(mnt, 'probe'))

    const file = path.join(mnt, 'svc.pid')
    const {sup, stderr} = runBackground(['svc', '--pidfile', file, '--', 'sleep', '100'])
    const child = await pidIn(file)
    await untilRunning(child, 'sleep')
    expect(ppidOf(child)).toBe(sup.pid)
    expect(fs.readFileSync(file)).toEqual(Buffer.from(String(child), 'latin1'))
    expect(getfattr(file)).toEqual({value: null, status: 1, stderr: `${file}: ${XATTR}: Operation not supported\n`})
    await until(() => stderr().includes('\n'), "run's note")
    expect(stderr()).toBe(
      `nslocate: no identity recorded beside the pid in ${file}: the file system keeps no user extended attributes; the pid is written as before, and find relies on the lock and the start time\n`,
    )

    process.kill(sup.pid!, 'SIGTERM')
    expect(await exitOf(sup)).toEqual({code: 128 + 15, signal: null})
    expect(fs.existsSync(file)).toBe(false)

    // the library says the same through the handle
    const h = await acquire({name: 'lib', dir: mnt})
    try {
      expect([fs.readFileSync(h.path, 'latin1'), h.recorded, h.recordNote]).toEqual([
        String(process.pid),
        null,
        'the file system keeps no user extended attributes',
      ])
    } finally {
      h.release()
    }
  } finally {
    unmount(mnt)
    mounts.splice(mounts.indexOf(mnt), 1)
  }
})

test('nothing to record (pidfs ids forced off): an earlier record on the file is removed, and run says nothing', async () => {
  const dir = tempDir('nslocate-recw-fallback-')
  const file = path.join(dir, 'svc.pid')
  // A leftover pidfile with a record of its own: what run writes must not keep it.
  fs.writeFileSync(file, '4194000')
  const old = `v1 pid=4194000 pidfd_id=12345 boot_id=${BOOT_ID} mtime=${mtimeNs(file)}`
  expect(spawnSync('setfattr', ['-n', XATTR, '-v', old, file]).status).toBe(0)
  expect(getfattr(file).value).toBe(old)

  const {sup, stderr} = runBackground(['svc', '--pidfile', file, '--', 'sleep', '100'], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
  await until(() => fs.readFileSync(file, 'latin1') !== '4194000', 'the new pid')
  const child = await pidIn(file)
  await untilRunning(child, 'sleep')
  expect(fs.readFileSync(file)).toEqual(Buffer.from(String(child), 'latin1'))
  expect(getfattr(file)).toEqual({value: null, status: 1, stderr: `${file}: ${XATTR}: No such attribute\n`})

  process.kill(sup.pid!, 'SIGTERM')
  expect(await exitOf(sup)).toEqual({code: 128 + 15, signal: null})
  expect(stderr()).toBe('')
})

test('release() when the file stays (its directory is immutable: unlink refused): the pid stays, the record goes', async () => {
  const dir = tempDir('nslocate-recw-kept-')
  const h = await acquire({name: 'kept', dir})
  await expectWrittenFor(h.path, process.pid)
  expect(h.recorded?.pidfdId).toBe(await idByStat(process.pid))
  expect(spawnSync('chattr', ['+i', dir]).status).toBe(0)
  try {
    h.release()
  } finally {
    spawnSync('chattr', ['-i', dir])
  }
  expect(fs.readFileSync(path.join(dir, 'kept.pid'), 'latin1')).toBe(String(process.pid))
  expect(getfattr(path.join(dir, 'kept.pid'))).toEqual({value: null, status: 1, stderr: `${path.join(dir, 'kept.pid')}: ${XATTR}: No such attribute\n`})
  expect(h.recorded).toBeNull()
})
