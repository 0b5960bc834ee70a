/**
 * Issue 17, holes 1-3: only who could have written a pidfile counts (src/locate/writer.ts).
 *
 * The attacker is a real unprivileged user who makes a user and PID namespace of their own
 * (`unshare -Urpf --mount-proc`), forces a process at the service's pid number there
 * (ns_last_pid), names it after the service and takes every kind of read-side lock on root's
 * pidfile (fixtures/attackers/force-pid.py). Root's service is a siglog victim that records every
 * signal it receives; the impostor records its own. Each test asserts what each process received.
 *
 * The rule under test: a lock held by a process that could not have written the file is no
 * evidence, for or against; a process that could not have written it, in a PID namespace whose
 * numbers its own user chose, is no candidate, whatever its name.
 */
import {ChildProcess} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, cliJson, dumpEvidence} from '../helpers/cli'
import {sleep, spawnTracked, stopAll, tempDir} from '../helpers/holders'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, spawnVictim} from '../helpers/victims'

const FORCE = path.join(ROOT, 'fixtures', 'attackers', 'force-pid.py')
const SIGTERM = 15
let mallory: TestUser
beforeAll(() => {
  mallory = createTestUser('wrule')
})
afterAll(async () => {
  await stopAll()
  mallory.remove()
})

interface Impostor {
  /** its pid here (host side) */
  pid: number
  inner: number
  log: string
  received(): number[]
  alive(): boolean
}

/** Root's service: a siglog victim writing its pid to DIR/NAME.pid (unlocked), in a root 0755 directory. */
async function rootService(name: string): Promise<{dir: string; file: string; victim: Victim}> {
  const dir = tempDir('nslocate-wrule-')
  fs.chmodSync(dir, 0o755)
  const file = path.join(dir, `${name}.pid`)
  const victim = await spawnVictim({pidfile: file, env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
  expect(fs.readFileSync(file, 'utf8').trim()).toBe(String(victim.pid))
  return {dir, file, victim}
}

/** mallory's process at inner pid `inner` in her own namespaces, named `name`, locking `file` with `mode`. */
async function impostor(inner: number, mode: string, file: string, name: string): Promise<Impostor> {
  const logDir = fs.mkdtempSync(path.join(mallory.home, 'imp-'))
  fs.chownSync(logDir, mallory.uid, mallory.gid)
  const log = path.join(logDir, 'signals.log')
  const child: ChildProcess = spawnTracked(mallory.as(['unshare', '-Urpf', '--mount-proc', 'python3', FORCE, String(inner), mode, file, name, log]), {stdio: ['ignore', 'pipe', 'pipe']})
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`impostor not ready: ${err}`)), 10_000)
    child.stdout!.on('data', (d) => {
      out += d
      if (/^ready \d+/m.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`impostor exited ${code}: ${err}`))
    })
  })
  // Its host pid: mallory's process whose NSpid ends with `inner` and whose comm is `name`.
  let pid = 0
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const st = fs.readFileSync(`/proc/${p}/status`, 'utf8')
      const nspid = /^NSpid:\s*(.*)$/m.exec(st)![1].trim().split(/\s+/).map(Number)
      if (nspid.length === 2 && nspid[1] === inner && new RegExp(`^Uid:\\s+${mallory.uid}\\s`, 'm').test(st)) pid = Number(p)
    } catch {}
  }
  expect(pid).toBeGreaterThan(0)
  return {
    pid, inner, log,
    received: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])) : []),
    alive: () => fs.existsSync(`/proc/${pid}`),
  }
}

async function stopVictim(v: Victim): Promise<void> {
  process.kill(v.pid, 'SIGKILL')
  await v.exited
}

const LOCKS = ['flock-sh', 'flock-ex', 'posix-rd', 'ofd-rd'] as const

