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
import {ChildProcess, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, cliJson, isAlive, killTracked, until} from '../helpers/cli'
import {cliAs} from '../helpers/as-user'
import {withEvidence} from '../helpers/evidence'
import {BOOT_ID, FRESH_PID_NS, getfattr, pidfsIds, recordText, setRecord, startRun, startService, untilChild, victimInChildNs} from '../helpers/pidfs'
import {alive, startTime} from '../helpers/proc'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnVictim} from '../helpers/victims'
import {exitOf, killPid} from '../safety/run-helpers'
import {nextEvent, startCli, stopCli} from '../sidecar/run-cli'

/** Services that outlive their supervisor: ended by pid (and start time) after the tests. */
const orphans: Array<{pid: number; start: number | null}> = []
afterAll(async () => {
  for (const o of orphans) if (alive(o.pid, o.start)) await killPid(o.pid)
  await killTracked()
  await stopAll()
})

const SIGTERM = 15
const FALLBACK = {env: {NSLOCATE_FORCE_FALLBACK: 'pidfs'}}

/** `nslocate run svc --dir DIR -- sleep 600` in a fresh DIR (of mode `dirMode`, when given), once its child runs sleep. */
async function sleepService(dirMode?: number): Promise<{dir: string; file: string; sup: ChildProcess; child: number}> {
  const dir = tempDir('nslocate-pidfs-')
  if (dirMode !== undefined) fs.chmodSync(dir, dirMode)
  const file = path.join(dir, 'svc.pid')
  const {sup, pid} = await startService(['svc', '--dir', dir, '--', 'sleep', '600'], file, 'sleep')
  return {dir, file, sup, child: pid}
}

/** sleepService(), then its supervisor SIGKILLed: the child runs on, an orphan ended after the tests. */
async function orphanedSleep(dirMode?: number): Promise<{dir: string; file: string; child: number}> {
  const {sup, ...s} = await sleepService(dirMode)
  orphans.push({pid: s.child, start: startTime(s.child)})
  sup.kill('SIGKILL')
  await exitOf(sup)
  return s
}

