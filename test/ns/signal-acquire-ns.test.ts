/**
 * signal and acquire across real PID namespaces: delivery into nested namespaces from the host and
 * from inside; the pid-reuse race during a --retry wait; acquire() in a child namespace located from
 * the host; interop with libbsd's pidfile(3).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, ROOT} from '../helpers/cli'
import {evidence, withEvidence} from '../helpers/evidence'
import {holderBinaries, spawnHolder} from '../helpers/lock-holders'
import {RunResult, run, runIn} from '../helpers/run'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

/** The file's text, '' while it does not exist. */
function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function json(r: RunResult): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

/** The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z'...), null once the pid is gone (one read). */
const stateOf = (hostPid: number): string | null => {
  try {
    const stat = fs.readFileSync(`/proc/${hostPid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0]
  } catch {
    return null // reaped, possibly between an existence check and the read
  }
}

/** Poll (every 10 ms, up to timeoutMs) until predicate() holds; its last answer. */
async function eventually(predicate: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  return predicate()
}

/** The process has exited (a zombie, or reaped), within `timeoutMs`. */
const gone = (hostPid: number, timeoutMs = 15_000) =>
  eventually(() => {
    const state = stateOf(hostPid)
    return state === null || state === 'Z' || state === 'X'
  }, timeoutMs)

/** The file exists and holds something, within 20 s (a process starting on a loaded machine writes it). */
const written = (file: string) =>
  eventually(() => {
    try {
      return fs.readFileSync(file, 'utf8') !== ''
    } catch {
      return false
    }
  }, 20_000)

describe.each([1, 2])('signal into a namespace %i level(s) deep', (levels) => {
  test('from the host: delivered through a pidfd to the holder; nspid is its chain', async () => {
    const file = path.join(tempDir(), 'holder.pid')
    const h = await spawnHolder({kind: 'posix', file, levels, writePid: true})
    const r = await run([process.execPath, BIN, 'signal', 'holder', 'TERM', '--pidfile', file, '--wait', '--timeout', '5s', '--json'])
    const j = json(r)
    await withEvidence(
      async () => {
        expect(r.status).toBe(0)
        expect(j.delivered).toEqual([{pid: h.hostPid, pidfd_id: expect.any(Number), nspid: h.nspid, signal: 'TERM'}])
        expect(j.exited).toBe(true)
        expect(await gone(h.hostPid)).toBe(true)
      },
      () => `${r.stdout}\n${r.stderr}\n${evidence({holder: h, file})}`,
    )
    await h.stop()
  })

  test('from inside the shared namespace: delivered to the inner pid', async () => {
    // STOP, not TERM: when the holder dies its namespace's init exits and the kernel kills every
    // process in the namespace, nslocate included, before it could report.
    const file = path.join(tempDir(), 'holder.pid')
    const h = await spawnHolder({kind: 'posix', file, levels, writePid: true})
    const r = await runIn(h, [process.execPath, BIN, 'signal', 'holder', 'STOP', '--pidfile', file, '--json'])
    const j = json(r)
    expect(r.status).toBe(0)
    expect(j.delivered).toEqual([{pid: h.innerPid, pidfd_id: expect.any(Number), nspid: [h.innerPid], signal: 'STOP'}])
    // The holder stops once it runs to take the signal: right after the send it can still show R or S.
    await eventually(() => stateOf(h.hostPid) === 'T')
    expect(stateOf(h.hostPid)).toBe('T')
    await h.stop()
  })
})

test('a pid reused during the --retry wait never gets the KILL', async () => {
  const dir = tempDir()
  const file = path.join(dir, 'svc.pid')
  const marks = path.join(dir, 'marks')
  // The service (pid 2, under mini-init): holds a POSIX lock, ignores TERM, auto-reaps, and starts
  // child A (exits on TERM) and child B (ignores TERM).
  const svc = `
import fcntl, os, signal, time, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
f = open(sys.argv[1], 'a+'); fcntl.lockf(f, fcntl.LOCK_EX); f.truncate(0); f.write(str(os.getpid())); f.flush()
def child(ignore):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore else signal.SIG_DFL)
        while True: time.sleep(0.05)
    return pid
a = child(False); b = child(True)
open(sys.argv[2], 'w').write(f'{a} {b}')
while True: time.sleep(1)
`
  const {miniInit} = holderBinaries()
  const top = spawnTracked(['unshare', '--pid', '--fork', '--mount-proc', miniInit, 'python3', '-c', svc, file, marks])
  // The file exists (open) before it holds the two pids (written, flushed on close): poll for both.
  await eventually(() => /^\d+ \d+$/.test(readOr(marks)), 20_000)
  const [a, b] = readOr(marks).split(' ').map(Number)
  expect(readOr(marks)).toMatch(/^\d+ \d+$/)
  // Host pids of the processes in the new namespace, by their innermost pid.
  let ns = ''
  for (let i = 0; i < 200 && !ns; i++) {
    const init = fs.readFileSync(`/proc/${top.pid}/task/${top.pid}/children`, 'utf8').trim()
    if (init) ns = fs.readlinkSync(`/proc/${init}/ns/pid`)
    else await new Promise((r) => setTimeout(r, 10))
  }
  const hostOf = (inner: number): number => {
    for (const name of fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n))) {
      try {
        if (fs.readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue
        const nspid = /^NSpid:(.*)$/m
          .exec(fs.readFileSync(`/proc/${name}/status`, 'utf8'))![1]
          .trim()
          .split(/\s+/)
          .map(Number)
        if (nspid[nspid.length - 1] === inner && !/\) [ZX] /.test(fs.readFileSync(`/proc/${name}/stat`, 'utf8'))) return Number(name)
      } catch {}
    }
    return 0
  }
  const mainHost = hostOf(2)
  expect(mainHost).toBeGreaterThan(0)
  const target = {hostPid: mainHost}
  try {
    // nslocate runs inside the namespace, where the reuse happens.
    const signalling = runIn(
      target,
      [process.execPath, BIN, 'signal', 'svc', 'TERM', '--pidfile', file, '--scope', 'tree', '--retry', 'TERM/4/KILL/2', '--json'],
      {timeoutMs: 20000},
    )
    // Wait until A has exited on TERM (its inner pid is free), then force an innocent onto it.
    const aHost = hostOf(a)
    expect(aHost).toBeGreaterThan(0)
    expect(await gone(aHost)).toBe(true)
    await new Promise((r) => setTimeout(r, 100))
    const forced = await runIn(target, ['sh', '-c', `echo ${a - 1} > /proc/sys/kernel/ns_last_pid && { sleep 60 >/dev/null 2>&1 & } ; echo ok`])
    expect(forced.stdout).toContain('ok')
    const innocent = hostOf(a)
    await withEvidence(
      () => expect(innocent).toBeGreaterThan(0),
      () => evidence({pids: [mainHost]}),
    )
    const r = await signalling
    const j = json(r)
    await withEvidence(
      () => {
        expect(r.status).toBe(0)
        expect(j.exited).toBe(true)
        const kills = j.delivered
          .filter((d: any) => d.signal === 'KILL')
          .map((d: any) => d.pid)
          .sort()
        expect(kills).toEqual([2, b].sort())
        expect(
          j.delivered
            .filter((d: any) => d.signal === 'TERM')
            .map((d: any) => d.pid)
            .sort(),
        ).toEqual([2, a, b].sort())
        expect(j.skipped).toEqual([{pid: a, pidfd_id: expect.any(Number), reason: 'gone'}])
        expect(fs.existsSync(`/proc/${innocent}`)).toBe(true)
      },
      () => `${r.stdout}\n${r.stderr}`,
    )
    process.kill(innocent, 'SIGKILL')
  } finally {
    top.kill('SIGKILL')
  }
}, 60000)

test('acquire() in a child PID namespace is located from the host', async () => {
  const dir = tempDir()
  const script = `require(${JSON.stringify(path.join(ROOT, 'dist/src'))}).acquire({name: 'nsvc', dir: ${JSON.stringify(dir)}}).then((h) => { console.log('ready', h.pid, h.path); setInterval(() => {}, 1000) })`
  // --kill-child: should unshare die first, the kernel kills the namespace's pid 1 (node, which as an
  // init ignores TERM and would otherwise outlive the test).
  const child = spawnTracked(['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, '-e', script])
  const file = path.join(dir, 'nsvc.pid')
  let inner = 0
  try {
    await written(file)
    expect(readOr(file)).toBe('1')
    inner = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim())
    const r = await run([process.execPath, BIN, 'find', 'nsvc', '--dir', dir, '--json'])
    const j = json(r)
    expect(r.status).toBe(0)
    expect(j).toMatchObject({state: 'running', pidfile: {pid: 1, lock: 'posix'}, visible: true})
    expect(j.nspid).toHaveLength(2)
    expect(j.nspid[1]).toBe(1)
    expect(j.holder).toBe(j.pid)
    expect(j.pid).toBe(inner)
    // flock readers see it too
    expect((await run(['flock', '-n', file, 'true'])).status).toBe(1)
  } finally {
    // The namespace's init by its host pid (SIGKILL is the one signal it cannot ignore from outside),
    // then unshare, which reaps it; verified gone.
    if (inner > 0) process.kill(inner, 'SIGKILL')
    child.kill('SIGKILL')
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)))
    if (inner > 0) await eventually(() => !fs.existsSync(`/proc/${inner}`))
    if (inner > 0) expect(fs.existsSync(`/proc/${inner}`)).toBe(false)
  }
})

describe('interop with libbsd pidfile(3)', () => {
  test('while nslocate run holds NAME, pidfile_open fails with EEXIST and reports our pid', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'svc.pid')
    const sup = spawnTracked([process.execPath, BIN, 'run', 'svc', '--dir', dir, '--', 'sleep', '60'])
    await written(file)
    const child = Number(readOr(file))
    const {bsdPidfile} = holderBinaries()
    const r = await run([bsdPidfile, file])
    expect(r.status).toBe(3)
    expect(r.stdout.trim()).toBe(`held ${child}`)
    sup.kill('SIGTERM')
  })

  test('run refuses to start while a libbsd program holds the pidfile', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'svc.pid')
    const h = await spawnHolder({kind: 'flock', file, libbsd: true})
    const r = await run([process.execPath, BIN, 'run', 'svc', '--dir', dir, '--', 'true'])
    expect(r.status).toBe(122)
    expect(r.stderr).toContain(`already running (pid ${h.hostPid})`)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(h.hostPid))
    await h.stop()
  })
})
