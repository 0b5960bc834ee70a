/**
 * Issue 20, red team: the pidfs identity features (src/kernel/pidfs.ts, src/locate/record.ts,
 * src/locate/by-id.ts, src/signal/pin.ts, src/signal/pid-ref.ts) attacked by a real unprivileged
 * user who makes user and PID namespaces of their own (`unshare -Urpf --mount-proc`), places
 * processes at chosen pids there (ns_last_pid), names them, locks the files they may read and sets
 * user.* xattrs on the files they may write. Every victim is a real process that logs what it
 * receives (siglog, or the fixtures in fixtures/attack-pidfs/ and fixtures/attackers/), and every
 * test asserts what each one actually received.
 *
 * The promise under attack: an unprivileged user never steers root's answer; no wrong process is
 * ever signalled; a reused pid is never signalled. What holds (one test each, below):
 *   - root's recorded pidfile, on ext4 and on tmpfs: the user can neither set nor remove its record;
 *     an impostor at the service's pid in the user's own PID namespace, with the service's name and a
 *     read lock of every kind (or a flock on a descriptor in flight) changes nothing: running, the
 *     recorded service (signalled, the impostor not); once the service is gone, stale (pid_reused),
 *     nothing signalled;
 *   - the user's own pidfile naming, by its inner pid, the number of root's process: with a record of
 *     the user's own process, root signals that process only; with root's record copied byte for
 *     byte (mtime restored as `touch -d` does), refused (unsafe_owner), also with the fallback forced;
 *   - a pid reused in the user's own namespace within one clock tick (ns_last_pid), on the user's
 *     recorded pidfile: stale by the id, the newcomer receives nothing (with the fallback forced,
 *     where only the start time is left, anything named is the user's own process);
 *   - a hard link to root's recorded pidfile: the kernel refuses it (protected_hardlinks) or the path
 *     rules refuse the link;
 *   - the user's sandbox bind-mounting root's recorded pidfile over its /run: `--root-pid` refuses
 *     the service the record names (outside_target_namespace);
 *   - a record naming nslocate's own parent (turned into the user's process): refused as an ancestor;
 *     a record naming pid 1 of nslocate's namespace: refused, root's or the user's file alike;
 *   - a writer rewriting the file (in place, or a new inode renamed over it) while find reads it: an
 *     answer never pairs one process's pid with another's record;
 *   - `--pid PID:ID` with the id of a process of another PID namespace whose inner pid is PID (older
 *     or newer than the process at PID here), of a zombie, malformed and huge values, and
 *     `--scope group|cgroup` reaching nslocate's own group or cgroup: nothing sent, one-line errors.
 */
