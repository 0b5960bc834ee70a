import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, dumpEvidence, killTracked, tmpdir, track, until} from '../helpers/cli'

/** A service that takes a POSIX lock (Python's fcntl.lockf), writes its pid, and sleeps. */
function posixService(file: string, opts: {ignoreTerm?: boolean} = {}): ChildProcess {
  const code = `
import fcntl, os, signal, time
${opts.ignoreTerm ? 'signal.signal(signal.SIGTERM, signal.SIG_IGN)' : ''}
f = open(${JSON.stringify(file)}, 'a+')
fcntl.lockf(f, fcntl.LOCK_EX)
f.truncate(0); f.write(str(os.getpid())); f.flush()
print('ready', flush=True)
time.sleep(120)`
  return track(spawn('python3', ['-c', code], {stdio: ['ignore', 'pipe', 'inherit']}))
}

async function ready(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (c) => reject(new Error(`service exited early (${c})`)))
  })
}

afterEach(() => killTracked())

describe('nslocate help', () => {
  test('--help lists the commands', async () => {
    const r = await cli(['--help'])
    expect(r.status).toBe(0)
    for (const c of ['find', 'list', 'signal', 'wait', 'run']) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\s`, 'm'))
  })
  test('help find shows flags and exit statuses', async () => {
    const r = await cli(['help', 'find'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('--pidfile')
    expect(r.stdout).toContain('--allow-unsafe-pidfile')
    expect(r.stdout).toMatch(/3 not running/)
  })
})

describe('nslocate find (same namespace, real locks)', () => {
  let dir: string
  beforeEach(() => {
    dir = tmpdir()
  })
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  test('POSIX-locked pidfile: running, exit 0, every JSON field', async () => {
    const svc = posixService(path.join(dir, 'web.pid'))
    await ready(svc)
    const {status, json} = await cliJson(['find', 'web', '--dir', dir])
    expect({status, state: json.state, pid: json.pid, holder: json.holder}).toEqual({status: 0, state: 'running', pid: svc.pid, holder: svc.pid})
    expect(json).toMatchObject({
      name: 'web',
      visible: true,
      nspid: [svc.pid],
      pidns: expect.stringMatching(/^pid:\[\d+\]$/),
      pidfile: {path: path.join(dir, 'web.pid'), pid: svc.pid, lock: 'posix', uid: 0, mode: '0644'},
      process: {comm: 'python3', uid: 0, ppid: process.pid, started: expect.stringMatching(/^\d{4}-\d\d-\d\dT/)},
      container: null,
      reasons: [],
    })
    expect(json.process.cmdline[0]).toMatch(/python3/)
    expect(json.evidence.join('\n')).toContain('F_GETLK')
  })

  test('text output names pid, lock and evidence; --quiet prints nothing', async () => {
    const svc = posixService(path.join(dir, 'web.pid'))
    await ready(svc)
    const text = await cli(['find', 'web', '--dir', dir])
    expect(text.status).toBe(0)
    expect(text.stdout).toContain(`web: running, pid ${svc.pid}`)
    expect(text.stdout).toContain('posix lock')
    expect(text.stdout).toContain('evidence')
    const quiet = await cli(['find', 'web', '--dir', dir, '--quiet'])
    expect([quiet.status, quiet.stdout, quiet.stderr]).toEqual([0, '', ''])
  })

  test('stale after kill -9: exit 1, state stale, nothing identified', async () => {
    const svc = posixService(path.join(dir, 'web.pid'))
    await ready(svc)
    svc.kill('SIGKILL')
    await new Promise((r) => svc.once('exit', r))
    const {status, json} = await cliJson(['find', 'web', '--dir', dir])
    expect(status).toBe(1)
    expect(json.state).toBe('stale')
    expect(json.pid).toBeNull()
    expect(json.reasons).toEqual(expect.arrayContaining(['unlocked_pidfile', 'stale_pidfile']))
  })

  test('no pidfile: exit 3', async () => {
    const {status, json} = await cliJson(['find', 'absent', '--dir', dir], {env: {NSLOCATE_RUNTIME_DIR: dir}})
    expect(status).toBe(3)
    expect(json).toMatchObject({state: 'stopped', pidfile: null, reasons: ['no_pidfile']})
  })

  test.each(['../etc', '.', '..', '-x', 'a/b', 'a b', ''])('bad name %j: exit 2 naming the rule', async (name) => {
    const r = await cli(['find', name])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^nslocate: (invalid service name|missing argument NAME|unknown flag -x)/)
  })

  test.each([
    ['', 'empty_pidfile'],
    ['hello\n', 'garbage_pidfile'],
    ['-1', 'invalid_pid'],
    ['0', 'invalid_pid'],
    ['99999999', 'invalid_pid'],
  ])('unlocked pidfile holding %j: stale (exit 1) with reason %s', async (content, reason) => {
    fs.writeFileSync(path.join(dir, 'x.pid'), content)
    const {status, json} = await cliJson(['find', 'x', '--dir', dir])
    expect(status).toBe(1)
    expect(json.reasons).toContain(reason)
    expect(json.pidfile.pid).toBeNull()
  })

  test('unlocked pidfile of a live process with a matching name: running; after kill: stale', async () => {
    const sleeper = track(spawn('sleep', ['60'], {stdio: 'ignore'}))
    fs.writeFileSync(path.join(dir, 'sleep.pid'), `${sleeper.pid}\n`)
    const r1 = await cliJson(['find', 'sleep', '--dir', dir])
    expect([r1.status, r1.json.state, r1.json.pid]).toEqual([0, 'running', sleeper.pid])
    expect(r1.json.reasons).toEqual(['unlocked_pidfile'])
    sleeper.kill('SIGKILL')
    await new Promise((r) => sleeper.once('exit', r))
    const r2 = await cliJson(['find', 'sleep', '--dir', dir])
    expect([r2.status, r2.json.state]).toEqual([1, 'stale'])
  })

  // Issue 11: this used to be "stale", which is what made running python/postgres/gunicorn services
  // look dead. In this PID namespace, a live process that sees the file and started before it was
  // written is the service whatever its name; --process-name (or --exec, --user) says otherwise.
  test('unlocked pidfile naming a process of another name here: running with name_mismatch and the names compared; --process-name refuses it', async () => {
    const sleeper = track(spawn('sleep', ['60'], {stdio: 'ignore'}))
    await until(() => fs.readFileSync(`/proc/${sleeper.pid}/comm`, 'utf8') === 'sleep\n', 'sleep has started')
    fs.writeFileSync(path.join(dir, 'nginx.pid'), String(sleeper.pid))
    const {status, json} = await cliJson(['find', 'nginx', '--dir', dir])
    expect([status, json.state, json.pid, json.reasons]).toEqual([0, 'running', sleeper.pid, ['unlocked_pidfile', 'name_mismatch']])
    expect(json.evidence.join('\n')).toContain('it is the service although its name differs (comm "sleep", exe "sleep", argv[0] "sleep"; tried "nginx")')
    const strict = await cliJson(['find', 'nginx', '--dir', dir, '--process-name', 'nginx'])
    expect([strict.status, strict.json.state, strict.json.pid, strict.json.reasons]).toEqual([4, 'unknown', null, ['unlocked_pidfile', 'identity_mismatch']])
  })

  test('unlocked pidfile written before the process started: pid_reused', async () => {
    const file = path.join(dir, 'sleep.pid')
    fs.writeFileSync(file, '1')
    const sleeper = track(spawn('sleep', ['60'], {stdio: 'ignore'}))
    fs.writeFileSync(file, String(sleeper.pid))
    const old = new Date(Date.now() - 3600_000)
    fs.utimesSync(file, old, old)
    const {status, json} = await cliJson(['find', 'sleep', '--dir', dir])
    expect([status, json.state]).toEqual([1, 'stale'])
    expect(json.reasons).toContain('pid_reused')
  })

  describe('unsafe pidfiles are refused (exit 4) unless --allow-unsafe-pidfile', () => {
    test('world-writable', async () => {
      const file = path.join(dir, 'web.pid')
      const svc = posixService(file)
      await ready(svc)
      fs.chmodSync(file, 0o666)
      const r = await cliJson(['find', 'web', '--dir', dir])
      expect([r.status, r.json.state, r.json.pid]).toEqual([4, 'unknown', null])
      expect(r.json.reasons).toContain('world_writable')
      const ok = await cliJson(['find', 'web', '--dir', dir, '--allow-unsafe-pidfile'])
      expect([ok.status, ok.json.pid]).toEqual([0, svc.pid])
      expect(ok.json.evidence.join('\n')).toMatch(/WARNING: .*world-writable/)
    })

    test('symlink', async () => {
      const real = path.join(dir, 'real.pid')
      const svc = posixService(real)
      await ready(svc)
      fs.symlinkSync(real, path.join(dir, 'link.pid'))
      const r = await cliJson(['find', 'link', '--dir', dir])
      expect([r.status, r.json.state]).toEqual([4, 'unknown'])
      expect(r.json.reasons).toContain('symlink')
      const ok = await cliJson(['find', 'link', '--dir', dir, '--allow-unsafe-pidfile'])
      expect([ok.status, ok.json.pid]).toEqual([0, svc.pid])
    })

    test('world-writable directory without the sticky bit', async () => {
      const sub = path.join(dir, 'open')
      fs.mkdirSync(sub)
      fs.chmodSync(sub, 0o777)
      const svc = posixService(path.join(sub, 'web.pid'))
      await ready(svc)
      const r = await cliJson(['find', 'web', '--dir', sub])
      expect(r.status).toBe(4)
      expect(r.json.reasons).toContain('unsafe_directory')
      fs.chmodSync(sub, 0o1777)
      const sticky = await cliJson(['find', 'web', '--dir', sub])
      expect([sticky.status, sticky.json.pid]).toEqual([0, svc.pid])
    })

    test('as root: a pidfile owned by another user naming a root process (CVE-2018-16888)', async () => {
      const file = path.join(dir, 'web.pid')
      const svc = posixService(file)
      await ready(svc)
      fs.chownSync(file, 1000, 1000)
      const r = await cliJson(['find', 'web', '--dir', dir])
      expect([r.status, r.json.state]).toEqual([4, 'unknown'])
      expect(r.json.reasons).toContain('unsafe_owner')
      expect(r.json.evidence.join('\n')).toMatch(/owned by uid 1000/)
    })
  })

  test('flock(1) holder: lock kind flock, holder found by fd scan', async () => {
    const file = path.join(dir, 'fl.pid')
    // -o: flock(1) keeps the lock itself and does not pass the fd to sleep. Its own process group:
    // killTracked() kills flock AND its sleep (flock forks it; killing flock alone left sleep behind).
    const holder = track(spawn('flock', ['-o', file, 'sleep', '60'], {stdio: 'ignore', detached: true}), {group: true})
    await until(() => fs.existsSync(file) && fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(file).ino} `), 'flock taken')
    const {status, json} = await cliJson(['find', 'fl', '--dir', dir])
    expect(status).toBe(0)
    expect(json.pidfile.lock).toBe('flock')
    expect([json.holder, json.pid]).toEqual([holder.pid, holder.pid])
    expect(json.reasons).toContain('empty_pidfile')
  })

  test('as an unprivileged user, a root flock holder: running, holder not named, permission_denied (not holder_not_visible)', async () => {
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, 'fl.pid')
    track(spawn('flock', ['-o', file, 'sleep', '60'], {stdio: 'ignore', detached: true}), {group: true})
    await until(() => fs.existsSync(file) && fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(file).ino} `), 'flock taken')
    fs.chmodSync(file, 0o644)
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], {
        encoding: 'utf8',
        env: {...process.env, HOME: '/tmp'},
        timeout: 20000,
      })
    const r = asNobody(['find', 'fl', '--dir', dir, '--json'])
    const j = JSON.parse(r.stdout)
    expect([r.status, j.state, j.pid, j.visible]).toEqual([0, 'running', null, false])
    expect(j.reasons).toContain('permission_denied')
    expect(j.reasons).not.toContain('holder_not_visible')
    expect(j.evidence.join('\n')).toMatch(/CAP_SYS_PTRACE/)
    const s = asNobody(['signal', 'fl', 'TERM', '--dir', dir])
    expect(s.status).toBe(4)
    expect(s.stderr).toMatch(/^nslocate: fl: cannot name its lock holder \(may not read other processes' fds\); nothing was signalled\n/)
  })

  test('a symlink to a flock-held pidfile: the fd scan still names the holder (with --allow-unsafe-pidfile)', async () => {
    const file = path.join(dir, 'real.pid')
    const holder = track(spawn('flock', ['-o', file, 'sleep', '60'], {stdio: 'ignore', detached: true}), {group: true})
    await until(() => fs.existsSync(file) && fs.readFileSync('/proc/locks', 'utf8').includes(`:${fs.statSync(file).ino} `), 'flock taken')
    fs.symlinkSync(file, path.join(dir, 'ln.pid'))
    const {status, json} = await cliJson(['find', 'ln', '--dir', dir, '--allow-unsafe-pidfile'])
    expect([status, json.pidfile.lock, json.holder]).toEqual([0, 'flock', holder.pid])
  })

  test('list: one row per *.pid with its state; exit 0', async () => {
    const svc = posixService(path.join(dir, 'web.pid'))
    await ready(svc)
    fs.writeFileSync(path.join(dir, 'old.pid'), '999999')
    fs.writeFileSync(path.join(dir, 'junk.pid'), 'junk')
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a pidfile')
    const {status, json} = await cliJson(['list', '--dir', dir])
    expect(status).toBe(0)
    const byName = Object.fromEntries(json.map((r: any) => [r.name, r.state]))
    expect(byName).toEqual({junk: 'stale', old: 'stale', web: 'running'})
    const text = await cli(['list', '--dir', dir])
    expect(text.stdout).toMatch(/^NAME\s+STATE\s+PID/m)
    expect(text.stdout).toMatch(new RegExp(`^web\\s+running\\s+${svc.pid}`, 'm'))
  })

  test('failure prints the evidence it saw', () => {
    expect(dumpEvidence([process.pid])).toContain('/proc/locks:')
  })
})

describe('find start-up fast path', () => {
  test.each([[['--json']], [[]], [['--quiet']], [['--json', '--allow-unsafe-pidfile']]])('prints the same as the oclif path for %j', async (extra) => {
    const dir = tmpdir()
    try {
      const svc = posixService(path.join(dir, 'web.pid'))
      await ready(svc)
      fs.writeFileSync(path.join(dir, 'stale.pid'), '999999')
      for (const name of ['web', 'stale', 'absent']) {
        const fast = await cli(['find', name, '--dir', dir, ...extra])
        const slow = await cli(['find', name, '--dir', dir, ...extra], {env: {NSLOCATE_NO_FAST_PATH: '1'}})
        const strip = (s: string) => s.replace(/"started": "[^"]+"/g, '').replace(/started \S+/g, '')
        expect({status: fast.status, out: strip(fast.stdout)}).toEqual({status: slow.status, out: strip(slow.stdout)})
      }
    } finally {
      await killTracked()
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
