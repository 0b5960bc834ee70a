/**
 * Issue 20 item 1 for signal and wait: every target they pinned carries its pidfs id in --json
 * (`pidfd_id` in delivered, skipped, would_deliver; wait's `pinned`), and it is the number the
 * kernel gives any process that holds a pidfd on the target: `stat -L -c %i /proc/self/fd/N` run by
 * a python3 that opened the pidfd (nothing of nslocate's), from this PID namespace or from inside
 * the target's. Scope members (group, tree) each have their own.
 */
import {ChildProcess, execFileSync, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cliJson, until} from '../helpers/cli'
import {alive, readPpid, startTime} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir, track} from '../helpers/tracked'
import {Victim, readLog, siglogBinary, spawnVictim} from '../helpers/victims'

jest.setTimeout(120_000)
/** The services runService() started: run's child outlives a SIGKILLed run (it keeps the lock), so it is stopped first. */
const services: Array<{sup: ChildProcess; pid: number; start: number | null}> = []
afterEach(async () => {
  for (const s of services.splice(0)) {
    if (alive(s.pid, s.start)) process.kill(s.pid, 'SIGKILL')
    await exited(s.sup)
  }
})
afterAll(() => stopAll())

/** python3: a pidfd on each pid given, and `stat -L -c %i` of it by a stat(1) that holds it. One id a line. */
const STAT_PIDFDS = `import os, subprocess, sys
for p in sys.argv[1:]:
    fd = os.pidfd_open(int(p))
    print(subprocess.run(['stat', '-L', '-c', '%i', f'/proc/self/fd/{fd}'], pass_fds=[fd], capture_output=True, text=True, check=True).stdout.strip())
`

/** The pidfs ids of `pids` (in the PID namespace `prefix` enters, e.g. nsenter; default this one). */
function pidfsIds(pids: number[], prefix: string[] = []): number[] {
  const argv = [...prefix, '/usr/bin/python3', '-c', STAT_PIDFDS, ...pids.map(String)]
  return execFileSync(argv[0], argv.slice(1), {encoding: 'utf8'}).trim().split('\n').map(Number)
}

/** A file's content, '' while it does not exist. */
function contentOf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** `nslocate run svc --dir DIR -- siglog LOG ...`: run holds the lock, siglog is the pid. */
async function runService(extra: string[] = []): Promise<{sup: ChildProcess; dir: string; pid: number; log: string}> {
  const dir = tempDir('nslocate-pidfs-signal-')
  const log = path.join(dir, 'signals.log')
  const sup = track(spawn(process.execPath, [BIN, 'run', 'svc', '--dir', dir, '--', siglogBinary(), log, ...extra], {stdio: 'ignore'})).child
  const file = path.join(dir, 'svc.pid')
  let pid = 0
  await until(() => {
    pid = /^[0-9]+$/.test(contentOf(file)) ? Number(contentOf(file)) : 0
    // ready once siglog's handlers are installed (HUP, bit 0, in SigCgt)
    return pid > 0 && /^SigCgt:\s*[0-9a-f]*[13579bdf]$/m.test(contentOf(`/proc/${pid}/status`))
  }, 'svc.pid to name a ready siglog')
  services.push({sup, pid, start: startTime(pid)})
  return {sup, dir, pid, log}
}

function exited(child: ChildProcess): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve))
}

