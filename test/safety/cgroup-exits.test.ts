/**
 * Issue 22: no cgroup directory is left after any exit path of `nslocate run NAME --dir D -- CMD`.
 * COMMAND exits 0 or 3 or is killed by a signal; COMMAND cannot be found or executed (126/127:
 * nothing is created when run can tell before taking the pidfile, and what it created is removed
 * when execve itself fails); run is interrupted by TERM before COMMAND starts (also while it
 * waits for the lock); --replace of a running instance whose escapee left its session (the whole
 * old cgroup is stopped, KILLed through it when the escapee ignores TERM; the new instance gets a
 * fresh cgroup); eight services started at once; run SIGKILLed (the cgroup stays; the next run
 * removes it once it is empty, and conflicts, naming the cgroup and the pid, while a process of it
 * lives on without holding any lock, leaving the pidfile as it found it).
 *
 * Each test but the first runs `nslocate run` inside a cgroup of its own (W, made here, beside
 * /sys/fs/cgroup/unified/nslocate), so the service cgroup is W/nslocate/NAME-HASH: what this file
 * creates is watched (inotify on W sees the mkdir of W/nslocate) and checked without seeing other
 * test files' services. Real processes report what they received (marker files, /proc).
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, killTracked, runCollect, track, until} from '../helpers/cli'
import {untilWaitPins} from '../helpers/pidfs'
import {stopAll, tempDir} from '../helpers/tracked'
import {leafName} from '../../src/cgroup/service'
import {exitOf, holdsOpen, killPid, untilRunning} from './run-helpers'
import {OWN, SERVICES, V2, cgroupsIn, populated, procsOf, readOr, removeTree} from '../helpers/cgroup'

/** A test's own v2 cgroup (beside the default services directory), and what was created in it. */
interface Wrapper {
  name: string
  dir: string
  /** names of entries created or removed in W (inotify), e.g. "nslocate" */
  created: string[]
  watcher: fs.FSWatcher
}
const wrappers: Wrapper[] = []
let count = 0

function makeWrapper(): Wrapper {
  const name = `nsl-tp-exits-${process.pid}-${count++}`
  const dir = path.join(V2, name)
  fs.mkdirSync(dir)
  const created: string[] = []
  // a mkdir (or rmdir) in W: its name (cgroupfs files are created with W, and only change later)
  const watcher = fs.watch(dir, (event, file) => {
    if (event === 'rename' && file && !created.includes(String(file))) created.push(String(file))
  })
  const w = {name, dir, created, watcher}
  wrappers.push(w)
  return w
}

/** What was created in W (after the inotify events queued so far are delivered). */
async function createdIn(w: Wrapper): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 100))
  return w.created
}

/** argv that runs `nslocate ARGS` with the caller (run) moved into W first. */
function inWrapper(w: Wrapper, args: string[]): string[] {
  return ['sh', '-c', `echo $$ > ${w.dir}/cgroup.procs && exec "$@"`, 'sh', process.execPath, BIN, ...args]
}

function runIn(w: Wrapper, args: string[]) {
  return runCollect(inWrapper(w, args), {timeoutMs: 30_000, what: `nslocate ${args.join(' ')}`})
}

function runInBackgroundIn(w: Wrapper, args: string[], stderr = false): ChildProcess & {err: () => string} {
  const argv = inWrapper(w, args)
  const child = track(spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'ignore', stderr ? 'pipe' : 'ignore'], detached: true}), {group: true})
  let err = ''
  child.stderr?.on('data', (d) => (err += d))
  return Object.assign(child, {err: () => err})
}

/** The shell words that make COMMAND write its v2 cgroup path and the inode of its directory. */
const SELF_CG = (out: string) => `p=$(sed -n 's/^0:://p' /proc/self/cgroup); echo "$p" > ${out}.path; stat -c %i ${V2}$p > ${out}.ino`

function v2PathOfPid(pid: number): string | null {
  const m = /^0::(.*)$/m.exec(readOr(`/proc/${pid}/cgroup`))
  return m ? m[1] : null
}

