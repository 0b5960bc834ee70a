/**
 * The identity model for unlocked pidfiles, against real processes in real namespaces
 * (docs/nslocate.1.md, NOTES, "The identity model"): a stale `1` among namespace inits, a service in
 * a child PID namespace whose name differs, a daemon that chroot()s itself, a python3 app, explicit
 * identity options, and `wait --for running` on a locked pidfile that is still empty.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, isAlive, until} from '../helpers/cli'
import {withEvidence} from '../helpers/evidence'
import {run} from '../helpers/run'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {spawnVictim} from '../helpers/victims'

/** Services whose supervisor may be killed first (they outlive it): ended by pid after the tests. */
const afterService: number[] = []
afterAll(async () => {
  for (const pid of afterService) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  await stopAll()
})

const nslocate = async (...args: string[]) => {
  const r = await run([process.execPath, BIN, ...args, '--json'])
  try {
    return {status: r.status, j: JSON.parse(r.stdout), stderr: r.stderr}
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}
const childOf = (pid: number) =>
  Number(
    spawnSync('pgrep', ['-P', String(pid)], {encoding: 'utf8'})
      .stdout.trim()
      .split('\n')[0],
  )
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc']
const SIGTERM = 15

describe('a stale 1 in a directory shared by many namespace inits', () => {
  test('is never running: every init is dropped (NAME a bare prefix of theirs), stale, exit 1; with --root-pid it is that init', async () => {
    const d = tempDir()
    const inits = []
    for (let i = 0; i < 3; i++) inits.push(spawnTracked([...UNSHARE, 'sleep', '600'], {stdio: 'ignore'}))
    const hostPids: number[] = []
    for (const u of inits) {
      await until(() => childOf(u.pid!) > 0 && fs.readFileSync(`/proc/${childOf(u.pid!)}/comm`, 'utf8') === 'sleep\n', 'sleep is PID 1 of its namespace')
      hostPids.push(childOf(u.pid!))
    }
    await new Promise((r) => setTimeout(r, 50))
    const file = path.join(d, 'sl.pid')
    fs.writeFileSync(file, '1\n')
    const {status, j} = await nslocate('find', 'sl', '--pidfile', file)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.reasons]).toEqual([1, 'stale', null, ['unlocked_pidfile', 'stale_pidfile']])
        for (const p of hostPids)
          expect(j.evidence).toContainEqual(expect.stringMatching(new RegExp(`^pid ${p} dropped: it is PID 1 of its PID namespace \\(an init\\)`)))
      },
      () => JSON.stringify(j, null, 1),
    )
    // The namespace given is positive identity: the init of that one, and only it.
    const given = await nslocate('find', 'sl', '--pidfile', file, '--root-pid', String(hostPids[1]))
    await withEvidence(
      () => expect([given.status, given.j.state, given.j.pid]).toEqual([0, 'running', hostPids[1]]),
      () => JSON.stringify(given.j, null, 1),
    )
    for (const u of inits) u.kill('SIGKILL')
  })
})

