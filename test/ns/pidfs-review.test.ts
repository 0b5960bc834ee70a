/**
 * Issue 20, review fixes of find's decision by the identity record (src/locate/by-id.ts, decide.ts,
 * locate.ts). Real processes, real PID namespaces (as root, in the initial PID namespace):
 * - a record whose pid was numbered in a PID namespace not visible to the reader (the host's pid,
 *   read from inside the container) names the process by its id: running, never stale;
 * - a record whose process is gone (no process has the id, looked up by the id itself): only the
 *   process numbered as written HERE makes it pid_reused, not one of another PID namespace whose
 *   innermost pid is that number;
 * - a process exiting while being inspected (GONE) makes locate() look again, up to 3 times in all,
 *   then GONE; on a file the safety rules refuse it is no GONE at all (nothing is pinned for a refusal).
 */
import {ChildProcess} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {locate} from '../../src/locate/locate'
import {NslocateError} from '../../src/errors'
import {ProcFs} from '../../src/proc/proc-fs'
import {BIN, cliJson, firstLine, killTracked, runCollect} from '../helpers/cli'
import {withEvidence} from '../helpers/evidence'
import {FRESH_PID_NS, pidfsIds, recordText, setRecord, startService, victimInChildNs} from '../helpers/pidfs'
import {readNSpid} from '../helpers/proc'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {exitOf} from '../safety/run-helpers'

afterAll(async () => {
  await killTracked()
  await stopAll()
})

/** The pidfs id of a process that has exited: a sleep, its id read by stat(1) of a pidfd on it, then SIGKILLed and reaped. */
async function goneId(): Promise<number> {
  const s = spawnTracked(['sleep', '600'])
  const [id] = await pidfsIds([s.pid!])
  s.kill('SIGKILL')
  await exitOf(s)
  return id
}

/** A pid with no process on the host (as of now), in the upper half of pid_max, where pids are seldom handed out. */
function freeHostPid(): number {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  for (let i = 0; i < 1000; i++) {
    const pid = Math.floor(max / 2 + Math.random() * (max / 2 - 2))
    if (!fs.existsSync(`/proc/${pid}`)) return pid
  }
  throw new Error('no free pid found')
}

describe('a record whose number was written in a PID namespace not visible to the reader', () => {
  test('the host pid, read from inside the child PID namespace: running, the process by its id (its pid there), not stale', async () => {
    const {victim, hostPid, inner} = await victimInChildNs({})
    const [id] = await pidfsIds([hostPid])
    const dir = tempDir('nslocate-review-')
    const file = path.join(dir, 'svc.pid')
    fs.writeFileSync(file, `${hostPid}\n`) // as a writer on the host numbers it
    setRecord(file, recordText(file, hostPid, id))
    expect(readNSpid(hostPid)).toEqual([hostPid, inner])
    // From the host: the number is its pid here.
    const host = await cliJson(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => expect([host.status, host.json.state, host.json.pid, host.json.pidfd_id]).toEqual([0, 'running', hostPid, id]),
      () => JSON.stringify(host.json, null, 1),
    )
    // From inside its PID namespace (and mount namespace, whose /proc is that namespace's):
    // hostPid is no pid there; the id is the proof.
    const r = await runCollect(['nsenter', '-t', String(hostPid), '-p', '-m', '--', process.execPath, BIN, 'find', 'svc', '--pidfile', file, '--json'])
    const inside = JSON.parse(r.stdout)
    await withEvidence(
      () => {
        expect([r.status, inside.state, inside.pid, inside.pidfd_id, inside.pidfd_ref, inside.nspid]).toEqual([
          0,
          'running',
          inner,
          id,
          `${inner}:${id}`,
          [inner],
        ])
        expect(inside.reasons).not.toContain('stale_pidfile')
        expect(inside.reasons).not.toContain('pid_reused')
        expect(inside.pidfile.recorded).toMatchObject({pid: hostPid, pidfd_id: id})
        expect(inside.evidence.join('\n')).toMatch(new RegExp(`file's ${hostPid} is pid ${inner}'s pid in a PID namespace not visible from here`))
      },
      () => `${r.stdout}\n${r.stderr}`,
    )
    expect(victim.received()).toEqual([])
  })
})

describe('a record whose process is gone (no process has its id)', () => {
  test('its number is free here, and another PID namespace has a process with that innermost pid (where the file may have been written): stale, pid_reused, the ids compared', async () => {
    const x = freeHostPid()
    // sh is PID 1 of a fresh namespace; it sets the namespace's last pid so that its sleep gets x there.
    const ns = spawnTracked([...FRESH_PID_NS, 'sh', '-c', `echo ${x - 1} > /proc/sys/kernel/ns_last_pid; sleep 600 & echo $!; wait`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    expect(Number(await firstLine(ns))).toBe(x)
    const id = await goneId()
    const dir = tempDir('nslocate-review-')
    const file = path.join(dir, 'svc.pid')
    fs.writeFileSync(file, `${x}\n`)
    setRecord(file, recordText(file, x, id))
    expect(fs.existsSync(`/proc/${x}`)).toBe(false)
    const f = await cliJson(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([f.status, f.json.state, f.json.pid, f.json.pidfd_id]).toEqual([1, 'stale', null, null])
        expect(f.json.reasons).toEqual(expect.arrayContaining(['unlocked_pidfile', 'stale_pidfile']))
        expect(f.json.reasons).toContain('pid_reused')
        expect(f.json.evidence).toContain(`no process has pidfs id ${id} (looked up by the id itself)`)
        // Free here: the other namespace's process with that number is compared by id.
        expect(f.json.evidence.join('\n')).toMatch(new RegExp(`is now pidfs id \\d+; the file recorded ${id}`))
      },
      () => JSON.stringify(f.json, null, 1),
    )
    ns.kill('SIGKILL')
    await exitOf(ns)
  })

  test('its number is a live process here: stale, pid_reused, the ids compared', async () => {
    const s = spawnTracked(['sleep', '600'])
    const [now] = await pidfsIds([s.pid!])
    const id = await goneId()
    const dir = tempDir('nslocate-review-')
    const file = path.join(dir, 'svc.pid')
    fs.writeFileSync(file, `${s.pid}\n`)
    setRecord(file, recordText(file, s.pid!, id))
    const f = await cliJson(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([f.status, f.json.state, f.json.pid]).toEqual([1, 'stale', null])
        expect(f.json.reasons).toEqual(expect.arrayContaining(['pid_reused', 'stale_pidfile']))
        expect(f.json.evidence).toContain(`pid ${s.pid} is now pidfs id ${now}; the file recorded ${id}: not the process it was written for`)
      },
      () => JSON.stringify(f.json, null, 1),
    )
    s.kill('SIGKILL')
    await exitOf(s)
  })
})

