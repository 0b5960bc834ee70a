/**
 * waitPidfd watches the pidfd with a uv_poll handle on the event loop: it must resolve promptly
 * when the process exits, and hundreds of pending waits must not occupy the libuv threadpool
 * (which fs.promises needs).
 */
import * as fs from 'node:fs'
import {constants} from 'node:os'
import * as path from 'node:path'

import {pidfdExited, pidfdOpen, pidfdSendSignal, waitPidfd, waitPidfdFor} from '../../src/native/binding'
import {spawnHolder} from '../helpers/lock-holders'
import {ROOT} from '../helpers/paths'
import {nodeArgv, parseJsonResult, run} from '../helpers/run'
import {withTimeout} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

const {SIGKILL} = constants.signals

afterAll(() => stopAll())

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

test('resolves promptly after the process exits (not our child: a holder under mini-init)', async () => {
  const dir = tempDir()
  const latencies: number[] = []
  for (let i = 0; i < 15; i++) {
    const h = await spawnHolder({kind: 'none', file: path.join(dir, `w${i}`)})
    const fd = pidfdOpen(h.hostPid)
    try {
      let resolvedAt = 0
      const waiting = waitPidfd(fd).then(() => {
        resolvedAt = performance.now()
      })
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(resolvedAt).toBe(0) // not before the exit
      const t0 = performance.now()
      pidfdSendSignal(fd, SIGKILL)
      // (the bound on the latency is the assertion below; this one only ends a wait that never resolves)
      await withTimeout(waiting, 10_000, 'waitPidfd')
      latencies.push(resolvedAt - t0)
      expect(pidfdExited(fd)).toBe(true)
    } finally {
      fs.closeSync(fd)
      await h.stop()
    }
  }
  console.log(
    `waitPidfd latency after SIGKILL over ${latencies.length} runs: median ${median(latencies).toFixed(2)} ms, ` +
      `max ${Math.max(...latencies).toFixed(2)} ms`,
  )
  expect(Math.max(...latencies)).toBeLessThan(1000)
})

test('an already-exited process resolves at once', async () => {
  const child = spawnTracked(['true'])
  const fd = pidfdOpen(child.pid!)
  try {
    await withTimeout(new Promise((resolve) => child.once('exit', resolve)), 5000, 'true to exit')
    const t0 = performance.now()
    await withTimeout(waitPidfd(fd), 1000, 'waitPidfd on a reaped process')
    expect(performance.now() - t0).toBeLessThan(100)
  } finally {
    fs.closeSync(fd)
  }
})

test('200 concurrent waits do not stall fs.promises, and all resolve once the processes are killed', async () => {
  const children = Array.from({length: 200}, () => spawnTracked(['sleep', '60']))
  await withTimeout(
    Promise.all(
      children.map(
        (c) =>
          new Promise((resolve, reject) => {
            c.once('spawn', resolve)
            c.once('error', reject)
          }),
      ),
    ),
    10_000,
    '200 sleeps to start',
  )
  const fds = children.map((c) => pidfdOpen(c.pid!))
  try {
    let settled = 0
    const waits = fds.map((fd) =>
      waitPidfd(fd).then(() => {
        settled++
      }),
    )
    // The threadpool has 4 threads: if each wait held one, this read would hang until the kills.
    const t0 = performance.now()
    const text = await withTimeout(fs.promises.readFile(path.join(ROOT, 'package.json'), 'utf8'), 5000, 'fs.promises.readFile')
    const readMs = performance.now() - t0
    const stats = await Promise.all([1, 2, 3, 4, 5, 6].map(() => fs.promises.stat(ROOT)))
    const allReadsMs = performance.now() - t0
    console.log(`fs.promises.readFile during 200 pending waitPidfd: ${readMs.toFixed(2)} ms (6 more stats: ${allReadsMs.toFixed(2)} ms total)`)
    expect(JSON.parse(text).name).toBe('nslocate')
    expect(stats).toHaveLength(6)
    expect(readMs).toBeLessThan(500)
    expect(allReadsMs).toBeLessThan(500)
    expect(settled).toBe(0) // all 200 are still alive and waited for
    expect(fds.filter((fd) => pidfdExited(fd))).toEqual([])

    const t1 = performance.now()
    for (const fd of fds) pidfdSendSignal(fd, SIGKILL)
    await withTimeout(Promise.all(waits), 5000, 'all 200 waits')
    console.log(`200 waitPidfd resolved ${(performance.now() - t1).toFixed(2)} ms after the first SIGKILL`)
    expect(settled).toBe(200)
  } finally {
    for (const fd of fds) fs.closeSync(fd)
  }
})

