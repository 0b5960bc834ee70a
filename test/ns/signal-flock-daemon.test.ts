/**
 * The lock-then-daemonize pattern with flock inside a PID namespace: the process that called
 * flock() exits, its child keeps the lock, and /proc/locks (read in that namespace's /proc) drops
 * the line. find names the child from the pid in the file; signal's re-check before sending must
 * confirm the same child (it once looked only at /proc/locks, said "no longer held" and exited 7).
 */
import {BIN} from '../helpers/cli'
import {spawnHolder} from '../helpers/lock-holders'
import {RunResult, runIn} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

const json = (r: RunResult): any => {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

test('inside the namespace: find says running, signal 0 confirms the same holder and exits 0', async () => {
  const file = `${tempDir()}/d.pid`
  const h = await spawnHolder({kind: 'flock', file, writePid: true, forkAfterLock: true, levels: 1})
  const f = await runIn(h, [process.execPath, BIN, 'find', 'd', '--pidfile', file, '--json'])
  expect(f.status).toBe(0)
  expect(json(f)).toMatchObject({state: 'running', pid: h.innerPid, holder: h.innerPid})
  const s = await runIn(h, [process.execPath, BIN, 'signal', 'd', '0', '--pidfile', file, '--json'])
  expect(json(s)).toMatchObject({exit_code: 0, delivered: [{pid: h.innerPid, signal: '0'}]})
  expect(s.status).toBe(0)
  await h.stop()
})
