/**
 * Dispositions read before sending, against real processes: each one's SigCgt/SigIgn/SigBlk and
 * whether it is pid 1 of a PID namespace (unshare), from the host and from inside. Every test
 * asserts what the victim received (its siglog), or that it did not, not only nslocate's answer.
 */
import {spawnSync} from 'node:child_process'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {ROOT} from '../helpers/paths'
import {stopAll} from '../helpers/tracked'
import {alive, pending, spawnLockedVictim} from './locked-victim'

afterAll(() => stopAll())

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
const settle = () => new Promise((r) => setTimeout(r, 300))

test('handled: TERM to a process with a TERM handler is reported handled and logged by the victim', async () => {
  const v = await spawnLockedVictim()
  const {status, json} = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile])
  expect(status).toBe(0)
  expect(json.dispositions).toEqual([
    expect.objectContaining({pid: v.hostPid, signal: 'TERM', disposition: 'handled', handler: true, namespace_init: false, no_effect: false}),
  ])
  await until(() => v.received().some((r) => r.signo === 15), 'TERM in the victim log')
})

test('default (terminate): TERM without a handler kills it; --wait reports exit {signal: TERM}', async () => {
  const v = await spawnLockedVictim({default: ['TERM']})
  const {status, json} = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile, '--wait', '--timeout', '5s'])
  expect(status).toBe(0)
  expect(json.dispositions[0]).toMatchObject({disposition: 'default', default_action: 'terminate', handler: false, no_effect: false})
  expect(json.exit).toEqual({signal: 'TERM', core: false})
  expect(await v.exited).toEqual({code: null, signal: 'SIGTERM'})
})

test('default (ignore): WINCH without a handler does nothing: exit 1, the message says so', async () => {
  const v = await spawnLockedVictim({default: ['WINCH']})
  const {status, json} = await cliJson(['signal', 'victim', 'WINCH', '--pidfile', v.pidfile])
  expect(json.dispositions[0]).toMatchObject({disposition: 'default', default_action: 'ignore', no_effect: true})
  expect(status).toBe(1)
  expect(json.message).toContain('will not act')
  await settle()
  expect(v.received()).toEqual([])
  expect(alive(v.hostPid)).toBe(true)
})

test('ignored: HUP under SIG_IGN is still sent, named in the message, exit 1; the victim logged nothing and runs', async () => {
  const v = await spawnLockedVictim({ignore: ['HUP']})
  const {status, json} = await cliJson(['signal', 'victim', 'HUP', '--pidfile', v.pidfile])
  expect(status).toBe(1)
  expect(json.delivered).toEqual([expect.objectContaining({pid: v.hostPid, signal: 'HUP'})])
  expect(json.dispositions[0]).toMatchObject({disposition: 'ignored', no_effect: true})
  expect(json.message).toContain('it ignores HUP (SIG_IGN)')
  await settle()
  expect(v.received()).toEqual([])
  expect(alive(v.hostPid)).toBe(true)
})

test('blocked: TERM blocked with sigprocmask stays pending (SigPnd/ShdPnd), nothing is logged, exit 0', async () => {
  const v = await spawnLockedVictim({block: ['TERM']})
  const {status, json} = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile])
  expect(status).toBe(0)
  expect(json.dispositions[0]).toMatchObject({disposition: 'blocked', handler: true, no_effect: false})
  await until(() => pending(v.hostPid, 15), 'TERM pending')
  expect(v.received()).toEqual([])
})

test('namespace init with a TERM handler: handled, and the victim logs it from outside its namespace (si_pid 0)', async () => {
  const v = await spawnLockedVictim({pid1: true})
  const {status, json} = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile])
  expect(status).toBe(0)
  expect(json.dispositions[0]).toMatchObject({pid: v.hostPid, disposition: 'handled', namespace_init: true, sender: 'ancestor'})
  await until(() => v.received().some((r) => r.signo === 15), 'TERM logged by pid 1')
  expect(v.received()).toEqual([expect.objectContaining({pid: 1, signo: 15, from: 0})])
})

test('namespace init without a TERM handler: dropped; sent anyway, exit 1, the victim runs on', async () => {
  const v = await spawnLockedVictim({pid1: true, default: ['TERM']})
  const {status, json} = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile])
  expect(status).toBe(1)
  expect(json.delivered).toEqual([expect.objectContaining({pid: v.hostPid, signal: 'TERM'})])
  expect(json.dispositions[0]).toMatchObject({disposition: 'dropped', default_action: 'terminate', namespace_init: true, sender: 'ancestor', no_effect: true})
  expect(json.message).toContain(', but it will not act: TERM is dropped for it (PID 1, no handler)')
  await settle()
  expect(alive(v.hostPid)).toBe(true)
})

test('--wait on a dropped TERM explains the timeout; --retry TERM/1/KILL/5 ends it by KILL (from the host)', async () => {
  const v = await spawnLockedVictim({pid1: true, default: ['TERM']})
  const w = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile, '--wait', '--timeout', '700ms'])
  expect(w.status).toBe(1)
  expect(w.json.exited).toBe(false)
  expect(w.json.message).toMatch(
    /still running after \d+ ms: TERM is dropped for it \(PID 1, no handler\); use --retry TERM\/5\/KILL\/5 or run it under an init/,
  )
  expect(alive(v.hostPid)).toBe(true)
  const r = await cliJson(['signal', 'victim', 'TERM', '--pidfile', v.pidfile, '--retry', 'TERM/1/KILL/5'])
  expect(r.status).toBe(0)
  expect(r.json.dispositions.map((d: any) => [d.signal, d.disposition])).toEqual([
    ['TERM', 'dropped'],
    ['KILL', 'default'],
  ])
  expect(r.json.exit).toEqual({signal: 'KILL', core: false})
  expect(r.json.message).toMatch(/sent TERM, then KILL to pid \d+:\d+; exited after \d+ ms \(killed by KILL\); TERM dropped \(PID 1\)$/)
  await until(() => !alive(v.hostPid), 'pid 1 gone')
})