/** The service's cgroup directory under W and its path as /proc/PID/cgroup shows it. */
function serviceOf(w: Wrapper, name: string, dir: string) {
  const leaf = leafName(name, path.join(dir, `${name}.pid`))
  return {leaf, dir: path.join(w.dir, 'nslocate', leaf), path: `/${w.name}/nslocate/${leaf}`}
}

/** Nothing of the service is left: no pidfile, no cgroup, no services directory in W. */
function expectNothingLeft(w: Wrapper, dir: string, name: string): void {
  expect(fs.existsSync(path.join(dir, `${name}.pid`))).toBe(false)
  expect(fs.existsSync(serviceOf(w, name, dir).dir)).toBe(false)
  expect(cgroupsIn(w.dir)).toEqual([])
}

// What a test started runs in its W: cgroup.kill there stops it all, escapees included (no pid is killed by number).
afterEach(async () => {
  await killTracked()
  for (const w of wrappers.splice(0)) {
    w.watcher.close()
    await removeTree(w.dir)
  }
})
afterAll(() => stopAll())

test('COMMAND exits 0 (the default place, on this host /sys/fs/cgroup/unified/nslocate/NAME-HASH): it ran in its own cgroup, removed when run ends', async () => {
  const dir = tempDir('nslocate-cgexit-')
  const leaf = leafName('cgx0', path.join(dir, 'cgx0.pid'))
  const out = path.join(dir, 'self')
  const r = await cli(['run', 'cgx0', '--dir', dir, '--', 'sh', '-c', `${SELF_CG(out)}; exit 0`])
  expect([r.status, r.stderr]).toEqual([0, ''])
  expect(fs.readFileSync(`${out}.path`, 'utf8').trim()).toBe(`${OWN}/nslocate/${leaf}`)
  expect(Number(fs.readFileSync(`${out}.ino`, 'utf8'))).toBeGreaterThan(0)
  expect(fs.existsSync(path.join(SERVICES, leaf))).toBe(false)
  expect(fs.existsSync(path.join(dir, 'cgx0.pid'))).toBe(false)
})

test.each([
  ['born in it (clone3 CLONE_INTO_CGROUP)', {}],
  ['moved into it at the gate (NSLOCATE_FORCE_FALLBACK=clone-into-cgroup, as before Linux 5.7)', {NSLOCATE_FORCE_FALLBACK: 'clone-into-cgroup'}],
])('COMMAND is %s: its first instruction already runs in the service cgroup, removed when run ends', async (_how, env) => {
  const dir = tempDir('nslocate-cgexit-')
  const leaf = leafName('cgxb', path.join(dir, 'cgxb.pid'))
  const out = path.join(dir, 'self')
  // /proc/self/cgroup read by COMMAND itself, as the first thing it does
  const r = await cli(['run', 'cgxb', '--dir', dir, '--', 'sh', '-c', `${SELF_CG(out)}; exit 0`], {env})
  expect([r.status, r.stderr]).toEqual([0, ''])
  expect(fs.readFileSync(`${out}.path`, 'utf8').trim()).toBe(`${OWN}/nslocate/${leaf}`)
  expect(fs.existsSync(path.join(SERVICES, leaf))).toBe(false)
})

test('COMMAND exits 3: run exits 3, its cgroup and the services directory are removed', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const out = path.join(dir, 'self')
  const r = await runIn(w, ['run', 'cgx3', '--dir', dir, '--', 'sh', '-c', `${SELF_CG(out)}; exit 3`])
  expect([r.status, r.stderr]).toEqual([3, ''])
  expect(fs.readFileSync(`${out}.path`, 'utf8').trim()).toBe(serviceOf(w, 'cgx3', dir).path)
  expect(await createdIn(w)).toEqual(['nslocate'])
  expectNothingLeft(w, dir, 'cgx3')
})

