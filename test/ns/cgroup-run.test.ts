/**
 * issue 22: a cgroup per `run` service, against the real kernel (cgroup v2; on this host the v2 part
 * of a hybrid at /sys/fs/cgroup/unified), as root. A service's main process starts a child that
 * escapes by setsid, a double fork, `nohup ... &` or setpgid: find lists it, `signal --scope cgroup`
 * reaches it (each process says what it received: fixtures/cgroup/member.py), `wait --for stopped`
 * returns only once the cgroup is empty and `--for main-stopped` once the main process alone has
 * exited. KILL of 200 processes goes through cgroup.kill. No cgroup directory is left behind.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, ROOT, cli, cliJson, isAlive, killTracked, track, until} from '../helpers/cli'
import {statOf} from '../helpers/proc'
import {stopAll, tempDir} from '../helpers/tracked'
import {exitOf, runInBackground} from '../safety/run-helpers'
import {OWN, SERVICES, procsOf, readOr} from '../helpers/cgroup'

const PY = '/usr/bin/python3'
const FIXTURES = path.join(ROOT, 'fixtures', 'cgroup')

/** The cgroup leaves the tests of this file made run create: each must be gone after its test. */
const leaves = new Set<string>()

/** The leaf run makes for NAME with this pidfile: NAME-<8 hex of sha256(absolute pidfile path)> (src/cgroup/service.ts). */
function leafOf(name: string, pidfile: string): string {
  const leaf = `${name}-${crypto.createHash('sha256').update(path.resolve(pidfile)).digest('hex').slice(0, 8)}`
  leaves.add(leaf)
  return leaf
}

function populatedOf(dir: string): string {
  return /^populated ([01])$/m.exec(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8'))?.[1] ?? '?'
}

async function pidFrom(file: string): Promise<number> {
  await until(() => /^[0-9]+\n?$/.test(readOr(file)), `${file} to hold a pid`, 15_000)
  return Number(readOr(file))
}

/** The pids `pid` holds pidfds on (/proc/PID/fdinfo: "Pid:" lines). */
function pidfdsOf(pid: number): number[] {
  const out: number[] = []
  let fds: string[] = []
  try {
    fds = fs.readdirSync(`/proc/${pid}/fdinfo`)
  } catch {}
  for (const fd of fds) {
    const m = /^Pid:\s+(-?[0-9]+)$/m.exec(readOr(`/proc/${pid}/fdinfo/${fd}`))
    if (m) out.push(Number(m[1]))
  }
  return out
}

const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b)

/** A CLI command left running in the background (e.g. a wait), tracked so afterEach kills it. */
function cliInBackground(args: string[]): {child: ChildProcess; result: Promise<{status: number | null; stdout: string}>} {
  const child = track(spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT}))
  let stdout = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', () => {})
  const result = new Promise<{status: number | null; stdout: string}>((resolve) => child.on('close', (status) => resolve({status, stdout})))
  return {child, result}
}