import {ChildProcess, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {RECORD_XATTR, formatRecord} from '../../src/locate/record'
import {pidfdOpen, xattrGet, xattrSet} from '../../src/native/binding'
import {BIN, ROOT, cli, cliJson, isAlive, until} from '../helpers/cli'
import {withEvidence} from '../helpers/evidence'
import {isDescendant} from '../helpers/proc'
import {run} from '../helpers/run'
import {settled, sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, readLog, receivedSettled, siglogBinary, spawnVictim} from '../helpers/victims'

// A shared 2-core machine: CLI runs take seconds under load.
jest.setTimeout(180_000)

const PY = '/usr/bin/python3'
const OWN = path.join(ROOT, 'fixtures', 'attack-pidfs')
const ATTACKERS = path.join(ROOT, 'fixtures', 'attackers')
const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const STACK = /^\s+at /m

let mallory: TestUser
/** Directories made outside tempDir() (tmpfs), removed in afterAll. */
const dirs: string[] = []
beforeAll(() => {
  mallory = createTestUser('atkpidfs')
})
afterAll(async () => {
  await stopAll()
  mallory.remove()
  for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
})

/** The pidfs id of pid, from a pidfd opened here (the number getino --pidfs and stat -L of a pidfd print). */
function idOf(pid: number): number {
  const fd = pidfdOpen(pid)
  try {
    return Number(fs.fstatSync(fd, {bigint: true}).ino)
  } finally {
    fs.closeSync(fd)
  }
}

/** A directory root owns (0755) on the file system of `parent` (ext4 /tmp, tmpfs /dev/shm). */
function rootDir(parent: string): string {
  let dir: string
  if (parent === '/tmp') dir = tempDir('nslocate-atkpidfs-')
  else {
    dir = fs.mkdtempSync(path.join(parent, 'nslocate-atkpidfs-'))
    dirs.push(dir)
  }
  fs.chmodSync(dir, 0o755)
  return dir
}

/** Sets root's record on file: pid and id, bound to the file's current mtime. */
function rootRecord(file: string, pid: number, id: number): string {
  const value = formatRecord({pid, pidfdId: id, bootId: BOOT, mtimeNs: fs.statSync(file, {bigint: true}).mtimeNs.toString()})
  const fd = fs.openSync(file, 'r')
  try {
    xattrSet(fd, RECORD_XATTR, Buffer.from(value))
  } finally {
    fs.closeSync(fd)
  }
  return value
}

function recordOf(file: string): string | null {
  const fd = fs.openSync(file, 'r')
  try {
    return xattrGet(fd, RECORD_XATTR, 4096)?.toString('latin1') ?? null
  } finally {
    fs.closeSync(fd)
  }
}

/** argv run to its end as mallory. */
function asMallory(argv: string[]) {
  const [cmd, ...args] = mallory.as(argv)
  return spawnSync(cmd, args, {encoding: 'utf8'})
}

/** Starts argv (tracked) and resolves once its stdout matches re. */
async function started(argv: string[], re: RegExp): Promise<{child: ChildProcess; m: RegExpExecArray}> {
  const child = spawnTracked(argv, {stdio: ['ignore', 'pipe', 'pipe']})
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

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await gone
}

/**
 * The host pid of mallory's process below `launcher` (the unshare a test started) whose innermost
 * pid (last NSpid column) is inner. Below the launcher only: the previous round's impostor, at the
 * same inner pid in a namespace being torn down, can still be on its way out.
 */
function hostPidOf(launcher: number, inner: number, comm?: string): number {
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const st = fs.readFileSync(`/proc/${p}/status`, 'utf8')
      const nspid = /^NSpid:\s*(.*)$/m.exec(st)![1].trim().split(/\s+/).map(Number)
      const uid = Number(/^Uid:\s*(\d+)/m.exec(st)![1])
      const name = /^Name:\s*(.*)$/m.exec(st)![1]
      if (uid !== mallory.uid || nspid.length < 2 || nspid[nspid.length - 1] !== inner || (comm !== undefined && name !== comm)) continue
      if (isDescendant(Number(p), launcher)) return Number(p)
    } catch {}
  }
  throw new Error(`no process of uid ${mallory.uid} at inner pid ${inner} below pid ${launcher}`)
}

/** A log file mallory may append to, in a directory of hers. */
function malloryLog(): string {
  const d = fs.mkdtempSync(path.join(mallory.home, 'log-'))
  fs.chownSync(d, mallory.uid, mallory.gid)
  return path.join(d, 'signals.log')
}