test.each([
  ['KILL sent to COMMAND', 137, 'KILL', 'command'],
  ['TERM sent to run, forwarded to COMMAND', 143, 'TERM', 'run'],
] as const)('COMMAND killed by a signal (%s): run exits %d, the cgroup is removed', async (_what, status, signal, to) => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const sup = runInBackgroundIn(w, ['run', 'cgxk', '--dir', dir, '--', 'sh', '-c', 'exec sleep 300'])
  const file = path.join(dir, 'cgxk.pid')
  await until(() => /^[0-9]+$/.test(readOr(file)), 'the pidfile to name COMMAND')
  const command = Number(readOr(file))
  await untilRunning(command, 'sleep')
  const svc = serviceOf(w, 'cgxk', dir)
  // COMMAND is in the service's cgroup, and alone there
  expect(v2PathOfPid(command)).toBe(svc.path)
  expect(procsOf(svc.dir)).toEqual([command])
  process.kill(to === 'run' ? sup.pid! : command, `SIG${signal}`)
  expect(await exitOf(sup)).toEqual({code: status, signal: null})
  expect(fs.existsSync(`/proc/${command}`)).toBe(false)
  expectNothingLeft(w, dir, 'cgxk')
})

test.each([
  ['not found', 127, '/nonexistent-nslocate-dir/prog'],
  ['not executable (mode 0644)', 126, 'plain'],
])('COMMAND %s, seen before the pidfile is taken: exit %d, no pidfile, no cgroup created at all', async (_what, status, prog) => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const target = prog.startsWith('/') ? prog : path.join(dir, prog)
  if (!prog.startsWith('/')) fs.writeFileSync(target, '#!/bin/sh\ntouch "$0.ran"\n', {mode: 0o644})
  const r = await runIn(w, ['run', 'cgxn', '--dir', dir, '--', target])
  expect(r.status).toBe(status)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(/^nslocate: cannot start /)
  expect(fs.existsSync(`${target}.ran`)).toBe(false)
  // inotify on W: W/nslocate was never made (so neither was a cgroup in it)
  expect(await createdIn(w)).toEqual([])
  expectNothingLeft(w, dir, 'cgxn')
})

test.each([
  ['not found (its #! interpreter is missing: execve fails ENOENT)', 127, '#!/nonexistent-nslocate-dir/interp\n', /\(ENOENT\)$/],
  ['not executable (no known format: execve fails ENOEXEC)', 126, 'junk\x00\x01\x02\n', /\(ENOEXEC\)$/],
])('COMMAND %s after the cgroup was made: exit %d, the cgroup and the pidfile are removed', async (_what, status, content, message) => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const target = path.join(dir, 'prog')
  fs.writeFileSync(target, content, {mode: 0o755})
  const r = await runIn(w, ['run', 'cgxe', '--dir', dir, '--', target])
  expect(r.status).toBe(status)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr.trim()).toMatch(message)
  // it was made (COMMAND was held at the gate inside it), and removed
  expect(await createdIn(w)).toEqual(['nslocate'])
  expectNothingLeft(w, dir, 'cgxe')
})

test('run interrupted by TERM before COMMAND started: no pidfile and no cgroup left, whichever moment the TERM hit', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const seen: string[] = []
  for (let round = 0; round < 8; round++) {
    const marker = path.join(dir, `started-${round}`)
    const argv = inWrapper(w, ['run', 'cgxt', '--dir', dir, '--', 'sh', '-c', `touch ${marker}; exec sleep 30`])
    // TERM at once from an inotify event: the pidfile created (run is inside acquire(), its
    // early-signal handling in), or W/nslocate made (the service's cgroup is being made), with a
    // delay of 0 to 2 ms. Watched before run starts.
    const on = round % 2 ? 'cgroup' : 'pidfile'
    let sent = false
    let sup: ChildProcess | null = null
    const fire = () => {
      if (sent || !sup) return
      sent = true
      const s = sup
      const delay = Math.floor(round / 2) % 3
      if (delay) setTimeout(() => s.kill('SIGTERM'), delay)
      else s.kill('SIGTERM')
    }
    const watcher =
      on === 'pidfile' ? fs.watch(dir, (_e, f) => String(f) === 'cgxt.pid' && fire()) : fs.watch(w.dir, (_e, f) => String(f) === 'nslocate' && fire())
    sup = track(spawn(argv[0], argv.slice(1), {stdio: 'ignore'}))
    await until(() => sent || sup!.exitCode !== null, 'the pidfile or the cgroup to appear', 20_000)
    const {code, signal} = await exitOf(sup)
    watcher.close()
    const started = fs.existsSync(marker)
    seen.push(`${on}+${Math.floor(round / 2) % 3}ms:${code ?? signal}:${started ? 'started' : 'not started'}`)
    if (started) expect([code, signal]).toEqual([143, null])
    else
      expect([
        [125, null],
        [143, null],
      ]).toContainEqual([code, signal])
    expectNothingLeft(w, dir, 'cgxt')
  }
  console.log(seen.join(' '))
}, 60_000)

