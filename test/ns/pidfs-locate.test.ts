/**
 * Issue 20: pidfs ids in find's answers, and the identity record deciding (docs/nslocate.1.md,
 * NOTES, "The identity record"; src/locate/by-id.ts). Real processes, real PID namespaces:
 * - the ids find prints are the kernel's: the inode stat(1) shows for a pidfd that another process
 *   (python3, os.pidfd_open) holds on the same process, for the main pid and the lock holder;
 * - a pidfile written by `nslocate run` carries its record: find decides by the id, and still names
 *   the child after its supervisor was SIGKILLed, whatever the child's name, also for a caller
 *   who may not read the fds of the process holding the lock;
 * - a record on an unlocked file whose process lives in another PID namespace ends `ambiguous`;
 * - a record whose content was rewritten since (its mtime differs) is ignored: today's answer;
 * - a record from another boot (a faked boot id) makes the file stale, whatever lives at its pid
 *   and whatever holds its lock;
 * - serve gives the id in /healthz/NAME and /metrics, and counts a restart by it.
 */
import {spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {RECORD_XATTR, formatRecord} from '../../src/locate/record'
import {xattrSet} from '../../src/native/binding'
import {BIN, isAlive, killTracked, track, until} from '../helpers/cli'
import {cliAs} from '../helpers/as-user'
import {withEvidence} from '../helpers/evidence'
import {alive, startTime} from '../helpers/proc'
import {run} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnVictim} from '../helpers/victims'
import {exitOf, killPid, pidIn, runInBackground, untilRunning} from '../safety/run-helpers'
import {nextEvent, startCli, stopCli} from '../sidecar/run-cli'

/** Services that outlive their supervisor: ended by pid (and start time) after the tests. */
const orphans: Array<{pid: number; start: number | null}> = []
afterAll(async () => {
  for (const o of orphans) if (alive(o.pid, o.start)) await killPid(o.pid)
  await killTracked()
  await stopAll()
})

const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc']
const SIGTERM = 15

const nslocate = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = await run([process.execPath, BIN, ...args, '--json'], {env: {...process.env, ...env}})
  try {
    return {status: r.status, j: JSON.parse(r.stdout), stderr: r.stderr}
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

/**
 * The pidfs ids of `pids` as the kernel shows them to anyone: a python3 process opens a pidfd on
 * each (os.pidfd_open), and `stat -L -c %i /proc/PY/fd/FD` prints its inode (what util-linux's
 * `getino --pidfs -p PID` prints). Nothing of nslocate's is involved.
 */
async function kernelIds(pids: number[]): Promise<number[]> {
  const py = track(
    spawn(
      '/usr/bin/python3',
      ['-c', 'import os,sys,time\nfds=[os.pidfd_open(int(p)) for p in sys.argv[1:]]\nprint(*fds, flush=True)\ntime.sleep(60)', ...pids.map(String)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  )
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      py.stdout!.on('data', (d) => {
        out += d
        if (out.includes('\n')) resolve(out.trim())
      })
      py.once('exit', (code) => reject(new Error(`python3 exited (${code}) before opening the pidfds`)))
    })
    return line.split(' ').map((fd) => {
      const r = spawnSync('stat', ['-L', '-c', '%i', `/proc/${py.pid}/fd/${fd}`], {encoding: 'utf8'})
      expect(r.status).toBe(0)
      return Number(r.stdout.trim())
    })
  } finally {
    py.kill('SIGKILL')
    await exitOf(py)
  }
}

/** Sets the identity record on `file` for `pid` (as numbered in the file) and pidfs id `id`, bound to the file's current mtime. */
function setRecord(file: string, pid: number, id: number, bootId = BOOT): string {
  const fd = fs.openSync(file, 'r')
  try {
    const text = formatRecord({pid, pidfdId: id, bootId, mtimeNs: fs.fstatSync(fd, {bigint: true}).mtimeNs.toString()})
    xattrSet(fd, RECORD_XATTR, Buffer.from(text))
    return text
  } finally {
    fs.closeSync(fd)
  }
}

const getfattr = (file: string) => spawnSync('getfattr', ['--only-values', '-n', RECORD_XATTR, file], {encoding: 'utf8'}).stdout

