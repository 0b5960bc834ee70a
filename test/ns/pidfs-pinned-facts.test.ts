/**
 * Issue 20: the facts a locate() answer reports and the pidfs id it gives are of one process
 * (src/locate/process-info.ts readFacts, src/locate/by-id.ts Pins, findRecorded).
 *
 *  1. A pid reused within one clock tick WHILE locate() inspects the process (the attack of
 *     fixtures/attack-pidfs/same-tick.py, moved into locate itself): in a fresh PID namespace a
 *     driver (node, PID 1, the built library) has a python3 forker start M ("victim") and names it
 *     in an unlocked pidfile; a ProcFs subclass's readCgroup hook (called after decide() chose M)
 *     has the forker kill M, write M-1 to ns_last_pid and fork N, which takes M's pid. Kept only
 *     when N started in M's clock tick, so the start time cannot tell them apart. find answers with
 *     M's id or GONE, never N's; signal TERM never reaches N (N logs every signal it gets).
 *  2. A recorded service its writer numbered in an intermediate PID namespace (nested
 *     `unshare -pf` twice: the file holds the middle-level pid): found `running` by its id.
 *  3. A process whose main thread exited while another thread runs (State Z, yet alive): still a
 *     candidate of an unlocked pidfile, with pidfs ids and with them forced off.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {locateSync} from '../../src/api/library'
import {formatRecord} from '../../src/locate/record'
import {pidfdOpen, xattrSet} from '../../src/native/binding'
import {ROOT, cliJson, until} from '../helpers/cli'
import {statOf, statusOf} from '../helpers/proc'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {PY_SAME_TICK} from '../helpers/pidfs'
import {exitOf} from '../safety/run-helpers'

jest.setTimeout(180_000)
afterAll(() => stopAll())

const PY = '/usr/bin/python3'
const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const FRESH = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']

/** The pidfs id of pid, from a pidfd opened here (fstat's inode). */
function idOf(pid: number): number {
  const fd = pidfdOpen(pid)
  try {
    return Number(fs.fstatSync(fd, {bigint: true}).ino)
  } finally {
    fs.closeSync(fd)
  }
}

/** Writes `pid` to FILE (no newline) and the identity record of pidfs id `id` bound to that content. */
function recorded(file: string, pid: number, id: number): void {
  fs.writeFileSync(file, String(pid))
  const fd = fs.openSync(file, 'r')
  try {
    const mtimeNs = fs.fstatSync(fd, {bigint: true}).mtimeNs.toString()
    xattrSet(fd, 'user.nslocate.identity', Buffer.from(formatRecord({pid, pidfdId: id, bootId: BOOT, mtimeNs})))
  } finally {
    fs.closeSync(fd)
  }
}

