/**
 * Issue 20 item 2, the fallback of signal and wait: with NSLOCATE_FORCE_FALLBACK=pidfs,pidfd-info
 * (the kernel of before 6.9 and 6.13, on this one) they work as before, by start time: the right
 * process is signalled and waited for, a start time that differs is a reused pid, and every id in
 * their JSON is null. `--pid PID:ID` cannot be checked without ids: UNSUPPORTED, nothing sent.
 * Victims are siglogs: what they received is asserted.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {pidfsAvailable, pinnedInfo} from '../../src/kernel/pidfs'
import {pidfdOpen} from '../../src/native/binding'
import {pin, unpin} from '../../src/signal/pin'
import {proc} from '../../src/proc/proc-fs'
import {cli, cliJson} from '../helpers/cli'
import {siglogService, stopSiglogServices, untilWaitPins} from '../helpers/pidfs'
import {alive, startTime} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {receivedSettled, spawnVictim} from '../helpers/victims'

// Read by src/kernel/pidfs.ts at its first use, in this process and in every nslocate it starts.
process.env.NSLOCATE_FORCE_FALLBACK = 'pidfs,pidfd-info'

jest.setTimeout(120_000)
afterEach(() => stopSiglogServices())
afterAll(() => stopAll())

const PATHS = [
  ['fast path', {}],
  ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
] as const

/** `nslocate run svc --dir DIR -- siglog LOG --exit-on TERM`, once siglog's handlers are in place. */
const runService = () => siglogService('nslocate-fallback-', ['--exit-on', 'TERM'])

test('the kernel features are off in this process: no ids, no PIDFD_GET_INFO', () => {
  expect(pidfsAvailable()).toBe(false)
  const fd = pidfdOpen(process.pid)
  try {
    expect(pinnedInfo(fd)).toBeNull()
  } finally {
    fs.closeSync(fd)
  }
})

describe.each(PATHS)('nslocate (%s), fallback forced', (_how, env) => {
  test('signal: delivered by start time; every id in the JSON is null', async () => {
    const s = await runService()
    const r = await cliJson(['signal', 'svc', 'HUP', '--dir', s.dir], {env})
    expect([r.status, r.json.delivered]).toEqual([0, [{pid: s.pid, pidfd_id: null, nspid: [s.pid], signal: 'HUP'}]])
    expect(r.json.target).toMatchObject({pid: s.pid, pidfd_id: null, pidfd_ref: null, holder: s.sup.pid, holder_pidfd_id: null})
    expect(r.json.message).toBe(`svc: sent HUP to pid ${s.pid}`)
    const dry = await cliJson(['signal', 'svc', 'TERM', '--dir', s.dir, '--dry-run'], {env})
    expect(dry.json.would_deliver).toEqual([{pid: s.pid, pidfd_id: null, nspid: [s.pid]}])
    // HUP logged (polled: siglog runs when the scheduler lets it), then nothing else (the dry-run TERM).
    const got = await receivedSettled(s.log, 1, 100)
    expect(got.map((l) => [l.pid, l.signo])).toEqual([[s.pid, 1]])
  })

  test('wait --for stopped: waits on the pinned processes; their ids are null', async () => {
    const s = await runService()
    const waiting = cliJson(['wait', 'svc', '--dir', s.dir, '--timeout', '60s'], {env})
    // Once it has pinned both (a pidfd on each; a fixed 1.5 s could pass with the CLI still starting).
    await untilWaitPins([s.pid, s.sup.pid!])
    process.kill(s.pid, 'SIGTERM')
    const r = await waiting
    expect([r.status, r.json.reached]).toEqual([0, true])
    expect(r.json.pinned).toEqual([
      {pid: s.pid, pidfd_id: null, role: 'main'},
      {pid: s.sup.pid, pidfd_id: null, role: 'holder'},
    ])
  })

  test('--pid PID:ID is UNSUPPORTED (4) for signal and wait; nothing is sent', async () => {
    const v = await spawnVictim()
    for (const args of [
      ['signal', 'x', 'TERM', '--pid', `${v.pid}:12345`],
      ['wait', 'x', '--pid', `${v.pid}:12345`],
    ]) {
      const r = await cliJson(args, {env})
      expect({args, status: r.status, code: r.json.error?.code}).toEqual({args, status: 4, code: 'UNSUPPORTED'})
      expect(r.json.error.message).toBe(
        `--pid ${v.pid}:12345: no pidfs ids to check pid ${v.pid} against (NSLOCATE_FORCE_FALLBACK=pidfs); name the service by NAME, without --pid`,
      )
    }
    const text = await cli(['signal', 'x', 'TERM', '--pid', `${v.pid}:12345`], {env})
    // One line, then the advice as the hint line.
    expect([text.status, text.stderr]).toEqual([
      4,
      `nslocate: --pid ${v.pid}:12345: no pidfs ids to check pid ${v.pid} against (NSLOCATE_FORCE_FALLBACK=pidfs)\nhint: name the service by NAME, without --pid\n`,
    ])
    await sleep(100)
    expect(v.received()).toEqual([])
  })
})

describe('pin(), fallback forced: the start time decides', () => {
  test('a start time that differs is a reused pid; the same one pins (id null)', async () => {
    const v = await spawnVictim()
    const start = startTime(v.pid)!
    expect(pin(v.pid, start + 1, proc)).toEqual({
      failure: 'reused',
      detail: `pid ${v.pid} now names another process (started at tick ${start}, not ${start + 1}): the pid was reused`,
    })
    // An expected id cannot be compared without ids: the start time alone decides.
    const r = pin(v.pid, start, proc, 12345)
    expect('pinned' in r && {pid: r.pinned.pid, id: r.pinned.id, starttime: r.pinned.starttime}).toEqual({pid: v.pid, id: null, starttime: start})
    if ('pinned' in r) unpin(r.pinned)
  })

  test('signal --scope tree: every member delivered, ids null', async () => {
    const dir = tempDir('nslocate-fallback-tree-')
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'siglog.pid')
    const v = await spawnVictim({children: 2, pidfile: file})
    const starts = v.ready.map(startTime)
    try {
      const r = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', file, '--scope', 'tree'])
      expect([r.status, r.json.delivered.map((d: {pid: number; pidfd_id: null}) => [d.pid, d.pidfd_id]).sort()]).toEqual([
        0,
        v.ready.map((p) => [p, null]).sort(),
      ])
      const got = await receivedSettled(v, v.ready.length, 100)
      expect(got.map((l) => l.pid).sort()).toEqual([...v.ready].sort())
    } finally {
      v.ready.forEach((pid, i) => alive(pid, starts[i]) && process.kill(pid, 'SIGKILL'))
    }
  })
})