describe('a pidfile written by `nslocate run`', () => {
  test('find names the child and its supervisor by PID:ID, the ids stat(1) shows for pidfds on them; the record is what run wrote', async () => {
    const {dir, file, sup, child} = await sleepService()
    const {status, json: j} = await cliJson(['find', 'svc', '--dir', dir])
    const [mainId, holderId] = await pidfsIds([child, sup.pid!])
    const record = getfattr(file).value ?? ''
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
        expect(record).toMatch(new RegExp(`^v1 pid=${child} pidfd_id=${mainId} boot_id=${BOOT_ID} mtime=[0-9]+$`))
        expect(j.pidfile.recorded).toEqual({pid: child, pidfd_id: mainId, boot_id: BOOT_ID, mtime_ns: /mtime=([0-9]+)/.exec(record)![1]})
        expect(j.evidence).toContain(`pid ${child} is pidfs id ${mainId}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    const text = await cli(['find', 'svc', '--dir', dir])
    expect(text.stdout).toContain(`\n  pid       ${child}:${mainId}\n`)
    expect(text.stdout).toContain(`\n  holder    ${sup.pid}:${holderId}  (holds the lock for pid ${child})\n`)
    expect(text.stdout).toContain(`\n  recorded  pid ${child}, pidfs id ${mainId}, boot ${BOOT_ID}\n`)
    const list = await cliJson(['list', '--dir', dir])
    expect(list.json.services ?? list.json).toEqual(
      expect.arrayContaining([expect.objectContaining({name: 'svc', pid: child, pidfd_id: mainId, holder_pidfd_id: holderId})]),
    )
    const table = await cli(['list', '--dir', dir])
    expect(table.stdout).toMatch(new RegExp(`^svc +running +${child}:${mainId} +posix `, 'm'))
    // With the ids forced unavailable (a kernel before 6.9): the same answer, without ids.
    const old = await cliJson(['find', 'svc', '--dir', dir], FALLBACK)
    expect([old.json.state, old.json.pid, old.json.pidfd_id, old.json.holder_pidfd_id, old.json.pidfd_ref, old.json.pidfile.recorded]).toEqual([
      'running',
      child,
      null,
      null,
      null,
      null,
    ])
    expect(old.json.evidence.join('\n')).toContain('not used: pidfs ids are turned off (NSLOCATE_FORCE_FALLBACK=pidfs)')
    sup.kill('SIGTERM')
    await exitOf(sup)
    expect(isAlive(child)).toBe(false)
  })

  test('after SIGKILL of the supervisor, a child that closed the lock descriptor (no lock left) is still the service, by its id, whatever its name', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'svc.pid')
    // A child that drops every inherited descriptor: the lock goes with the supervisor.
    const python = ['/usr/bin/python3', '-c', 'import os,time\nos.closerange(3, 65536)\ntime.sleep(600)']
    const {sup, pid: child} = await startService(['svc', '--dir', dir, '--', ...python], file, 'python3')
    orphans.push({pid: child, start: startTime(child)})
    await until(
      () => fs.readFileSync(`/proc/${child}/comm`, 'utf8') === 'python3\n' && fs.readdirSync(`/proc/${child}/fd`).length <= 3,
      'the child dropped its fds',
    )
    sup.kill('SIGKILL')
    await exitOf(sup)
    expect(isAlive(child)).toBe(true)
    const {status, json: j} = await cliJson(['find', 'svc', '--dir', dir])
    const [id] = await pidfsIds([child])
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
    const old = await cliJson(['find', 'svc', '--dir', dir], FALLBACK)
    expect([old.json.state, old.json.pid, old.json.reasons]).toEqual(['running', child, ['unlocked_pidfile', 'name_mismatch']])
    // Once it is gone: stale, and the evidence says no process has the id.
    await killPid(child)
    const gone = await cliJson(['find', 'svc', '--dir', dir])
    expect([gone.status, gone.json.state, gone.json.pid]).toEqual([1, 'stale', null])
    expect(gone.json.evidence).toContain(`no process is pidfs id ${id}: the process the file was written for is gone`)
  })

  test('after SIGKILL of the supervisor, a child that keeps the lock: running, the child by id, the lock holder its own', async () => {
    const {dir, child} = await orphanedSleep()
    const {status, json: j} = await cliJson(['find', 'svc', '--dir', dir])
    const [id] = await pidfsIds([child])
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
    const {dir, file, sup: first, child} = await sleepService()
    const [id, holderId] = await pidfsIds([child, first.pid!])
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
      const {sup: second} = startRun(['svc', '--dir', dir, '--', 'sleep', '600'])
      // the new service itself, not its supervisor while the file is still empty (starting: no identity yet)
      await until(async () => {
        const b = JSON.parse((await get(address, '/healthz/svc')).body)
        return b.pidfd_id > id && b.pid !== second.pid
      }, 'serve sees the new process')
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
    const {dir, child} = await orphanedSleep(0o755)
    const [id] = await pidfsIds([child])
    const old = cliAs(user, ['find', 'svc', '--dir', dir, '--json'], FALLBACK.env)
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
  /** victimInChildNs(), its inner pid written into svc.pid of a fresh directory (0755). */
  async function victimWithPidfile() {
    const dir = tempDir('nslocate-pidfs-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'svc.pid')
    return {file, ...(await victimInChildNs({pidfile: file, exitOn: ['TERM']}))}
  }

  test('today ambiguous (its name is not NAME); with the record: running, that process, signalled through it', async () => {
    const {file, victim, hostPid, inner} = await victimWithPidfile()
    const old = await cliJson(['find', 'svc', '--pidfile', file])
    expect([old.status, old.json.state, old.json.reasons]).toEqual([4, 'unknown', ['unlocked_pidfile', 'ambiguous']])

    const [id] = await pidfsIds([hostPid])
    setRecord(file, recordText(file, inner, id))
    const {status, json: j} = await cliJson(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.nspid, j.reasons]).toEqual([0, 'running', hostPid, id, [hostPid, inner], ['unlocked_pidfile']])
        expect(j.evidence).toContain(`pid ${hostPid} (NSpid ${hostPid} ${inner}) is pidfs id ${id}, the id recorded: it is the service`)
      },
      () => JSON.stringify(j, null, 1),
    )
    // The identity options still apply on top of the id.
    const strict = await cliJson(['find', 'svc', '--pidfile', file, '--process-name', 'nginx'])
    expect([strict.status, strict.json.state, strict.json.pid, strict.json.pidfd_id, strict.json.reasons]).toEqual([
      4,
      'unknown',
      null,
      null,
      ['unlocked_pidfile', 'identity_mismatch'],
    ])
    // Without ids the record cannot be checked: today's answer.
    const fallback = await cliJson(['find', 'svc', '--pidfile', file], FALLBACK)
    expect([fallback.json.state, fallback.json.reasons]).toEqual(['unknown', ['unlocked_pidfile', 'ambiguous']])

    const s = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file, '--wait', '--timeout', '5s'])
    expect([s.status, s.json.delivered.map((d: {pid: number}) => d.pid)]).toEqual([0, [hostPid]])
    await until(() => victim.received().length > 0, 'the victim logged the signal')
    expect(victim.received()).toEqual([expect.objectContaining({pid: inner, signo: SIGTERM, from: 0})])
  })

  test("--root-pid: the answer in the caller's pids, the id global; a target whose namespace does not hold the process refuses it", async () => {
    const {file, victim, init, hostPid, inner} = await victimWithPidfile() // init: the sh, PID 1 there
    const [id] = await pidfsIds([hostPid])
    setRecord(file, recordText(file, inner, id))
    const inside = await cliJson(['find', 'svc', '--pidfile', file, '--root-pid', String(init)])
    await withEvidence(
      () =>
        expect([inside.status, inside.json.state, inside.json.pid, inside.json.pidfd_id, inside.json.pidfd_ref]).toEqual([
          0,
          'running',
          hostPid,
          id,
          `${hostPid}:${id}`,
        ]),
      () => JSON.stringify(inside.json, null, 1),
    )
    // Another namespace's init as the target: its mount namespace shows the same file, but the
    // process with the recorded id lives elsewhere: refused, and no id is given for it.
    const other = spawnTracked([...FRESH_PID_NS, 'sleep', '600'])
    const otherInit = await untilChild(other.pid!, 'the other namespace has its init')
    const outside = await cliJson(['find', 'svc', '--pidfile', file, '--root-pid', String(otherInit)])
    await withEvidence(
      () => {
        expect([outside.status, outside.json.state, outside.json.pid, outside.json.pidfd_id, outside.json.pidfd_ref]).toEqual([4, 'unknown', null, null, null])
        expect(outside.json.reasons).toContain('outside_target_namespace')
      },
      () => JSON.stringify(outside.json, null, 1),
    )
    other.kill('SIGKILL')
    await exitOf(other)
    expect(victim.received()).toEqual([])
  })

  test('a record whose content was rewritten since (echo: another mtime) is ignored, said in the evidence: today ambiguous', async () => {
    const {file, victim, hostPid, inner} = await victimWithPidfile()
    const [id] = await pidfsIds([hostPid])
    setRecord(file, recordText(file, inner, id))
    expect((await cliJson(['find', 'svc', '--pidfile', file])).json.state).toBe('running')
    await new Promise((r) => setTimeout(r, 20))
    expect(spawnSync('sh', ['-c', `echo ${inner} > ${file}`]).status).toBe(0)
    expect(getfattr(file).value).toMatch(/^v1 /) // the record is still there: only its mtime no longer fits
    const {status, json: j} = await cliJson(['find', 'svc', '--pidfile', file])
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
  const EARLIER = BOOT_ID.startsWith('0') ? `1${BOOT_ID.slice(1)}` : `0${BOOT_ID.slice(1)}`

  test('unlocked, a live process at that pid whose name matches: stale, previous_boot, both boot ids said; signal sends nothing', async () => {
    const dir = tempDir('nslocate-pidfs-')
    const file = path.join(dir, 'siglog.pid')
    const victim = await spawnVictim({pidfile: file, exitOn: ['TERM']})
    expect((await cliJson(['find', 'siglog', '--pidfile', file])).json).toMatchObject({state: 'running', pid: victim.pid})
    const [id] = await pidfsIds([victim.pid])
    setRecord(file, recordText(file, victim.pid, id, EARLIER))
    const {status, json: j} = await cliJson(['find', 'siglog', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.reasons]).toEqual([1, 'stale', null, null, ['unlocked_pidfile', 'previous_boot', 'stale_pidfile']])
        expect(j.pidfile.recorded).toEqual({pid: victim.pid, pidfd_id: id, boot_id: EARLIER, mtime_ns: expect.stringMatching(/^[0-9]+$/)})
        expect(j.evidence).toContain(
          `identity record: pid ${victim.pid} was pidfs id ${id} in boot ${EARLIER}; this is boot ${BOOT_ID}, and the content was not rewritten since: it names no process of this boot`,
        )
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await cliJson(['signal', 'siglog', 'TERM', '--pidfile', file])
    expect([s.status, s.json.delivered]).toEqual([7, []])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
    expect(isAlive(victim.pid)).toBe(true)
  })

  test('locked by a live `nslocate run` whose child has that pid: stale all the same (a lock cannot outlive a boot)', async () => {
    const {dir, file, sup, child} = await sleepService()
    const [id] = await pidfsIds([child])
    setRecord(file, recordText(file, child, id, EARLIER)) // setxattr changes the ctime, not the mtime: the record still fits the content
    const {status, json: j} = await cliJson(['find', 'svc', '--dir', dir])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.holder, j.pidfile.lock, j.reasons]).toEqual([1, 'stale', null, null, 'posix', ['previous_boot', 'stale_pidfile']])
        expect(j.evidence.join('\n')).toContain(`in boot ${EARLIER}; this is boot ${BOOT_ID}`)
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