test('TERM while run waits for the lock (another starter holds LOCK_SH): exit 125, nothing started, no pidfile and no cgroup left', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxl.pid')
  fs.writeFileSync(file, '', {mode: 0o644})
  const marker = path.join(dir, 'started')
  // A real second starter's shared lock: run's upgrade keeps failing, so it is inside acquire().
  const holder = track(
    spawn(
      '/usr/bin/python3',
      ['-c', 'import fcntl,sys,time; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_SH); print("held", flush=True); time.sleep(60)', file],
      {stdio: ['ignore', 'pipe', 'inherit']},
    ),
  )
  await new Promise((resolve) => holder.stdout!.once('data', resolve))
  const sup = runInBackgroundIn(w, ['run', 'cgxl', '--dir', dir, '--lock-timeout', '20s', '--', 'sh', '-c', `touch ${marker}; exec sleep 30`], true)
  // Once run has the pidfile open it is inside acquire(), its early signal handling in place (a
  // fixed 1 s could end with the sh wrapper or node still starting on a loaded machine).
  await until(() => holdsOpen(sup.pid!, file) || sup.exitCode !== null, 'run to be taking the pidfile', 30_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  expect(sup.exitCode).toBeNull()
  sup.kill('SIGTERM')
  // run ends on TERM while still waiting (polled, not a fixed 200 ms a loaded machine can outlast);
  // if it did not, the holder's end below would hand it the lock, and it would start sh.
  await until(() => sup.exitCode !== null, 'run to end on TERM', 10_000).catch(() => undefined)
  holder.kill('SIGKILL')
  expect(await exitOf(sup)).toEqual({code: 125, signal: null})
  expect(sup.err().trim()).toBe('nslocate: interrupted by SIGTERM before sh was started; nothing was started and the pidfile was removed')
  expect(fs.existsSync(marker)).toBe(false)
  expectNothingLeft(w, dir, 'cgxl')
  console.log(`created in W meanwhile: ${JSON.stringify(await createdIn(w))}`)
})

/** COMMAND for --replace: its main process, and an escapee that left its session by a double fork with setsid; both trap TERM and note it. */
const ESCAPING = String.raw`
import os, signal, sys, time
d = sys.argv[1]
def trap(tag):
    def on_term(sig, frame):
        open(os.path.join(d, tag + '-got-term'), 'w').write(str(os.getpid()))
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
if os.fork() == 0:
    os.setsid()
    if os.fork(): os._exit(0)
    trap('escapee')
    open(os.path.join(d, 'escapee.tmp'), 'w').write(str(os.getpid()))
    os.rename(os.path.join(d, 'escapee.tmp'), os.path.join(d, 'escapee'))
    while True: time.sleep(1)
trap('main')
while True: time.sleep(1)
`

