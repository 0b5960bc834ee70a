/**
 * Issue 20, after the red team's review of `signal`/`wait --pid PID:ID` (src/signal/pid-ref.ts,
 * src/signal/pin.ts). Real processes: siglog victims log every signal they receive, python3
 * processes with threads log what their thread takes with sigwait(); ids are read apart from
 * nslocate (fstat of a pidfd a python3 process opens: the number getino --pidfs prints).
 *   - PID is a thread that does not lead its process (pidfd_open: ENOENT on Linux 6.9+): refused,
 *     one line naming the process it belongs to, no stack trace; wait cannot tell; the library alike;
 *   - ID is a live process at another pid (the process at PID being newer or older), a mistyped id
 *     (the id of another live process, or of a thread), a process of another PID namespace whose
 *     inner pid is PID here: refused (4, wrong_id), the message naming where ID is; wait cannot tell
 *     (4). ID exited and PID reused: not running (7). With NSLOCATE_FORCE_FALLBACK=pidfs-handle (no
 *     reopening by id) a newer process at PID tells nothing of ID: refused, wait cannot tell;
 *   - a process whose main thread has exited while another thread runs (State Z, the group alive):
 *     running; signalled (its thread receives it), waited for until it really exits.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {signal, waitFor} from '../../src/index'
import {BIN, ROOT, cliJson, isAlive, until} from '../helpers/cli'
import {pidfdsHere, untilPinnedHere} from '../helpers/pidfs'
import {run} from '../helpers/run'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {Victim, receivedSettled, siglogBinary, spawnVictim} from '../helpers/victims'

// A shared 2-core machine: CLI runs take seconds under load.
jest.setTimeout(180_000)
afterAll(() => stopAll())

const PY = '/usr/bin/python3'
const STACK = /^\s+at /m
/** pidfd_open(2) flag PIDFD_THREAD (= O_EXCL): a pidfd on a thread, whose id is the thread's own. */
const PIDFD_THREAD = 0o200

/** The pidfs id of pid (a thread with `thread`), read by python3: fstat of a pidfd it opens. */
function idOf(pid: number, thread = false): number {
  const r = spawnSync(PY, ['-c', `import os, sys; print(os.fstat(os.pidfd_open(int(sys.argv[1]), ${thread ? PIDFD_THREAD : 0})).st_ino)`, String(pid)], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`no pidfs id for ${pid}: ${r.stderr}`)
  return Number(r.stdout.trim())
}

/**
 * The signal numbers a victim has logged: once it logged `expected` of them (polled: a signalled
 * process runs when the scheduler lets it), after a moment more for late or extra deliveries.
 */
async function got(v: Victim, expected = 0): Promise<number[]> {
  return (await receivedSettled(v, expected, 150)).map((r) => r.signo)
}

/**
 * A python3 process with a second thread that takes HUP and USR1 with sigwait() (blocked in every
 * thread) and logs each in LOG; with `leaderExits` its main thread then calls pthread_exit(), so the
 * process runs on with a zombie main thread. Resolves once it is so; tid: the second thread.
 */
async function threaded(leaderExits: boolean): Promise<{pid: number; tid: number; log: string; logged: () => number[]}> {
  const log = path.join(tempDir('nslocate-pidref-byid-'), 'thread.log')
  const script = String.raw`
import ctypes, signal, sys, threading
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGUSR1})
def worker():
    while True:
        s = signal.sigwait({signal.SIGHUP, signal.SIGUSR1})
        with open(sys.argv[1], 'a') as f:
            f.write(f'{int(s)}\n')
threading.Thread(target=worker).start()
print('ready', flush=True)
if sys.argv[2] == 'leader-exits':
    ctypes.CDLL(None).pthread_exit(None)
signal.pause()
`
  const child = spawnTracked([PY, '-c', script, log, leaderExits ? 'leader-exits' : 'stays'], {stdio: ['ignore', 'pipe', 'inherit']})
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => (out += d) && /^ready/m.test(out) && resolve())
    child.once('exit', (c) => reject(new Error(`the threaded process exited (${c}) before ready`)))
  })
  const pid = child.pid!
  const tasks = () => fs.readdirSync(`/proc/${pid}/task`).map(Number)
  await until(() => tasks().length === 2, 'two threads')
  if (leaderExits) await until(() => /^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), 'the main thread is a zombie')
  const tid = tasks().find((t) => t !== pid)!
  const logged = () => {
    try {
      return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number)
    } catch {
      return []
    }
  }
  return {pid, tid, log, logged}
}

