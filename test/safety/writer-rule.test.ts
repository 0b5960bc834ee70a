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
import {ChildProcess, execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, cliJson, dumpEvidence, until} from '../helpers/cli'
import {isDescendant} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, receivedSettled, spawnVictim} from '../helpers/victims'

const ATTACKERS = path.join(ROOT, 'fixtures', 'attackers')
const FORCE = path.join(ATTACKERS, 'force-pid.py')
const PY = '/usr/bin/python3'
const SIGTERM = 15
let mallory: TestUser
beforeAll(() => {
  mallory = createTestUser('wrule')
})
/** Processes a test made that stopAll() does not reach (a tracked process's child, a carrier whose real uid is root): killed by pid. */
const extra: number[] = []
afterAll(async () => {
  for (const pid of extra) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
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
  const child: ChildProcess = spawnTracked(
    mallory.as(['unshare', '-Urpf', '--kill-child', '--mount-proc', 'python3', FORCE, String(inner), mode, file, name, log]),
    {stdio: ['ignore', 'pipe', 'pipe']},
  )
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
  // Its host pid: mallory's process below the unshare started here whose NSpid ends with `inner`
  // (below it only: an earlier impostor at the same inner pid can still be on its way out).
  let pid = 0
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const st = fs.readFileSync(`/proc/${p}/status`, 'utf8')
      const nspid = /^NSpid:\s*(.*)$/m.exec(st)![1].trim().split(/\s+/).map(Number)
      if (nspid.length === 2 && nspid[1] === inner && new RegExp(`^Uid:\\s+${mallory.uid}\\s`, 'm').test(st) && isDescendant(Number(p), child.pid!))
        pid = Number(p)
    } catch {}
  }
  expect(pid).toBeGreaterThan(0)
  return {
    pid,
    inner,
    log,
    received: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => Number(l.split(' ')[1]))
        : [],
    alive: () => fs.existsSync(`/proc/${pid}`),
  }
}

/**
 * The signal numbers `v` logged, once it logged `count` (polled: a signalled process runs when the
 * scheduler lets it), read 300 ms later: anything more, or anything an impostor got, shows by then.
 */
async function signos(v: Victim, count: number): Promise<number[]> {
  return (await receivedSettled(v, count, 300)).map((r) => r.signo)
}

async function stopVictim(v: Victim): Promise<void> {
  process.kill(v.pid, 'SIGKILL')
  await v.exited
}

const LOCKS = ['flock-sh', 'flock-ex', 'posix-rd', 'ofd-rd'] as const

describe('hole 1: a lock taken by a user who could not have written the pidfile is no evidence', () => {
  test.each(LOCKS)(
    "mallory's %s lock, from her own PID namespace at the service's pid, named after it: root's find, signal and wait still answer for the service",
    async (mode) => {
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
      expect(await signos(victim, 1)).toEqual([SIGTERM])
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
    },
  )

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
    const uids = /^Uid:\s*(.*)$/m
      .exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]
      .trim()
      .split(/\s+/)
      .map(Number)
    expect(uids.slice(0, 2)).toEqual([0, mallory.uid])
    const found = await cliJson(['find', 'psep', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid, holder: found.json.holder, lock: found.json.pidfile.lock}).toEqual({
      status: 0,
      state: 'running',
      pid: child.pid,
      holder: child.pid,
      lock: 'flock',
    })
  })
})