test('--replace of a running instance with an escapee: its whole cgroup is stopped (both got TERM), the new instance runs in a fresh cgroup', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxr.pid')
  const svc = serviceOf(w, 'cgxr', dir)
  const first = runInBackgroundIn(w, ['run', 'cgxr', '--dir', dir, '--', '/usr/bin/python3', '-c', ESCAPING, dir])
  await until(() => fs.existsSync(path.join(dir, 'escapee')) && /^[0-9]+$/.test(readOr(file)), 'the first instance and its escapee to run')
  const main = Number(readOr(file))
  const escapee = Number(readOr(path.join(dir, 'escapee')))
  await untilRunning(main, 'python3', 15)
  await untilRunning(escapee, 'python3', 15)
  // the escapee is in another session and process group, but in the same cgroup
  const sid = (pid: number) =>
    readOr(`/proc/${pid}/stat`)
      .replace(/^.*\) /s, '')
      .split(' ')[3]
  expect(sid(escapee)).not.toBe(sid(main))
  expect(procsOf(svc.dir).sort()).toEqual([main, escapee].sort())
  const oldIno = fs.statSync(svc.dir).ino

  const out = path.join(dir, 'new')
  const second = runInBackgroundIn(w, ['run', 'cgxr', '--dir', dir, '--replace', '--', 'sh', '-c', `${SELF_CG(out)}; exec sleep 300`], true)
  await until(() => fs.existsSync(`${out}.ino`) && readOr(`${out}.ino`).trim() !== '', 'the new instance to run')
  // both processes of the old instance got the TERM, and are gone; the first run has exited
  expect(Number(readOr(path.join(dir, 'main-got-term')))).toBe(main)
  expect(Number(readOr(path.join(dir, 'escapee-got-term')))).toBe(escapee)
  expect(fs.existsSync(`/proc/${main}`)).toBe(false)
  expect(fs.existsSync(`/proc/${escapee}`)).toBe(false)
  expect(await exitOf(first)).toEqual({code: 0, signal: null})
  // the new instance: same place, a new cgroup (another inode), holding only its own process
  expect(readOr(`${out}.path`).trim()).toBe(svc.path)
  const newIno = Number(readOr(`${out}.ino`))
  expect(newIno).not.toBe(oldIno)
  const command = Number(readOr(file))
  await untilRunning(command, 'sleep')
  expect(procsOf(svc.dir)).toEqual([command])
  const found = await cliJson(['find', 'cgxr', '--dir', dir])
  expect([found.status, found.json.pid, found.json.cgroup?.path, found.json.cgroup?.processes]).toEqual([0, command, svc.path, [command]])

  process.kill(second.pid!, 'SIGTERM')
  expect(await exitOf(second)).toEqual({code: 143, signal: null})
  expect(second.err()).toBe('')
  expectNothingLeft(w, dir, 'cgxr')
}, 60_000)

/** An escapee that ignores TERM (a double fork with setsid), under a main process that dies of it. */
const STUBBORN = String.raw`
import os, signal, sys, time
d = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork(): os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(os.path.join(d, 'escapee.tmp'), 'w').write(str(os.getpid()))
    os.rename(os.path.join(d, 'escapee.tmp'), os.path.join(d, 'escapee'))
    while True: time.sleep(1)
while True: time.sleep(1)
`

test('--replace when an escapee ignores TERM: after the lock timeout it is killed through the cgroup, then the new instance starts', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxi.pid')
  const svc = serviceOf(w, 'cgxi', dir)
  const first = runInBackgroundIn(w, ['run', 'cgxi', '--dir', dir, '--', '/usr/bin/python3', '-c', STUBBORN, dir])
  await until(() => fs.existsSync(path.join(dir, 'escapee')) && /^[0-9]+$/.test(readOr(file)), 'the first instance and its escapee to run')
  const main = Number(readOr(file))
  const escapee = Number(readOr(path.join(dir, 'escapee')))
  // the escapee ignores TERM (SigIgn bit 15)
  await until(() => /^SigIgn:\s*[0-9a-f]*[4-7cdef][0-9a-f]{3}$/m.test(readOr(`/proc/${escapee}/status`)), 'the escapee to ignore TERM')
  const started = Date.now()
  const out = path.join(dir, 'new')
  const r = await runIn(w, ['run', 'cgxi', '--dir', dir, '--replace', '--lock-timeout', '1s', '--', 'sh', '-c', SELF_CG(out)])
  expect([r.status, r.stderr]).toEqual([0, ''])
  expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  expect(fs.existsSync(`/proc/${escapee}`)).toBe(false)
  expect(fs.existsSync(`/proc/${main}`)).toBe(false)
  expect(readOr(`${out}.path`).trim()).toBe(svc.path)
  const {code, signal} = await exitOf(first)
  expect(signal).toBeNull()
  expect(code).not.toBe(0)
  expectNothingLeft(w, dir, 'cgxi')
})

