/**
 * Issue 20 item 1 for signal and wait: every target they pinned carries its pidfs id in --json
 * (`pidfd_id` in delivered, skipped, would_deliver; wait's `pinned`), and it is the number the
 * kernel gives any process that holds a pidfd on the target: `stat -L -c %i /proc/PY/fd/N` of a
 * python3 that opened the pidfd (nothing of nslocate's; helpers/pidfs.ts pidfsIds), from this PID
 * namespace or from inside the target's. Scope members (group, tree) each have their own.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {FRESH_PID_NS, pidfsIds, siglogService, stopSiglogServices, untilChild, untilWaitPins} from '../helpers/pidfs'
import {alive, startTime} from '../helpers/proc'
import {stopAll, tempDir} from '../helpers/tracked'
import {Victim, receivedSettled, spawnVictim} from '../helpers/victims'
import {exitOf} from '../safety/run-helpers'

jest.setTimeout(120_000)
afterEach(() => stopSiglogServices())
afterAll(() => stopAll())

/** `nslocate run svc --dir DIR -- siglog LOG ...extra`: run holds the lock, siglog is the pid. */
const runService = (extra: string[] = []) => siglogService('nslocate-pidfs-signal-', extra)

describe('a service started by nslocate run (lock holder: run; pid: siglog)', () => {
  test('signal --json: delivered, would_deliver, skipped and the target carry the ids', async () => {
    const s = await runService(['--ignore', 'USR2'])
    const [id, holderId] = await pidfsIds([s.pid, s.sup.pid!])
    const r = await cliJson(['signal', 'svc', 'HUP', '--dir', s.dir])
    expect([r.status, r.json.delivered]).toEqual([0, [{pid: s.pid, pidfd_id: id, nspid: [s.pid], signal: 'HUP'}]])
    expect(r.json.target).toMatchObject({pid: s.pid, pidfd_id: id, holder: s.sup.pid, holder_pidfd_id: holderId, pidfd_ref: `${s.pid}:${id}`})
    expect(r.json.message).toBe(`svc: sent HUP to pid ${s.pid}:${id}`)
    const dry = await cliJson(['signal', 'svc', 'TERM', '--dir', s.dir, '--dry-run'])
    expect([dry.status, dry.json.would_deliver]).toEqual([0, [{pid: s.pid, pidfd_id: id, nspid: [s.pid]}]])
    const skip = await cliJson(['signal', 'svc', 'USR2', '--dir', s.dir, '--require-handler'])
    expect([skip.status, skip.json.skipped]).toEqual([1, [{pid: s.pid, pidfd_id: id, reason: 'no_handler'}]])
    // HUP logged (polled: siglog runs when the scheduler lets it), then nothing else (TERM, USR2) after a settle.
    const got = await receivedSettled(s.log, 1, 100)
    expect(got.map((l) => [l.pid, l.signo])).toEqual([[s.pid, 1]])
  })

  test('wait --json: the main process and the lock holder it waited on, each with its id', async () => {
    const s = await runService(['--exit-on', 'TERM'])
    const [id, holderId] = await pidfsIds([s.pid, s.sup.pid!])
    const waiting = cliJson(['wait', 'svc', '--dir', s.dir, '--timeout', '60s'])
    // Once it has pinned both (a pidfd on each): the TERM below is then an exit it sees.
    await untilWaitPins([s.pid, s.sup.pid!])
    process.kill(s.pid, 'SIGTERM')
    const r = await waiting
    expect([r.status, r.json.reached, r.json.pinned]).toEqual([
      0,
      true,
      [
        {pid: s.pid, pidfd_id: id, role: 'main'},
        {pid: s.sup.pid, pidfd_id: holderId, role: 'holder'},
      ],
    ])
    await exitOf(s.sup)
  })

  test('wait --for running --json: the running answer names PID:ID; nothing pinned', async () => {
    const s = await runService()
    const [id] = await pidfsIds([s.pid])
    const r = await cliJson(['wait', 'svc', '--dir', s.dir, '--for', 'running'])
    expect([r.status, r.json.message, r.json.pinned, r.json.target.pidfd_id]).toEqual([0, `svc is running (pid ${s.pid}:${id})`, [], id])
  })
})

describe.each(['group', 'tree'])('--scope %s: every member with its own id', (scope) => {
  test('by NAME (an unlocked pidfile) and by --pid PID:ID', async () => {
    const dir = tempDir('nslocate-pidfs-scope-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'siglog.pid')
    // setsid: a process group of its own (--scope group refuses nslocate's own)
    const v = await spawnVictim({prefix: ['setsid'], children: 2, pidfile: file})
    const pids = v.ready
    // stopAll() kills the parent only: its children are stopped after the test, by pid and start time.
    const starts = pids.map(startTime)
    try {
      await scopeMembers(scope, v, file, pids)
    } finally {
      pids.forEach((pid, i) => alive(pid, starts[i]) && process.kill(pid, 'SIGKILL'))
    }
  })
})

/** signal --scope by NAME and by --pid: every member of the victim `pids` delivered, each with its id. */
async function scopeMembers(scope: string, v: Victim, file: string, pids: number[]): Promise<void> {
  expect(pids[0]).toBe(v.pid)
  const ids = await pidfsIds(pids)
  const want = pids.map((pid, i) => ({pid, pidfd_id: ids[i], nspid: [pid], signal: 'HUP'}))
  const byPid = (a: Array<{pid: number}>) => [...a].sort((x, y) => x.pid - y.pid)
  const byName = await cliJson(['signal', 'siglog', 'HUP', '--pidfile', file, '--scope', scope])
  expect([byName.status, byPid(byName.json.delivered)]).toEqual([0, byPid(want)])
  const byRef = await cliJson(['signal', 'x', 'USR1', '--pid', `${v.pid}:${ids[0]}`, '--scope', scope])
  expect([byRef.status, byPid(byRef.json.delivered)]).toEqual([0, byPid(want.map((w) => ({...w, signal: 'USR1'})))])
  const dry = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:${ids[0]}`, '--scope', scope, '--dry-run'])
  expect(byPid(dry.json.would_deliver)).toEqual(byPid(want.map(({signal: _s, ...w}) => w)))
  // every HUP and USR1 logged (polled), then nothing else (the dry-run TERM) after a settle
  const got = await receivedSettled(v, 2 * pids.length, 100)
  expect(got.map((r) => [r.pid, r.signo]).sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual(
    pids
      .flatMap((p) => [
        [p, 1],
        [p, 10],
      ])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]),
  )
}

test('a process in another PID namespace: the same id from here and from inside it', async () => {
  // siglog as pid 1 of a fresh PID namespace; signalled from here by --pid HOSTPID:ID.
  const init = await spawnVictim({prefix: FRESH_PID_NS})
  const host = await untilChild(init.pid, 'the init of the new namespace')
  const [here] = await pidfsIds([host])
  const [inside] = await pidfsIds([1], ['nsenter', '-t', String(host), '-p', '-m', '--'])
  expect(inside).toBe(here)
  const r = await cliJson(['signal', 'x', 'HUP', '--pid', `${host}:${here}`])
  expect([r.status, r.json.delivered]).toEqual([0, [{pid: host, pidfd_id: here, nspid: [host, 1], signal: 'HUP'}]])
  const got = await receivedSettled(init, 1, 100)
  expect(got.map((l) => [l.pid, l.signo, l.from])).toEqual([[1, 1, 0]])
})