describe('several waits and closed pidfds (each wait polls its own dup of the pidfd)', () => {
  test('two concurrent waits on the same pidfd both resolve', async () => {
    const child = spawnTracked(['sleep', '30'])
    const fd = pidfdOpen(child.pid!)
    try {
      const both = Promise.allSettled([waitPidfd(fd), waitPidfd(fd)])
      pidfdSendSignal(fd, SIGKILL)
      // libuv allows one poll handle per fd: without the dup the second wait failed with EEXIST.
      expect(await withTimeout(both, 10_000, 'both waits')).toEqual([
        {status: 'fulfilled', value: undefined},
        {status: 'fulfilled', value: undefined},
      ])
    } finally {
      fs.closeSync(fd)
    }
  })

  test('closing the pidfd while a wait is pending: the wait still resolves at exit; the fd number is reusable', async () => {
    const first = spawnTracked(['sleep', '30'])
    const second = spawnTracked(['sleep', '30'])
    const fd1 = pidfdOpen(first.pid!)
    const waiting = waitPidfd(fd1)
    fs.closeSync(fd1)
    const fd2 = pidfdOpen(second.pid!) // the lowest free number: the one just closed
    try {
      expect(fd2).toBe(fd1)
      const waiting2 = waitPidfd(fd2)
      first.kill('SIGKILL')
      await withTimeout(waiting, 10_000, 'the wait whose pidfd was closed')
      expect(pidfdExited(fd2)).toBe(false) // the second process is untouched ...
      pidfdSendSignal(fd2, SIGKILL)
      await withTimeout(waiting2, 10_000, 'the wait on the recycled fd number') // ... and can be waited for
    } finally {
      fs.closeSync(fd2)
    }
  })

  test('a bad fd rejects (does not throw synchronously) with EBADF', async () => {
    const bad = fs.openSync(ROOT, 'r')
    fs.closeSync(bad)
    let pending: Promise<void> | undefined
    expect(() => {
      pending = waitPidfd(bad)
    }).not.toThrow()
    await expect(pending).rejects.toMatchObject({code: 'EBADF', errno: -9})
  })
})

describe('waitPidfdFor', () => {
  test('true when the process exits in time, false on timeout', async () => {
    const child = spawnTracked(['sleep', '30'])
    const fd = pidfdOpen(child.pid!)
    try {
      const t0 = performance.now()
      expect(await waitPidfdFor(fd, 150)).toBe(false)
      const waited = performance.now() - t0
      expect(waited).toBeGreaterThanOrEqual(140)
      expect(waited).toBeLessThan(1000)
      const exited = waitPidfdFor(fd, 5000)
      pidfdSendSignal(fd, SIGKILL)
      const t1 = performance.now()
      expect(await exited).toBe(true)
      expect(performance.now() - t1).toBeLessThan(1000)
      expect(await waitPidfdFor(fd, 0)).toBe(true) // already exited: no wait at all
    } finally {
      fs.closeSync(fd)
    }
  })

  test('a cancelled wait does not keep the event loop alive (a script ends by itself)', async () => {
    const child = spawnTracked(['sleep', '30'])
    const script = `
const a = require(ADDON)
const fd = a.pidfdOpen(Number(args[0]))
const p = a.waitPidfd(fd)
setTimeout(() => console.log(JSON.stringify({cancelled: a.cancelWait(p.waitId), again: a.cancelWait(p.waitId)})), 50)
p.then((v) => console.log(JSON.stringify({resolved: v})))`
    const t0 = performance.now()
    const r = await run(nodeArgv(script, String(child.pid)), {timeoutMs: 10_000})
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toEqual([{cancelled: true, again: false}, {resolved: false}])
    expect(parseJsonResult(r)).toEqual({resolved: false})
    expect(performance.now() - t0).toBeLessThan(5000) // it exited on its own while sleep 30 still runs
    expect(child.exitCode).toBeNull()
    child.kill('SIGKILL')
  })
})