describe("a service in a child PID namespace whose name differs from the pidfile's", () => {
  let victim: Awaited<ReturnType<typeof spawnVictim>>
  let hostPid: number
  let file: string
  beforeAll(async () => {
    const d = tempDir()
    fs.chmodSync(d, 0o755)
    file = path.join(d, 'svc.pid')
    // Not PID 1 of its namespace (an init counts only on positive identity): a shell is.
    victim = await spawnVictim({prefix: [...UNSHARE, 'sh', '-c', '"$@" & wait', 'sh'], pidfile: file, exitOn: ['TERM']})
    hostPid = childOf(childOf(victim.pid))
    expect(fs.readFileSync(`/proc/${hostPid}/comm`, 'utf8')).toBe('siglog\n')
  })

  test('on the number alone: unknown, ambiguous, exit 4, never stale; signal sends nothing', async () => {
    const {status, j} = await nslocate('find', 'svc', '--pidfile', file)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid]).toEqual([4, 'unknown', null])
        expect(j.reasons).toEqual(['unlocked_pidfile', 'ambiguous'])
        expect(j.evidence.join('\n')).toMatch(
          new RegExp(
            `pid ${hostPid} is pid ${victim.ready[0]} in another PID namespace and sees the file, but nothing identifies it \\(comm "siglog", exe "siglog", argv\\[0\\] "siglog"; tried "svc"\\)`,
          ),
        )
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await nslocate('signal', 'svc', 'TERM', '--pidfile', file)
    expect([s.status, s.j.delivered]).toEqual([4, []])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
  })

  test.each([
    [['--root-pid', 'HOST'], 'the namespace given'],
    [['--process-name', 'siglog'], 'an identity option'],
    [['--exec', 'SIGLOG'], 'an identity option (the executable)'],
  ])('%j (%s): running, the host pid', async (extra) => {
    const {status, j} = await nslocate(
      'find',
      'svc',
      '--pidfile',
      file,
      ...extra.map((a) => (a === 'HOST' ? String(hostPid) : a === 'SIGLOG' ? fs.readlinkSync(`/proc/${hostPid}/exe`) : a)),
    )
    await withEvidence(
      () => expect([status, j.state, j.pid, j.nspid]).toEqual([0, 'running', hostPid, [hostPid, victim.ready[0]]]),
      () => JSON.stringify(j, null, 1),
    )
  })

  test('reached through its own root (/proc/PID/root/...): the place identifies it, running', async () => {
    const {status, j} = await nslocate('find', 'svc', '--pidfile', `/proc/${hostPid}/root${file}`)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid]).toEqual([0, 'running', hostPid])
        expect(j.evidence.join('\n')).toContain(`the file was reached through /proc/${hostPid}/root, and it is in that process's PID namespace`)
      },
      () => JSON.stringify(j, null, 1),
    )
  })

  test('its name given as NAME: running', async () => {
    const {status, j} = await nslocate('find', 'siglog', '--pidfile', file)
    expect([status, j.state, j.pid, j.reasons]).toEqual([0, 'running', hostPid, ['unlocked_pidfile']])
  })

  test('an identity option it does not match: unknown, identity_mismatch, the values compared; signal sends nothing', async () => {
    const {status, j} = await nslocate('find', 'siglog', '--pidfile', file, '--process-name', 'nginx')
    expect([status, j.state, j.pid, j.reasons]).toEqual([4, 'unknown', null, ['unlocked_pidfile', 'identity_mismatch']])
    expect(j.evidence.join('\n')).toContain(
      `pid ${hostPid} dropped: does not match --process-name nginx: none of comm "siglog", exe "siglog", argv[0] "siglog" is --process-name nginx`,
    )
    const s = await nslocate('signal', 'siglog', 'TERM', '--pidfile', file, '--exec', '/bin/sh')
    expect([s.status, s.j.delivered, s.j.target.reasons]).toEqual([4, [], ['unlocked_pidfile', 'identity_mismatch']])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
  })

  test('signal with --process-name: the victim receives TERM from nslocate (sender outside its namespace)', async () => {
    const s = await nslocate('signal', 'svc', 'TERM', '--pidfile', file, '--process-name', 'siglog', '--wait', '--timeout', '5s')
    expect([s.status, s.j.delivered.map((d: {pid: number}) => d.pid)]).toEqual([0, [hostPid]])
    await until(() => victim.received().length > 0, 'the victim logged the signal')
    expect(victim.received()).toEqual([expect.objectContaining({pid: victim.ready[0], signo: SIGTERM, from: 0})])
  })
})