afterEach(async () => {
  // Whatever a failed test left in its cgroups: SIGKILL by pid, let run remove the leaf as it ends;
  // then kill what is still running (run itself), and remove a leaf it could not.
  for (const leaf of leaves)
    for (const pid of procsOf(path.join(SERVICES, leaf))) {
      try {
        process.kill(pid, 'SIGCONT')
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  for (const leaf of leaves) await until(() => !fs.existsSync(path.join(SERVICES, leaf)), `run to remove ${leaf}`, 5000).catch(() => {})
  await killTracked()
  const left: string[] = []
  for (const leaf of leaves) {
    const dir = path.join(SERVICES, leaf)
    if (fs.existsSync(dir)) {
      left.push(dir)
      try {
        fs.rmdirSync(dir)
      } catch {}
    }
  }
  leaves.clear()
  expect(left).toEqual([])
})
afterAll(() => stopAll())

describe.each([
  [
    'setsid',
    (main: number, esc: number, run: number) => {
      // setsid(1) ran it in a session (and a group) of its own; it is still main's child
      const [m, e] = [statOf(main)!, statOf(esc)!]
      expect([e.session, e.pgrp, e.ppid]).toEqual([esc, esc, main])
      expect(m.session).not.toBe(esc)
      void run
    },
  ],
  [
    'double-fork',
    (main: number, esc: number, run: number) => {
      // an orphan in the session the middle process made (not main's), reparented to run (the
      // service's child subreaper), not main's descendant
      const [m, e] = [statOf(main)!, statOf(esc)!]
      expect(e.session).not.toBe(m.session)
      expect(e.pgrp).not.toBe(m.pgrp)
      expect(e.ppid).toBe(run)
    },
  ],
  [
    'nohup',
    (main: number, esc: number, run: number) => {
      // an orphan (sh ... & exited) that ignores SIGHUP
      const e = statOf(esc)!
      expect(e.ppid).toBe(run)
      expect(e.ppid).not.toBe(main)
      const ignored = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)/m.exec(fs.readFileSync(`/proc/${esc}/status`, 'utf8'))![1]}`)
      expect(ignored & 1n).toBe(1n) // SIGHUP is signal 1
    },
  ],
  [
    'setpgid',
    (main: number, esc: number, run: number) => {
      // a process group of its own, in main's session
      const [m, e] = [statOf(main)!, statOf(esc)!]
      expect([e.pgrp, e.ppid]).toEqual([esc, main])
      expect(m.pgrp).not.toBe(esc)
      expect(e.session).toBe(m.session)
      void run
    },
  ],
] as const)('a child that escapes by %s', (how, escaped) => {
  test('is listed by find, reached by signal --scope cgroup, and waited for by wait (stopped only once the cgroup is empty)', async () => {
    const dir = tempDir('nslocate-cgrun-')
    const name = `cgesc-${how}`
    const pidfile = path.join(dir, `${name}.pid`)
    const leaf = leafOf(name, pidfile)
    const cgdir = path.join(SERVICES, leaf)
    const sup = runInBackground([name, '--dir', dir, '--', PY, path.join(FIXTURES, 'escape.py'), dir, how])
    const main = await pidFrom(path.join(dir, 'main.pid'))
    const esc = await pidFrom(path.join(dir, 'esc.pid'))
    escaped(main, esc, sup.pid!)

    // Every process the service has, as each reports itself, is in the cgroup (the middle processes
    // of the double fork and nohup's sh have exited), and find lists exactly those.
    await until(
      () => JSON.stringify(procsOf(cgdir)) === JSON.stringify(sorted([main, esc])),
      `${cgdir} to hold ${main} and ${esc} only (it holds ${procsOf(cgdir)})`,
    )
    const found = await cliJson(['find', name, '--dir', dir])
    expect([found.status, found.json.state, found.json.pid]).toEqual([0, 'running', main])
    expect(found.json.cgroup).toEqual({path: `${OWN}/nslocate/${leaf}`, dir: cgdir, populated: true, processes: sorted([main, esc]), why: null})
    expect(procsOf(cgdir)).toEqual(sorted([main, esc]))

    // main-stopped: only the main process found at the start.
    const mainStopped = cliInBackground(['wait', name, '--dir', dir, '--for', 'main-stopped', '--timeout', '20s', '--json'])
    // it has found main (it holds a pidfd on it) and, main alive, has not returned
    await until(() => mainStopped.child.exitCode !== null || pidfdsOf(mainStopped.child.pid!).includes(main), 'the main-stopped wait to pin main')
    expect(mainStopped.child.exitCode).toBeNull()
    const signalled = await cliJson(['signal', name, 'TERM', '--dir', dir, '--scope', 'cgroup'])
    expect(signalled.status).toBe(0)
    expect(sorted(signalled.json.delivered.map((d: {pid: number}) => d.pid))).toEqual(sorted([main, esc]))
    // Both received TERM (each wrote its marker naming the sender): the escapee too.
    await until(() => readOr(path.join(dir, 'main.term')) !== '' && readOr(path.join(dir, 'esc.term')) !== '', 'both TERM markers')
    expect(Number(readOr(path.join(dir, 'esc.term')))).toBe(Number(readOr(path.join(dir, 'main.term'))))

    // main exits (0) on TERM; the escapee ignores it until released.
    const ms = await mainStopped.result
    expect(ms.status).toBe(0)
    expect(isAlive(main)).toBe(false)
    expect(isAlive(esc)).toBe(true)

    // run follows what is left: the pidfile names the escapee now, run is still running, the cgroup holds it.
    await until(() => readOr(pidfile) === String(esc), `the pidfile to name the escapee ${esc} (says ${readOr(pidfile)})`)
    expect(sup.exitCode).toBeNull()
    expect(procsOf(cgdir)).toEqual([esc])
    const after = await cliJson(['find', name, '--dir', dir])
    expect([after.status, after.json.pid, after.json.cgroup.processes]).toEqual([0, esc, [esc]])

    // stopped: not while the escapee lives (the wait times out: 1) ...
    const early = await cli(['wait', name, '--dir', dir, '--for', 'stopped', '--timeout', '1s'])
    expect(early.status).toBe(1)
    expect(isAlive(esc)).toBe(true)
    expect(populatedOf(cgdir)).toBe('1')
    // ... and once it has exited, yes.
    const stopped = cliInBackground(['wait', name, '--dir', dir, '--for', 'stopped', '--timeout', '20s'])
    await until(() => stopped.child.exitCode !== null || pidfdsOf(stopped.child.pid!).includes(esc), 'the stopped wait to pin the escapee')
    expect(stopped.child.exitCode).toBeNull()
    fs.writeFileSync(path.join(dir, 'esc.release'), '')
    expect((await stopped.result).status).toBe(0)
    expect(isAlive(esc)).toBe(false)

    // run exits with the status of the last main process it followed (the escapee's 3), removing the pidfile and the cgroup.
    expect(await exitOf(sup)).toEqual({code: 3, signal: null})
    expect(fs.existsSync(pidfile)).toBe(false)
    expect(fs.existsSync(cgdir)).toBe(false)
  })
})

test('find shows the whole service: a cgroup row, and JSON cgroup.path /nslocate/NAME-xxxxxxxx naming an existing directory', async () => {
  const dir = tempDir('nslocate-cgrun-')
  const name = 'cgview'
  const pidfile = path.join(dir, `${name}.pid`)
  const leaf = leafOf(name, pidfile)
  const sup = runInBackground([name, '--dir', dir, '--', PY, path.join(FIXTURES, 'escape.py'), dir, 'setsid'])
  const main = await pidFrom(path.join(dir, 'main.pid'))
  const esc = await pidFrom(path.join(dir, 'esc.pid'))

  const text = await cli(['find', name, '--dir', dir])
  expect(text.status).toBe(0)
  const row = /^ {2}cgroup +(\S+) +\((\d+) processes: ([0-9 ]+)\)$/m.exec(text.stdout)
  expect(row).not.toBeNull()
  expect(row![1]).toBe(path.join(SERVICES, leaf))
  expect([Number(row![2]), sorted(row![3].split(' ').map(Number))]).toEqual([2, sorted([main, esc])])

  const {json} = await cliJson(['find', name, '--dir', dir])
  expect(json.cgroup.path).toMatch(new RegExp(`^${OWN}/nslocate/cgview-[0-9a-f]{8}$`))
  expect(json.cgroup.path).toBe(`${OWN}/nslocate/${leaf}`)
  expect(fs.statSync(json.cgroup.dir).isDirectory()).toBe(true)
  // it is the cgroup the kernel has the service in
  expect(fs.readFileSync(`/proc/${main}/cgroup`, 'utf8')).toMatch(new RegExp(`^0::${OWN}/nslocate/${leaf}$`, 'm'))
  expect(fs.readFileSync(`/proc/${esc}/cgroup`, 'utf8')).toMatch(new RegExp(`^0::${OWN}/nslocate/${leaf}$`, 'm'))
  // run itself is not in it
  expect(procsOf(json.cgroup.dir)).not.toContain(sup.pid)

  // main exits (0) on TERM, run follows the escapee, which exits 3 once released: so does run
  process.kill(main, 'SIGTERM')
  await until(() => readOr(pidfile) === String(esc), `the pidfile to name the escapee ${esc}`)
  fs.writeFileSync(path.join(dir, 'release'), '')
  expect(await exitOf(sup)).toEqual({code: 3, signal: null})
  expect(fs.existsSync(json.cgroup.dir)).toBe(false)
})

test('KILL through cgroup.kill reaches 200 processes (escapees included): all dead, cgroup.events populated 0, run exits and removes the cgroup', async () => {
  const dir = tempDir('nslocate-cgrun-')
  const name = 'cgmany'
  const pidfile = path.join(dir, `${name}.pid`)
  const cgdir = path.join(SERVICES, leafOf(name, pidfile))
  const sup = runInBackground([name, '--dir', dir, '--', PY, path.join(FIXTURES, 'many.py'), dir, '199'])
  await until(() => fs.existsSync(path.join(dir, 'pids')), 'the 199 children to be forked', 20_000)
  const pids = fs.readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n').map(Number)
  expect(pids.length).toBe(200)
  expect(procsOf(cgdir)).toEqual(sorted(pids))
  // some have left the process group and the session of the main process
  const main = statOf(pids[0])!
  expect(pids.filter((p) => statOf(p)!.session !== main.session).length).toBeGreaterThanOrEqual(60)
  expect(pids.filter((p) => statOf(p)!.pgrp !== main.pgrp).length).toBeGreaterThanOrEqual(120)
  const starts = new Map(pids.map((p) => [p, statOf(p)!.starttime]))

  // run is stopped meanwhile, so that the cgroup it would remove once empty can be read empty.
  process.kill(sup.pid!, 'SIGSTOP')
  try {
    // The write to cgroup.kill is seen (inotify: IN_MODIFY on the file).
    let killWritten = false
    const watcher = fs.watch(path.join(cgdir, 'cgroup.kill'), () => (killWritten = true))
    let r
    try {
      r = await cliJson(['signal', name, 'KILL', '--dir', dir, '--scope', 'cgroup'], {timeoutMs: 30_000})
      await until(() => killWritten, 'a write to cgroup.kill', 5000)
    } finally {
      watcher.close()
    }
    expect(r.status).toBe(0)
    expect(sorted(r.json.delivered.map((d: {pid: number}) => d.pid))).toEqual(sorted(pids))
    expect(r.json.delivered.every((d: {signal: string}) => d.signal === 'KILL')).toBe(true)
    await until(() => populatedOf(cgdir) === '0', 'cgroup.events to say populated 0')
    expect(procsOf(cgdir)).toEqual([])
    // none is alive (the same process: pid and start time); unreaped ones are zombies
    // One read of /proc per pid: a process can be reaped between two reads.
    expect(
      pids.filter((p) => {
        const st = statOf(p)
        return st !== null && st.starttime === starts.get(p) && st.state !== 'Z'
      }),
    ).toEqual([])
  } finally {
    process.kill(sup.pid!, 'SIGCONT')
  }
  // KILLed COMMAND: 128 + 9
  expect(await exitOf(sup)).toEqual({code: 137, signal: null})
  expect(fs.existsSync(cgdir)).toBe(false)
  expect(fs.existsSync(pidfile)).toBe(false)
  // and every one of them has been reaped (by run, their subreaper, or by init after it)
  // One read of /proc per pid: they are being reaped while this polls (two reads: a TypeError on null).
  await until(
    () =>
      pids.every((p) => {
        const st = statOf(p)
        return st === null || st.starttime !== starts.get(p)
      }),
    'all 200 to be reaped',
  )
}, 40_000)