test('eight services started at once, three times over, in one caller cgroup: each in its own cgroup, none degraded, nothing left', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  for (let round = 0; round < 3; round++) {
    const names = Array.from({length: 8}, (_, i) => `cgxp${i}`)
    const results = await Promise.all(names.map((n) => runIn(w, ['run', n, '--dir', dir, '--', 'sh', '-c', SELF_CG(path.join(dir, `${n}-${round}`))])))
    expect(results.map((r) => [r.status, r.stderr])).toEqual(names.map(() => [0, '']))
    for (const n of names) expect(readOr(path.join(dir, `${n}-${round}.path`)).trim()).toBe(serviceOf(w, n, dir).path)
    expect(cgroupsIn(w.dir)).toEqual([])
  }
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.pid'))).toEqual([])
})

test('run SIGKILLed: its cgroup stays; once its processes have exited, the next run removes the stale empty cgroup and starts in a new one', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxs.pid')
  const svc = serviceOf(w, 'cgxs', dir)
  const sup = runInBackgroundIn(w, ['run', 'cgxs', '--dir', dir, '--', 'sh', '-c', 'exec sleep 300'])
  await until(() => /^[0-9]+$/.test(readOr(file)), 'the pidfile to name COMMAND')
  const command = Number(readOr(file))
  await untilRunning(command, 'sleep')
  process.kill(sup.pid!, 'SIGKILL')
  expect(await exitOf(sup)).toEqual({code: null, signal: 'SIGKILL'})
  // run could not remove it: the cgroup is there, COMMAND in it
  expect(procsOf(svc.dir)).toEqual([command])
  const staleIno = fs.statSync(svc.dir).ino
  await killPid(command)
  await until(() => !populated(svc.dir), 'the stale cgroup to empty')
  expect(fs.existsSync(svc.dir)).toBe(true)

  const out = path.join(dir, 'next')
  const r = await runIn(w, ['run', 'cgxs', '--dir', dir, '--', 'sh', '-c', `${SELF_CG(out)}; exit 0`])
  expect([r.status, r.stderr]).toEqual([0, ''])
  expect(readOr(`${out}.path`).trim()).toBe(svc.path)
  expect(Number(readOr(`${out}.ino`))).not.toBe(staleIno)
  expectNothingLeft(w, dir, 'cgxs')
})

/** A service process that writes its pid and then closes every descriptor (the inherited lock too). */
const CLOSES_ALL = String.raw`
import os, sys, time
open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
os.closerange(0, 65536)
while True: time.sleep(1)
`

test('run SIGKILLed while a process of it lives on holding no lock: the next run conflicts (122), naming the cgroup and the pid, and starts nothing', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxc.pid')
  const svc = serviceOf(w, 'cgxc', dir)
  const sup = runInBackgroundIn(w, ['run', 'cgxc', '--dir', dir, '--', '/usr/bin/python3', '-c', CLOSES_ALL, path.join(dir, 'lives')])
  await until(() => /^[0-9]+$/.test(readOr(path.join(dir, 'lives'))), 'the service to write its pid')
  const lives = Number(readOr(path.join(dir, 'lives')))
  expect(Number(readOr(file))).toBe(lives)
  await until(() => fs.readdirSync(`/proc/${lives}/fd`).length === 0, 'the service to close every descriptor')
  process.kill(sup.pid!, 'SIGKILL')
  await exitOf(sup)
  expect(procsOf(svc.dir)).toEqual([lives])

  const marker = path.join(dir, 'second-ran')
  const r = await runIn(w, ['run', 'cgxc', '--dir', dir, '--', 'touch', marker])
  expect(r.status).toBe(122)
  const lines = r.stderr.trim().split('\n')
  expect(lines).toHaveLength(2)
  expect(lines[0]).toMatch(/^nslocate: cgxc is still running: /)
  expect(lines[0]).toContain(svc.dir)
  expect(lines[0]).toMatch(new RegExp(`\\bpid ${lives}\\b`))
  expect(lines[1]).toBe(`hint: stop them (echo 1 > ${svc.dir}/cgroup.kill) or wait for them`)
  expect(fs.existsSync(marker)).toBe(false)
  // the service is untouched: alive, in its cgroup, alone there
  expect(fs.existsSync(`/proc/${lives}`)).toBe(true)
  expect(procsOf(svc.dir)).toEqual([lives])

  // once it has exited, the next run starts (removing the stale cgroup) and leaves nothing
  await killPid(lives)
  await until(() => !populated(svc.dir), 'the stale cgroup to empty')
  const third = await runIn(w, ['run', 'cgxc', '--dir', dir, '--', 'touch', marker])
  expect([third.status, third.stderr]).toEqual([0, ''])
  expect(fs.existsSync(marker)).toBe(true)
  expectNothingLeft(w, dir, 'cgxc')
})