describe('a daemon that chroot()s itself after writing its pidfile', () => {
  test('is found (its mount namespace holds the file), signalled, and stale once it exits', async () => {
    const d = tempDir()
    const jail = path.join(d, 'jail')
    fs.mkdirSync(path.join(jail, 'bin'), {recursive: true})
    fs.copyFileSync('/bin/busybox', path.join(jail, 'bin', 'busybox'))
    fs.chmodSync(path.join(jail, 'bin', 'busybox'), 0o755)
    const file = path.join(d, 'jailed.pid')
    const daemon = spawnTracked(['sh', '-c', `echo $$ > ${file}; exec chroot ${jail} /bin/busybox sleep 600`], {stdio: 'ignore'})
    await until(() => fs.existsSync(`/proc/${daemon.pid}`) && fs.readlinkSync(`/proc/${daemon.pid}/root`) === jail, 'the daemon has chrooted itself')
    const {status, j} = await nslocate('find', 'jailed', '--pidfile', file)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.reasons]).toEqual([0, 'running', daemon.pid, ['unlocked_pidfile', 'name_mismatch']])
        expect(j.evidence.join('\n')).toMatch(
          new RegExp(`pid ${daemon.pid} is in mount namespace mnt:\\[[0-9]+\\], the one of this process, which holds ${file}`),
        )
        expect(j.evidence.join('\n')).toContain('comm "busybox", exe "busybox", argv[0] "busybox", script "sleep"; tried "jailed"')
      },
      () => JSON.stringify(j, null, 1),
    )
    const named = await nslocate('find', 'busybox', '--pidfile', file)
    expect([named.status, named.j.pid, named.j.reasons]).toEqual([0, daemon.pid, ['unlocked_pidfile']])
    const s = await nslocate('signal', 'jailed', 'TERM', '--pidfile', file, '--wait', '--timeout', '5s')
    expect([s.status, s.j.exited, s.j.delivered.map((x: {pid: number}) => x.pid)]).toEqual([0, true, [daemon.pid]])
    expect(isAlive(daemon.pid!)).toBe(false)
    const after = await nslocate('find', 'jailed', '--pidfile', file)
    expect([after.status, after.j.state]).toEqual([1, 'stale'])
  })
})

describe('a python3 app writing a pidfile named after the service, not after python', () => {
  test('running with name_mismatch and the names compared; a prefix of them is no name', async () => {
    const d = tempDir()
    const file = path.join(d, 'myapp.pid')
    const script = path.join(d, 'app.py')
    fs.writeFileSync(script, 'import os, sys, time\nopen(sys.argv[1], "w").write("%d\\n" % os.getpid())\ntime.sleep(600)\n')
    const app = spawnTracked(['python3', script, file], {stdio: 'ignore'})
    await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').endsWith('\n'), 'app.py wrote its pidfile')
    const {status, j} = await nslocate('find', 'myapp', '--pidfile', file)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.reasons]).toEqual([0, 'running', app.pid, ['unlocked_pidfile', 'name_mismatch']])
        expect(j.evidence.join('\n')).toMatch(/\(comm "python3", exe "python3[.0-9]*", argv\[0\] "python3", script "app\.py"; tried "myapp"\)/)
      },
      () => JSON.stringify(j, null, 1),
    )
    const byScript = await nslocate('find', 'app', '--pidfile', file)
    expect([byScript.j.pid, byScript.j.reasons]).toEqual([app.pid, ['unlocked_pidfile']])
    app.kill('SIGKILL')
  })
})

describe('a pidfile holding a thread id', () => {
  test('the thread is not a process: stale, even in this PID namespace (a thread passed the own-namespace rule before)', async () => {
    const d = tempDir()
    const file = path.join(d, 'thr.pid')
    const app = spawnTracked(
      [
        'python3',
        '-c',
        `import threading, time\ndef w():\n    open(${JSON.stringify(file)}, "w").write(str(threading.get_native_id()))\n    time.sleep(600)\nthreading.Thread(target=w, daemon=True).start()\ntime.sleep(600)\n`,
      ],
      {stdio: 'ignore'},
    )
    await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') !== '', 'the thread wrote its id')
    const tid = Number(fs.readFileSync(file, 'utf8'))
    expect(tid).not.toBe(app.pid)
    const {status, j} = await nslocate('find', 'python3', '--pidfile', file)
    await withEvidence(
      () => {
        expect([status, j.state, j.pid]).toEqual([1, 'stale', null])
        expect(j.evidence).toContain(`pid ${tid} is a thread of process ${app.pid}, not a process: not a candidate`)
      },
      () => JSON.stringify(j, null, 1),
    )
    app.kill('SIGKILL')
  })
})

