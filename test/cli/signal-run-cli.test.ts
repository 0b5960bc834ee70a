import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, isAlive, killTracked, tmpdir, track, until} from '../helpers/cli'

afterEach(() => killTracked())

/** `nslocate run NAME --dir DIR -- argv` as a tracked background process. */
function runService(name: string, dir: string, argv: string[], extra: string[] = []): ChildProcess {
  // Detached: its own process group, so clean-up reaches the supervised child too. No pipes: a
  // surviving grandchild holding them would keep jest alive.
  return track(spawn(process.execPath, [BIN, 'run', name, '--dir', dir, ...extra, '--', ...argv], {stdio: 'ignore', detached: true}), {group: true})
}

/** The pidfile's content now; '' while it does not exist (run unlinks it on exit, a replacement makes it anew). */
function contentOf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

async function childPid(file: string): Promise<number> {
  let pid = 0
  await until(() => {
    const c = contentOf(file)
    if (/^[0-9]+$/.test(c)) pid = Number(c)
    return pid > 0
  }, `${file} to hold a pid`)
  return pid
}

function exitOf(child: ChildProcess): Promise<{code: number | null; signal: string | null}> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({code: child.exitCode, signal: child.signalCode})
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({code, signal})))
}

/** A TERM-ignoring sleeper: bash traps TERM and runs a child sleep in a loop. */
const STUBBORN = ['bash', '-c', 'trap "" TERM; while :; do sleep 0.2; done']

