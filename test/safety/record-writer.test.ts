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
import {ChildProcess, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {acquire} from '../../src/acquire/acquire'
import {ROOT, firstLine, killTracked, until} from '../helpers/cli'
import {BOOT_ID, RECORD_XATTR as XATTR, getfattr, pidfsId, startRun, startService, untilService} from '../helpers/pidfs'
import {readOr} from '../helpers/cgroup'
import {readPpid} from '../helpers/proc'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {exitOf, processesWith, unmount, untilRunning} from './run-helpers'

const mounts: string[] = []

afterEach(() => killTracked())
afterAll(async () => {
  await stopAll()
  for (const m of mounts) unmount(m)
})

/** The options of every run started here: its stderr collected (run says nothing on a start that recorded). */
const STDERR = {stderr: true}

/** A Node.js process running `code` with `lib`, the built library (dist/src); its stdout piped, its stdin `stdin`. */
function withLibrary(code: string, stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const lib = JSON.stringify(path.join(ROOT, 'dist/src'))
  return spawnTracked([process.execPath, '-e', `const lib = require(${lib})\n${code}`], {stdio: [stdin, 'pipe', 'inherit']})
}

/** stat(1)'s mtime of FILE in nanoseconds ("%.9Y": seconds.nanoseconds). */
function mtimeNs(file: string): string {
  const r = spawnSync('stat', ['-c', '%.9Y', file], {encoding: 'utf8'})
  const m = /^([0-9]+)\.([0-9]{9})\n$/.exec(r.stdout)
  if (!m) throw new Error(`stat -c %.9Y ${file}: ${r.stdout}${r.stderr}`)
  return String(BigInt(m[1]) * 1_000_000_000n + BigInt(m[2]))
}

/** The record the documented format says FILE must carry for the process `pid`, from the outside readers. */
async function expectedRecord(file: string, pid: number): Promise<string> {
  return `v1 pid=${pid} pidfd_id=${await pidfsId(pid)} boot_id=${BOOT_ID} mtime=${mtimeNs(file)}`
}

/** FILE holds exactly the digits of `pid` (bytes) and the record of that very process. */
async function expectWrittenFor(file: string, pid: number): Promise<void> {
  expect(fs.readFileSync(file)).toEqual(Buffer.from(String(pid), 'latin1'))
  expect(getfattr(file)).toEqual({value: await expectedRecord(file, pid), status: 0, stderr: ''})
}

test('run: the file holds exactly the child pid, and the record names that child (pidfs id as stat(1) reads it, boot id, mtime)', async () => {
  const dir = tempDir('nslocate-recw-run-')
  const file = path.join(dir, 'svc.pid')
  const {sup, stderr, pid: child} = await startService(['svc', '--pidfile', file, '--', 'sleep', '100'], file, 'sleep', STDERR)
  // the pid is run's own child (forked by run, then executed sleep)
  expect(readPpid(child)).toBe(sup.pid)
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
  const svc = withLibrary(
    `lib.acquire({name: 'lib', dir: ${JSON.stringify(dir)}}).then((h) => {
        console.log(JSON.stringify({pid: h.pid, path: h.path, recorded: h.recorded, recordNote: h.recordNote}))
        setInterval(() => {}, 1000)
      })`,
  )
  const said = JSON.parse(await firstLine(svc))
  const file = path.join(dir, 'lib.pid')
  expect([said.pid, said.path, said.recordNote]).toEqual([svc.pid, file, null])
  await expectWrittenFor(file, svc.pid!)
  const id = await pidfsId(svc.pid!)
  expect(said.recorded).toEqual({pid: svc.pid, pidfdId: id, bootId: BOOT_ID, mtimeNs: mtimeNs(file)})
})

test("acquire() then write() for a restarted child: each write replaces the record with the new child's", async () => {
  const dir = tempDir('nslocate-recw-restart-')
  // A supervisor written with the library: it holds the pidfile and writes the pid of each child it
  // (re)starts. Its children die with it (PR_SET_PDEATHSIG).
  const svc = withLibrary(
    `const cp = require('child_process')
      const start = () => cp.spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'sleep', '100'], {stdio: 'ignore'})
      lib.acquire({name: 're', dir: ${JSON.stringify(dir)}, pid: null}).then((h) => {
        const report = () => console.log(JSON.stringify({pid: h.pid, recorded: h.recorded, recordNote: h.recordNote}))
        let child = start()
        child.once('spawn', () => { h.write(child.pid); report() })
        process.stdin.on('data', () => {
          child.once('exit', () => { child = start(); child.once('spawn', () => { h.write(child.pid); report() }) })
          child.kill('SIGKILL')
        })
      })`,
    'pipe',
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
  expect(first.recorded.pidfdId).toBe(await pidfsId(first.pid))

  svc.stdin!.write('restart\n')
  await until(() => lines.length === 2, 'the restarted child to be written')
  const second = JSON.parse(lines[1])
  expect(second.pid).not.toBe(first.pid)
  await untilRunning(second.pid, 'sleep')
  await expectWrittenFor(file, second.pid)
  expect(getfattr(file).value).not.toBe(firstRecord)
  expect(second.recorded).toEqual({pid: second.pid, pidfdId: await pidfsId(second.pid), bootId: BOOT_ID, mtimeNs: mtimeNs(file)})
  expect(second.recorded.pidfdId).not.toBe(first.recorded.pidfdId)
  expect(second.recordNote).toBeNull()
})

test('--replace: the new instance rewrites the record for its own child', async () => {
  const dir = tempDir('nslocate-recw-replace-')
  const file = path.join(dir, 'svc.pid')
  const {pid: first, ...one} = await startService(['svc', '--pidfile', file, '--', 'sleep', '100'], file, 'sleep', STDERR)
  await expectWrittenFor(file, first)

  const two = startRun(['svc', '--pidfile', file, '--replace', '--lock-timeout', '5s', '--', 'sleep', '101'], STDERR)
  // the old instance was sent TERM, forwarded to its sleep: run exits 128+15
  expect(await exitOf(one.sup)).toEqual({code: 128 + 15, signal: null})
  // One read per poll: the file may be unlinked and made again by the new instance meanwhile.
  await until(() => {
    const text = readOr(file)
    return /^[0-9]+$/.test(text) && text !== String(first)
  }, 'the new pid')
  const second = Number(readOr(file))
  await untilRunning(second, 'sleep')
  expect(readPpid(second)).toBe(two.sup.pid)
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
  const {sup, stderr} = startRun(['dmn', '--pidfile', file, '--', 'sh', '-c', `sleep ${tokenA} & sleep ${tokenB} & exit 0`], STDERR)
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
  // the daemon's own status (issue 22: run follows the service's cgroup and reaps it): the first
  // process named, killed by KILL, handed over to no process it started
  expect(await exitOf(sup)).toEqual({code: 128 + 9, signal: null})
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
    const {sup, stderr, pid: child} = await startService(['svc', '--pidfile', file, '--', 'sleep', '100'], file, 'sleep', STDERR)
    expect(readPpid(child)).toBe(sup.pid)
    expect(fs.readFileSync(file)).toEqual(Buffer.from(String(child), 'latin1'))
    expect(getfattr(file)).toEqual({value: null, status: 1, stderr: `${file}: ${XATTR}: Operation not supported\n`})
    await until(() => stderr().includes('\n'), "run's note")
    expect(stderr()).toBe(`nslocate: no identity recorded beside the pid in ${file}: the file system keeps no user extended attributes\n`)

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

  const {sup, stderr} = startRun(['svc', '--pidfile', file, '--', 'sleep', '100'], {...STDERR, env: {NSLOCATE_FORCE_FALLBACK: 'pidfs'}})
  await until(() => fs.readFileSync(file, 'latin1') !== '4194000', 'the new pid')
  const child = await untilService(file, 'sleep')
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
  expect(h.recorded?.pidfdId).toBe(await pidfsId(process.pid))
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