test('--require-handler: sends nothing to an init without a TERM handler (exit 1, skipped no_handler), and sends to one with a handler', async () => {
  const without = await spawnLockedVictim({pid1: true, default: ['TERM']})
  const a = await cliJson(['signal', 'victim', 'TERM', '--pidfile', without.pidfile, '--require-handler'])
  expect(a.status).toBe(1)
  expect(a.json.delivered).toEqual([])
  expect(a.json.skipped).toEqual([{pid: without.hostPid, pidfd_id: expect.any(Number), reason: 'no_handler'}])
  expect(a.json.message).toContain('nothing was signalled: no target catches TERM (--require-handler)')
  const dry = await cliJson(['signal', 'victim', 'TERM', '--pidfile', without.pidfile, '--require-handler', '--dry-run'])
  expect(dry.json).toMatchObject({would_deliver: [], dispositions: [expect.objectContaining({disposition: 'dropped'})]})
  expect(dry.json.message).toContain('none catches it')
  const withHandler = await spawnLockedVictim({pid1: true})
  const b = await cliJson(['signal', 'victim', 'TERM', '--pidfile', withHandler.pidfile, '--require-handler'])
  expect(b.status).toBe(0)
  await until(() => withHandler.received().some((r) => r.signo === 15), 'TERM logged')
  await settle()
  expect(without.received()).toEqual([])
})

test('from inside its namespace: KILL to pid 1 is dropped (the library says so, and the kernel agrees)', async () => {
  const v = await spawnLockedVictim({pid1: true, default: ['TERM']})
  const lib = path.join(ROOT, 'dist', 'src', 'signal', 'disposition.js')
  const probe = `const d = require(${JSON.stringify(lib)}); const {proc} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'proc', 'proc-fs.js'))});
    const nspid = proc.readStatus(1).nspid; console.log(JSON.stringify(['KILL', 'TERM', 'HUP'].map((n, i) => d.readDisposition(1, nspid, {name: n, number: [9, 15, 1][i]}, proc))))`
  const inside = spawnSync('nsenter', ['-t', String(v.hostPid), '-p', '-m', '--', process.execPath, '-e', probe], {encoding: 'utf8', timeout: 20000})
  expect(inside.stderr).toBe('')
  const [kill, term, hup] = JSON.parse(inside.stdout)
  expect(kill).toMatchObject({disposition: 'dropped', sender: 'same_namespace', namespaceInit: true})
  expect(term).toMatchObject({disposition: 'dropped', sender: 'same_namespace'})
  expect(hup).toMatchObject({disposition: 'handled', sender: 'same_namespace'})
  // The kernel's side: KILL and TERM from inside do nothing; HUP reaches the handler.
  const k = spawnSync('nsenter', ['-t', String(v.hostPid), '-p', '-m', '--', 'sh', '-c', 'kill -KILL 1; kill -TERM 1; kill -HUP 1'], {
    encoding: 'utf8',
    timeout: 10000,
  })
  expect(k.status).toBe(0)
  await until(() => v.received().some((r) => r.signo === 1), 'HUP logged')
  await settle()
  expect(v.received().map((r) => r.signo)).toEqual([1])
  expect(alive(v.hostPid)).toBe(true)
})

test('ignored but taken by sigwaitinfo (nohup + a sigwait loop): HUP is "blocked", not ineffective; exit 0 and the program gets it', async () => {
  // The daemons tier's python3 app: nohup sets HUP to SIG_IGN, the app blocks HUP and waits for it
  // with sigwaitinfo(). Inside sigwaitinfo SigBlk shows HUP unblocked, yet the kernel keeps it in
  // real_blocked and hands the signal to the waiter (kernel/signal.c sig_ignored()).
  const {tempDir, spawnTracked} = await import('../helpers/tracked')
  const fs = await import('node:fs')
  const dir = tempDir('nslocate-sigwait-')
  const pidfile = path.join(dir, 'waiter.pid')
  const log = path.join(dir, 'got.log')
  const script = [
    'import os, signal, sys',
    'signal.signal(signal.SIGHUP, signal.SIG_IGN)',
    'signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGHUP])',
    `open(${JSON.stringify(pidfile)}, "w").write(str(os.getpid()))`,
    'while True:',
    '    si = signal.sigwaitinfo([signal.SIGHUP])',
    `    open(${JSON.stringify(log)}, "a").write("%d %d\\n" % (si.si_signo, si.si_pid))`,
  ].join('\n')
  const child = spawnTracked(['python3', '-c', script])
  await until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8') === String(child.pid), 'the pidfile')
  await until(() => {
    try {
      return fs.readFileSync(`/proc/${child.pid}/wchan`, 'latin1').startsWith('do_sigtimedwait')
    } catch {
      return false
    }
  }, 'the waiter inside sigwaitinfo')
  const {status, json} = await cliJson(['signal', 'waiter', 'HUP', '--pidfile', pidfile])
  expect(json.dispositions[0]).toMatchObject({pid: child.pid, disposition: 'blocked', no_effect: false})
  expect(status).toBe(0)
  await until(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').trim() !== '', 'the waiter to log HUP')
  const [signo, from] = fs.readFileSync(log, 'utf8').trim().split('\n')[0].split(' ').map(Number)
  expect(signo).toBe(1)
  expect(from).toBeGreaterThan(0) // the nslocate process that sent it (same PID namespace)
  expect(alive(child.pid!)).toBe(true)
})