describe('hole 1: a lock taken by a user who could not have written the pidfile is no evidence', () => {
  test.each(LOCKS)("mallory's %s lock, from her own PID namespace at the service's pid, named after it: root's find, signal and wait still answer for the service", async (mode) => {
    const {file, victim} = await rootService('svc')
    const imp = await impostor(victim.pid, mode, file, 'svc')
    const found = await cliJson(['find', 'svc', '--pidfile', file, '--json'])
    const why = () => `${JSON.stringify(found.json, null, 1)}\n${dumpEvidence([victim.pid, imp.pid])}`
    expect({status: found.status, state: found.json.state, pid: found.json.pid, why: ''}).toEqual({status: 0, state: 'running', pid: victim.pid, why: ''})
    expect(found.json.pidfile.lock).toBe('none')
    expect(found.json.holder).toBeNull()
    expect(found.json.reasons).toEqual(expect.not.arrayContaining(['content_mismatch', 'foreign_lock_holder', 'ambiguous', 'permission_denied']))
    const ev = found.json.evidence.join('\n')
    expect(ev).toContain(`pid ${imp.pid}`)
    expect(ev).toMatch(/could not have written the file/)
    if (found.json.state !== 'running') throw new Error(why())

    // The same answer with the identity options the attack was meant to defeat.
    const byExec = await cliJson(['find', 'svc', '--pidfile', file, '--process-name', 'svc', '--json'])
    expect(byExec.json.pid).not.toBe(imp.pid)

    const sent = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).toBe(0)
    await sleep(300)
    expect(victim.received().map((r) => r.signo)).toEqual([SIGTERM])
    expect(imp.received()).toEqual([])
    expect(imp.alive()).toBe(true)

    // The service dies: the impostor's lock and number do not keep it alive.
    await stopVictim(victim)
    const after = await cliJson(['find', 'svc', '--pidfile', file, '--json'])
    expect({status: after.status, state: after.json.state, pid: after.json.pid}).toEqual({status: 1, state: 'stale', pid: null})
    const waited = await cliJson(['wait', 'svc', '--pidfile', file, '--for', 'stopped', '--timeout', '5s', '--json'])
    expect(waited.status).toBe(0)
    const retry = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file, '--retry', 'TERM/1/KILL/1', '--json'])
    expect(retry.status).not.toBe(0)
    await sleep(300)
    expect(imp.received()).toEqual([])
    expect(imp.alive()).toBe(true)
  })

  test('a privilege-separated holder (real uid 0, effective uid of a service user) still counts: it could have written the file', async () => {
    const dir = tempDir('nslocate-wrule-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'psep.pid')
    // Root opens and writes the file, locks it, then sets only its effective uid to mallory's.
    const script = `import fcntl,os,signal,sys
fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, str(os.getpid()).encode())
os.seteuid(${mallory.uid})
print('ready', flush=True)
signal.pause()`
    const child = spawnTracked(['python3', '-c', script, file], {stdio: ['ignore', 'pipe', 'inherit']})
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => /ready/.test(String(d)) && resolve()))
    const uids = /^Uid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1].trim().split(/\s+/).map(Number)
    expect(uids.slice(0, 2)).toEqual([0, mallory.uid])
    const found = await cliJson(['find', 'psep', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid, holder: found.json.holder, lock: found.json.pidfile.lock})
      .toEqual({status: 0, state: 'running', pid: child.pid, holder: child.pid, lock: 'flock'})
  })
})