describe("a set-user-ID program carrying an unprivileged user's lock is that user's process", () => {
  test.each(['flock', 'posix'])(
    "mallory locks (%s) root's stale pidfile and executes passwd (euid 0) with the lock: still stale, nothing signalled",
    async (mode) => {
      const dir = tempDir('nslocate-wrule-')
      fs.chmodSync(dir, 0o755)
      const file = path.join(dir, 'carried.pid')
      const dead = spawnTracked(['sh', '-c', 'echo $$'], {stdio: ['ignore', 'pipe', 'ignore']})
      const deadPid = await new Promise<number>((resolve) => dead.stdout!.on('data', (d) => resolve(Number(String(d).trim()))))
      fs.writeFileSync(file, `${deadPid}\n`, {mode: 0o644})
      const child = spawnTracked(mallory.as(['python3', path.join(ROOT, 'fixtures', 'attackers', 'setuid-carrier.py'), file, mode]), {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const carrier = await new Promise<number>((resolve) =>
        child.stdout!.on('data', (d) => {
          const m = /carrier (\d+)/.exec(String(d))
          if (m) resolve(Number(m[1]))
        }),
      )
      // The carrier's own pid (visible here) runs passwd with effective and saved uid 0 and holds the lock.
      let uids: number[] = []
      for (let i = 0; i < 200; i++) {
        uids = /^Uid:\s*(.*)$/m
          .exec(fs.readFileSync(`/proc/${carrier}/status`, 'utf8'))![1]
          .trim()
          .split(/\s+/)
          .map(Number)
        if (uids[1] === 0 && fs.readFileSync('/proc/locks', 'utf8').includes(` ${carrier} `)) break
        await sleep(100)
      }
      expect(uids).toEqual([mallory.uid, 0, 0, 0])
      const found = await cliJson(['find', 'carried', '--pidfile', file, '--json'])
      expect({status: found.status, state: found.json.state, pid: found.json.pid, holder: found.json.holder}).toEqual({
        status: 1,
        state: 'stale',
        pid: null,
        holder: null,
      })
      expect(found.json.evidence.join('\n')).toContain('only its effective or saved uid is, as in a set-user-ID program')
      const waited = await cliJson(['wait', 'carried', '--pidfile', file, '--for', 'stopped', '--timeout', '3s', '--json'])
      expect(waited.status).toBe(0)
      const sent = await cliJson(['signal', 'carried', 'TERM', '--pidfile', file, '--json'])
      expect(sent.status).not.toBe(0)
      expect(fs.existsSync(`/proc/${carrier}`)).toBe(true)
      process.kill(carrier, 'SIGKILL')
    },
  )
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
    expect(await signos(victim, 1)).toEqual([SIGTERM])
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
    // flock(1) takes the lock once it runs (polled: a fixed 300 ms can pass before it does on a loaded machine)
    const readLock = new RegExp(`FLOCK\\s+ADVISORY\\s+READ\\s+\\d+\\s+[0-9a-f]+:[0-9a-f]+:${fs.statSync(file).ino}\\s`)
    await until(() => readLock.test(fs.readFileSync('/proc/locks', 'utf8')), `mallory's flock -s on ${file}`, 20_000)
    expect(fs.readFileSync('/proc/locks', 'utf8')).toMatch(readLock)
    const found = await cliJson(['find', 'dos', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 0, state: 'running', pid: victim.pid})
    const waited = await cliJson(['wait', 'dos', '--pidfile', file, '--for', 'running', '--timeout', '2s', '--json'])
    expect(waited.status).toBe(0)
    const sent = await cliJson(['signal', 'dos', 'HUP', '--pidfile', file, '--json'])
    expect(sent.status).toBe(0)
    expect(await signos(victim, 1)).toEqual([1])
    expect(fs.existsSync(`/proc/${locker.pid}`)).toBe(true)
  })
})

/** Start `argv` and resolve with its first stdout line matching `re` (match groups), e.g. "ready 123". */
async function started(argv: string[], re: RegExp, opts: {env?: NodeJS.ProcessEnv} = {}): Promise<{child: ChildProcess; m: RegExpExecArray}> {
  const child = spawnTracked(argv, {stdio: ['ignore', 'pipe', 'pipe'], env: opts.env})
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: not ready: ${out} ${err}`)), 20_000)
    child.stdout!.on('data', (d) => {
      out += d
      const x = re.exec(out)
      if (x) {
        clearTimeout(timer)
        resolve(x)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${argv.join(' ')} exited ${code}: ${out} ${err}`))
    })
  })
  return {child, m}
}

/** A pid free on the host now, from the top of the range (pids are handed out upwards, so it stays free for a while). */
function freePid(): number {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  for (let n = max - 1 - Math.floor(Math.random() * 2000); n > 300; n--) if (!fs.existsSync(`/proc/${n}`)) return n
  throw new Error('no free pid')
}