describe('a service started by nslocate run (lock holder: run; pid: siglog)', () => {
  test('signal --json: delivered, would_deliver, skipped and the target carry the ids', async () => {
    const s = await runService(['--ignore', 'USR2'])
    const [id, holderId] = pidfsIds([s.pid, s.sup.pid!])
    const r = await cliJson(['signal', 'svc', 'HUP', '--dir', s.dir])
    expect([r.status, r.json.delivered]).toEqual([0, [{pid: s.pid, pidfd_id: id, nspid: [s.pid], signal: 'HUP'}]])
    expect(r.json.target).toMatchObject({pid: s.pid, pidfd_id: id, holder: s.sup.pid, holder_pidfd_id: holderId, pidfd_ref: `${s.pid}:${id}`})
    expect(r.json.message).toBe(`svc: sent HUP to pid ${s.pid}:${id}`)
    const dry = await cliJson(['signal', 'svc', 'TERM', '--dir', s.dir, '--dry-run'])
    expect([dry.status, dry.json.would_deliver]).toEqual([0, [{pid: s.pid, pidfd_id: id, nspid: [s.pid]}]])
    const skip = await cliJson(['signal', 'svc', 'USR2', '--dir', s.dir, '--require-handler'])
    expect([skip.status, skip.json.skipped]).toEqual([1, [{pid: s.pid, pidfd_id: id, reason: 'no_handler'}]])
    await sleep(100)
    expect(readLog(s.log).map((l) => [l.pid, l.signo])).toEqual([[s.pid, 1]])
  })

  test('wait --json: the main process and the lock holder it waited on, each with its id', async () => {
    const s = await runService(['--exit-on', 'TERM'])
    const [id, holderId] = pidfsIds([s.pid, s.sup.pid!])
    const waiting = cliJson(['wait', 'svc', '--dir', s.dir, '--timeout', '60s'])
    await until(() => {
      // waiting once it holds pidfds (wait-stopped.ts pins both)
      const cli = fs
        .readdirSync('/proc')
        .find((p) => /^\d+$/.test(p) && readPpid(Number(p)) === process.pid && contentOf(`/proc/${p}/cmdline`).includes('\0wait\0'))
      return cli !== undefined && fs.readdirSync(`/proc/${cli}/fd`).filter((fd) => fs.readlinkSync(`/proc/${cli}/fd/${fd}`).includes('pidfd')).length >= 2
    }, 'wait to pin the service')
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
    await exited(s.sup)
  })

  test('wait --for running --json: the running answer names PID:ID; nothing pinned', async () => {
    const s = await runService()
    const [id] = pidfsIds([s.pid])
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
  const ids = pidfsIds(pids)
  const want = pids.map((pid, i) => ({pid, pidfd_id: ids[i], nspid: [pid], signal: 'HUP'}))
  const byPid = (a: Array<{pid: number}>) => [...a].sort((x, y) => x.pid - y.pid)
  const byName = await cliJson(['signal', 'siglog', 'HUP', '--pidfile', file, '--scope', scope])
  expect([byName.status, byPid(byName.json.delivered)]).toEqual([0, byPid(want)])
  const byRef = await cliJson(['signal', 'x', 'USR1', '--pid', `${v.pid}:${ids[0]}`, '--scope', scope])
  expect([byRef.status, byPid(byRef.json.delivered)]).toEqual([0, byPid(want.map((w) => ({...w, signal: 'USR1'})))])
  const dry = await cliJson(['signal', 'x', 'TERM', '--pid', `${v.pid}:${ids[0]}`, '--scope', scope, '--dry-run'])
  expect(byPid(dry.json.would_deliver)).toEqual(byPid(want.map(({signal: _s, ...w}) => w)))
  await sleep(100)
  expect(
    v
      .received()
      .map((r) => [r.pid, r.signo])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]),
  ).toEqual(
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
  const init = await spawnVictim({prefix: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']})
  let host = 0
  await until(() => {
    host = Number(fs.readdirSync('/proc').find((p) => /^\d+$/.test(p) && readPpid(Number(p)) === init.pid) ?? 0)
    return host > 0
  }, 'the init of the new namespace')
  const [here] = pidfsIds([host])
  const [inside] = pidfsIds([1], ['nsenter', '-t', String(host), '-p', '-m', '--'])
  expect(inside).toBe(here)
  const r = await cliJson(['signal', 'x', 'HUP', '--pid', `${host}:${here}`])
  expect([r.status, r.json.delivered]).toEqual([0, [{pid: host, pidfd_id: here, nspid: [host, 1], signal: 'HUP'}]])
  await sleep(100)
  expect(init.received().map((l) => [l.pid, l.signo, l.from])).toEqual([[1, 1, 0]])
})
