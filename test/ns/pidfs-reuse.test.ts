/**
 * Issue 20: forced pid reuse where the start time matches to the tick, so only the pidfs id tells
 * the two processes apart (docs/nslocate.1.md, NOTES, "The identity record"; src/locate/by-id.ts).
 *
 * In a fresh PID namespace (unshare, as root), a python3 driver (DRIVER below, on helpers/pidfs.ts PY_SAME_TICK) is PID 1:
 *   1. forks A (a sleeper), writes A's pid to the pidfile (no newline) and sets the identity record
 *      itself with os.setxattr: A's pidfs id (fstat of os.pidfd_open(A)), the boot id, the file's
 *      mtime just after the write (record.ts's format);
 *   2. kills and reaps A, writes A-1 to /proc/sys/kernel/ns_last_pid and forks B: B gets A's pid;
 *   3. keeps the pair only when B's start time (/proc/PID/stat field 22) equals A's to the tick, up
 *      to 50 attempts (each fork pair starts at the beginning of a tick of CLOCK_BOOTTIME, the clock
 *      start times are counted in).
 * B renames itself "victim" (the NAME asked for) and records every TERM in a trap file.
 * Then find, from the host: `stale`, `pid_reused`, the ids compared; and signal sends B nothing.
 * With the ids forced unavailable (NSLOCATE_FORCE_FALLBACK=pidfs), the start-time model names B.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {withEvidence} from '../helpers/evidence'
import {FRESH_PID_NS, PY_SAME_TICK, childrenOf} from '../helpers/pidfs'
import {alive, readNSpid, startTime} from '../helpers/proc'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {exitOf} from '../safety/run-helpers'

afterAll(() => stopAll())

const FALLBACK = {env: {NSLOCATE_FORCE_FALLBACK: 'pidfs'}}

/** After PY_SAME_TICK (same_tick_reuse, start_time, pidfs_id): the driver run as PID 1 of the fresh namespace. */
const DRIVER = String.raw`
import json, signal, sys
F, TRAPS = sys.argv[1], sys.argv[2]
BOOT = open('/proc/sys/kernel/random/boot_id').read().strip()

def start(tag):
    # B says when it is named "victim" and traps TERM: the test reads its comm right after the pair is printed.
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            if tag == 'B':
                open('/proc/self/comm', 'w').write('victim')
                def trap(signo, frame):
                    with open(os.path.join(TRAPS, 'B.term'), 'a') as t:
                        t.write('TERM\n')
                signal.signal(signal.SIGTERM, trap)
            os.write(ready_w, b'1')
            os.close(ready_w)
            while True:
                time.sleep(600)
        finally:
            os._exit(0)
    os.close(ready_w)
    if tag == 'B':
        os.read(ready_r, 1)
    os.close(ready_r)
    return pid

def stop(pid):
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

def noted(a, tick, id_a):
    with open(F, 'w') as f:
        f.write(str(a))
    mtime = os.stat(F).st_mtime_ns
    os.setxattr(F, 'user.nslocate.identity', ('v1 pid=%d pidfd_id=%d boot_id=%s mtime=%d' % (a, id_a, BOOT, mtime)).encode())

found = same_tick_reuse(start, stop, 50, noted, at_tick_start=True)
if found is None:
    print(json.dumps({'attempts': 50, 'pid': None}), flush=True)
    sys.exit(0)
pid, tick, id_a, attempt = found
print(json.dumps({'attempts': attempt, 'pid': pid, 'startA': tick, 'startB': start_time(pid), 'idA': id_a, 'idB': pidfs_id(pid)}), flush=True)
sys.stdin.read()  # until the test is done
stop(pid)
`

interface Pair {
  attempts: number
  /** A's and B's pid inside the namespace */
  pid: number | null
  startA: number
  startB: number
  idA: number
  idB: number
}

test('a pid reused within the same clock tick: the start time cannot tell, the pidfs id can; find says stale (pid_reused), signal sends B nothing', async () => {
  const dir = tempDir('nslocate-pidfs-reuse-')
  const traps = tempDir('nslocate-pidfs-traps-')
  const file = path.join(dir, 'victim.pid')
  const unshare = spawnTracked([...FRESH_PID_NS, '/usr/bin/python3', '-c', PY_SAME_TICK + DRIVER, file, traps], {stdio: ['pipe', 'pipe', 'inherit']})
  try {
    const pair = await new Promise<Pair>((resolve, reject) => {
      let out = ''
      unshare.stdout!.on('data', (d) => {
        out += d
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as Pair)
      })
      unshare.once('exit', (code) => reject(new Error(`the driver exited (${code}) before forcing the reuse: ${out}`)))
    })
    // The precondition: the same pid, the same start time to the tick, two processes.
    expect(pair.pid).not.toBeNull()
    expect(pair.startB).toBe(pair.startA)
    expect(pair.idB).not.toBe(pair.idA)
    const inner = pair.pid!
    const [driver] = childrenOf(unshare.pid!)
    const [b] = childrenOf(driver)
    expect(readNSpid(b)).toEqual([b, inner])
    expect(fs.readFileSync(`/proc/${b}/comm`, 'utf8')).toBe('victim\n')
    const bStart = startTime(b)
    expect(bStart).toBe(pair.startA)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(inner))

    const {status, json: j} = await cliJson(['find', 'victim', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id]).toEqual([1, 'stale', null, null])
        expect(j.reasons).toEqual(['unlocked_pidfile', 'pid_reused', 'stale_pidfile'])
        expect(j.pidfile.recorded).toMatchObject({pid: inner, pidfd_id: pair.idA})
        expect(j.evidence).toContain(
          `pid ${b} (NSpid ${b} ${inner}) is now pidfs id ${pair.idB}; the file recorded ${pair.idA}: not the process it was written for`,
        )
        expect(j.evidence).toContain(
          `no process is pidfs id ${pair.idA}: the process the file was written for is gone, and its pid ${inner} now belongs to another process`,
        )
      },
      () => `${JSON.stringify(pair)}\n${JSON.stringify(j, null, 1)}`,
    )

    // The start-time model alone (no ids, as before Linux 6.9): B has A's pid, started in the same
    // tick, before the file was written, sees the file and is named "victim" as asked: it passes
    // every check, and the answer is B, the wrong process. Nothing in /proc tells them apart.
    const old = await cliJson(['find', 'victim', '--pidfile', file], FALLBACK)
    expect([old.status, old.json.state, old.json.pid, old.json.pidfd_id, old.json.reasons]).toEqual([0, 'running', b, null, ['unlocked_pidfile']])
    expect(old.json.evidence.join('\n')).toContain('not used: pidfs ids are turned off (NSLOCATE_FORCE_FALLBACK=pidfs)')
    const dry = await cliJson(['signal', 'victim', 'TERM', '--pidfile', file, '--dry-run'], FALLBACK)
    expect(dry.json.would_deliver.map((d: {pid: number}) => d.pid)).toEqual([b]) // would have hit the innocent

    // With ids: nothing is sent, B runs on, its TERM trap never fired.
    const s = await cliJson(['signal', 'victim', 'TERM', '--pidfile', file])
    expect([s.status, s.json.delivered, s.json.target.state, s.json.target.reasons]).toEqual([
      7,
      [],
      'stale',
      ['unlocked_pidfile', 'pid_reused', 'stale_pidfile'],
    ])
    await new Promise((r) => setTimeout(r, 100))
    expect(alive(b, bStart)).toBe(true)
    expect(fs.existsSync(path.join(traps, 'B.term'))).toBe(false)
  } finally {
    unshare.stdin!.end()
    await exitOf(unshare)
  }
})