describe('red team, round 2: locks and numbers the writer rule must not believe', () => {
  test.each(['mmap', 'inflight'])(
    "a flock kept alive only by a %s (no descriptor in /proc/PID/fd): root's find is not steered, on a stale and on a live pidfile",
    async (how) => {
      const {file, victim} = await rootService('hid')
      const {child} = await started(mallory.as([PY, path.join(ATTACKERS, 'hidden-lock.py'), file, how]), /ready/)
      expect(fs.readFileSync('/proc/locks', 'utf8')).toMatch(/FLOCK\s+ADVISORY\s+READ/)
      const live = await cliJson(['find', 'hid', '--pidfile', file, '--json'])
      expect({status: live.status, state: live.json.state, pid: live.json.pid, lock: live.json.pidfile.lock}).toEqual({
        status: 0,
        state: 'running',
        pid: victim.pid,
        lock: 'none',
      })
      const sent = await cliJson(['signal', 'hid', 'HUP', '--pidfile', file, '--json'])
      expect(sent.status).toBe(0)
      expect(await signos(victim, 1)).toEqual([1])
      await stopVictim(victim)
      const stale = await cliJson(['find', 'hid', '--pidfile', file, '--json'])
      expect({status: stale.status, state: stale.json.state, pid: stale.json.pid}).toEqual({status: 1, state: 'stale', pid: null})
      expect(stale.json.evidence.join('\n')).toContain('a lock none of them accounts for is no evidence')
      const waited = await cliJson(['wait', 'hid', '--pidfile', file, '--for', 'stopped', '--timeout', '3s', '--json'])
      expect(waited.status).toBe(0)
      expect(fs.existsSync(`/proc/${child.pid}`)).toBe(true)
    },
  )

  test("a POSIX lock recorded for a dead pid that a root process then gets: that process is not the holder, and root's TERM does not reach it", async () => {
    const {file, victim} = await rootService('dead')
    const {m} = await started(mallory.as([PY, path.join(ATTACKERS, 'dead-posix-owner.py'), file]), /ready (\d+)/)
    const deadPid = Number(m[1])
    expect(fs.existsSync(`/proc/${deadPid}`)).toBe(false)
    // A root process is given the dead owner's pid (pid reuse, forced here with ns_last_pid).
    const reuser = await started(
      [PY, path.join(ATTACKERS, 'exec-at-pid.py'), String(deadPid), PY, '-c', 'import os,signal; print("ready", os.getpid(), flush=True); signal.pause()'],
      /ready (\d+)/,
    )
    extra.push(Number(reuser.m[1]))
    expect(Number(reuser.m[1])).toBe(deadPid)
    const probe = fs.readFileSync('/proc/locks', 'utf8')
    expect(probe).toMatch(new RegExp(`POSIX\\s+ADVISORY\\s+READ\\s+${deadPid}\\s`))
    const found = await cliJson(['find', 'dead', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid, holder: found.json.holder}).toEqual({
      status: 0,
      state: 'running',
      pid: victim.pid,
      holder: null,
    })
    expect(found.json.evidence.join('\n')).toContain(`lock recorded for pid ${deadPid}, but pid ${deadPid} has no descriptor of the file showing it`)
    const sent = await cliJson(['signal', 'dead', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).toBe(0)
    expect(await signos(victim, 1)).toEqual([SIGTERM])
    expect(fs.existsSync(`/proc/${deadPid}`)).toBe(true)
  })

  test("a set-user-ID program that makes its real uid root (as at(1) makes it daemon) carries mallory's lock: AT_SECURE, not a writer", async () => {
    const dir = tempDir('nslocate-wrule-bin-')
    fs.chmodSync(dir, 0o755)
    const bin = path.join(dir, 'ruid-carrier')
    execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', bin, path.join(ATTACKERS, 'ruid-carrier.c')])
    fs.chmodSync(bin, 0o4755)
    const {file, victim} = await rootService('ruid')
    await stopVictim(victim)
    // mallory opens and locks the stale root pidfile as fd 3, then executes the carrier with it.
    const {m} = await started(mallory.as(['sh', '-c', 'exec 3<"$0" && flock -s 3 && exec "$1"', file, bin]), /ready (\d+)/)
    const carrier = Number(m[1])
    extra.push(carrier)
    const uids = /^Uid:\s*(.*)$/m
      .exec(fs.readFileSync(`/proc/${carrier}/status`, 'utf8'))![1]
      .trim()
      .split(/\s+/)
      .map(Number)
    expect(uids).toEqual([0, mallory.uid, mallory.uid, mallory.uid])
    const found = await cliJson(['find', 'ruid', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 1, state: 'stale', pid: null})
    // It does hold the lock (fd 3), and only AT_SECURE keeps it from counting.
    expect(fs.readFileSync(`/proc/${carrier}/fdinfo/3`, 'utf8')).toMatch(/lock:.*FLOCK/)
    const sent = await cliJson(['signal', 'ruid', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).not.toBe(0)
    expect(fs.existsSync(`/proc/${carrier}`)).toBe(true)
  })

  test("a container's service writes its inner pid into a shared directory; mallory holds that number on the host, named after it: the container's service is the answer", async () => {
    const dir = tempDir('nslocate-wrule-ctr-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'siglog.pid')
    const n = freePid()
    // mallory's process at host pid N, named siglog, as the service is.
    const imp = await started(
      [
        PY,
        path.join(ATTACKERS, 'exec-at-pid.py'),
        String(n),
        ...mallory.as([
          PY,
          '-c',
          'import ctypes,os,signal; ctypes.CDLL(None).prctl(15, b"siglog", 0, 0, 0); print("ready", os.getpid(), flush=True); signal.pause()',
        ]),
      ],
      /ready (\d+)/,
    )
    extra.push(Number(imp.m[1]))
    expect(Number(imp.m[1])).toBe(n)
    await sleep(50)
    // Root's "container": a PID and mount namespace of root's; its service is pid N there.
    const victim = await spawnVictim({
      prefix: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', PY, path.join(ATTACKERS, 'exec-at-pid.py'), String(n)],
      pidfile: file,
      env: {NSLOCATE_SIGLOG_PDEATH: '1'},
    })
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(String(n))
    const found = await cliJson(['find', 'siglog', '--pidfile', file, '--json'])
    if (found.json.state !== 'running') throw new Error(JSON.stringify(found.json, null, 1))
    expect(found.json.pid).not.toBe(n)
    expect({status: found.status, state: found.json.state, nspidLast: found.json.nspid[found.json.nspid.length - 1]}).toEqual({
      status: 0,
      state: 'running',
      nspidLast: n,
    })
    expect(found.json.evidence.join('\n')).toContain('could have written the file themselves')
    const sent = await cliJson(['signal', 'siglog', 'HUP', '--pidfile', file, '--json'])
    expect(sent.status).toBe(0)
    expect(await signos(victim, 1)).toEqual([1])
    expect(fs.existsSync(`/proc/${n}`)).toBe(true)
  })

  test("a tenant of a user namespace root made but mapped to uid 300000 (LXC unprivileged, userns-remap) forces a process named after root's service at its number: no candidate", async () => {
    const {file, victim} = await rootService('remap')
    const tenant = await started([PY, path.join(ATTACKERS, 'remapped-tenant.py'), '300000', String(victim.pid), 'remap'], /ready (\d+)/)
    expect(Number(tenant.m[1])).toBe(victim.pid)
    const found = await cliJson(['find', 'remap', '--pidfile', file, '--json'])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 0, state: 'running', pid: victim.pid})
    expect(found.json.reasons).not.toContain('ambiguous')
    expect(found.json.evidence.join('\n')).toMatch(/made by uid 0 whose root is uid 300000, who may put any process at any pid number there/)
    await stopVictim(victim)
    const after = await cliJson(['find', 'remap', '--pidfile', file, '--json'])
    expect({status: after.status, state: after.json.state, pid: after.json.pid}).toEqual({status: 1, state: 'stale', pid: null})
  })
})