test('the conflicting run leaves the stale pidfile as it found it: find still names the live process and its cgroup', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxf.pid')
  const svc = serviceOf(w, 'cgxf', dir)
  const sup = runInBackgroundIn(w, ['run', 'cgxf', '--dir', dir, '--', '/usr/bin/python3', '-c', CLOSES_ALL, path.join(dir, 'lives')])
  await until(() => /^[0-9]+$/.test(readOr(path.join(dir, 'lives'))), 'the service to write its pid')
  const lives = Number(readOr(path.join(dir, 'lives')))
  await until(() => fs.readdirSync(`/proc/${lives}/fd`).length === 0, 'the service to close every descriptor')
  process.kill(sup.pid!, 'SIGKILL')
  await exitOf(sup)
  const before = await cliJson(['find', 'cgxf', '--dir', dir])
  expect([before.json.state, before.json.pid, before.json.cgroup?.processes]).toEqual(['running', lives, [lives]])

  const r = await runIn(w, ['run', 'cgxf', '--dir', dir, '--', 'true'])
  expect(r.status).toBe(122)
  // A lock conflict leaves the file alone; so must a cgroup conflict (the service is still running).
  expect(readOr(file)).toBe(String(lives))
  const after = await cliJson(['find', 'cgxf', '--dir', dir])
  expect([after.json.state, after.json.pid, after.json.cgroup?.path, after.json.cgroup?.processes]).toEqual(['running', lives, svc.path, [lives]])
})

test("run SIGKILLed, started from another cgroup: a run from a second cgroup conflicts on the first one's leftover (the record on the pidfile says where it is), and the pidfile keeps its records", async () => {
  const a = makeWrapper()
  const b = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxo.pid')
  const first = serviceOf(a, 'cgxo', dir)
  const sup = runInBackgroundIn(a, ['run', 'cgxo', '--dir', dir, '--', '/usr/bin/python3', '-c', CLOSES_ALL, path.join(dir, 'lives')])
  await until(() => /^[0-9]+$/.test(readOr(path.join(dir, 'lives'))), 'the service to write its pid')
  const lives = Number(readOr(path.join(dir, 'lives')))
  await until(() => fs.readdirSync(`/proc/${lives}/fd`).length === 0, 'the service to close every descriptor')
  process.kill(sup.pid!, 'SIGKILL')
  await exitOf(sup)
  expect(readOr(file)).toBe(String(lives))

  const marker = path.join(dir, 'second-ran')
  const r = await runIn(b, ['run', 'cgxo', '--dir', dir, '--', 'touch', marker])
  expect(r.status).toBe(122)
  expect(r.stderr).toContain(first.dir)
  expect(r.stderr).toMatch(new RegExp(`\\bpid ${lives}\\b`))
  expect(fs.existsSync(marker)).toBe(false)
  // nothing made in the second caller's cgroup; the file still says who runs, with both records
  expect(cgroupsIn(b.dir)).toEqual([])
  expect(readOr(file)).toBe(String(lives))
  const found = await cliJson(['find', 'cgxo', '--dir', dir])
  expect([found.json.state, found.json.pid, found.json.cgroup?.dir, found.json.cgroup?.processes]).toEqual(['running', lives, first.dir, [lives]])
  expect(found.json.pidfile.recorded?.pid).toBe(lives)

  // gone: a run from the second cgroup removes the first one's empty cgroup and starts in its own
  await killPid(lives)
  await until(() => !populated(first.dir), 'the leftover to empty')
  const again = await runIn(b, ['run', 'cgxo', '--dir', dir, '--', 'touch', marker])
  expect([again.status, again.stderr]).toEqual([0, ''])
  expect(fs.existsSync(first.dir)).toBe(false)
  expectNothingLeft(b, dir, 'cgxo')
})

