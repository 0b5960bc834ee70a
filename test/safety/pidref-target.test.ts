/**
 * Issue 20 item 4: `signal`/`wait --pid PID:ID`, a target named by its pid and its pidfs id (as
 * util-linux kill PID:INODE). Real processes: siglog victims record every signal they receive, and
 * every assertion on a refusal checks that the victim received nothing. Ids are read apart from
 * nslocate: `stat -L -c %i /proc/HOLDER/fd/N` of a python3 process holding a pidfd on the target
 * (helpers/pidfs.ts pidfsIds).
 *   - the right id: delivered (fast path and oclif's); a wrong id, older or newer: nothing sent;
 *   - a reused pid: in a fresh PID namespace a victim is killed and another forced onto its pid
 *     (ns_last_pid), started in the same clock tick, so only the id tells them apart;
 *   - pid 1 of the namespace, nslocate's parent and grandparent: refused, nothing received;
 *   - a bare PID: usage error saying how to get the id; --pid with --pidfile: usage error;
 *   - find --json | jq -r .pidfd_ref fed back to signal --pid, for a service started by `nslocate run`;
 *   - wait --pid: waits for the exit with the right id; refused with a wrong one.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {signal, waitFor} from '../../src/index'
import {BIN, cli, cliJson, isAlive} from '../helpers/cli'
import {ROOT} from '../helpers/paths'
import {FRESH_PID_NS, PY_SAME_TICK, pidfdsHere, pidfsId, siglogService, stopSiglogServices, untilChild, untilPinnedHere, untilWaitPins} from '../helpers/pidfs'
import {run} from '../helpers/run'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir, track} from '../helpers/tracked'
import {Received, readLog, receivedSettled, siglogBinary, spawnVictim} from '../helpers/victims'
import {exitOf} from './run-helpers'

// A shared 2-core machine: CLI runs take seconds under load.
jest.setTimeout(180_000)
afterEach(() => stopSiglogServices())
afterAll(() => stopAll())

const PYTHON = '/usr/bin/python3'
const JQ_HINT = 'nslocate find NAME --json | jq -r .pidfd_ref'
/** Both front ends: the start-up fast path, and oclif's (NSLOCATE_NO_FAST_PATH). */
const PATHS = [
  ['fast path', {}],
  ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
] as const

/** A siglog victim and its pidfs id. */
async function victim(opts: Parameters<typeof spawnVictim>[0] = {}) {
  const v = await spawnVictim(opts)
  return {v, id: await pidfsId(v.pid)}
}

/**
 * The signal numbers a victim has logged: once it logged `expected` of them (polled: a signalled
 * process runs when the scheduler lets it), after a moment more for late or extra deliveries.
 */
async function got(v: {received(): Received[]}, expected = 0): Promise<number[]> {
  return (await receivedSettled(v, expected, 100)).map((r) => r.signo)
}