/** The live /proc, counting locate()'s looks (one pidMax() each) and failing or ending processes as asked. */
class Inspecting extends ProcFs {
  looks = 0
  /** pid whose /proc/PID/stat reads fail (ENOENT, as for a process that exited), and how many times more */
  failStat: {pid: number; times: number} | null = null
  /** pid SIGKILLed (and awaited until it has exited) at the first read of its cmdline */
  killAt: number | null = null

  pidMax(): number {
    this.looks++
    return super.pidMax()
  }

  readStat(pid: number | 'self') {
    if (this.failStat && pid === this.failStat.pid && this.failStat.times > 0) {
      this.failStat.times--
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '/proc/${pid}/stat'`), {code: 'ENOENT'})
    }
    return super.readStat(pid)
  }

  readCmdline(pid: number) {
    if (pid === this.killAt) {
      this.killAt = null
      process.kill(pid, 'SIGKILL')
      const nap = new Int32Array(new SharedArrayBuffer(4))
      for (let i = 0; i < 2000; i++) {
        let state = 'X'
        try {
          state = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1][0]
        } catch {}
        if (state === 'Z' || state === 'X') break
        Atomics.wait(nap, 0, 0, 5)
      }
    }
    return super.readCmdline(pid)
  }
}

describe('a process exiting while being inspected (GONE)', () => {
  async function service(): Promise<{file: string; sup: ChildProcess; child: number; holder: number}> {
    const dir = tempDir('nslocate-review-')
    const file = path.join(dir, 'svc.pid')
    const {sup, pid} = await startService(['svc', '--dir', dir, '--', 'sleep', '600'], file, 'sleep')
    const r = locate('svc', {pidfile: file})
    expect([r.state, r.pid]).toEqual(['running', pid])
    return {file, sup, child: pid, holder: r.holder!}
  }

  test('the lock holder unreadable once, as if it exited: locate() looks again, and answers', async () => {
    const {file, sup, child, holder} = await service()
    const procfs = new Inspecting()
    procfs.failStat = {pid: holder, times: 1}
    const r = locate('svc', {pidfile: file, procfs})
    expect([r.state, r.pid, r.holder, procfs.looks, procfs.failStat.times]).toEqual(['running', child, holder, 2, 0])
    // Unreadable at every look: GONE after the third, and said so.
    procfs.looks = 0
    procfs.failStat = {pid: holder, times: Infinity}
    let thrown: unknown
    try {
      locate('svc', {pidfile: file, procfs})
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(NslocateError)
    expect([(thrown as NslocateError).code, procfs.looks]).toEqual(['GONE', 3])
    expect((thrown as Error).message).toMatch(new RegExp(`the lock holder \\(pid ${holder}\\) exited while being inspected; run again`))
    sup.kill('SIGKILL')
    await exitOf(sup)
    process.kill(child, 'SIGKILL')
  })

  test('the service SIGKILLed between its facts and its pin: locate() looks again, and never names the dead process', async () => {
    // Its supervisor SIGKILLed first, so the file stays: the record names the child, alone.
    const {file, sup, child} = await service()
    sup.kill('SIGKILL')
    await exitOf(sup)
    const procfs = new Inspecting()
    procfs.killAt = child
    const r = locate('svc', {pidfile: file, procfs})
    await withEvidence(
      () => {
        expect(procfs.killAt).toBeNull() // it was killed, mid-inspection
        expect([procfs.looks, r.state, r.pid, r.pidfdId]).toEqual([2, 'stale', null, null])
        expect(r.evidence.join('\n')).toMatch(/no process (has|is) pidfs id/)
      },
      () => JSON.stringify(r, null, 1),
    )
  })

  test('on a file the safety rules refuse (world-writable), the same exit is no GONE: one look, refused, no ids', async () => {
    const {file, sup, child} = await service()
    fs.chmodSync(file, 0o666)
    const procfs = new Inspecting()
    procfs.killAt = child
    const r = locate('svc', {pidfile: file, procfs})
    await withEvidence(
      () => {
        expect(procfs.killAt).toBeNull()
        expect([procfs.looks, r.state, r.pid, r.holder, r.pidfdId, r.holderPidfdId, r.pidfdRef]).toEqual([1, 'unknown', null, null, null, null, null])
        expect(r.reasons).toContain('world_writable')
      },
      () => JSON.stringify(r, null, 1),
    )
    await exitOf(sup)
  })
})