describe('nslocate run', () => {
  let dir: string
  beforeEach(() => {
    dir = tmpdir()
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  test('writes the child pid without a newline, 0644; find sees holder = supervisor, pid = child', async () => {
    const sup = runService('svc', dir, ['sleep', '60'])
    const file = path.join(dir, 'svc.pid')
    const pid = await childPid(file)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(pid))
    expect(fs.statSync(file).mode & 0o777).toBe(0o644)
    const {status, json} = await cliJson(['find', 'svc', '--dir', dir])
    expect([status, json.state, json.pid, json.holder, json.pidfile.lock]).toEqual([0, 'running', pid, sup.pid, 'posix'])
    expect(json.reasons).toEqual([])
  })

  test('a second run exits with the conflict code, leaves the file alone; the first keeps running', async () => {
    runService('svc', dir, ['sleep', '60'])
    const file = path.join(dir, 'svc.pid')
    const pid = await childPid(file)
    const second = await cli(['run', 'svc', '--dir', dir, '--conflict-exit-code', '75', '--', 'true'])
    expect(second.status).toBe(75)
    expect(second.stderr).toContain(`already running (pid ${pid})`)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(pid))
    expect(isAlive(pid)).toBe(true)
  })

  test('forwards signals and exits with the child status; 128+N when killed by N; pidfile removed', async () => {
    const hup = runService('svc', dir, ['bash', '-c', 'trap "exit 42" HUP; while :; do sleep 0.1; done'])
    await childPid(path.join(dir, 'svc.pid'))
    await new Promise((r) => setTimeout(r, 300)) // let bash install its trap
    hup.kill('SIGHUP')
    expect(await exitOf(hup)).toEqual({code: 42, signal: null})
    expect(fs.existsSync(path.join(dir, 'svc.pid'))).toBe(false)

    const term = runService('svc2', dir, ['sleep', '60'])
    await childPid(path.join(dir, 'svc2.pid'))
    term.kill('SIGTERM')
    expect(await exitOf(term)).toEqual({code: 128 + 15, signal: null})

    const status = await cli(['run', 'svc3', '--dir', dir, '--', 'bash', '-c', 'exit 3'])
    expect(status.status).toBe(3)
    const missing = await cli(['run', 'svc4', '--dir', dir, '--', '/nonexistent/prog'])
    expect(missing.status).toBe(127)
    expect(missing.stderr).toContain('cannot start /nonexistent/prog')
    expect(fs.existsSync(path.join(dir, 'svc4.pid'))).toBe(false)
  })

  test('supervisor killed with SIGKILL: the child keeps the flock lock, find names it, the next run conflicts', async () => {
    const sup = runService('svc', dir, ['sleep', '60'])
    const file = path.join(dir, 'svc.pid')
    const orphan = await childPid(file)
    await until(() => fs.readFileSync(`/proc/${orphan}/comm`, 'utf8').trim() === 'sleep', 'the child to exec sleep')
    sup.kill('SIGKILL')
    await exitOf(sup)
    try {
      const {status, json} = await cliJson(['find', 'svc', '--dir', dir])
      expect([status, json.state, json.pid, json.holder, json.pidfile.lock]).toEqual([0, 'running', orphan, orphan, 'flock'])
      const next = await cli(['run', 'svc', '--dir', dir, '--', 'true'])
      expect([next.status, next.stderr.trim()]).toEqual([122, `nslocate: svc already running (pid ${orphan})`])
    } finally {
      process.kill(orphan, 'SIGKILL')
    }
  })

  test('--replace stops the running instance (TERM, then KILL) and takes over', async () => {
    const old = runService('svc', dir, STUBBORN)
    const file = path.join(dir, 'svc.pid')
    const oldPid = await childPid(file)
    const next = runService('svc', dir, ['sleep', '60'], ['--replace', '--lock-timeout', '1s'])
    await until(() => ![String(oldPid), ''].includes(contentOf(file)), 'the replacement to write its pid', 15000)
    await exitOf(old)
    expect(isAlive(oldPid)).toBe(false)
    const {json} = await cliJson(['find', 'svc', '--dir', dir])
    expect(json.holder).toBe(next.pid)
  })

  test('refuses a symlinked pidfile path', async () => {
    fs.symlinkSync('/etc/passwd', path.join(dir, 'evil.pid'))
    const r = await cli(['run', 'evil', '--dir', dir, '--', 'true'])
    expect(r.status).toBe(123)
    expect(r.stderr).toMatch(/symbolic link/)
  })

  test('interop: flock(1) and pgrep -L see the lock; run refuses while flock(1) holds the file', async () => {
    runService('svc', dir, ['sleep', '60'])
    const file = path.join(dir, 'svc.pid')
    const pid = await childPid(file)
    expect(spawnSync('flock', ['-n', file, 'true']).status).toBe(1)
    const pg = spawnSync('pgrep', ['-L', '-F', file], {encoding: 'utf8'})
    expect([pg.status, pg.stdout.trim()]).toEqual([0, String(pid)])

    const other = path.join(dir, 'held.pid')
    // its own process group: killTracked() then kills flock(1) and the sleep it forked
    const holder = track(spawn('flock', ['-o', other, 'sleep', '60'], {stdio: 'ignore', detached: true}), {group: true})
    await until(() => fs.existsSync(other) && fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(other).ino} `), 'flock(1) to lock')
    const r = await cli(['run', 'held', '--dir', dir, '--', 'true'])
    expect(r.status).toBe(122)
    expect(r.stderr).toContain('already running')
    expect(holder.exitCode).toBeNull()
  })

  // NSLOCATE_RACE_ROUNDS=N repeats the race N times (about 10 s a round on 2 cores).
  const RACE_ROUNDS = process.env.NSLOCATE_RACE_ROUNDS ? Number(process.env.NSLOCATE_RACE_ROUNDS) : 5
  test(
    `50 concurrent starters: exactly one runs, 49 conflict, none time out (${RACE_ROUNDS} rounds)`,
    async () => {
      const rounds = RACE_ROUNDS
      const summary: string[] = []
      for (let round = 0; round < rounds; round++) {
        const name = `race${round}`
        const starters = Array.from({length: 50}, () => runService(name, dir, ['sleep', '30'], ['--conflict-exit-code', '9', '--lock-timeout', '20s']))
        // 49 must exit with 9 on their own; the winner keeps running.
        await until(() => starters.filter((s) => s.exitCode !== null).length >= 49, '49 starters to give up', 60000)
        await new Promise((r) => setTimeout(r, 200))
        const codes = starters.map((s) => s.exitCode)
        const running = starters.filter((s) => s.exitCode === null && s.signalCode === null)
        summary.push(
          `round ${round}: running ${running.length}, conflicts ${codes.filter((c) => c === 9).length}, other ${codes.filter((c) => c !== null && c !== 9).join(',') || 'none'}`,
        )
        if (running.length !== 1) console.log('RACE ' + summary.join('; '))
        expect(running).toHaveLength(1)
        expect(codes.filter((c) => c === 9)).toHaveLength(49)
        const {json} = await cliJson(['find', name, '--dir', dir])
        expect(json.holder).toBe(running[0].pid)
        await killTracked()
      }
      console.log(`50-starter race: ${summary.join('; ')}`)
    },
    Math.max(300_000, RACE_ROUNDS * 30_000),
  )

  test('the unlink race: the pidfile deleted while starters contend; never two instances', async () => {
    const file = path.join(dir, 'ul.pid')
    for (let round = 0; round < 5; round++) {
      const starters = Array.from({length: 10}, () => runService('ul', dir, ['sleep', '30'], ['--conflict-exit-code', '9']))
      // Delete the file repeatedly while they start.
      for (let i = 0; i < 20; i++) {
        try {
          fs.unlinkSync(file)
        } catch {}
        await new Promise((r) => setTimeout(r, 5))
      }
      // Settle: until no starter has exited for a second. How many end up running depends on how
      // many reached the lock while the file was being deleted, i.e. on start-up time (the fast
      // path starts in a fraction of oclif's time), so no count is assumed here.
      let exited = -1
      let still = 0
      await until(
        () => {
          const n = starters.filter((s) => s.exitCode !== null).length
          still = n === exited ? still + 1 : 0
          exited = n
          return still >= 100 // ~1 s (until polls every 10 ms)
        },
        'the starters to settle',
        30000,
      )
      const running = starters.filter((s) => s.exitCode === null)
      // Several may run (each locked a different inode, the earlier ones unlinked by the test),
      // but at most one holds the file that is at the path now: the one find reports.
      const {json} = await cliJson(['find', 'ul', '--dir', dir])
      const holdingCurrent = running.filter((s) => s.pid === json.holder)
      expect(holdingCurrent.length).toBeLessThanOrEqual(1)
      if (fs.existsSync(file)) expect(json.state).toBe('running')
      await killTracked()
      try {
        fs.unlinkSync(file)
      } catch {}
    }
  }, 120000)
})

describe('nslocate signal and wait', () => {
  let dir: string
  beforeEach(() => {
    dir = tmpdir()
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  test('TERM is delivered through a pidfd; --json lists delivered with nspid and the target', async () => {
    runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    const {status, json} = await cliJson(['signal', 'svc', 'TERM', '--dir', dir, '--wait', '--timeout', '5s'])
    expect(status).toBe(0)
    expect(json).toMatchObject({name: 'svc', signal: 'TERM', scope: 'main', delivered: [{pid, nspid: [pid], signal: 'TERM'}], skipped: [], exited: true})
    expect(json.target.pid).toBe(pid)
    expect(isAlive(pid)).toBe(false)
  })

  test.each(['TERM', 'SIGTERM', 'term', '15'])('accepts %s', async (sig) => {
    runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    const r = await cliJson(['signal', 'svc', sig, '--dir', dir, '--wait'])
    expect([r.status, r.json.signal, isAlive(pid)]).toEqual([0, 'TERM', false])
  })

  test('signal 0 probes and sends nothing', async () => {
    runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    const r = await cli(['signal', 'svc', '0', '--dir', dir])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('is there')
    expect(isAlive(pid)).toBe(true)
  })

  test('bad signal: exit 2 saying what a SIGNAL may be', async () => {
    const r = await cli(['signal', 'svc', 'BOGUS', '--dir', dir])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^nslocate: invalid signal "BOGUS": use TERM, SIGTERM, term, a number \(15\), RTMIN\+N, RTMAX-N, or 0\n/)
  })

  test.each(['abc', '-1s', '5x'])('bad duration %j: exit 2', async (d) => {
    const r = await cli(['signal', 'svc', 'TERM', '--dir', dir, '--wait', '--timeout', d])
    expect(r.status).toBe(2)
  })

  test.each(['TERM/x', 'TERM/30/KILL', '30/TERM', '/'])('bad schedule %j: exit 2', async (s) => {
    const r = await cli(['signal', 'svc', 'TERM', '--dir', dir, '--retry', s])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/schedule|signal|duration/)
  })

  test('a schedule that does not start with SIGNAL is a usage error', async () => {
    const r = await cli(['signal', 'svc', 'HUP', '--dir', dir, '--retry', 'TERM/1/KILL/1'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/starts with TERM, but SIGNAL is HUP/)
  })

  test('with --json, a parse error is a USAGE error object and exit 2', async () => {
    const r = await cli(['signal', 'svc', 'TERM', '--json', '--bogus'])
    expect(r.status).toBe(2)
    expect(JSON.parse(r.stdout)).toEqual({error: {code: 'USAGE', message: 'unknown flag --bogus'}})
  })

  test('a symlinked, locked pidfile accepted with --allow-unsafe-pidfile is re-verified through the link and signalled', async () => {
    runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    fs.symlinkSync(path.join(dir, 'svc.pid'), path.join(dir, 'link.pid'))
    const refused = await cliJson(['signal', 'link', 'TERM', '--dir', dir])
    expect([refused.status, refused.json.delivered]).toEqual([4, []])
    const r = await cliJson(['signal', 'link', 'TERM', '--dir', dir, '--allow-unsafe-pidfile', '--wait'])
    expect([r.status, r.json.delivered.map((d: any) => d.pid)]).toEqual([0, [pid]])
  })

  test('not running: exit 7, nothing signalled', async () => {
    const none = await cliJson(['signal', 'nothing', 'TERM', '--dir', dir], {env: {NSLOCATE_RUNTIME_DIR: dir}})
    expect([none.status, none.json.delivered]).toEqual([7, []])
    fs.writeFileSync(path.join(dir, 'stale.pid'), '999999')
    const stale = await cliJson(['signal', 'stale', 'TERM', '--dir', dir])
    expect([stale.status, stale.json.delivered]).toEqual([7, []])
  })

  test('--dry-run names the target and sends nothing', async () => {
    runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    const r = await cliJson(['signal', 'svc', 'KILL', '--dir', dir, '--dry-run'])
    expect([r.status, r.json.dry_run, r.json.delivered, r.json.would_deliver]).toEqual([0, true, [], [{pid, pidfd_id: expect.any(Number), nspid: [pid]}]])
    expect(isAlive(pid)).toBe(true)
  })

  test('--retry TERM/1/KILL/1 on a process that ignores TERM: KILLed, exit 0', async () => {
    runService('svc', dir, STUBBORN)
    const pid = await childPid(path.join(dir, 'svc.pid'))
    await new Promise((r) => setTimeout(r, 300))
    const r = await cliJson(['signal', 'svc', 'TERM', '--dir', dir, '--retry', 'TERM/1/KILL/1'])
    expect(r.status).toBe(0)
    expect(r.json.delivered.map((d: any) => d.signal)).toEqual(['TERM', 'KILL'])
    expect(r.json.exited).toBe(true)
    expect(r.json.waited_ms).toBeGreaterThanOrEqual(900)
    expect(isAlive(pid)).toBe(false)
  })

  test('--wait with a short timeout on a TERM-ignoring process: exit 1, still running', async () => {
    runService('svc', dir, STUBBORN)
    const pid = await childPid(path.join(dir, 'svc.pid'))
    await new Promise((r) => setTimeout(r, 300))
    const r = await cliJson(['signal', 'svc', 'TERM', '--dir', dir, '--wait', '--timeout', '300ms'])
    expect([r.status, r.json.exited]).toEqual([1, false])
    expect(isAlive(pid)).toBe(true)
  })

  test('--retry on a process this user may not signal: exit 4 with a clear message, nothing delivered', async () => {
    fs.chmodSync(dir, 0o755)
    runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'signal', 'svc', 'TERM', '--dir', dir, '--retry', 'TERM/1/KILL/1', '--json'],
      {encoding: 'utf8', env: {...process.env, HOME: '/tmp'}, timeout: 20000},
    )
    const j = JSON.parse(r.stdout)
    expect([r.status, j.delivered, j.skipped]).toEqual([4, [], [{pid, pidfd_id: expect.any(Number), reason: 'permission'}]])
    expect(j.message).toMatch(/not permitted to signal .*CAP_KILL/)
    expect(isAlive(pid)).toBe(true)
  })

  test("never signals nslocate's own ancestors or pid 1, even when the pidfile names them", async () => {
    fs.writeFileSync(path.join(dir, 'node.pid'), String(process.pid))
    const r = await cliJson(['signal', 'node', 'TERM', '--dir', dir, '--allow-unsafe-pidfile'])
    expect(r.status).toBe(4)
    expect(r.json.delivered).toEqual([])
    expect(r.json.message).toMatch(/ancestor/)
  })

  test('--scope group reaches the process group; a setsid escapee is reached only by tree', async () => {
    const script = 'setsid sleep 60 & sleep 60 & wait'
    const sup = runService('grp', dir, ['bash', '-c', script])
    const bashPid = await childPid(path.join(dir, 'grp.pid'))
    await until(
      () =>
        spawnSync('pgrep', ['-P', String(bashPid)])
          .stdout.toString()
          .trim()
          .split('\n').length >= 2,
      'two children',
    )
    const kids = spawnSync('pgrep', ['-P', String(bashPid)], {encoding: 'utf8'})
      .stdout.trim()
      .split('\n')
      .map(Number)
    const group = await cliJson(['signal', 'grp', '0', '--dir', dir, '--scope', 'group', '--dry-run'])
    const tree = await cliJson(['signal', 'grp', '0', '--dir', dir, '--scope', 'tree', '--dry-run'])
    const groupPids = group.json.would_deliver.map((d: any) => d.pid).sort()
    const treePids = tree.json.would_deliver.map((d: any) => d.pid).sort()
    expect(treePids).toEqual([bashPid, ...kids].sort())
    // bash -c in `nslocate run` is its own group leader? No: it inherits the supervisor's group.
    const escapee = kids.find(
      (k) =>
        fs.readFileSync(`/proc/${k}/stat`, 'utf8').split(') ')[1].split(' ')[3] !==
        fs.readFileSync(`/proc/${bashPid}/stat`, 'utf8').split(') ')[1].split(' ')[3],
    )
    expect(escapee).toBeDefined()
    expect(groupPids).not.toContain(escapee)
    expect(groupPids).toContain(bashPid)
    const real = await cliJson(['signal', 'grp', 'KILL', '--dir', dir, '--scope', 'tree', '--wait', '--timeout', '5s'])
    expect(real.status).toBe(0)
    for (const p of [bashPid, ...kids]) expect(isAlive(p)).toBe(false)
    await exitOf(sup)
  })

  test('wait --for stopped returns promptly after the exit; --for running waits for a later start', async () => {
    const sup = runService('svc', dir, ['sleep', '60'])
    const pid = await childPid(path.join(dir, 'svc.pid'))
    const waiter = cliJson(['wait', 'svc', '--for', 'stopped', '--dir', dir, '--timeout', '20s'])
    await new Promise((r) => setTimeout(r, 1500)) // the waiter is pinned on the pidfd by now
    const killedAt = Date.now()
    process.kill(pid, 'SIGKILL')
    const w = await waiter
    const lag = Date.now() - killedAt
    expect([w.status, w.json.reached]).toEqual([0, true])
    expect(lag).toBeLessThan(1500) // includes the CLI's own exit; the in-process figure is in bench/
    await exitOf(sup)

    const later = cliJson(['wait', 'late', '--for', 'running', '--dir', dir, '--timeout', '20s'])
    await new Promise((r) => setTimeout(r, 800))
    runService('late', dir, ['sleep', '60'])
    const r = await later
    expect([r.status, r.json.reached, r.json.target.state]).toEqual([0, true, 'running'])
  })

  test('wait times out with exit 1', async () => {
    const r = await cliJson(['wait', 'never', '--for', 'running', '--dir', dir, '--timeout', '300ms'], {env: {NSLOCATE_RUNTIME_DIR: dir}})
    expect([r.status, r.json.reached]).toEqual([1, false])
  })
})
