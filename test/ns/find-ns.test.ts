/**
 * find across real PID namespaces: every lock kind, from the host into 1-3 nested levels, from
 * inside the holder's namespace, and from a sibling namespace that cannot see the holder.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN} from '../helpers/cli'
import {evidence, withEvidence} from '../helpers/evidence'
import {Holder, LockKind, spawnHolder} from '../helpers/lock-holders'
import {RunResult, run, runIn, runInSiblingNs} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

let dir: string
beforeAll(() => {
  dir = tempDir()
})

const find = (file: string, extra: string[] = []) => [process.execPath, BIN, 'find', 'holder', '--pidfile', file, '--json', ...extra]

function json(r: RunResult): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

/** The file's text, '' while it does not exist. */
function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** Poll (every 10 ms, up to timeoutMs) until predicate() holds. */
async function eventually(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10))
}

async function findFromHost(file: string): Promise<{status: number | null; j: any}> {
  const r = await run(find(file))
  return {status: r.status, j: json(r)}
}

// The pidfile is named after the holder binary, so an unlocked pidfile passes the name check.
const KINDS: LockKind[] = ['posix', 'ofd', 'flock', 'none']

describe.each([1, 2, 3])('holder %i level(s) deep', (levels) => {
  describe.each(KINDS)('%s', (kind) => {
    let h: Holder
    let file: string
    beforeAll(async () => {
      file = path.join(dir, `l${levels}-${kind}`, 'holder.pid')
      fs.mkdirSync(path.dirname(file), {recursive: true})
      h = await spawnHolder({kind, file, levels, writePid: true})
    })
    afterAll(() => h.stop())

    test('from the host: the host pid, NSpid chain ending in the pid in the file', async () => {
      const {status, j} = await findFromHost(file)
      await withEvidence(
        () => {
          expect(status).toBe(0)
          expect(j).toMatchObject({state: 'running', pid: h.hostPid, visible: true, nspid: h.nspid})
          expect(j.pidfile).toMatchObject({pid: h.innerPid, lock: kind})
          expect(j.nspid[j.nspid.length - 1]).toBe(h.innerPid)
          expect(j.pidns).toBe(`pid:[${h.pidnsInode}]`)
          if (kind === 'none') {
            expect(j.holder).toBeNull()
            expect(j.reasons).toEqual(['unlocked_pidfile'])
          } else {
            expect(j.holder).toBe(h.hostPid)
            expect(j.reasons).toEqual([])
          }
        },
        () => `${JSON.stringify(j, null, 1)}\n${evidence({holder: h, file})}`,
      )
    })

    test('from inside its own namespace: the inner pid', async () => {
      const r = await runIn(h, find(file))
      const j = json(r)
      await withEvidence(
        () => {
          expect(r.status).toBe(0)
          expect(j).toMatchObject({state: 'running', pid: h.innerPid, nspid: [h.innerPid], visible: true})
        },
        () => `${r.stdout}\n${r.stderr}\n${evidence({holder: h, file})}`,
      )
    })

    if (levels >= 2) {
      test("from the level above it: that level's NSpid column", async () => {
        const r = await runIn(h.nsTargets[levels - 2], find(file))
        const j = json(r)
        expect(r.status).toBe(0)
        expect(j.pid).toBe(h.nspid[levels - 1])
        expect(j.nspid).toEqual(h.nspid.slice(levels - 1))
      })
    }

    test('from a sibling namespace: never a wrong process', async () => {
      const r = await runInSiblingNs(find(file))
      const j = json(r)
      await withEvidence(
        () => {
          expect(j.pid).toBeNull()
          if (kind === 'posix' || kind === 'ofd') {
            // F_GETLK still sees the lock: running, but not visible from here.
            expect(r.status).toBe(0)
            expect(j).toMatchObject({state: 'running', visible: false, holder: null, reasons: ['holder_not_visible']})
          } else {
            // flock locks of invisible holders and bare pids are out of sight (docs: NOTES).
            expect(j.state).not.toBe('running')
          }
        },
        () => `${r.stdout}\n${r.stderr}`,
      )
    })
  })
})