/** Lines "PID SIGNO" a python fixture logged. */
function logged(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

/**
 * mallory's impostor (fixtures/attackers/force-pid.py) at inner pid `inner` of her own user and
 * PID namespace, named `name`, holding a `mode` lock on `file` (none, flock-sh, posix-rd, ofd-rd).
 */
async function impostor(inner: number, mode: string, file: string, name: string): Promise<{child: ChildProcess; pid: number; log: string}> {
  const log = malloryLog()
  const {child} = await started(
    mallory.as(['unshare', '-Urpf', '--kill-child', '--mount-proc', PY, path.join(ATTACKERS, 'force-pid.py'), String(inner), mode, file, name, log]),
    /^ready \d+/m,
  )
  return {child, pid: hostPidOf(child.pid!, inner, name), log}
}

/** The signals `v` logged: once it logged `expected` (polled: it runs when the scheduler lets it), 200 ms later. */
async function received(v: Victim, expected = 0): Promise<number[]> {
  return (await receivedSettled(v, expected)).map((r) => r.signo)
}

describe.each([
  ['ext4', '/tmp'],
  ['tmpfs', '/dev/shm'],
])("root's recorded pidfile on %s, attacked by an unprivileged user", (_fs, parent) => {
  let file: string
  let victim: Victim
  let victimId: number
  let value: string
  beforeAll(async () => {
    file = path.join(rootDir(parent), 'svc.pid')
    victim = await spawnVictim({pidfile: file, exitOn: ['TERM']})
    fs.chmodSync(file, 0o644)
    victimId = idOf(victim.pid)
    value = rootRecord(file, victim.pid, victimId)
  })

  test('the user can neither set, replace nor remove the record (EACCES/EPERM); the value stays what root wrote', () => {
    const code = [
      'import os, sys',
      'f = sys.argv[1]',
      "for op in (lambda: os.setxattr(f, 'user.nslocate.identity', b'v1 pid=1 pidfd_id=2 boot_id=x mtime=0'), lambda: os.removexattr(f, 'user.nslocate.identity')):",
      '    try: op(); print("allowed")',
      '    except OSError as e: print(e.errno)',
    ].join('\n')
    const r = asMallory([PY, '-c', code, file])
    expect(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .every((l) => l === '13' || l === '1'),
    ).toBe(true)
    expect(recordOf(file)).toBe(value)
  })

  test("the service alive: an impostor at its pid in the user's namespace, with its name and each read lock, changes nothing; HUP reaches the service only", async () => {
    for (const mode of ['flock-sh', 'posix-rd', 'ofd-rd']) {
      const imp = await impostor(victim.pid, mode, file, 'siglog')
      const {status, json: j} = await cliJson(['find', 'svc', '--pidfile', file])
      await withEvidence(
        () => expect([mode, status, j.state, j.pid, j.pidfd_id, j.pidfile.recorded?.pidfd_id]).toEqual([mode, 0, 'running', victim.pid, victimId, victimId]),
        () => JSON.stringify(j, null, 1),
      )
      const s = await cliJson(['signal', 'svc', 'HUP', '--pidfile', file])
      expect([s.status, s.json.delivered.map((d: {pid: number}) => d.pid)]).toEqual([0, [victim.pid]])
      await sleep(200)
      expect(logged(imp.log)).toEqual([])
      await stop(imp.child)
    }
    expect(await received(victim, 3)).toEqual([1, 1, 1])
  })

  test("the service gone, its record left: an impostor at its pid in the user's namespace, named like it, holding a lock (or a flock in flight): stale, pid_reused, nothing signalled", async () => {
    const pid = victim.pid
    process.kill(pid, 'SIGTERM')
    await victim.exited
    expect((await received(victim, 4)).slice(-1)).toEqual([15]) // the three HUPs before, then this TERM
    expect(recordOf(file)).toBe(value)
    for (const mode of ['flock-sh', 'posix-rd', 'ofd-rd', 'inflight']) {
      const imp = await impostor(pid, mode === 'inflight' ? 'none' : mode, file, 'siglog')
      const hidden = mode === 'inflight' ? (await started(mallory.as([PY, path.join(ATTACKERS, 'hidden-lock.py'), file, 'inflight']), /ready/)).child : null
      const {status, json: j} = await cliJson(['find', 'svc', '--pidfile', file])
      await withEvidence(
        () => {
          expect([mode, status, j.state, j.pid, j.pidfd_id, j.holder]).toEqual([mode, 1, 'stale', null, null, null])
          expect(j.reasons).toEqual(['unlocked_pidfile', 'pid_reused', 'stale_pidfile'])
          expect(j.pidfile.recorded?.pidfd_id).toBe(victimId)
          expect(j.evidence).toContain(
            `pid ${imp.pid} (NSpid ${imp.pid} ${pid}) is now pidfs id ${idOf(imp.pid)}; the file recorded ${victimId}: not the process it was written for`,
          )
        },
        () => JSON.stringify(j, null, 1),
      )
      const s = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file])
      expect([s.status, s.json.delivered]).toEqual([7, []])
      await sleep(200)
      expect(logged(imp.log)).toEqual([])
      if (hidden) await stop(hidden)
      await stop(imp.child)
    }
  })
})