test('wait --for stopped begun while run lives: run SIGKILLed, COMMAND killed, an escapee left in the cgroup: the wait does not hold until the escapee is gone', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const file = path.join(dir, 'cgxw.pid')
  const svc = serviceOf(w, 'cgxw', dir)
  const sup = runInBackgroundIn(w, ['run', 'cgxw', '--dir', dir, '--', 'sh', '-c', `setsid sleep 303 & echo $! > ${dir}/esc; exec sleep 304`])
  await until(() => /^[0-9]+$/.test(readOr(path.join(dir, 'esc')).trim()) && /^[0-9]+$/.test(readOr(file)), 'the service to start')
  const esc = Number(readOr(path.join(dir, 'esc')).trim())
  const main = Number(readOr(file))
  const waiting = runCollect([process.execPath, BIN, 'wait', 'cgxw', '--dir', dir, '--timeout', '20s'], {timeoutMs: 30_000})
  // begun while run lives: once it has pinned main and run (a fixed 500 ms could end first)
  await untilWaitPins([main, sup.pid!])
  process.kill(sup.pid!, 'SIGKILL')
  await exitOf(sup)
  process.kill(main, 'SIGKILL')
  // main leaves the cgroup once it has run its exit (polled), the escapee stays
  await until(() => JSON.stringify(procsOf(svc.dir)) === JSON.stringify([esc]), `${svc.dir} to hold the escapee ${esc} only`, 15_000).catch(() => {})
  expect(procsOf(svc.dir)).toEqual([esc])
  // A window in which the wait must not end (it was 1.5 s after main's kill before the poll above).
  let settled = false
  void waiting.then(() => (settled = true))
  await new Promise((resolve) => setTimeout(resolve, 1500))
  expect(settled).toBe(false)
  await killPid(esc)
  const r = await waiting
  expect(r.status).toBe(0)
  expect(populated(svc.dir)).toBe(false)
})

test('a service that makes a cgroup of its own below its cgroup (a nested run): run still removes its cgroup when it ends, and nothing is left', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const svc = serviceOf(w, 'cgxn', dir)
  const inner = tempDir('nslocate-cgexit-')
  const r = await runIn(w, [
    'run',
    'cgxn',
    '--dir',
    dir,
    '--',
    process.execPath,
    BIN,
    'run',
    'cgxi',
    '--dir',
    inner,
    '--',
    'sh',
    '-c',
    `${SELF_CG(path.join(inner, 'self'))}`,
  ])
  expect([r.status, r.stderr]).toEqual([0, ''])
  // the inner service ran in a cgroup below the outer one
  expect(readOr(path.join(inner, 'self.path')).trim()).toBe(`${svc.path}/nslocate/${leafName('cgxi', path.join(inner, 'cgxi.pid'))}`)
  expectNothingLeft(w, dir, 'cgxn')
})

test('a cgroup the service made itself, left empty below its cgroup: removed with it', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const svc = serviceOf(w, 'cgxs', dir)
  const r = await runIn(w, ['run', 'cgxs', '--dir', dir, '--', 'sh', '-c', `mkdir ${V2}$(sed -n 's/^0:://p' /proc/self/cgroup)/worker`])
  expect([r.status, r.stderr]).toEqual([0, ''])
  expect(fs.existsSync(svc.dir)).toBe(false)
  expectNothingLeft(w, dir, 'cgxs')
})

test("COMMAND exits 3 leaving a background process: run waits for it, and exits 3 (COMMAND's own failure), not the leftover's 0", async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cgexit-')
  const r = await runIn(w, ['run', 'cgx3b', '--dir', dir, '--', 'sh', '-c', 'sleep 0.5 & exit 3'])
  expect([r.status, r.stderr]).toEqual([3, ''])
  expectNothingLeft(w, dir, 'cgx3b')
})