describe('a pidfile written by `nslocate run`', () => {
  test('find names the child and its supervisor by PID:ID, the ids stat(1) shows for pidfds on them; the record is what run wrote', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'svc.pid')
    const sup = runInBackground(['svc', '--dir', dir, '--', 'sleep', '600'])
    const child = await pidIn(file)
    await untilRunning(child, 'sleep')
    const {status, j} = await nslocate(['find', 'svc', '--dir', dir])
    const [mainId, holderId] = await kernelIds([child, sup.pid!])
    const record = getfattr(file)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.holder, j.reasons]).toEqual([0, 'running', child, sup.pid, []])
        expect({pidfd_id: j.pidfd_id, holder_pidfd_id: j.holder_pidfd_id, pidfd_ref: j.pidfd_ref}).toEqual({
          pidfd_id: mainId,
          holder_pidfd_id: holderId,
          pidfd_ref: `${child}:${mainId}`,
        })
        expect(mainId).not.toBe(holderId)
        // The record run wrote, as getfattr(1) reads it, and as find reports it.
        expect(record).toMatch(new RegExp(`^v1 pid=${child} pidfd_id=${mainId} boot_id=${BOOT} mtime=[0-9]+$`))
        expect(j.pidfile.recorded).toEqual({pid: child, pidfd_id: mainId, boot_id: BOOT, mtime_ns: /mtime=([0-9]+)/.exec(record)![1]})
        expect(j.evidence).toContain(`pid ${child} is pidfs id ${mainId}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    const text = await run([process.execPath, BIN, 'find', 'svc', '--dir', dir])
    expect(text.stdout).toContain(`\n  pid       ${child}:${mainId}\n`)
    expect(text.stdout).toContain(`\n  holder    ${sup.pid}:${holderId}  (holds the lock for pid ${child})\n`)
    expect(text.stdout).toContain(`\n  recorded  pid ${child}, pidfs id ${mainId}, boot ${BOOT}\n`)
    const list = await nslocate(['list', '--dir', dir])
    expect(list.j.services ?? list.j).toEqual(
      expect.arrayContaining([expect.objectContaining({name: 'svc', pid: child, pidfd_id: mainId, holder_pidfd_id: holderId})]),
    )
    const table = await run([process.execPath, BIN, 'list', '--dir', dir])
    expect(table.stdout).toMatch(new RegExp(`^svc +running +${child}:${mainId} +posix `, 'm'))
    // With the ids forced unavailable (a kernel before 6.9): the same answer, without ids.
    const old = await nslocate(['find', 'svc', '--dir', dir], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
    expect([old.j.state, old.j.pid, old.j.pidfd_id, old.j.holder_pidfd_id, old.j.pidfd_ref, old.j.pidfile.recorded]).toEqual([
      'running',
      child,
      null,
      null,
      null,
      null,
    ])
    expect(old.j.evidence.join('\n')).toContain('not used: pidfds have no ids on this kernel (Linux 6.9+)')
    sup.kill('SIGTERM')
    await exitOf(sup)
    expect(isAlive(child)).toBe(false)
  })

  test('after SIGKILL of the supervisor, a child that closed the lock descriptor (no lock left) is still the service, by its id, whatever its name', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'svc.pid')
    // A child that drops every inherited descriptor: the lock goes with the supervisor.
    const sup = runInBackground(['svc', '--dir', dir, '--', '/usr/bin/python3', '-c', 'import os,time\nos.closerange(3, 65536)\ntime.sleep(600)'])
    const child = await pidIn(file)
    orphans.push({pid: child, start: startTime(child)})
    await until(
      () => fs.readFileSync(`/proc/${child}/comm`, 'utf8') === 'python3\n' && fs.readdirSync(`/proc/${child}/fd`).length <= 3,
      'the child dropped its fds',
    )
    sup.kill('SIGKILL')
    await exitOf(sup)
    expect(isAlive(child)).toBe(true)
    const {status, j} = await nslocate(['find', 'svc', '--dir', dir])
    const [id] = await kernelIds([child])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.holder, j.pidfile.lock]).toEqual([0, 'running', child, id, null, 'none'])
        // Identified by its id: no name_mismatch although "python3" is not "svc".
        expect(j.reasons).toEqual(['unlocked_pidfile'])
        expect(j.evidence).toContain(`pid ${child} is pidfs id ${id}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    // Today's answer without ids: the same process, on the start time and the namespace, with name_mismatch.
    const old = await nslocate(['find', 'svc', '--dir', dir], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
    expect([old.j.state, old.j.pid, old.j.reasons]).toEqual(['running', child, ['unlocked_pidfile', 'name_mismatch']])
    // Once it is gone: stale, and the evidence says no process has the id.
    await killPid(child)
    const gone = await nslocate(['find', 'svc', '--dir', dir])
    expect([gone.status, gone.j.state, gone.j.pid]).toEqual([1, 'stale', null])
    expect(gone.j.evidence).toContain(`no process is pidfs id ${id}: the process the file was written for is gone`)
  })

  test('after SIGKILL of the supervisor, a child that keeps the lock: running, the child by id, the lock holder its own', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'svc.pid')
    const sup = runInBackground(['svc', '--dir', dir, '--', 'sleep', '600'])
    const child = await pidIn(file)
    orphans.push({pid: child, start: startTime(child)})
    await untilRunning(child, 'sleep')
    sup.kill('SIGKILL')
    await exitOf(sup)
    const {status, j} = await nslocate(['find', 'svc', '--dir', dir])
    const [id] = await kernelIds([child])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.holder, j.holder_pidfd_id, j.reasons]).toEqual([0, 'running', child, id, child, id, []])
        expect(j.evidence).toContain(`pid ${child} is pidfs id ${id}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    await killPid(child)
  })
})

describe('serve', () => {
  const get = async (address: string, urlPath: string) => {
    const res = await fetch(`http://${address}${urlPath}`)
    return {status: res.status, body: await res.text()}
  }

  test('/healthz/NAME gives pidfd_id and pidfd_ref (snake_case, as find --json); /metrics nslocate_service_main_pidfd_id; a restart is seen by the id', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'svc.pid')
    const first = runInBackground(['svc', '--dir', dir, '--', 'sleep', '600'])
    const child = await pidIn(file)
    await untilRunning(child, 'sleep')
    const [id, holderId] = await kernelIds([child, first.pid!])
    const served = startCli(['serve', 'svc', '--pidfile', file, '--listen', '0', '--interval', '100ms'])
    try {
      const {address} = await nextEvent(served, (e) => e.event === 'listen')
      const h = await get(address, '/healthz/svc')
      expect(h.status).toBe(200)
      expect(JSON.parse(h.body)).toMatchObject({state: 'running', pid: child, pidfd_id: id, pidfd_ref: `${child}:${id}`, holder_pidfd_id: holderId})
      const m = await get(address, '/metrics')
      expect(m.body).toMatch(new RegExp(`^nslocate_service_main_pidfd_id\\{name="svc"\\} ${id}$`, 'm'))
      expect(m.body).toMatch(/^nslocate_service_restarts_seen_total\{name="svc"\} 0$/m)
      first.kill('SIGTERM')
      await exitOf(first)
      const second = runInBackground(['svc', '--dir', dir, '--', 'sleep', '600'])
      await until(async () => JSON.parse((await get(address, '/healthz/svc')).body).pidfd_id > id, 'serve sees the new process')
      const again = await get(address, '/metrics')
      expect(again.body).toMatch(/^nslocate_service_restarts_seen_total\{name="svc"\} 1$/m)
      second.kill('SIGTERM')
      await exitOf(second)
    } finally {
      await stopCli(served)
    }
  })
})