describe('signal --pid PID:ID', () => {
  test.each(PATHS)('the right id: delivered through the pidfd (%s); JSON names the id', async (_how, env) => {
    const {v, id} = await victim()
    const r = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:${id}`], {env})
    expect([r.status, r.json.delivered]).toEqual([0, [{pid: v.pid, pidfd_id: id, nspid: [v.pid], signal: 'TERM'}]])
    expect(r.json.message).toBe(`x: sent TERM to pid ${v.pid}:${id}`)
    expect(r.json.target).toMatchObject({name: 'x', state: 'running', pid: v.pid, pidfd_id: id, pidfd_ref: `${v.pid}:${id}`, pidfile: null})
    expect(await got(v, 1)).toEqual([15])
    expect(v.received()[0].from).not.toBe(v.pid)
    // Text: the message on stdout names PID:ID.
    const text = await cli(['signal', 'x', 'HUP', '--pid', `${v.pid}:${id}`], {env})
    expect([text.status, text.stdout]).toEqual([0, `x: sent HUP to pid ${v.pid}:${id}\n`])
    expect(await got(v, 2)).toEqual([15, 1])
  })

  test('a wrong id, newer or older than the process at PID: nothing sent (4 wrong_id, 7 reused)', async () => {
    // The older id: of a process known to be gone, started before the victim (id - 1 could name a
    // process that still runs elsewhere: a thread, a kernel worker, another program's child).
    const before = spawnTracked(['sleep', '600'])
    const goneId = await pidfsId(before.pid!)
    before.kill('SIGKILL')
    await exitOf(before)
    const {v, id} = await victim()
    expect(goneId).toBeLessThan(id)
    const newer = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:${id + 1000}`])
    expect([newer.status, newer.json.delivered, newer.json.skipped]).toEqual([4, [], [{pid: v.pid, pidfd_id: id + 1000, reason: 'wrong_id'}]])
    expect(newer.json.message).toBe(
      `x: pid ${v.pid} has pidfs id ${id}, older than ${id + 1000}: no process with pidfs id ${id + 1000} ever had pid ${v.pid} here (a pid of another PID namespace, or a mistyped id); nothing was signalled`,
    )
    const older = await cliJson(['signal', 'x', 'KILL', '--pid', `${v.pid}:${goneId}`, '--retry', 'KILL/1'])
    expect([older.status, older.json.delivered, older.json.skipped]).toEqual([7, [], [{pid: v.pid, pidfd_id: goneId, reason: 'reused'}]])
    expect(older.json.message).toContain(`pid ${v.pid} now has pidfs id ${id}, not ${goneId}`)
    // --verbose: the skipped target's line follows the message (without it, the message alone).
    const text = await cli(['signal', 'x', 'TERM', '--pid', `${v.pid}:${id + 1}`, '--verbose'])
    expect(text.status).toBe(4)
    expect(text.stderr).toContain(`nslocate: x: pid ${v.pid} has pidfs id ${id}, older than ${id + 1}:`)
    expect(text.stderr).toContain(`skipped pid ${v.pid}:${id + 1}: wrong_id`)
    expect(await got(v)).toEqual([])
    expect(isAlive(v.pid)).toBe(true)
  })

  test('an id that has exited (no process at PID): not running (7), nothing sent', async () => {
    const {v, id} = await victim({exitOn: ['TERM']})
    process.kill(v.pid, 'SIGTERM')
    await v.exited
    const r = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:${id}`])
    expect([r.status, r.json.skipped]).toEqual([7, [{pid: v.pid, pidfd_id: id, reason: 'gone'}]])
  })

  test.each(PATHS)('a bare PID is a usage error (2) saying how to get the id (%s); nothing sent', async (_how, env) => {
    const {v} = await victim()
    const r = await cli(['signal', 'x', 'TERM', '--pid', String(v.pid)], {env})
    expect(r.status).toBe(2)
    // one line, then the advice as the hint line (src/cli/error-lines.ts)
    expect(r.stderr.split('\n').slice(0, 2)).toEqual([
      `nslocate: --pid ${v.pid} has no pidfs id: a process that reused pid ${v.pid} could be the target`,
      `hint: give PID:ID (get it with: ${JQ_HINT})`,
    ])
    expect(r.stderr).toContain(`${JQ_HINT})\n`)
    const j = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:`], {env})
    expect([j.status, j.json.error.code]).toEqual([2, 'USAGE'])
    expect(j.json.error.message).toContain(JQ_HINT)
    expect(await got(v)).toEqual([])
  })

  test.each(PATHS)('--pid with --pidfile, --dir, --root-pid or an identity flag is a usage error (%s)', async (_how, env) => {
    const {v, id} = await victim()
    for (const extra of [
      ['--pidfile', '/run/x.pid'],
      ['--dir', '/run'],
      ['--root-pid', '1'],
      ['--exec', '/bin/sh'],
      ['--user', 'root'],
    ]) {
      const r = await cli(['signal', 'x', 'TERM', '--pid', `${v.pid}:${id}`, ...extra], {env})
      expect({extra, status: r.status}).toEqual({extra, status: 2})
    }
    expect(await got(v)).toEqual([])
  })

  test('the library: option pid, checked like the flag', async () => {
    const {v, id} = await victim()
    await expect(signal('x', 'TERM', {pid: String(v.pid)})).rejects.toMatchObject({code: 'USAGE', message: expect.stringContaining(JQ_HINT)})
    await expect(signal('x', 'TERM', {pid: `${v.pid}:${id}`, pidfile: '/run/x.pid'})).rejects.toMatchObject({
      code: 'USAGE',
      message: 'signal(): give option pid or option pidfile, not both: option pid names the process itself',
    })
    await expect(signal('x', 'TERM', {pid: `${v.pid}:${id}`, container: 'web'})).rejects.toMatchObject({code: 'USAGE'})
    expect(await got(v)).toEqual([])
    const r = await signal('x', 'USR1', {pid: `${v.pid}:${id}`})
    expect([r.outcome, r.delivered]).toEqual(['signalled', [{pid: v.pid, pidfdId: id, nspid: [v.pid], signal: 'USR1'}]])
    expect(await got(v, 1)).toEqual([10])
  })

  test("nslocate's parent and grandparent (the shells running it): refused (4), nothing received", async () => {
    const dir = tempDir('nslocate-pidref-anc-')
    const log = path.join(dir, 'traps.log')
    // Both shells log a TERM they receive (bash runs the trap once its foreground command is done).
    const inner = path.join(dir, 'inner.sh')
    fs.writeFileSync(
      inner,
      [
        `trap 'echo inner >> ${log}' TERM`,
        `id() { ${PYTHON} -c 'import os, sys; print(os.fstat(os.pidfd_open(int(sys.argv[1]))).st_ino)' "$1"; }`,
        `"${process.execPath}" "${BIN}" signal x TERM --pid "$$:$(id $$)" --json > ${dir}/parent.json; echo $? > ${dir}/parent.status`,
        `"${process.execPath}" "${BIN}" signal x TERM --pid "$PPID:$(id $PPID)" --json > ${dir}/grandparent.json; echo $? > ${dir}/grandparent.status`,
      ].join('\n'),
    )
    const r = await run(['bash', '-c', `trap 'echo outer >> ${log}' TERM; bash ${inner}; true`])
    expect(r.status).toBe(0)
    for (const who of ['parent', 'grandparent']) {
      const j = JSON.parse(fs.readFileSync(path.join(dir, `${who}.json`), 'utf8'))
      expect({who, status: fs.readFileSync(path.join(dir, `${who}.status`), 'utf8').trim(), delivered: j.delivered, reason: j.skipped[0]?.reason}).toEqual({
        who,
        status: '4',
        delivered: [],
        reason: 'unsafe',
      })
      expect(j.message).toMatch(/^x: refusing \d+:\d+: pid \d+ is an ancestor of nslocate/)
    }
    expect(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '').toBe('')
  })

  test("pid 1 of nslocate's PID namespace (a siglog as the init of a fresh one): refused (4), nothing received", async () => {
    const init = await spawnVictim({prefix: FRESH_PID_NS})
    expect(init.ready).toEqual([1])
    const hostPid = await untilChild(init.pid, 'the init of the new namespace')
    const id = await pidfsId(hostPid)
    const inside = ['nsenter', '-t', String(hostPid), '-p', '-m', '--', process.execPath, BIN]
    const r = await run([...inside, 'signal', 'x', 'TERM', '--pid', `1:${id}`, '--json'])
    const j = JSON.parse(r.stdout)
    expect([r.status, j.delivered, j.skipped]).toEqual([4, [], [{pid: 1, pidfd_id: id, reason: 'unsafe'}]])
    expect(j.message).toContain(`refusing 1:${id}: pid 1 is the init process of this PID namespace`)
    await sleep(100)
    expect(init.received()).toEqual([])
    expect(isAlive(hostPid)).toBe(true)
  })

  test('find --json | jq -r .pidfd_ref fed to signal --pid: a service started by nslocate run', async () => {
    // siglog has installed its handlers (TERM in SigCgt) once it is ready
    const {sup, dir, pid, log} = await siglogService('nslocate-pidref-run-', ['--exit-on', 'TERM'], 15)
    const id = await pidfsId(pid)
    const found = await cliJson(['find', 'svc', '--dir', dir])
    expect(found.json.pidfd_ref).toBe(`${pid}:${id}`)
    const out = path.join(dir, 'signal.json')
    const r = await run([
      'bash',
      '-c',
      `"${process.execPath}" "${BIN}" signal svc TERM --pid "$("${process.execPath}" "${BIN}" find svc --dir ${dir} --json | jq -r .pidfd_ref)" --json > ${out}`,
    ])
    const j = JSON.parse(fs.readFileSync(out, 'utf8'))
    expect([r.status, j.delivered]).toEqual([0, [{pid, pidfd_id: id, nspid: [pid], signal: 'TERM'}]])
    expect(readLog(log).map((l) => [l.pid, l.signo])).toEqual([[pid, 15]])
    await exitOf(sup)
  })
})