/** The descendants of `pid` (children files, depth first). */
function descendants(pid: number): number[] {
  let kids: number[] = []
  try {
    kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {}
  return kids.flatMap((k) => [k, ...descendants(k)])
}

/**
 * The forker: on "fork" starts M, on "swap" kills and reaps M, writes M-1 to ns_last_pid and starts
 * N. Each child names itself "victim", logs "PID SIGNO" for every TERM/HUP/USR1 it gets in LOG, and
 * tells the forker once its handlers are in place. "alive PID": 1 or 0; "kill PID": kills, reaps.
 */
const FORKER =
  PY_SAME_TICK +
  String.raw`
import os, signal, sys
req, resp, log = sys.argv[1:4]
rq = open(req, 'r')
rs = open(resp, 'w')


def note(signo, frame):
    with open(log, 'a') as f:
        f.write(f'{os.getpid()} {signo}\n')

def start():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        open('/proc/self/comm', 'w').write('victim')
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(s, note)
        os.write(w, b'x')
        while True:
            signal.pause()
    os.close(w)
    os.read(r, 1)
    os.close(r)
    return pid

def say(text):
    rs.write(text + '\n')
    rs.flush()

m = None
for line in rq:
    cmd = line.split()
    if cmd[0] == 'fork':
        m = start()
        say(f'{m} {start_time(m)} {pidfs_id(m)}')
    elif cmd[0] == 'swap':
        os.kill(m, signal.SIGKILL)
        os.waitpid(m, 0)
        with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
            f.write(str(m - 1))
        n = start()
        say(f'{n} {start_time(n)} {pidfs_id(n)}')
    elif cmd[0] == 'alive':
        pid = int(cmd[1])
        st = open(f'/proc/{pid}/stat').read().rsplit(') ', 1)[1].split()[0] if os.path.exists(f'/proc/{pid}') else 'gone'
        say('1' if st not in ('Z', 'X', 'gone') else '0')
    elif cmd[0] == 'kill':
        pid = int(cmd[1])
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        say('ok')
`

/**
 * The driver, PID 1 of a fresh PID namespace: the built library over a ProcFs whose readCgroup of M
 * has the forker swap M for N. Up to ATTEMPTS tries until N has M's pid and start tick; prints one
 * JSON line: M and N (pid, tick, id), what find (mode find) or signal (mode signal) answered or threw,
 * and (signal) the signals N logged and whether it is alive.
 */
const DRIVER = String.raw`
const fs = require('node:fs')
const path = require('node:path')
const [dist, dir, forker, mode] = process.argv.slice(1)
const lib = require(path.join(dist, 'src/api/library.js'))
const {ProcFs} = require(path.join(dist, 'src/proc/proc-fs.js'))
const req = path.join(dir, 'req'), resp = path.join(dir, 'resp'), log = path.join(dir, 'n.log')
const {spawn, spawnSync} = require('node:child_process')
spawnSync('mkfifo', [req, resp])
const py = spawn('/usr/bin/python3', ['-c', forker, req, resp, log], {stdio: 'inherit'})
const rq = fs.openSync(req, 'w')
const rs = fs.openSync(resp, 'r')
let pending = ''
function ask(line) {
  fs.writeSync(rq, line + '\n')
  const buf = Buffer.alloc(256)
  while (!pending.includes('\n')) {
    const n = fs.readSync(rs, buf, 0, buf.length, null)
    if (n === 0) throw new Error('forker gone')
    pending += buf.toString('utf8', 0, n)
  }
  const i = pending.indexOf('\n')
  const out = pending.slice(0, i)
  pending = pending.slice(i + 1)
  return out.split(' ').map(Number)
}
const pidfile = path.join(dir, 'victim.pid')
async function main() {
  for (let attempt = 1; attempt <= 400; attempt++) {
    try { fs.unlinkSync(log) } catch {}
    const [m, mTick, mId] = ask('fork')
    fs.writeFileSync(pidfile, String(m))
    let n = null
    class Swapping extends ProcFs {
      readCgroup(pid) {
        if (n === null && pid === m) n = ask('swap')
        return super.readCgroup(pid)
      }
    }
    const procfs = new Swapping()
    let answer
    try {
      if (mode === 'find') {
        const r = lib.locateSync('victim', {pidfile, procfs})
        answer = {state: r.state, pid: r.pid, pidfdId: r.pidfdId, pidfdRef: r.pidfdRef, evidence: r.evidence}
      } else {
        const r = await lib.signal('victim', 'TERM', {pidfile, procfs})
        answer = {outcome: r.outcome, delivered: r.delivered, skipped: r.skipped, message: r.message}
      }
    } catch (error) {
      answer = {error: error.code ?? String(error), message: error.message}
    }
    if (n === null) {
      ask('kill ' + m)
      console.log(JSON.stringify({attempt, unswapped: true, answer}))
      process.exit(1)
    }
    const [nPid, nTick, nId] = n
    if (nPid === m && nTick === mTick) {
      await new Promise((r) => setTimeout(r, 300))
      let got = ''
      try { got = fs.readFileSync(log, 'utf8') } catch {}
      const [alive] = ask('alive ' + nPid)
      console.log(JSON.stringify({attempt, m: {pid: m, tick: mTick, id: mId}, n: {pid: nPid, tick: nTick, id: nId}, answer, nLog: got, nAlive: alive === 1}))
      ask('kill ' + nPid)
      process.exit(0)
    }
    ask('kill ' + nPid)
  }
  console.log(JSON.stringify({failed: 'no same-tick swap in 400 attempts'}))
  process.exit(1)
}
main()
`

interface SwapReport {
  attempt: number
  m: {pid: number; tick: number; id: number}
  n: {pid: number; tick: number; id: number}
  answer: Record<string, any>
  nLog: string
  nAlive: boolean
}

/** The driver in a fresh PID namespace (mode find or signal): its report once N took M's pid in M's tick. */
async function sameTickSwap(mode: 'find' | 'signal'): Promise<SwapReport> {
  const dir = tempDir('nsl-pinned-')
  const child = spawnTracked([...FRESH, process.execPath, '-e', DRIVER, path.join(ROOT, 'dist'), dir, FORKER, mode], {stdio: ['ignore', 'pipe', 'inherit']})
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  const {code} = await exitOf(child)
  const line = out.trim().split('\n').pop() ?? ''
  if (code !== 0) throw new Error(`same-tick driver (${mode}) exited ${code}: ${out}`)
  return JSON.parse(line) as SwapReport
}

describe('a pid reused within one clock tick while locate() inspects the process', () => {
  test('find: one process`s id with that process`s facts: M`s, GONE, or (looked at again) N`s own answer', async () => {
    const r = await sameTickSwap('find')
    // The attack's preconditions: N has M's pid and start tick, and another id.
    expect(r.n.pid).toBe(r.m.pid)
    expect(r.n.tick).toBe(r.m.tick)
    expect(r.n.id).not.toBe(r.m.id)
    const a = r.answer
    if (a.error !== undefined) {
      expect(a.error).toBe('GONE')
      expect(a.message).toContain(`pid ${r.m.pid} (pidfs id ${r.m.id}) exited while being inspected, and its pid is now pidfs id ${r.n.id}; run again`)
    } else if (a.pidfdId === r.m.id) {
      expect(a.pidfdRef).toBe(`${r.m.pid}:${r.m.id}`)
      expect(JSON.stringify(a)).not.toContain(String(r.n.id))
    } else {
      // locate() looks again after GONE (up to 3 times): the second look is all about N.
      expect([a.pidfdId, a.pidfdRef]).toEqual([r.n.id, `${r.n.pid}:${r.n.id}`])
    }
  })

  test('signal TERM: N receives nothing and lives on', async () => {
    const r = await sameTickSwap('signal')
    expect(r.n.pid).toBe(r.m.pid)
    expect(r.n.tick).toBe(r.m.tick)
    expect(r.nLog).toBe('') // N logs every TERM/HUP/USR1 it receives
    expect(r.nAlive).toBe(true)
    const a = r.answer
    if (a.error !== undefined) {
      expect(a.error).toBe('GONE')
      expect(a.message).toContain('nothing was signalled')
    } else {
      expect(a.delivered).toEqual([])
      expect(JSON.stringify(a)).not.toContain(`"pidfdId":${r.n.id}`)
    }
  })
})

describe('a recorded service numbered by its writer in an intermediate PID namespace', () => {
  test('the file holds its middle-level pid: running, by its id', async () => {
    const dir = tempDir('nsl-pinned-')
    const outer = spawnTracked([...FRESH, '--', ...FRESH, '--', 'sh', '-c', 'sleep 600 & wait'], {stdio: 'ignore'})
    let svc = 0
    await until(() => {
      svc = descendants(outer.pid!).find((p) => statOf(p)?.comm === 'sleep') ?? 0
      return svc > 0 && (statusOf(svc)?.nspid.length ?? 0) === 3
    }, 'the nested sleep')
    const nspid = statusOf(svc)!.nspid
    const [, middle, inner] = nspid
    expect(middle).not.toBe(inner)
    const id = idOf(svc)
    const file = path.join(dir, 'svc.pid')
    recorded(file, middle, id)
    const r = locateSync('svc', {pidfile: file})
    expect(r.state).toBe('running')
    expect(r.pid).toBe(svc)
    expect(r.pidfdId).toBe(id)
    expect(r.nspid).toEqual(nspid)
    expect(r.evidence).toContain(`pid ${svc} (NSpid ${nspid.join(' ')}) is pidfs id ${id}, the id recorded: it is the service`)
    expect(r.evidence).toContain(
      `pid ${svc} is numbered ${middle} in a PID namespace between this one and its own (NSpid ${nspid.join(' ')}), where the file was written`,
    )
    // Through the CLI as well (the built binary).
    const {json} = await cliJson(['find', 'svc', '--pidfile', file, '--json'])
    expect(json.state).toBe('running')
    expect(json.pid).toBe(svc)
    expect(json.pidfd_id).toBe(id)
    // Once it is gone, the id names no process: stale.
    process.kill(outer.pid!, 'SIGKILL')
    await until(() => !fs.existsSync(`/proc/${svc}`), 'the nested sleep to be gone')
    const gone = locateSync('svc', {pidfile: file})
    expect(gone.state).toBe('stale')
    expect(gone.evidence).toContain(`no process has pidfs id ${id} (looked up by the id itself)`)
  })
})

describe('a process whose main thread exited while another thread runs', () => {
  /** python3: a thread sleeps on; the main thread calls pthread_exit (the leader becomes Z, the process lives). */
  const ZLEADER = String.raw`
import ctypes, os, sys, threading, time
open('/proc/self/comm', 'w').write('zleader')
threading.Thread(target=lambda: time.sleep(600)).start()
with open(sys.argv[1], 'w') as f:
    f.write(str(os.getpid()))
ctypes.CDLL(None).pthread_exit(None)
`

  test('State Z with a live thread: still the candidate, with ids and with them forced off', async () => {
    const dir = tempDir('nsl-pinned-')
    const file = path.join(dir, 'zleader.pid')
    const child = spawnTracked([PY, '-c', ZLEADER, file], {stdio: 'ignore'})
    const pid = child.pid!
    await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === String(pid) && statOf(pid)?.state === 'Z', 'the leader to show Z')
    expect(fs.readdirSync(`/proc/${pid}/task`).length).toBe(2) // the leader and its live thread
    const r = locateSync('zleader', {pidfile: file})
    expect(r.state).toBe('running')
    expect(r.pid).toBe(pid)
    expect(r.pidfdId).toBe(idOf(pid))
    expect(r.evidence.join('\n')).not.toContain('has exited (state Z)')
    const fb = await cliJson(['find', 'zleader', '--pidfile', file, '--json'], {env: {NSLOCATE_FORCE_FALLBACK: 'pidfs'}})
    expect(fb.json.state).toBe('running')
    expect(fb.json.pid).toBe(pid)
    expect(fb.json.pidfd_id).toBeNull()
    process.kill(pid, 'SIGKILL')
    await exitOf(child)
    // Once its last thread is gone it is no candidate at all.
    expect(locateSync('zleader', {pidfile: file}).state).toBe('stale')
  })
})