/** Whether thread tid of process pid still runs (not a zombie): the process lives on through it. */
function threadRuns(t: {pid: number; tid: number}): boolean {
  try {
    return !/^State:\s*[ZX]/m.test(fs.readFileSync(`/proc/${t.pid}/task/${t.tid}/status`, 'utf8'))
  } catch {
    return false
  }
}

describe('--pid TID:ID, TID a thread that does not lead its process', () => {
  test('signal refuses (4, unsafe) in one line, wait cannot tell (4), the library alike; nothing received', async () => {
    const t = await threaded(false)
    const id = idOf(t.pid)
    const ref = `${t.tid}:${id}`
    const line = `x: refusing ${ref}: pid ${t.tid} is a thread of process ${t.pid}, not a process`
    const s = await cliJson(['signal', 'x', 'HUP', '--pid', ref])
    expect([s.status, s.json.exit_code, s.json.delivered, s.json.skipped]).toEqual([4, 4, [], [{pid: t.tid, pidfd_id: id, reason: 'unsafe'}]])
    expect(s.json.message).toBe(`${line}; nothing was signalled`)
    expect(STACK.test(s.stderr)).toBe(false)
    const text = spawnSync(process.execPath, [BIN, 'signal', 'x', 'HUP', '--pid', ref], {encoding: 'utf8'})
    expect([text.status, STACK.test(text.stderr), text.stderr.split('\n')[0]]).toEqual([4, false, `nslocate: ${line}; nothing was signalled`])
    const w = await cliJson(['wait', 'x', '--pid', ref, '--timeout', '30s'])
    expect([w.status, w.json.reached, w.json.exit_code, w.json.message, STACK.test(w.stderr)]).toEqual([
      4,
      false,
      4,
      `x: cannot wait for ${ref}: ${line.slice(3)}`,
      false,
    ])
    const lib = await signal('x', 'HUP', {pid: ref})
    expect([lib.outcome, lib.delivered, lib.skipped]).toEqual(['refused', [], [{pid: t.tid, pidfdId: id, reason: 'unsafe'}]])
    const libWait = await waitFor('x', 'stopped', {pid: ref, timeoutMs: 30_000})
    expect([libWait.outcome, libWait.reached]).toEqual(['cannot_tell', false])
    await sleep(150)
    expect([t.logged(), isAlive(t.pid)]).toEqual([[], true])
  })

  test("PID:ID of a thread (the thread's own id): refused (4, wrong_id), naming the thread and its process", async () => {
    const t = await threaded(false)
    const v = await spawnVictim()
    const threadId = idOf(t.tid, true)
    const ref = `${v.pid}:${threadId}`
    const s = await cliJson(['signal', 'x', 'TERM', '--pid', ref])
    expect([s.status, s.json.delivered, s.json.skipped]).toEqual([4, [], [{pid: v.pid, pidfd_id: threadId, reason: 'wrong_id'}]])
    expect(s.json.message).toContain(`pidfs id ${threadId} is pid ${t.tid} here, a thread of process ${t.pid}, not ${v.pid}`)
    expect([await got(v), t.logged(), isAlive(v.pid), isAlive(t.pid)]).toEqual([[], [], true, true])
  })
})