describe('a set-user-ID program carrying an unprivileged user\'s lock is that user\'s process', () => {
  test.each(['flock', 'posix'])("mallory locks (%s) root's stale pidfile and executes passwd (euid 0) with the lock: still stale, nothing signalled", async (mode) => {
    const dir = tempDir('nslocate-wrule-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'carried.pid')
    const dead = spawnTracked(['sh', '-c', 'echo $$'], {stdio: ['ignore', 'pipe', 'ignore']})
    const deadPid = await new Promise<number>((resolve) => dead.stdout!.on('data', (d) => resolve(Number(String(d).trim()))))
    fs.writeFileSync(file, `${deadPid}\n`, {mode: 0o644})
    const child = spawnTracked(mallory.as(['python3', path.join(ROOT, 'fixtures', 'attackers', 'setuid-carrier.py'), file, mode]), {stdio: ['ignore', 'pipe', 'inherit']})
    const carrier = await new Promise<number>((resolve) => child.stdout!.on('data', (d) => {
      const m = /carrier (\d+)/.exec(String(d))
      if (m) resolve(Number(m[1]))
    }))
    // The carrier's own pid (visible here) runs passwd with effective and saved uid 0 and holds the lock.
    let uids: number[] = []
    for (let i = 0; i < 50; i++) {
      uids = /^Uid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${carrier}/status`, 'utf8'))![1].trim().split(/\s+/).map(Number)
      if (uids[1] === 0 && fs.readFileSync('/proc/locks', 'utf8').includes(` ${carrier} `)) break
      await sleep(100)
    }
    expect(uids).toEqual([mallory.uid, 0, 0, 0])
    const found = await cliJson(['find', 'carried', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid, holder: found.json.holder}).toEqual({status: 1, state: 'stale', pid: null, holder: null})
    expect(found.json.evidence.join('\n')).toContain('only its effective or saved uid is, as in a set-user-ID program')
    const waited = await cliJson(['wait', 'carried', '--pidfile', file, '--for', 'stopped', '--timeout', '3s', '--json'])
    expect(waited.status).toBe(0)
    const sent = await cliJson(['signal', 'carried', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).not.toBe(0)
    expect(fs.existsSync(`/proc/${carrier}`)).toBe(true)
    process.kill(carrier, 'SIGKILL')
  })
})

describe('hole 2: an impostor for an unlocked pidfile is no candidate, whatever its name', () => {
  test("mallory's process named after the service at its pid in her own namespace: find names root's service, never the impostor; not even ambiguous; the same after the file is rewritten", async () => {
    const {file, victim} = await rootService('app2')
    const imp = await impostor(victim.pid, 'none', file, 'app2')
    const found = await cliJson(['find', 'app2', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 0, state: 'running', pid: victim.pid})
    expect(found.json.reasons).not.toContain('ambiguous')
    expect(found.json.evidence.join('\n')).toContain(`pid ${imp.pid} dropped: it could not have written the file`)
    // The service rewrites its pidfile later (the impostor now started before the file's mtime).
    await sleep(50)
    fs.writeFileSync(file, String(victim.pid))
    const again = await cliJson(['find', 'app2', '--pidfile', file, '--json'])
    expect({state: again.json.state, pid: again.json.pid}).toEqual({state: 'running', pid: victim.pid})
    const sent = await cliJson(['signal', 'app2', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).toBe(0)
    await sleep(300)
    expect(victim.received().map((r) => r.signo)).toEqual([SIGTERM])
    expect(imp.received()).toEqual([])
  })

  test('the service is gone and its pidfile rewritten after the impostor started: stale, nothing is signalled', async () => {
    const {file, victim} = await rootService('app3')
    const pid = victim.pid
    await stopVictim(victim)
    const imp = await impostor(pid, 'none', file, 'app3')
    await sleep(50)
    fs.writeFileSync(file, String(pid)) // mtime after the impostor's start: the start-time rule alone would take it
    const found = await cliJson(['find', 'app3', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 1, state: 'stale', pid: null})
    const sent = await cliJson(['signal', 'app3', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).not.toBe(0)
    await sleep(300)
    expect(imp.received()).toEqual([])
    expect(imp.alive()).toBe(true)
  })
})

describe('hole 3: a read lock is no denial of service', () => {
  test("mallory's flock -s on a live service's pidfile: find says running (exit 0), signal delivers, wait --for running returns at once", async () => {
    const {file, victim} = await rootService('dos')
    const locker = spawnTracked(mallory.as(['flock', '-s', file, 'sleep', '600']), {stdio: 'ignore'})
    await sleep(300)
    expect(fs.readFileSync('/proc/locks', 'utf8')).toMatch(/FLOCK\s+ADVISORY\s+READ/)
    const found = await cliJson(['find', 'dos', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 0, state: 'running', pid: victim.pid})
    const waited = await cliJson(['wait', 'dos', '--pidfile', file, '--for', 'running', '--timeout', '2s', '--json'])
    expect(waited.status).toBe(0)
    const sent = await cliJson(['signal', 'dos', 'HUP', '--pidfile', file, '--json'])
    expect(sent.status).toBe(0)
    await sleep(300)
    expect(victim.received().map((r) => r.signo)).toEqual([1])
    expect(fs.existsSync(`/proc/${locker.pid}`)).toBe(true)
  })
})
