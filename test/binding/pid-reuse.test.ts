/**
 * The reason nslocate signals through pidfds: a pid number can be handed to an innocent process
 * between "identify" and "signal". The race is forced deterministically in a fresh PID namespace:
 * the target is pinned with a pidfd, killed and reaped, `ns_last_pid` (kernel/pid.c; writable by
 * CAP_SYS_ADMIN for the writer's own PID namespace) is set to target-1, and the next fork gets the
 * target's number. Everything runs in one Node.js process that is pid 1 of that namespace, so all
 * numbers are in the same numbering. The host's ns_last_pid is never touched: the script refuses to
 * run unless it is pid 1 of a namespace other than the test's.
 */
import * as fs from 'node:fs'

import {nodeArgv, parseJsonResult, runInSiblingNs} from '../helpers/run'

/** Runs as pid 1 of a fresh PID namespace; prints one JSON line. args[0]: the test's ns/pid link. */
const RACE = `
const a = require(ADDON), fs = require('fs'), {spawn} = require('child_process')
const out = {self: process.pid, pidns: fs.readlinkSync('/proc/self/ns/pid')}
if (process.pid !== 1 || out.pidns === args[0]) { console.error('refusing: not pid 1 of a fresh PID namespace'); process.exit(2) }
const exitOf = (c) => new Promise((resolve) => c.once('exit', (code, signal) => resolve({code, signal})))
const started = (c) => new Promise((resolve, reject) => { c.once('spawn', resolve); c.once('error', reject) })
const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8'); return s.slice(s.lastIndexOf(')') + 2)[0] } catch { return null } }
const errorOf = (fn) => { try { fn(); return null } catch (e) { return {code: e.code, errno: e.errno, syscall: e.syscall} } }
const timeout = (ms) => new Promise((resolve) => setTimeout(() => resolve('timeout'), ms))
;(async () => {
  const mode = args[1]
  // 1. The target, identified and pinned by a pidfd.
  const target = spawn('sleep', ['100'], {stdio: 'ignore'})
  await started(target)
  const T = target.pid
  out.target = T
  const pidfd = a.pidfdOpen(T)
  // 2. It dies and is reaped (node's SIGCHLD handler waits for it before 'exit').
  process.kill(T, 'SIGKILL')
  out.targetExit = await exitOf(target)
  out.targetStateAfterReap = state(T)
  out.pidfdExited = a.pidfdExited(pidfd)
  // 3. An innocent process gets the same number: the next pid handed out is ns_last_pid + 1.
  //    Nothing else may fork or start a thread between these two lines (both are synchronous).
  fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(T - 1))
  const innocent = spawn('sleep', ['100'], {stdio: 'ignore'})
  await started(innocent)
  out.innocent = innocent.pid
  // 'spawn' can come before the kernel shows the new argv (an empty cmdline for a moment): poll
  // (up to 5 s) for the one it must come to show.
  for (let i = 0; i < 250; i++) {
    out.innocentCmdline = fs.readFileSync('/proc/' + innocent.pid + '/cmdline', 'utf8').split('\\0').join(' ').trim()
    if (out.innocentCmdline === 'sleep 100') break
    await timeout(20)
  }
  const innocentExit = exitOf(innocent)
  // 4. Signal "the target" by the method under test.
  if (mode === 'pidfd') out.signalError = errorOf(() => a.pidfdSendSignal(pidfd, 15))
  else out.signalError = errorOf(() => process.kill(T, 'SIGTERM')) // plain kill(2) by number
  // kill(2) kills it: its exit is waited for (up to 10 s; it dies once it is scheduled, which takes
  // a while on a loaded machine). Through the pidfd nothing may reach it: still running 1 s later,
  // and once its start-up is over (R for a moment under load) asleep in nanosleep (S).
  let timer
  out.innocentFate = await Promise.race([innocentExit, new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), mode === 'kill' ? 10000 : 1000)))])
  clearTimeout(timer) // (a pending timer would keep this script alive)
  for (let i = 0; i < 250 && out.innocentFate === 'timeout' && state(T) === 'R'; i++) await timeout(20)
  out.innocentStateAfter = state(T)
  if (out.innocentFate === 'timeout') { innocent.kill('SIGKILL'); await innocentExit }
  console.log(JSON.stringify(out))
})().catch((e) => { console.error(e); process.exit(1) })`

interface RaceResult {
  self: number
  target: number
  targetExit: {code: number | null; signal: string | null}
  targetStateAfterReap: string | null
  pidfdExited: boolean
  innocent: number
  innocentCmdline: string
  signalError: {code: string; errno: number; syscall: string} | null
  innocentFate: 'timeout' | {code: number | null; signal: string | null}
  innocentStateAfter: string | null
}

const hostPidns = fs.readlinkSync('/proc/self/ns/pid')

async function race(mode: 'pidfd' | 'kill'): Promise<RaceResult> {
  const r = await runInSiblingNs(nodeArgv(RACE, hostPidns, mode), {timeoutMs: 30_000})
  return parseJsonResult<RaceResult>(r)
}

describe("pid reuse: the innocent process that inherits a dead target's number", () => {
  test('the old pidfd refuses with ESRCH and the innocent survives', async () => {
    const r = await race('pidfd')
    expect(r.self).toBe(1)
    expect(r.targetExit).toEqual({code: null, signal: 'SIGKILL'})
    expect(r.targetStateAfterReap).toBeNull()
    expect(r.pidfdExited).toBe(true)
    expect(r.innocent).toBe(r.target) // the reuse really happened
    expect(r.innocentCmdline).toBe('sleep 100')
    expect(r.signalError).toEqual({code: 'ESRCH', errno: -3, syscall: 'pidfd_send_signal'})
    expect(r.innocentFate).toBe('timeout') // still running 1 s later
    expect(r.innocentStateAfter).toBe('S')
  })

  test('plain kill(pid) in the same setting kills the innocent', async () => {
    const r = await race('kill')
    expect(r.innocent).toBe(r.target)
    expect(r.signalError).toBeNull() // kill(2) returned 0: it "worked"
    expect(r.innocentFate).toEqual({code: null, signal: 'SIGTERM'})
  })
})
