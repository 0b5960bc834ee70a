/**
 * pidfds against real processes (pidfd_open(2), pidfd_send_signal(2), PIDFD_GET_INFO):
 * signalling into a child PID namespace from the host, Node-style ESRCH errors, the exited flag
 * through the zombie state, and what PIDFD_GET_INFO reports before and after the reap.
 */
import * as fs from 'node:fs'
import {constants} from 'node:os'
import * as path from 'node:path'
import {types} from 'node:util'

import {pidfdExited, pidfdInfo, pidfdOpen, pidfdSendSignal, waitPidfd} from '../../src/native/binding'
import {evidence, withEvidence} from '../helpers/evidence'
import {Holder, holderBinaries, spawnHolder} from '../helpers/lock-holders'
import {sleep, withTimeout} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

const {SIGKILL, SIGTERM} = constants.signals

let dir: string
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => stopAll())

/** Process state letter from /proc/PID/stat, null once the pid is gone. */
function procState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0]
  } catch {
    return null
  }
}

// Deadlines for what must happen (a process to die, to be reaped): generous, as a loaded 2-core
// machine can take seconds to schedule the process concerned; they cost nothing when it is quick.
async function until<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== null && v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(5)
  }
}

async function exitOf(child: ReturnType<typeof spawnTracked>): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
  if (child.exitCode !== null || child.signalCode !== null) return {code: child.exitCode, signal: child.signalCode}
  return withTimeout(new Promise((resolve) => child.once('exit', (code, signal) => resolve({code, signal}))), 5000, `exit of ${child.pid}`)
}

describe('signalling into a child PID namespace from the host', () => {
  test.each([1, 3])('SIGTERM through a pidfd kills a holder %i level(s) down; its reaper gets status 15', async (levels) => {
    const h: Holder = await spawnHolder({kind: 'posix', file: path.join(dir, `sig-${levels}.lock`), levels})
    const fd = pidfdOpen(h.hostPid)
    try {
      const gone = waitPidfd(fd)
      expect(pidfdExited(fd)).toBe(false)
      // asleep in pause() (under load it can show R for a moment after it started)
      await until('the holder to sleep in pause()', () => procState(h.hostPid) === 'S')
      pidfdSendSignal(fd, SIGTERM)
      await withTimeout(gone, 10_000, 'waitPidfd after SIGTERM')
      expect(pidfdExited(fd)).toBe(true)
      // mini-init (pid 1 inside) reaps it; then /proc has no such pid and the pidfd keeps the wait status.
      await withEvidence(
        async () => {
          await until('the holder to be reaped', () => procState(h.hostPid) === null)
          const info = await until('PIDFD_INFO_EXIT', () => {
            const i = pidfdInfo(fd)
            return i && i.exitCode !== null ? i : null
          })
          expect(info.exitCode).toBe(SIGTERM) // wait status: killed by signal 15, no core, not exited
          expect(info.pid).toBeNull() // PIDFD_INFO_PID is not reported once the task is gone
          expect(() => pidfdSendSignal(fd, 0)).toThrow(expect.objectContaining({code: 'ESRCH'}))
        },
        () => evidence({holder: h}),
      )
    } finally {
      fs.closeSync(fd)
      await h.stop()
    }
  })

  test('pid 1 of a namespace ignores SIGTERM even from the host (no handler); SIGKILL still works', async () => {
    const h = await spawnHolder({kind: 'none', file: path.join(dir, 'init.pid'), levels: 1, pid1: true})
    const fd = pidfdOpen(h.hostPid)
    try {
      expect(h.innerPid).toBe(1)
      const gone = waitPidfd(fd)
      pidfdSendSignal(fd, SIGTERM) // accepted (returns 0) ...
      await sleep(300)
      expect(pidfdExited(fd)).toBe(false) // ... and ignored: sig_task_ignored() for SIGNAL_UNKILLABLE
      // Still there, back asleep in pause() (under load it can show R for a moment after the wake-up).
      await until('the holder to sleep in pause() again', () => procState(h.hostPid) === 'S')
      pidfdSendSignal(fd, SIGKILL)
      await withTimeout(gone, 10_000, 'waitPidfd after SIGKILL')
      expect(pidfdExited(fd)).toBe(true)
    } finally {
      fs.closeSync(fd)
      await h.stop()
    }
  })
})

describe('errors', () => {
  test('ESRCH from pidfd_open and pidfd_send_signal is a Node-style error', async () => {
    const child = spawnTracked(['sleep', '30'])
    const pid = child.pid!
    const fd = pidfdOpen(pid)
    try {
      pidfdSendSignal(fd, SIGKILL)
      expect(await exitOf(child)).toEqual({code: null, signal: 'SIGKILL'}) // node has reaped it
      let sendError: unknown
      try {
        pidfdSendSignal(fd, SIGTERM)
      } catch (e) {
        sendError = e
      }
      // A real Error (made by napi_create_error in Node's realm, so not `instanceof` jest's sandbox Error).
      expect(types.isNativeError(sendError)).toBe(true)
      expect(sendError).toMatchObject({code: 'ESRCH', errno: -3, syscall: 'pidfd_send_signal', unsupported: false})
      expect((sendError as Error).message).toMatch(/^ESRCH /)
      let openError: unknown
      try {
        pidfdOpen(pid)
      } catch (e) {
        openError = e
      }
      expect(types.isNativeError(openError)).toBe(true)
      expect(openError).toMatchObject({code: 'ESRCH', errno: -3, syscall: 'pidfd_open'})
      expect(() => pidfdOpen(0)).toThrow(expect.objectContaining({code: 'EINVAL', errno: -22, syscall: 'pidfd_open'}))
    } finally {
      fs.closeSync(fd)
    }
  })
})