describe("the user's own pidfile, naming by its inner pid the number of root's process", () => {
  let dir: string
  let victim: Victim
  beforeAll(async () => {
    dir = rootDir('/tmp')
    victim = await spawnVictim({exitOn: ['TERM']})
  })

  /** mallory's own-record.py at inner pid = root's victim's pid, writing her file with record `id` (and mtime). */
  async function ownFile(name: string, id: string, mtime?: string) {
    const file = path.join(dir, `${name}.pid`)
    fs.writeFileSync(file, '')
    fs.chownSync(file, mallory.uid, mallory.gid)
    const log = malloryLog()
    const argv = [PY, path.join(OWN, 'own-record.py'), String(victim.pid), file, log, id, BOOT, ...(mtime ? [mtime] : [])]
    const {child, m} = await started(mallory.as(['unshare', '-Urpf', '--kill-child', '--mount-proc', ...argv]), /^ready (\d+) (\d+)/m)
    return {file, log, child, ownId: Number(m[2]), pid: hostPidOf(child.pid!, victim.pid)}
  }

  test("a record of the user's own process: root's find names it, and root's TERM reaches it, not root's process at that number", async () => {
    const own = await ownFile('mine', 'self')
    const {json: j} = await cliJson(['find', 'mine', '--pidfile', own.file])
    await withEvidence(
      () => {
        expect([j.state, j.pid, j.pidfd_id, j.nspid, j.process.uid]).toEqual(['running', own.pid, own.ownId, [own.pid, victim.pid], mallory.uid])
        expect(j.evidence).toContain(
          `pid ${victim.pid} is now pidfs id ${idOf(victim.pid)}; the file recorded ${own.ownId}: not the process it was written for`,
        )
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await cliJson(['signal', 'mine', 'TERM', '--pidfile', own.file])
    expect([s.status, s.json.delivered]).toEqual([0, [{pid: own.pid, pidfd_id: own.ownId, nspid: [own.pid, victim.pid], signal: 'TERM'}]])
    // logged by the user's process (a Python handler: polled), and nothing else after 200 ms more
    const some = (l: string[]) => l.length >= 1
    expect(await settled(() => logged(own.log), some)).toEqual([`${victim.pid} 15`])
    expect(await received(victim)).toEqual([])
    await stop(own.child)
  })

  test("root's record copied byte for byte (its mtime restored, as touch -d does): refused (unsafe_owner), also with the fallback forced; nothing signalled", async () => {
    const rootFile = path.join(dir, 'root.pid')
    fs.writeFileSync(rootFile, String(victim.pid))
    const value = rootRecord(rootFile, victim.pid, idOf(victim.pid))
    const mtime = fs.statSync(rootFile, {bigint: true}).mtimeNs.toString()
    const copy = await ownFile('copy', String(idOf(victim.pid)), mtime)
    expect([recordOf(copy.file), fs.readFileSync(copy.file, 'utf8')]).toEqual([value, String(victim.pid)])
    // With the record: it names root's process, which the user's file may not (unsafe_owner). With the
    // fallback forced (no ids), the record is not used: root's process, or the user's own at that
    // number too (ambiguous: when it did not start after the mtime the user restored), is refused.
    for (const [env, reasons] of [
      [{}, ['unsafe_owner']],
      [{NSLOCATE_FORCE_FALLBACK: 'pidfs,pidfd-info'}, ['unsafe_owner', 'ambiguous']],
    ] as const) {
      const {status, json: j} = await cliJson(['find', 'copy', '--pidfile', copy.file], {env})
      await withEvidence(
        () => {
          expect([env, status, j.state, j.pid, j.pidfd_id, j.process]).toEqual([env, 4, 'unknown', null, null, null])
          expect(j.reasons.filter((r: string) => (reasons as readonly string[]).includes(r))).toHaveLength(1)
        },
        () => JSON.stringify(j, null, 1),
      )
      const s = await cliJson(['signal', 'copy', 'TERM', '--pidfile', copy.file], {env})
      expect([s.status, s.json.delivered]).toEqual([4, []])
    }
    await sleep(200)
    expect(await received(victim)).toEqual([])
    expect(logged(copy.log)).toEqual([])
    await stop(copy.child)
  })
})

test("a pid reused in the user's namespace within the same clock tick, on the user's recorded pidfile: stale (pid_reused), the newcomer receives nothing; with the fallback forced, whatever is named is the user's own", async () => {
  const file = path.join(rootDir('/tmp'), 'app.pid')
  fs.writeFileSync(file, '')
  fs.chownSync(file, mallory.uid, mallory.gid)
  const log = malloryLog()
  const {child, m} = await started(
    mallory.as(['unshare', '-Urpf', '--kill-child', '--mount-proc', PY, path.join(OWN, 'same-tick.py'), file, log, BOOT]),
    /^ready (\d+) (\d+) (\d+) (\d+)/m,
  )
  const [inner, idA, idB] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const b = hostPidOf(child.pid!, inner, 'python3')
  expect(idOf(b)).toBe(idB)
  const {status, json: j} = await cliJson(['find', 'python3', '--pidfile', file])
  await withEvidence(
    () => {
      expect([status, j.state, j.pid, j.reasons]).toEqual([1, 'stale', null, ['unlocked_pidfile', 'pid_reused', 'stale_pidfile']])
      expect(j.evidence).toContain(`pid ${b} (NSpid ${b} ${inner}) is now pidfs id ${idB}; the file recorded ${idA}: not the process it was written for`)
    },
    () => JSON.stringify(j, null, 1),
  )
  const s = await cliJson(['signal', 'python3', 'TERM', '--pidfile', file])
  expect([s.status, s.json.delivered]).toEqual([7, []])
  const fallback = await cliJson(['find', 'python3', '--pidfile', file], {env: {NSLOCATE_FORCE_FALLBACK: 'pidfs'}})
  if (fallback.json.pid !== null) expect([fallback.json.pid, fallback.json.process.uid]).toEqual([b, mallory.uid])
  await sleep(200)
  expect(logged(log)).toEqual([])
  await stop(child)
})

test("a hard link to root's recorded pidfile: refused by the kernel (protected_hardlinks), or by the path rules; nothing signalled", async () => {
  const file = path.join(rootDir('/tmp'), 'svc.pid')
  const victim = await spawnVictim({pidfile: file, exitOn: ['TERM']})
  fs.chmodSync(file, 0o644)
  rootRecord(file, victim.pid, idOf(victim.pid))
  const link = path.join(mallory.home, 'svc.pid')
  const r = asMallory(['ln', file, link])
  if (r.status !== 0) {
    expect(r.stderr).toMatch(/Operation not permitted/)
    expect(fs.readFileSync('/proc/sys/fs/protected_hardlinks', 'utf8').trim()).toBe('1')
  } else {
    const {json: j} = await cliJson(['find', 'svc', '--pidfile', link])
    expect([j.state, j.pid, j.reasons.includes('unsafe_directory')]).toEqual(['unknown', null, true])
    const s = await cliJson(['signal', 'svc', 'TERM', '--pidfile', link])
    expect(s.json.delivered).toEqual([])
  }
  expect(await received(victim)).toEqual([])
})

test.each([
  ['a mount namespace of its own', ['-Urm']],
  ['its own PID namespace too', ['-Urmpf', '--mount-proc']],
])(
  "the user's sandbox (%s) bind-mounts root's recorded pidfile over its /run: --root-pid refuses the service the record names (outside_target_namespace); nothing signalled",
  async (_what, flags) => {
    const dir = rootDir('/tmp')
    const file = path.join(dir, 'svc.pid')
    const victim = await spawnVictim({pidfile: file, exitOn: ['TERM']})
    fs.chmodSync(file, 0o644)
    rootRecord(file, victim.pid, idOf(victim.pid))
    const {child} = await started(mallory.as(['unshare', ...flags, 'sh', '-c', `mount --bind ${dir} /run && echo ready && exec sleep 600`]), /ready/)
    let sandbox = 0
    await until(() => {
      sandbox = Number(spawnSync('pgrep', ['-u', String(mallory.uid), '-x', 'sleep', '-n'], {encoding: 'utf8'}).stdout.trim() || 0)
      return sandbox > 0
    }, 'the sandbox')
    const {status, json: j} = await cliJson(['find', 'svc', '--root-pid', String(sandbox), '--pidfile', '/run/svc.pid'])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id]).toEqual([4, 'unknown', null, null])
        expect(j.reasons).toContain('outside_target_namespace')
        expect(j.evidence).toContain(`pid ${victim.pid} is pidfs id ${idOf(victim.pid)}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await cliJson(['signal', 'svc', 'TERM', '--root-pid', String(sandbox), '--pidfile', '/run/svc.pid'])
    expect([s.status, s.json.delivered]).toEqual([4, []])
    expect(await received(victim)).toEqual([])
    await stop(child)
  },
)

test("a record naming nslocate's own parent, turned into the user's process: find names it (the user's own), signal refuses it as an ancestor", async () => {
  const dir = rootDir('/tmp')
  const file = path.join(dir, 'anc.pid')
  const log = path.join(dir, 'anc.log')
  for (const f of [file, log]) {
    fs.writeFileSync(f, '')
    fs.chownSync(f, mallory.uid, mallory.gid)
  }
  const argv = [PY, path.join(OWN, 'ancestor.py'), String(mallory.uid), String(mallory.gid), file, log, '--', process.execPath, BIN]
  const r = await run([...argv, 'signal', 'anc', 'TERM', '--pidfile', file, '--json'], {timeoutMs: 60_000})
  const out = JSON.parse(r.stdout)
  const j = JSON.parse(out.stdout)
  await withEvidence(
    () => {
      expect([out.status, j.delivered, j.skipped]).toEqual([4, [], [{pid: out.parent, pidfd_id: out.id, reason: 'unsafe'}]])
      expect([j.target.state, j.target.pid, j.target.pidfd_id]).toEqual(['running', out.parent, out.id])
      expect(j.message).toBe(`anc: pid ${out.parent} is an ancestor of nslocate; nothing was signalled`)
    },
    () => JSON.stringify(out, null, 1),
  )
  expect(logged(log)).toEqual([])
})

test("a record naming pid 1 of nslocate's PID namespace (a siglog init), on root's file and on the user's: nothing reaches it", async () => {
  const init = await spawnVictim({prefix: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']})
  expect(init.ready).toEqual([1])
  let hostPid = 0
  await until(() => {
    hostPid = Number(
      fs.readdirSync('/proc').find((p) => /^\d+$/.test(p) && /^PPid:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] === String(init.pid)) ??
        0,
    )
    return hostPid > 0
  }, 'the init of the new namespace')
  const id = idOf(hostPid)
  const dir = rootDir('/tmp')
  const rootFile = path.join(dir, 'init.pid')
  fs.writeFileSync(rootFile, '1')
  rootRecord(rootFile, 1, id)
  const userFile = path.join(dir, 'user.pid')
  fs.writeFileSync(userFile, '1')
  fs.chownSync(userFile, mallory.uid, mallory.gid)
  const set = asMallory([
    PY,
    '-c',
    'import os,sys; f=sys.argv[1]; os.setxattr(f, "user.nslocate.identity", ("v1 pid=1 pidfd_id=%s boot_id=%s mtime=%d" % (sys.argv[2], sys.argv[3], os.stat(f).st_mtime_ns)).encode())',
    userFile,
    String(id),
    BOOT,
  ])
  expect([set.status, set.stderr]).toEqual([0, ''])
  const inside = ['nsenter', '-t', String(hostPid), '-p', '-m', '--', process.execPath, BIN]
  const root = JSON.parse((await run([...inside, 'signal', 'init', 'TERM', '--pidfile', rootFile, '--json'])).stdout)
  expect([root.target.pid, root.target.pidfd_id, root.delivered, root.skipped]).toEqual([1, id, [], [{pid: 1, pidfd_id: id, reason: 'unsafe'}]])
  const user = JSON.parse((await run([...inside, 'signal', 'init', 'TERM', '--pidfile', userFile, '--json'])).stdout)
  expect([user.target.state, user.target.pid, user.target.reasons.includes('unsafe_owner'), user.delivered]).toEqual(['unknown', null, true, []])
  await sleep(200)
  expect(init.received()).toEqual([])
  expect(isAlive(hostPid)).toBe(true)
})

describe('a writer rewriting the pidfile while find reads it: never one process with the record of another', () => {
  test.each(['inplace', 'rename'])('%s', async (how) => {
    const dir = rootDir('/tmp')
    const file = path.join(dir, 'sleep.pid')
    const a = await spawnVictim()
    const b = await spawnVictim()
    const ids = new Map([
      [a.pid, idOf(a.pid)],
      [b.pid, idOf(b.pid)],
    ])
    const writer = (
      await started([PY, path.join(OWN, 'rewriter.py'), file, how, String(a.pid), String(ids.get(a.pid)), String(b.pid), String(ids.get(b.pid))], /ready/)
    ).child
    for (let i = 0; i < 8; i++) {
      const {json: j} = await cliJson(['find', 'siglog', '--pidfile', file])
      const r = j.pidfile?.recorded
      await withEvidence(
        () => {
          if (j.pid !== null) expect([j.pid, j.pidfd_id]).toEqual([j.pid, ids.get(j.pid)])
          if (r) expect([r.pid, r.pidfd_id, j.pid, j.pidfd_id]).toEqual([j.pidfile.pid, ids.get(r.pid), r.pid, r.pidfd_id])
        },
        () => JSON.stringify(j, null, 1),
      )
    }
    await stop(writer)
    expect(await received(a)).toEqual([])
    expect(await received(b)).toEqual([])
  })
})

describe('--pid PID:ID', () => {
  test.each(['here-older', 'here-newer'])(
    'ID of a process of another PID namespace whose inner pid is PID, the process at PID here %s: nothing reaches either',
    async (order) => {
      const dir = tempDir('nslocate-atkpidfs-ns-')
      const r = await run(
        ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', PY, path.join(OWN, 'other-ns.py'), siglogBinary(), process.execPath, BIN, dir, order],
        {timeoutMs: 120_000},
      )
      const o = JSON.parse(r.stdout)
      await withEvidence(
        () => {
          // ID is alive in the inner namespace: refused whichever process has PID here (openById finds it)
          expect([o.signal.json.delivered, o.signal.json.skipped[0].reason]).toEqual([[], 'wrong_id'])
          expect([o.signal.status, STACK.test(o.signal.stderr), STACK.test(o.wait.stderr)]).toEqual([4, false, false])
          expect([o.wait.status, o.wait.json.reached]).toEqual([4, false])
          expect([o.here_alive, o.inner_alive, o.here_log, o.inner_log]).toEqual([true, true, '', ''])
        },
        () => JSON.stringify(o, null, 1),
      )
    },
  )

  test('the id of a zombie: signal says it has exited (7), wait is reached at once; nothing sent', async () => {
    const parent = (
      await started([PY, '-c', 'import os, time\np = os.fork()\nif p == 0: os._exit(0)\nprint("zombie", p, flush=True)\ntime.sleep(120)'], /^zombie (\d+)/m)
    ).m
    const z = Number(parent[1])
    await until(() => /^State:\s*Z/m.test(fs.readFileSync(`/proc/${z}/status`, 'utf8')), 'the child is a zombie')
    const ref = `${z}:${idOf(z)}`
    const s = await cliJson(['signal', 'x', 'TERM', '--pid', ref])
    expect([s.status, s.json.delivered, s.json.skipped]).toEqual([7, [], [{pid: z, pidfd_id: idOf(z), reason: 'gone'}]])
    const w = await cliJson(['wait', 'x', '--pid', ref, '--timeout', '5s'])
    expect([w.status, w.json.reached]).toEqual([0, true])
  })

  test.each([
    ['2147483648:5', 2],
    ['0:5', 2],
    ['5:0', 2],
    ['5:9007199254740992', 2],
    ['5:99999999999999999', 2],
    ['5:1e3', 2],
    [' 5:3', 2],
    ['5:3:4', 2],
    ['-1:3', 2],
    ['2147483647:9007199254740991', 7],
  ])('%s: exit %i, one line, nothing sent', async (ref, status) => {
    const r = await cli(['signal', 'x', 'TERM', '--pid', ref])
    expect([r.status, STACK.test(r.stderr + r.stdout)]).toEqual([status, false])
    expect(r.stderr.trim().length).toBeGreaterThan(0)
  })

  test("--scope group and --scope cgroup reaching nslocate's own process group and cgroup: refused (4); the sibling receives nothing", async () => {
    const dir = tempDir('nslocate-atkpidfs-scope-')
    const log = path.join(dir, 'sibling.log')
    const script = [
      `"${siglogBinary()}" "${log}" & P=$!`,
      'sleep 0.3',
      `ID=$(${PY} -c 'import os, sys; print(os.fstat(os.pidfd_open(int(sys.argv[1]))).st_ino)' $P)`,
      'for s in group cgroup; do',
      `  "${process.execPath}" "${BIN}" signal x TERM --pid $P:$ID --scope $s --json > "${dir}/$s.json"; echo $? > "${dir}/$s.status"`,
      'done',
      'kill -9 $P',
    ].join('\n')
    const r = await run(['setsid', 'sh', '-c', script], {timeoutMs: 60_000})
    expect(r.status).toBe(0)
    for (const s of ['group', 'cgroup']) {
      const status = fs.readFileSync(path.join(dir, `${s}.status`), 'utf8').trim()
      const text = fs.readFileSync(path.join(dir, `${s}.json`), 'utf8')
      expect([s, status, STACK.test(text)]).toEqual([s, '4', false])
    }
    expect(readLog(log)).toEqual([])
  })
})