describe('writers in the wild', () => {
  test('libbsd pidfile(3) with fork after lock: /proc/locks names the dead parent, the fd scan finds the child', async () => {
    const file = path.join(dir, 'bsd', 'holder.pid')
    fs.mkdirSync(path.dirname(file), {recursive: true})
    const h = await spawnHolder({kind: 'flock', file, libbsd: true, forkAfterLock: true, levels: 1})
    try {
      const {status, j} = await findFromHost(file)
      await withEvidence(
        () => {
          expect(status).toBe(0)
          expect(j).toMatchObject({state: 'running', pid: h.hostPid, holder: h.hostPid})
          expect(j.pidfile.lock).toBe('flock')
          expect(fs.readFileSync(file, 'utf8')).toBe(String(h.innerPid))
        },
        () => `${JSON.stringify(j, null, 1)}\n${evidence({holder: h, file})}`,
      )
    } finally {
      await h.stop()
    }
  })

  test('daemon(1): the supervisor holds a POSIX lock on its own pid', async () => {
    const d = tempDir()
    // daemon(1) keeps inherited pipes open: run it without any
    expect(spawnSync('daemon', ['--name=dsvc', `--pidfiles=${d}`, '--', 'sleep', '60'], {stdio: 'ignore'}).status).toBe(0)
    try {
      const file = path.join(d, 'dsvc.pid')
      await eventually(() => readOr(file).trim() !== '')
      const written = Number(readOr(file))
      const f = json(await run([process.execPath, BIN, 'find', 'dsvc', '--dir', d, '--json']))
      expect(f).toMatchObject({state: 'running', pid: written, holder: written, pidfile: {lock: 'posix'}})
      expect(f.process.comm).toBe('daemon')
    } finally {
      spawnSync('daemon', ['--name=dsvc', `--pidfiles=${d}`, '--stop'], {stdio: 'ignore'})
    }
  })

  test('nginx: an unlocked pidfile with a trailing newline is resolved by name and start time', async () => {
    const d = tempDir()
    const conf = path.join(d, 'nginx.conf')
    fs.writeFileSync(conf, `pid ${d}/nginx.pid;\nerror_log ${d}/error.log;\nevents {}\nhttp { access_log off; server { listen 127.0.0.1:18087; } }\n`)
    const r = await run(['nginx', '-c', conf, '-p', d])
    expect(r.status).toBe(0)
    try {
      const pid = Number(fs.readFileSync(path.join(d, 'nginx.pid'), 'utf8'))
      expect(fs.readFileSync(path.join(d, 'nginx.pid'), 'utf8')).toBe(`${pid}\n`)
      const f = json(await run([process.execPath, BIN, 'find', 'nginx', '--dir', d, '--json']))
      expect(f).toMatchObject({state: 'running', pid, holder: null, reasons: ['unlocked_pidfile'], pidfile: {lock: 'none'}})
      expect(f.process.comm).toBe('nginx')
    } finally {
      await run(['nginx', '-c', conf, '-p', d, '-s', 'stop'])
    }
  })
})

/**
 * Processes of OTHER PID namespaces (other tests, other users of this machine) whose own pid is `n`,
 * that see `file` and started before it was written: the identity model may not call the file stale
 * while one lives (it could be the writer), so it answers unknown/ambiguous then.
 */
function othersWhoCouldHaveWritten(n: number, file: string, except: number[] = []): number[] {
  const st = fs.statSync(file)
  const boot = Date.now() - Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000
  return fs
    .readdirSync('/proc')
    .filter((e) => /^[0-9]+$/.test(e))
    .map(Number)
    .filter((p) => {
      try {
        const nspid = /^NSpid:\s*(.*)$/m
          .exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]
          .trim()
          .split(/\s+/)
          .map(Number)
        const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8')
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        const seen = fs.statSync(`/proc/${p}/root${file}`)
        return (
          !except.includes(p) &&
          nspid.length > 1 &&
          nspid[nspid.length - 1] === n &&
          !'ZX'.includes(f[0]) &&
          Number(f[6]) !== 0 &&
          seen.ino === st.ino &&
          seen.dev === st.dev &&
          boot + Number(f[19]) * 10 <= st.mtimeMs + 30
        )
      } catch {
        return false
      }
    })
}

/**
 * stale (1), or unknown/ambiguous (4) while another namespace's process could have written it; never
 * running. Such processes (other tests') come and go: `before` is looked at just before find, `after`
 * just after. None before: stale. One alive after (so during find too): ambiguous. Else either.
 */
function expectStaleOrAmbiguous(status: number | null, j: any, before: number[], after: number[]): void {
  expect(j.pid).toBeNull()
  const stale = [1, 'stale', expect.anything()]
  const ambiguous = [4, 'unknown', expect.arrayContaining(['ambiguous'])]
  if (before.length === 0) expect([status, j.state, j.reasons]).toEqual(stale)
  else if (after.length > 0) expect([status, j.state, j.reasons]).toEqual(ambiguous)
  else expect([status, j.state, j.reasons]).toEqual(j.state === 'stale' ? stale : ambiguous)
}