describe('pidfdExited', () => {
  test('false while alive, true for a zombie (signals still accepted), ESRCH only after the reap', async () => {
    // sh forks the sleep and then becomes `sleep 100` by exec, which never calls wait(): a killed
    // `sleep 30` stays a zombie until `sleep 100` dies and mini-init (a subreaper) reaps it.
    const {miniInit} = holderBinaries()
    const parent = spawnTracked([miniInit, 'sh', '-c', 'sleep 30 & echo $! $$; exec sleep 100'], {stdio: ['ignore', 'pipe', 'inherit']})
    const line = await withTimeout(new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d)))), 5000, 'pids from sh')
    const [zombiePid, sleeperPid] = line.trim().split(' ').map(Number)
    // Pin both by pidfd right away: the finally below can then kill them without any pid-reuse risk
    // (killing mini-init alone would orphan them).
    const fd = pidfdOpen(zombiePid)
    const parentFd = pidfdOpen(sleeperPid)
    try {
      // sh prints before it execs: wait until it is `sleep 100`, so no shell can reap the zombie.
      await until('sh to exec sleep 100', () => safeRead(`/proc/${sleeperPid}/cmdline`) === 'sleep\x00100\x00')
      expect(pidfdExited(fd)).toBe(false)
      pidfdSendSignal(fd, SIGKILL)
      await withTimeout(waitPidfd(fd), 10_000, 'waitPidfd on the zombie-to-be')
      expect(procState(zombiePid)).toBe('Z')
      expect(pidfdExited(fd)).toBe(true)
      expect(() => pidfdSendSignal(fd, 0)).not.toThrow() // exited but not reaped: still "there"
      expect(pidfdInfo(fd)?.exitCode).toBeNull() // no exit info before the reap
      // Let the subreaper reap it: kill its parent (`sleep 100`, which never waits).
      pidfdSendSignal(parentFd, SIGKILL)
      await until('the zombie to be reaped', () => procState(zombiePid) === null)
      expect(pidfdExited(fd)).toBe(true)
      expect(() => pidfdSendSignal(fd, 0)).toThrow(expect.objectContaining({code: 'ESRCH'}))
      expect(pidfdInfo(fd)?.exitCode).toBe(SIGKILL)
      expect(await exitOf(parent)).toEqual({code: 128 + SIGKILL, signal: null}) // mini-init reports its command's death
    } finally {
      for (const pinned of [fd, parentFd]) {
        try {
          pidfdSendSignal(pinned, SIGKILL)
        } catch {
          /* ESRCH: already gone */
        }
        fs.closeSync(pinned)
      }
    }
  })
})

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

describe('pidfdInfo (PIDFD_GET_INFO)', () => {
  test('live child: pid, ppid, ruid, euid, cgroup id; after exit and reap: the wait status, no pid', async () => {
    const child = spawnTracked(['sh', '-c', 'read line; exit 3'], {stdio: ['pipe', 'ignore', 'ignore']})
    const fd = pidfdOpen(child.pid!)
    const selfFd = pidfdOpen(process.pid)
    try {
      const live = pidfdInfo(fd)
      expect(live).toEqual({
        pid: child.pid,
        tgid: child.pid,
        ppid: process.pid,
        ruid: process.getuid!(),
        euid: process.geteuid!(),
        cgroupid: expect.any(BigInt),
        exitCode: null,
      })
      expect(typeof live!.cgroupid).toBe('bigint')
      expect(live!.cgroupid).toBe(pidfdInfo(selfFd)!.cgroupid) // same cgroup as its parent
      child.stdin!.end('go\n')
      expect(await exitOf(child)).toEqual({code: 3, signal: null})
      // Reaped by node: PIDFD_INFO_EXIT now carries the wait(2) status, 3 << 8.
      const dead = pidfdInfo(fd)
      expect(dead).toEqual({pid: null, tgid: null, ppid: null, ruid: null, euid: null, cgroupid: live!.cgroupid, exitCode: 3 << 8})
    } finally {
      fs.closeSync(fd)
      fs.closeSync(selfFd)
    }
  })

  test("a holder in a namespace: pid and ppid in the caller's (host) numbering", async () => {
    const h = await spawnHolder({kind: 'none', file: path.join(dir, 'info.pid'), levels: 2})
    const fd = pidfdOpen(h.hostPid)
    try {
      const info = pidfdInfo(fd)
      expect(info?.pid).toBe(h.hostPid)
      expect(info?.ppid).toBe(h.nsTargets[1].hostPid) // mini-init, pid 1 of the innermost level
      expect(info?.ppid).not.toBe(1)
    } finally {
      fs.closeSync(fd)
      await h.stop()
    }
  })
})