describe('a locked pidfile whose holder an unprivileged caller cannot name', () => {
  let user: TestUser
  beforeAll(() => {
    user = createTestUser('pidfsloc')
  })
  afterAll(() => user.remove())

  test("after the supervisor's SIGKILL the child holds a flock lock; a user who may not read root's fds names it by the record (today: holder not named)", async () => {
    const dir = tempDir('nslocate-pidfs-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'svc.pid')
    const sup = runInBackground(['svc', '--dir', dir, '--', 'sleep', '600'])
    const child = await pidIn(file)
    orphans.push({pid: child, start: startTime(child)})
    await untilRunning(child, 'sleep')
    sup.kill('SIGKILL')
    await exitOf(sup)
    const [id] = await kernelIds([child])
    const old = cliAs(user, ['find', 'svc', '--dir', dir, '--json'], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
    expect([old.status, old.json.state, old.json.pid, old.json.reasons]).toEqual([0, 'running', null, ['permission_denied']])
    const r = cliAs(user, ['find', 'svc', '--dir', dir, '--json'])
    await withEvidence(
      () => {
        expect([r.status, r.json.state, r.json.pid, r.json.pidfd_id, r.json.holder, r.json.pidfile.lock, r.json.reasons]).toEqual([
          0,
          'running',
          child,
          id,
          null,
          'flock',
          [],
        ])
        expect(r.json.evidence).toContain(`the lock's holder could not be named (fds not readable), but the service is: pid ${child}`)
      },
      () => r.stdout + r.stderr,
    )
    await killPid(child)
  })
})

describe('a record on an unlocked pidfile whose process lives in another PID namespace', () => {
  /** A siglog victim, not PID 1 of its fresh namespace, that wrote its own pid (as numbered there) into `file`. */
  async function victimInChildNs(file: string) {
    const victim = await spawnVictim({prefix: [...UNSHARE, 'sh', '-c', '"$@" & wait', 'sh'], pidfile: file, exitOn: ['TERM']})
    const childOf = (pid: number) =>
      Number(
        spawnSync('pgrep', ['-P', String(pid)], {encoding: 'utf8'})
          .stdout.trim()
          .split('\n')[0],
      )
    const hostPid = childOf(childOf(victim.pid))
    expect(fs.readFileSync(`/proc/${hostPid}/comm`, 'utf8')).toBe('siglog\n')
    expect(Number(fs.readFileSync(file, 'utf8'))).toBe(victim.ready[0])
    return {victim, hostPid, inner: victim.ready[0]}
  }

  test('today ambiguous (its name is not NAME); with the record: running, that process, signalled through it', async () => {
    const dir = tempDir('nslocate-pidfs-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'svc.pid')
    const {victim, hostPid, inner} = await victimInChildNs(file)
    const old = await nslocate(['find', 'svc', '--pidfile', file])
    expect([old.status, old.j.state, old.j.reasons]).toEqual([4, 'unknown', ['unlocked_pidfile', 'ambiguous']])

    const [id] = await kernelIds([hostPid])
    setRecord(file, inner, id)
    const {status, j} = await nslocate(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.nspid, j.reasons]).toEqual([0, 'running', hostPid, id, [hostPid, inner], ['unlocked_pidfile']])
        expect(j.evidence).toContain(`pid ${hostPid} (NSpid ${hostPid} ${inner}) is pidfs id ${id}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    // The identity options still apply on top of the id.
    const strict = await nslocate(['find', 'svc', '--pidfile', file, '--process-name', 'nginx'])
    expect([strict.status, strict.j.state, strict.j.pid, strict.j.pidfd_id, strict.j.reasons]).toEqual([
      4,
      'unknown',
      null,
      null,
      ['unlocked_pidfile', 'identity_mismatch'],
    ])
    // Without ids the record cannot be checked: today's answer.
    const fallback = await nslocate(['find', 'svc', '--pidfile', file], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
    expect([fallback.j.state, fallback.j.reasons]).toEqual(['unknown', ['unlocked_pidfile', 'ambiguous']])

    const s = await nslocate(['signal', 'svc', 'TERM', '--pidfile', file, '--wait', '--timeout', '5s'])
    expect([s.status, s.j.delivered.map((d: {pid: number}) => d.pid)]).toEqual([0, [hostPid]])
    await until(() => victim.received().length > 0, 'the victim logged the signal')
    expect(victim.received()).toEqual([expect.objectContaining({pid: inner, signo: SIGTERM, from: 0})])
  })

  test("--root-pid: the answer in the caller's pids, the id global; a target whose namespace does not hold the process refuses it", async () => {
    const dir = tempDir('nslocate-pidfs-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'svc.pid')
    const {victim, hostPid, inner} = await victimInChildNs(file)
    const [id] = await kernelIds([hostPid])
    setRecord(file, inner, id)
    const init = Number(spawnSync('pgrep', ['-P', String(victim.pid)], {encoding: 'utf8'}).stdout.trim()) // the sh, PID 1 there
    const inside = await nslocate(['find', 'svc', '--pidfile', file, '--root-pid', String(init)])
    await withEvidence(
      () =>
        expect([inside.status, inside.j.state, inside.j.pid, inside.j.pidfd_id, inside.j.pidfd_ref]).toEqual([0, 'running', hostPid, id, `${hostPid}:${id}`]),
      () => JSON.stringify(inside.j, null, 1),
    )
    // Another namespace's init as the target: its mount namespace shows the same file, but the
    // process with the recorded id lives elsewhere: refused, and no id is given for it.
    const other = track(spawn('unshare', [...UNSHARE.slice(1), 'sleep', '600'], {stdio: 'ignore'}))
    await until(() => spawnSync('pgrep', ['-P', String(other.pid)]).status === 0, 'the other namespace has its init')
    const otherInit = Number(spawnSync('pgrep', ['-P', String(other.pid)], {encoding: 'utf8'}).stdout.trim())
    const outside = await nslocate(['find', 'svc', '--pidfile', file, '--root-pid', String(otherInit)])
    await withEvidence(
      () => {
        expect([outside.status, outside.j.state, outside.j.pid, outside.j.pidfd_id, outside.j.pidfd_ref]).toEqual([4, 'unknown', null, null, null])
        expect(outside.j.reasons).toContain('outside_target_namespace')
      },
      () => JSON.stringify(outside.j, null, 1),
    )
    other.kill('SIGKILL')
    await exitOf(other)
    expect(victim.received()).toEqual([])
  })

  test('a record whose content was rewritten since (echo: another mtime) is ignored, said in the evidence: today ambiguous', async () => {
    const dir = tempDir('nslocate-pidfs-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'svc.pid')
    const {victim, hostPid, inner} = await victimInChildNs(file)
    const [id] = await kernelIds([hostPid])
    setRecord(file, inner, id)
    expect((await nslocate(['find', 'svc', '--pidfile', file])).j.state).toBe('running')
    await new Promise((r) => setTimeout(r, 20))
    expect(spawnSync('sh', ['-c', `echo ${inner} > ${file}`]).status).toBe(0)
    expect(getfattr(file)).toMatch(/^v1 /) // the record is still there: only its mtime no longer fits
    const {status, j} = await nslocate(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.pidfile.recorded, j.reasons]).toEqual([4, 'unknown', null, null, null, ['unlocked_pidfile', 'ambiguous']])
        expect(j.evidence).toContain(
          'identity record ignored: the content was rewritten after the identity was recorded (its mtime differs); the lock and the process table decide',
        )
      },
      () => JSON.stringify(j, null, 1),
    )
    expect(victim.received()).toEqual([])
  })
})

describe('a record from a previous boot (a faked boot id, the content not rewritten since)', () => {
  /** A valid boot id that is not this boot's. */
  const EARLIER = BOOT.startsWith('0') ? `1${BOOT.slice(1)}` : `0${BOOT.slice(1)}`

  test('unlocked, a live process at that pid whose name matches: stale, previous_boot, both boot ids said; signal sends nothing', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'siglog.pid')
    const victim = await spawnVictim({pidfile: file, exitOn: ['TERM']})
    expect((await nslocate(['find', 'siglog', '--pidfile', file])).j).toMatchObject({state: 'running', pid: victim.pid})
    const [id] = await kernelIds([victim.pid])
    setRecord(file, victim.pid, id, EARLIER)
    const {status, j} = await nslocate(['find', 'siglog', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.reasons]).toEqual([1, 'stale', null, null, ['unlocked_pidfile', 'previous_boot', 'stale_pidfile']])
        expect(j.pidfile.recorded).toEqual({pid: victim.pid, pidfd_id: id, boot_id: EARLIER, mtime_ns: expect.stringMatching(/^[0-9]+$/)})
        expect(j.evidence).toContain(
          `identity record: pid ${victim.pid} was pidfs id ${id} in boot ${EARLIER}; this is boot ${BOOT}, and the content was not rewritten since: it names no process of this boot`,
        )
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await nslocate(['signal', 'siglog', 'TERM', '--pidfile', file])
    expect([s.status, s.j.delivered]).toEqual([7, []])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
    expect(isAlive(victim.pid)).toBe(true)
  })

  test('locked by a live `nslocate run` whose child has that pid: stale all the same (a lock cannot outlive a boot)', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'svc.pid')
    const sup = runInBackground(['svc', '--dir', dir, '--', 'sleep', '600'])
    const child = await pidIn(file)
    await untilRunning(child, 'sleep')
    const [id] = await kernelIds([child])
    setRecord(file, child, id, EARLIER) // setxattr changes the ctime, not the mtime: the record still fits the content
    const {status, j} = await nslocate(['find', 'svc', '--dir', dir])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.holder, j.pidfile.lock, j.reasons]).toEqual([1, 'stale', null, null, 'posix', ['previous_boot', 'stale_pidfile']])
        expect(j.evidence.join('\n')).toContain(`in boot ${EARLIER}; this is boot ${BOOT}`)
        expect(j.evidence).toContain(
          `the posix lock on it (held by pid ${sup.pid}) was taken in this boot without rewriting the content: it does not make the file's pid a process of this boot`,
        )
      },
      () => JSON.stringify(j, null, 1),
    )
    sup.kill('SIGTERM')
    await exitOf(sup)
  })
})