describe('stale and reused pids inside a namespace', () => {
  test('kill -9 of a POSIX holder: stale (exit 1)', async () => {
    // Not named after the holder binary: other tests' holders (same name, same small inner pid, the
    // same /tmp) would be identified by name. Here nothing identifies any of them.
    const file = path.join(dir, 'stale', 'stalesvc.pid')
    fs.mkdirSync(path.dirname(file), {recursive: true})
    const h = await spawnHolder({kind: 'posix', file, levels: 1, writePid: true})
    process.kill(h.hostPid, 'SIGKILL')
    await eventually(() => !fs.existsSync(`/proc/${h.hostPid}`))
    // The lock is gone with its holder; the bare number is another namespace's pid 2 or so.
    const before = othersWhoCouldHaveWritten(h.innerPid, file)
    const r = await run([process.execPath, BIN, 'find', 'stalesvc', '--pidfile', file, '--json'])
    const {status, j} = {status: r.status, j: json(r)}
    const after = othersWhoCouldHaveWritten(h.innerPid, file)
    await withEvidence(
      () => expectStaleOrAmbiguous(status, j, before, after),
      () => `others: ${before.join(', ')} / ${after.join(', ')}\n${JSON.stringify(j, null, 1)}`,
    )
    await h.stop()
  })

  test('unlocked pidfile, service killed, an innocent forced onto its pid with ns_last_pid: pid_reused, and signal leaves it alone', async () => {
    const d = path.join(dir, 'reuse')
    fs.mkdirSync(d, {recursive: true})
    const file = path.join(d, 'sleep.pid')
    // A keeper holds the namespace open (its mini-init exits when it has no children left). The
    // service and the innocent are plain `sleep`s (holders die with their parent shell).
    const keeper = await spawnHolder({kind: 'none', file: path.join(d, 'keeper'), levels: 1})
    const hostPidOf = async (inner: number) =>
      (
        await run([
          'sh',
          '-c',
          `for p in $(pgrep -x sleep); do grep -q "^NSpid:.*[[:space:]]${inner}$" /proc/$p/status && [ "$(readlink /proc/$p/ns/pid)" = "pid:[${keeper.pidnsInode}]" ] && echo $p; done`,
        ])
      ).stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number)
    /** hostPidOf(n) once it finds something (polled up to 15 s), or [] */
    const hostPidsOnce = async (inner: number) => {
      const deadline = Date.now() + 15_000
      for (;;) {
        const pids = await hostPidOf(inner)
        if (pids.length > 0 || Date.now() > deadline) return pids
        await new Promise((res) => setTimeout(res, 20))
      }
    }
    try {
      const started = await runIn(keeper, ['sh', '-c', `sleep 60 >/dev/null 2>&1 & echo -n $! > ${file}; echo started`])
      expect(started.stdout).toContain('started')
      const n = Number(fs.readFileSync(file, 'utf8'))
      // sh reports the child it forked before that child has executed sleep (until then it is an sh).
      const [service] = await hostPidsOnce(n)
      expect(service).toBeGreaterThan(0)
      const before = await findFromHost(file)
      expect([before.status, before.j.pid]).toEqual([0, service])
      process.kill(service, 'SIGKILL')
      await eventually(() => !fs.existsSync(`/proc/${service}`))
      await new Promise((res) => setTimeout(res, 100)) // the innocent must start measurably after the write
      const r = await runIn(keeper, ['sh', '-c', `echo ${n - 1} > /proc/sys/kernel/ns_last_pid && { sleep 60 >/dev/null 2>&1 & } ; echo started`])
      expect(r.stdout).toContain('started')
      const innocent = await hostPidsOnce(n)
      await withEvidence(
        () => expect(innocent).toHaveLength(1),
        () => evidence({holder: keeper, file}),
      )
      const othersBefore = othersWhoCouldHaveWritten(n, file, innocent)
      const {status, j} = await findFromHost(file)
      const othersAfter = othersWhoCouldHaveWritten(n, file, innocent)
      await withEvidence(
        () => {
          expectStaleOrAmbiguous(status, j, othersBefore, othersAfter)
          if (j.state === 'stale') expect(j.reasons).toContain('pid_reused')
          // `started at T, after ...`, or `started after ...` when T as printed (to the second) reads earlier.
          expect(j.evidence.join('\n')).toMatch(new RegExp(`pid ${innocent[0]} dropped: it started (at|after) .*: the pid was reused`))
        },
        () => `others: ${othersBefore.join(', ')} / ${othersAfter.join(', ')}\n${JSON.stringify(j, null, 1)}`,
      )
      const s = await run([process.execPath, BIN, 'signal', 'sleep', 'KILL', '--pidfile', file, '--json'])
      expect([4, 7]).toContain(s.status) // not running (7), or cannot tell (4) beside another namespace's process
      expect(json(s).delivered).toEqual([])
      expect(fs.existsSync(`/proc/${innocent[0]}`)).toBe(true)
      process.kill(innocent[0], 'SIGKILL')
    } finally {
      await keeper.stop()
    }
  })
})