describe('a reused pid: a new process on the pid, started in the same clock tick', () => {
  /**
   * Runs inside `unshare -pf --mount-proc` (this python3 is pid 1 there): starts victim A, notes
   * its pidfs id and start time, kills it, writes A-1 into ns_last_pid and starts victim B, which
   * gets A's pid; until B also started in A's clock tick (PY_SAME_TICK). Then, in that namespace: nslocate
   * signal/wait --pid A:ID_A (both front ends), and pin() with A's start time, with and without A's
   * id; then the right id, B's. Prints one JSON line.
   */
  const DRIVER = String.raw`
import json, subprocess, sys
SIGLOG, NODE, BIN, DIST, D = sys.argv[1:6]
procs = {}
def start(tag):
    p = subprocess.Popen([SIGLOG, f'{D}/{tag.lower()}.log'], stdout=subprocess.PIPE)
    procs[p.pid] = p
    return p.pid
def stop(pid):
    p = procs.pop(pid)
    p.kill(); p.wait()
def cli(args, env={}):
    r = subprocess.run([NODE, BIN, *args, '--json'], capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    try: j = json.loads(r.stdout)
    except Exception: j = {'unparsed': r.stdout}
    return {'status': r.returncode, 'json': j, 'stderr': r.stderr}
logB = f'{D}/b.log'
found = same_tick_reuse(start, stop, 500)
if found is None: raise SystemExit('no same-tick reuse in 500 attempts')
A, stA, idA, attempts = found
b = procs[A]
idB = pidfs_id(A)
assert b.stdout.readline().startswith(b'ready')
out = {'pid': A, 'idA': idA, 'idB': idB, 'startA': stA, 'startB': start_time(A), 'attempts': attempts}
ref = f'{A}:{idA}'
out['signal'] = cli(['signal', 'x', 'TERM', '--pid', ref])
out['signalOclif'] = cli(['signal', 'x', 'KILL', '--pid', ref], {'NSLOCATE_NO_FAST_PATH': '1'})
out['wait'] = cli(['wait', 'x', '--pid', ref, '--timeout', '30s'])
pin = r'''
const {pin, unpin} = require(process.argv[1] + '/src/signal/pin.js')
const {proc} = require(process.argv[1] + '/src/proc/proc-fs.js')
const [pid, start, id] = process.argv.slice(2).map(Number)
const show = (r) => ('pinned' in r ? (unpin(r.pinned), {pinned: r.pinned.id}) : r)
console.log(JSON.stringify({byId: show(pin(pid, start, proc, id)), byStartTime: show(pin(pid, start, proc))}))
'''
out['pin'] = json.loads(subprocess.run([NODE, '-e', pin, DIST, str(A), str(stA), str(idA)], capture_output=True, text=True, check=True).stdout)
time.sleep(0.2)
out['bReceivedBefore'] = open(logB).read() if os.path.exists(logB) else ''
out['bAlive'] = b.poll() is None
out['right'] = cli(['signal', 'x', 'HUP', '--pid', f'{A}:{idB}'])
time.sleep(0.2)
out['bReceivedAfter'] = open(logB).read()
stop(A)
print(json.dumps(out))
`

  test('signal/wait --pid with the old id: the new process receives nothing; pin() tells them apart only by id', async () => {
    const dir = tempDir('nslocate-pidref-reuse-')
    const r = await run([...FRESH_PID_NS, PYTHON, '-c', PY_SAME_TICK + DRIVER, siglogBinary(), process.execPath, BIN, path.join(ROOT, 'dist'), dir], {
      timeoutMs: 170_000,
    })
    if (r.status !== 0) throw new Error(`driver failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`)
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!)
    // For the closing note: the reused pid, decided by the id where the start time could not tell.
    process.stdout.write(
      `pid reuse (--pid): pid ${o.pid}, ${o.pid}:${o.idA} then ${o.pid}:${o.idB}, both started at tick ${o.startA} (${o.attempts} attempts); ` +
        `signal --pid ${o.pid}:${o.idA}: ${o.signal.json.message}\n`,
    )
    expect([o.startB, o.idB > o.idA]).toEqual([o.startA, true])
    const A = o.pid
    // Inside a PID namespace a process looked up by its id may be gone or just not visible here, so
    // that A's id exited cannot be told: refused (4), never sent to B.
    for (const s of [o.signal, o.signalOclif]) {
      expect([s.status, s.json.delivered, s.json.skipped]).toEqual([4, [], [{pid: A, pidfd_id: o.idA, reason: 'wrong_id'}]])
      expect(s.json.message).toContain(`pid ${A} has pidfs id ${o.idB}, not ${o.idA}, and from inside a PID namespace`)
      expect(s.json.message).toContain('nothing was signalled')
    }
    // wait --pid on it: cannot tell (4), nothing pinned.
    expect([o.wait.status, o.wait.json.reached, o.wait.json.pinned]).toEqual([4, false, []])
    expect(o.wait.json.message).toContain('cannot tell')
    // The start time alone cannot tell (same tick): pin() by start time takes B; by id it refuses.
    expect(o.pin.byStartTime).toEqual({pinned: o.idB})
    expect(o.pin.byId).toEqual({failure: 'reused', detail: `pid ${A} now names another process (pidfs id ${o.idB}, not ${o.idA}): the pid was reused`})
    expect([o.bReceivedBefore, o.bAlive]).toEqual(['', true])
    // The right id reaches B.
    expect([o.right.status, o.right.json.delivered]).toEqual([0, [{pid: A, pidfd_id: o.idB, nspid: [A], signal: 'HUP'}]])
    expect(
      o.bReceivedAfter
        .split('\n')
        .filter(Boolean)
        .map((l: string) => l.split(' ').slice(0, 2).map(Number)),
    ).toEqual([[A, 1]])
  })
})