describe('--pid PID:ID, ID not the process at PID', () => {
  test('ID a live process at another pid, the process at PID newer: refused (4 wrong_id), wait cannot tell (4); neither receives anything', async () => {
    const a = await spawnVictim()
    const b = await spawnVictim()
    const [idA, idB] = [idOf(a.pid), idOf(b.pid)]
    expect(idB).toBeGreaterThan(idA)
    const ref = `${b.pid}:${idA}`
    const detail = `pidfs id ${idA} is pid ${a.pid} here, not ${b.pid}: ${ref} names no process (a pid of another PID namespace, or a mistyped pid or id)`
    const s = await cliJson(['signal', 'x', 'KILL', '--pid', ref])
    expect([s.status, s.json.exit_code, s.json.delivered, s.json.skipped]).toEqual([4, 4, [], [{pid: b.pid, pidfd_id: idA, reason: 'wrong_id'}]])
    expect(s.json.message).toBe(`x: ${detail}; nothing was signalled`)
    expect(s.json.target.state).toBe('unknown')
    const w = await cliJson(['wait', 'x', '--pid', ref, '--timeout', '30s'])
    expect([w.status, w.json.reached, w.json.exit_code, w.json.message]).toEqual([4, false, 4, `x: cannot wait for ${ref}: ${detail}`])
    // The other way round (the process at PID older than ID): refused as well, naming where ID is.
    const back = await cliJson(['signal', 'x', 'KILL', '--pid', `${a.pid}:${idB}`])
    expect([back.status, back.json.skipped]).toEqual([4, [{pid: a.pid, pidfd_id: idB, reason: 'wrong_id'}]])
    expect(back.json.message).toContain(`pidfs id ${idB} is pid ${b.pid} here, not ${a.pid}`)
    // The library says the same.
    const lib = await signal('x', 'KILL', {pid: ref})
    expect([lib.outcome, lib.skipped]).toEqual(['refused', [{pid: b.pid, pidfdId: idA, reason: 'wrong_id'}]])
    const libWait = await waitFor('x', 'stopped', {pid: ref, timeoutMs: 30_000})
    expect([libWait.outcome, libWait.reached]).toEqual(['cannot_tell', false])
    expect([await got(a), await got(b), isAlive(a.pid), isAlive(b.pid)]).toEqual([[], [], true, true])
  })

  test('a mistyped id that is another live process (this test process, older): refused (4), naming its pid', async () => {
    const v = await spawnVictim()
    const mine = idOf(process.pid)
    const s = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:${mine}`])
    expect([s.status, s.json.delivered, s.json.skipped]).toEqual([4, [], [{pid: v.pid, pidfd_id: mine, reason: 'wrong_id'}]])
    expect(s.json.message).toContain(`pidfs id ${mine} is pid ${process.pid} here, not ${v.pid}`)
    const w = await cliJson(['wait', 'x', '--pid', `${v.pid}:${mine}`, '--timeout', '30s'])
    expect([w.status, w.json.exit_code]).toEqual([4, 4])
    expect([await got(v), isAlive(v.pid)]).toEqual([[], true])
  })

  test('ID exited and PID now a newer process: not running (7, reused), wait reached (0); nothing received', async () => {
    const a = await spawnVictim({exitOn: ['TERM']})
    const idA = idOf(a.pid)
    process.kill(a.pid, 'SIGTERM')
    await a.exited
    const b = await spawnVictim()
    const ref = `${b.pid}:${idA}`
    const s = await cliJson(['signal', 'x', 'TERM', '--pid', ref])
    expect([s.status, s.json.delivered, s.json.skipped]).toEqual([7, [], [{pid: b.pid, pidfd_id: idA, reason: 'reused'}]])
    expect(s.json.message).toBe(
      `x: pid ${b.pid} now has pidfs id ${idOf(b.pid)}, not ${idA}: the process ${ref} has exited and its pid was reused; nothing was signalled`,
    )
    const w = await cliJson(['wait', 'x', '--pid', ref, '--timeout', '30s'])
    expect([w.status, w.json.reached, w.json.exit_code]).toEqual([0, true, 0])
    expect([await got(b), isAlive(b.pid)]).toEqual([[], true])
  })

  test('NSLOCATE_FORCE_FALLBACK=pidfs-handle: a newer process at PID cannot tell whether ID still runs: refused (4), wait cannot tell (4)', async () => {
    const env = {NSLOCATE_FORCE_FALLBACK: 'pidfs-handle'}
    const a = await spawnVictim()
    const b = await spawnVictim()
    const [idA, idB] = [idOf(a.pid), idOf(b.pid)]
    const ref = `${b.pid}:${idA}`
    const detail = `pid ${b.pid} has pidfs id ${idB}, not ${idA}, and looking a process up by its pidfs id is turned off (NSLOCATE_FORCE_FALLBACK=pidfs-handle), so nslocate cannot tell whether ${idA} has exited or still runs elsewhere (a pid of another PID namespace, or a mistyped id)`
    const s = await cliJson(['signal', 'x', 'KILL', '--pid', ref], {env})
    expect([s.status, s.json.exit_code, s.json.delivered, s.json.skipped]).toEqual([4, 4, [], [{pid: b.pid, pidfd_id: idA, reason: 'wrong_id'}]])
    expect(s.json.message).toBe(`x: ${detail}; nothing was signalled`)
    const w = await cliJson(['wait', 'x', '--pid', ref, '--timeout', '30s'], {env})
    expect([w.status, w.json.reached, w.json.exit_code, w.json.message]).toEqual([4, false, 4, `x: cannot wait for ${ref}: ${detail}`])
    // The right id still works without reopening by id.
    const right = await cliJson(['signal', 'x', 'HUP', '--pid', `${b.pid}:${idB}`], {env})
    expect([right.status, right.json.delivered]).toEqual([0, [{pid: b.pid, pidfd_id: idB, nspid: [b.pid], signal: 'HUP'}]])
    expect([await got(a), await got(b, 1), isAlive(a.pid), isAlive(b.pid)]).toEqual([[], [1], true, true])
  })

  test.each([
    ['reopening by id', {}],
    ['NSLOCATE_FORCE_FALLBACK=pidfs-handle', {NSLOCATE_FORCE_FALLBACK: 'pidfs-handle'}],
  ])(
    'ID a process of another PID namespace whose inner pid is PID here, the process at PID newer (%s): refused (4), wait cannot tell (4); nothing reaches either',
    async (how, env) => {
      const dir = tempDir('nslocate-pidref-byid-ns-')
      const r = await run(
        [
          'env',
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          'unshare',
          '--pid',
          '--fork',
          '--kill-child',
          '--mount-proc',
          PY,
          path.join(ROOT, 'fixtures', 'attack-pidfs', 'other-ns.py'),
          siglogBinary(),
          process.execPath,
          BIN,
          dir,
          'here-newer',
        ],
        {timeoutMs: 120_000},
      )
      if (r.status !== 0) throw new Error(`other-ns.py failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`)
      const o = JSON.parse(r.stdout)
      const [X, I, Q] = [o.x, o.inner_id, o.inner_pid_here]
      expect(o.here_id).toBeGreaterThan(I)
      expect([o.signal.status, o.signal.json.delivered, o.signal.json.skipped, STACK.test(o.signal.stderr)]).toEqual([
        4,
        [],
        [{pid: X, pidfd_id: I, reason: 'wrong_id'}],
        false,
      ])
      expect(o.signal.json.message).toContain(
        how === 'reopening by id' ? `pidfs id ${I} is pid ${Q} here, not ${X}` : `cannot tell whether ${I} has exited or still runs elsewhere`,
      )
      expect([o.wait.status, o.wait.json.reached, o.wait.json.exit_code, STACK.test(o.wait.stderr)]).toEqual([4, false, 4, false])
      expect([o.here_alive, o.inner_alive, o.here_log, o.inner_log]).toEqual([true, true, '', ''])
    },
  )
})

describe('a process whose main thread has exited while another thread runs (State Z)', () => {
  test('signal --pid reaches it (its thread takes the signal); wait goes on until the process really exits', async () => {
    const t = await threaded(true)
    const id = idOf(t.pid)
    const ref = `${t.pid}:${id}`
    const s = await cliJson(['signal', 'x', 'HUP', '--pid', ref])
    expect([s.status, s.json.exit_code, s.json.delivered]).toEqual([0, 0, [{pid: t.pid, pidfd_id: id, nspid: [t.pid], signal: 'HUP'}]])
    await until(() => t.logged().length > 0, 'the thread logged the signal')
    const lib = await signal('x', 'USR1', {pid: ref})
    expect([lib.outcome, lib.delivered.map((d) => d.pid)]).toEqual(['signalled', [t.pid]])
    await until(() => t.logged().length > 1, 'the thread logged the second signal')
    expect(t.logged()).toEqual([1, 10])
    // wait: not stopped (the timeout passes, 1), the process still runs.
    const w = await cliJson(['wait', 'x', '--pid', ref, '--timeout', '500ms'])
    expect([w.status, w.json.reached, w.json.exit_code, threadRuns(t)]).toEqual([1, false, 1, true])
    // Once the whole process ends, the wait holds.
    const before = pidfdsHere(t.pid)
    const waiting = waitFor('x', 'stopped', {pid: ref, timeoutMs: 60_000})
    await untilPinnedHere(t.pid, before) // a fixed 500 ms could pass before it has pinned the process
    await sleep(500)
    expect(threadRuns(t)).toBe(true)
    process.kill(t.pid, 'SIGKILL')
    const done = await waiting
    expect([done.outcome, done.reached, done.pinned]).toEqual(['reached', true, [{pid: t.pid, pidfdId: id, role: 'main'}]])
  })
})
