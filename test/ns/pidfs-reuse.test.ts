/**
 * Issue 20: forced pid reuse where the start time matches to the tick, so only the pidfs id tells
 * the two processes apart (docs/nslocate.1.md, NOTES, "The identity record"; src/locate/by-id.ts).
 *
 * In a fresh PID namespace (unshare, as root), a python3 driver (DRIVER below) is PID 1:
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
import {spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, track} from '../helpers/cli'
import {withEvidence} from '../helpers/evidence'
import {alive, readNSpid, startTime} from '../helpers/proc'
import {run} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'
import {exitOf} from '../safety/run-helpers'

afterAll(() => stopAll())

const DRIVER = String.raw`
import json, os, signal, sys, time
F, TRAPS = sys.argv[1], sys.argv[2]
BOOT = open('/proc/sys/kernel/random/boot_id').read().strip()
TICK = 10_000_000  # ns: USER_HZ 100, start times are CLOCK_BOOTTIME in these ticks

def start(tag):
    pid = os.fork()
    if pid == 0:
        try:
            if tag == 'B':
                open('/proc/self/comm', 'w').write('victim')
                def trap(signo, frame):
                    with open(os.path.join(TRAPS, 'B.term'), 'a') as t:
                        t.write('TERM\n')
                signal.signal(signal.SIGTERM, trap)
            while True:
                time.sleep(600)
        finally:
            os._exit(0)
    return pid

def starttime(pid):
    return int(open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[19])

def pidfs_id(pid):
    fd = os.pidfd_open(pid)
    try:
        return os.fstat(fd).st_ino
    finally:
        os.close(fd)

for attempt in range(1, 51):
    while time.clock_gettime_ns(time.CLOCK_BOOTTIME) % TICK > TICK // 10:
        pass
    a = start('A')
    sa, ida = starttime(a), pidfs_id(a)
    with open(F, 'w') as f:
        f.write(str(a))
    mtime = os.stat(F).st_mtime_ns
    os.setxattr(F, 'user.nslocate.identity', ('v1 pid=%d pidfd_id=%d boot_id=%s mtime=%d' % (a, ida, BOOT, mtime)).encode())
    os.kill(a, signal.SIGKILL)
    os.waitpid(a, 0)
    with open('/proc/sys/kernel/ns_last_pid', 'w') as n:
        n.write(str(a - 1))
    b = start('B')
    sb = starttime(b)
    if b == a and sb == sa:
        print(json.dumps({'attempts': attempt, 'pid': a, 'startA': sa, 'startB': sb, 'idA': ida, 'idB': pidfs_id(b)}), flush=True)
        sys.stdin.read()  # until the test is done
        os.kill(b, signal.SIGKILL)
        os.waitpid(b, 0)
        sys.exit(0)
    os.kill(b, signal.SIGKILL)
    os.waitpid(b, 0)
print(json.dumps({'attempts': 50, 'pid': None}), flush=True)
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

const nslocate = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = await run([process.execPath, BIN, ...args, '--json'], {env: {...process.env, ...env}})
  try {
    return {status: r.status, j: JSON.parse(r.stdout), stderr: r.stderr}
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

test('a pid reused within the same clock tick: the start time cannot tell, the pidfs id can; find says stale (pid_reused), signal sends B nothing', async () => {
  const dir = tempDir('nslocate-pidfs-reuse-')
  const traps = tempDir('nslocate-pidfs-traps-')
  const file = path.join(dir, 'victim.pid')
  const unshare = track(
    spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', '/usr/bin/python3', '-c', DRIVER, file, traps], {stdio: ['pipe', 'pipe', 'inherit']}),
  )
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
    const driver = Number(spawnSync('pgrep', ['-P', String(unshare.pid)], {encoding: 'utf8'}).stdout.trim())
    const b = Number(spawnSync('pgrep', ['-P', String(driver)], {encoding: 'utf8'}).stdout.trim())
    expect(readNSpid(b)).toEqual([b, inner])
    expect(fs.readFileSync(`/proc/${b}/comm`, 'utf8')).toBe('victim\n')
    const bStart = startTime(b)
    expect(bStart).toBe(pair.startA)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(inner))

    const {status, j} = await nslocate(['find', 'victim', '--pidfile', file])
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
    const old = await nslocate(['find', 'victim', '--pidfile', file], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
    expect([old.status, old.j.state, old.j.pid, old.j.pidfd_id, old.j.reasons]).toEqual([0, 'running', b, null, ['unlocked_pidfile']])
    expect(old.j.evidence.join('\n')).toContain('not used: pidfds have no ids on this kernel')
    const dry = await nslocate(['signal', 'victim', 'TERM', '--pidfile', file, '--dry-run'], {NSLOCATE_FORCE_FALLBACK: 'pidfs'})
    expect(dry.j.would_deliver.map((d: {pid: number}) => d.pid)).toEqual([b]) // would have hit the innocent

    // With ids: nothing is sent, B runs on, its TERM trap never fired.
    const s = await nslocate(['signal', 'victim', 'TERM', '--pidfile', file])
    expect([s.status, s.j.delivered, s.j.target.state, s.j.target.reasons]).toEqual([7, [], 'stale', ['unlocked_pidfile', 'pid_reused', 'stale_pidfile']])
    await new Promise((r) => setTimeout(r, 100))
    expect(alive(b, bStart)).toBe(true)
    expect(fs.existsSync(path.join(traps, 'B.term'))).toBe(false)
  } finally {
    unshare.stdin!.end()
    await exitOf(unshare)
  }
})