describe('wait --pid PID:ID', () => {
  /** `nslocate wait ...args --json` in the background: resolves with its status and JSON. */
  function waitInBackground(args: string[]): {child: ChildProcess; done: Promise<{status: number | null; json: any}>} {
    const child = track(spawn(process.execPath, [BIN, 'wait', ...args, '--json'], {stdio: ['ignore', 'pipe', 'inherit']})).child
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    const done = new Promise<{status: number | null; json: any}>((resolve) => child.once('close', (status) => resolve({status, json: JSON.parse(out)})))
    return {child, done}
  }

  test('the right id: waits until the process exits, then reports its exit and its id', async () => {
    const {v, id} = await victim({exitOn: ['TERM']})
    const w = waitInBackground(['x', '--pid', `${v.pid}:${id}`, '--timeout', '60s'])
    // It is waiting, not done: once it has pinned the victim (a fixed sleep alone could end with the
    // CLI still starting up), the victim runs and the wait goes on for 1.5 s more.
    await untilWaitPins([v.pid])
    await sleep(1500)
    expect([w.child.exitCode, isAlive(v.pid)]).toEqual([null, true])
    process.kill(v.pid, 'SIGTERM')
    const {status, json} = await w.done
    expect([status, json.reached, json.exit, json.pinned]).toEqual([0, true, {code: 0}, [{pid: v.pid, pidfd_id: id, role: 'main'}]])
    expect(json.message).toBe(`x is not running: pid ${v.pid}:${id} has exited (exit code 0)`)
    expect(json.waited_ms).toBeGreaterThanOrEqual(1000)
    expect(v.received().map((r) => r.signo)).toEqual([15])
  })

  test('the library: waitFor with option pid', async () => {
    const {v, id} = await victim({exitOn: ['HUP']})
    const before = pidfdsHere(v.pid)
    const waiting = waitFor('x', 'stopped', {pid: `${v.pid}:${id}`, timeoutMs: 60_000})
    await untilPinnedHere(v.pid, before)
    process.kill(v.pid, 'SIGHUP')
    const r = await waiting
    expect([r.outcome, r.pinned]).toEqual(['reached', [{pid: v.pid, pidfdId: id, role: 'main'}]])
  })

  test('a wrong (newer) id: refused at once (4), the process is not waited for', async () => {
    const {v, id} = await victim()
    const start = Date.now()
    const r = await cliJson(['wait', 'x', '--pid', `${v.pid}:${id + 1000}`, '--timeout', '60s'])
    expect([r.status, r.json.reached, r.json.pinned]).toEqual([4, false, []])
    expect(r.json.message).toBe(
      `x: cannot wait for ${v.pid}:${id + 1000}: pid ${v.pid} has pidfs id ${id}, older than ${id + 1000}: no process with pidfs id ${id + 1000} ever had pid ${v.pid} here (a pid of another PID namespace, or a mistyped id)`,
    )
    expect(Date.now() - start).toBeLessThan(30_000)
    expect([await got(v), isAlive(v.pid)]).toEqual([[], true])
  })

  test('a timeout: not reached (1), the process still runs', async () => {
    const {v, id} = await victim()
    const r = await cliJson(['wait', 'x', '--pid', `${v.pid}:${id}`, '--timeout', '300ms'])
    expect([r.status, r.json.reached, r.json.message]).toEqual([1, false, `x: timed out after 300 ms waiting for pid ${v.pid}:${id} to exit`])
    expect(isAlive(v.pid)).toBe(true)
  })

  test.each(PATHS)('--for running with --pid, and a bare PID: usage errors (2) (%s)', async (_how, env) => {
    const {v, id} = await victim()
    const running = await cliJson(['wait', 'x', '--pid', `${v.pid}:${id}`, '--for', 'running'], {env})
    expect([running.status, running.json.error.code]).toEqual([2, 'USAGE'])
    expect(running.json.error.message).toMatch(/^--pid goes with --for stopped only/)
    const bare = await cliJson(['wait', 'x', '--pid', String(v.pid)], {env})
    expect([bare.status, bare.json.error.code]).toEqual([2, 'USAGE'])
    expect(bare.json.error.message).toContain(JQ_HINT)
  })
})