describe('identity options on a locked pidfile', () => {
  test('--exec and --user hold for the service behind the lock, or nothing is reported or signalled', async () => {
    const d = tempDir()
    const file = path.join(d, 'locked.pid')
    const victimLog = path.join(tempDir(), 'signals.log')
    const victim = await spawnVictim({prefix: [process.execPath, BIN, 'run', 'locked', '--pidfile', file, '--'], log: victimLog})
    await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') !== '', 'the pid is written')
    // stopAll() ends the supervisor; the service it started outlives a SIGKILL of it: ended here.
    afterService.push(victim.ready[0])
    const siglog = fs.readlinkSync(`/proc/${fs.readFileSync(file, 'utf8')}/exe`)
    const ok = await nslocate('find', 'locked', '--pidfile', file, '--exec', siglog, '--user', '0')
    expect([ok.status, ok.j.state, ok.j.pid, ok.j.holder]).toEqual([0, 'running', victim.ready[0], victim.pid])
    const wrong = await nslocate('find', 'locked', '--pidfile', file, '--exec', '/bin/sleep')
    expect([wrong.status, wrong.j.state, wrong.j.pid, wrong.j.reasons]).toEqual([4, 'unknown', null, ['identity_mismatch']])
    expect(wrong.j.evidence.join('\n')).toContain(`MISMATCH: pid ${victim.ready[0]} does not match --exec /bin/sleep: exe "${siglog}" is not /bin/sleep`)
    const s = await nslocate('signal', 'locked', 'TERM', '--pidfile', file, '--user', '65534')
    expect([s.status, s.j.delivered]).toEqual([4, []])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
    const usage = await nslocate('find', 'locked', '--pidfile', file, '--user', 'no-such-user-here')
    expect([usage.status, usage.j.error.code]).toEqual([2, 'USAGE'])
  })
})

describe('wait --for running on a locked pidfile that is still empty', () => {
  test('reports starting, then the service once its pid is written (not the supervisor that holds the lock)', async () => {
    const d = tempDir()
    const file = path.join(d, 'slow.pid')
    const go = path.join(d, 'go')
    // flock(1) holds the lock (-o: not passed on); its child writes the service's pid once told to.
    const sup = spawnTracked(['flock', '-o', file, 'sh', '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; sleep 600 & echo $! > ${file}; wait`], {
      stdio: 'ignore',
    })
    await until(() => fs.existsSync(file) && fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(file).ino} `), 'the lock is taken')
    const early = await nslocate('find', 'slow', '--pidfile', file)
    expect([early.j.state, early.j.starting, early.j.holder, early.j.reasons]).toEqual(['running', true, sup.pid, ['empty_pidfile']])
    const short = await nslocate('wait', 'slow', '--pidfile', file, '--for', 'running', '--timeout', '300ms')
    expect([short.status, short.j.reached, short.j.target.starting]).toEqual([1, false, true])
    expect(short.j.message).toContain(`timed out waiting for it to be running (starting: ${file}, locked by pid ${sup.pid}, holds no pid)`)
    const waiting = nslocate('wait', 'slow', '--pidfile', file, '--for', 'running', '--timeout', '10s')
    await new Promise((r) => setTimeout(r, 400))
    fs.writeFileSync(go, '')
    const w = await waiting
    const service = Number(fs.readFileSync(file, 'utf8'))
    afterService.push(service)
    await withEvidence(
      () => {
        expect([w.status, w.j.reached]).toEqual([0, true])
        expect(w.j.target).toMatchObject({state: 'running', starting: false, pid: service, holder: sup.pid})
        expect(service).not.toBe(sup.pid)
      },
      () => JSON.stringify(w.j, null, 1),
    )
    sup.kill('SIGKILL')
    if (isAlive(service)) process.kill(service, 'SIGKILL')
  })
})
