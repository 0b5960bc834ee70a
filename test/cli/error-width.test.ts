/**
 * The inventory of errors (issue 21, deliverable 3; review finding 6): as many distinct error paths
 * of the built CLI as can be driven here, on the fast path and on oclif's, each one `nslocate: `
 * line and at most one hint line, at most 100 columns apart from the values it quotes (a path, a
 * socket address, the value given), no control character. The commonest failures of signal (the
 * target ignores the signal, still running after --wait, no handler) against a real service that
 * ignores TERM and USR1.
 */
import {spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, killTracked, tmpdir, track, until} from '../helpers/cli'
import {cliAs} from '../helpers/as-user'
import {expectOneError} from '../helpers/one-error'
import {startTime} from '../helpers/proc'
import {stopAll, track as trackExtra, waitGone} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

const PATHS = [
  ['fast path', {}],
  ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
] as const

let svc: string
let pid: number
beforeAll(async () => {
  svc = tmpdir()
  track(spawn(process.execPath, [BIN, 'run', 'x', '--dir', svc, '--', 'sh', '-c', 'trap "" TERM USR1; exec sleep 600'], {stdio: 'ignore', detached: true}), {
    group: true,
  })
  await until(
    () => {
      try {
        pid = Number(fs.readFileSync(path.join(svc, 'x.pid'), 'utf8'))
        const ign = /^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
        return ign !== null && ((BigInt(`0x${ign[1]}`) >> 14n) & 1n) === 1n
      } catch {
        return false
      }
    },
    'the service to ignore TERM',
    30_000,
  )
})
afterAll(() => killTracked())

/** [argv, exit status, values the lines may quote, env]: DIR stands for the service's directory. */
const CASES: Array<[string[], number, string[]?, Record<string, string>?]> = [
  [['fnd', 'x'], 2],
  [['find'], 2],
  [['signal', 'web'], 2],
  [['signal'], 2],
  [['find', 'web', '--pidfil', '/run/web.pid'], 2],
  [['find', 'web', 'extra'], 2],
  [['list', 'extra', 'more'], 2],
  [['containers', 'x'], 2],
  [['help', 'list', 'extra'], 2],
  [['-q', 'find', 'x'], 2],
  [['--json', 'find', 'x'], 2],
  [['find', 'a/b'], 2],
  [['find', 'web', '--root-pid', '0'], 2],
  [['find', 'web', '--root-pid', '99999999'], 2, ['99999999']],
  [['find', 'web', '--pidfile', '/run/web.pid', '--dir', '/run'], 2],
  [['find', 'web', '--pidfile', ''], 2],
  [['find', 'web', '--container', ''], 2],
  [['wait', 'web', '--for', 'bogus'], 2],
  [['wait', 'web', '--pid', '1:2', '--for', 'running'], 2],
  [['signal', 'web', 'BOGUS'], 2],
  [['signal', 'web', 'TREM'], 2],
  [['signal', 'web', '0', '--wait'], 2],
  [['signal', 'web', '0', '--retry', 'TERM/5/KILL/5'], 2],
  [['signal', 'web', 'TERM', '--scope', 'bogus'], 2],
  [['signal', 'web', 'TERM', '--retry', 'TERM/abc'], 2, ['"TERM/abc"']],
  [['signal', 'web', 'TERM', '--retry', 'abc/4'], 2, ['"abc/4"']],
  [['signal', 'web', 'TERM', '--retry', 'TERM/5/KILL'], 2, ['"TERM/5/KILL"']],
  [['signal', 'web', 'TERM', '--retry', 'TERM/999999999h'], 2, ['"TERM/999999999h"', '"999999999h"']],
  [['signal', 'web', 'TERM', '--retry', 'TERM'], 2],
  [['signal', 'web', 'TERM', '--retry', 'TERM//5'], 2],
  [['signal', 'web', 'TERM', '--retry', 'TERM/5/BOGUS/5'], 2, ['"TERM/5/BOGUS/5"', '"BOGUS"']],
  [['signal', 'web', 'TERM', '--wait', '--timeout', '999999999h'], 2, ['999999999h']],
  [['signal', 'web', 'TERM', '--pid', 'abc'], 2],
  [['signal', 'web', 'TERM', '--pid', '1'], 2],
  [['signal', 'web', 'TERM', '--pid', '1:1'], 4],
  [['signal', 'web', 'TERM', '--pid', '1:1', '--dir', '/run'], 2],
  [['run', 'web'], 2],
  [['run', '--dir', '/nonexistent-b3', '--', 'sleep', '1'], 2],
  [['run', 'web', '--pidfile', '/', '--', 'true'], 2],
  [['run', 'web', '--dir', '/etc/passwd', '--', 'true'], 125, ['/etc/passwd']],
  [['serve', 'web', '--listen', '1.2.3.4:99999'], 2, ['"1.2.3.4:99999"']],
  [['serve', 'a', 'b', '--pidfile', '/x'], 2],
  [['reload', 'web'], 2],
  [['completion', 'fish'], 2],
  [['completion', 'bash', 'x'], 2],
  // the engine's socket: its address is a value quoted as given
  [['containers'], 4, ['unix:///nonexistent-b3/docker.sock'], {DOCKER_HOST: 'unix:///nonexistent-b3/docker.sock'}],
  [['find', 'web', '--container', 'app'], 4, ['tcp://127.0.0.1:1'], {DOCKER_HOST: 'tcp://127.0.0.1:1'}],
  // a real service that ignores TERM and USR1
  [['signal', 'x', 'TERM', '--dir', 'DIR'], 1, ['DIR']],
  [['signal', 'x', 'TERM', '--wait', '--timeout', '1s', '--dir', 'DIR'], 1, ['DIR']],
  [['signal', 'x', 'USR1', '--require-handler', '--dir', 'DIR'], 1, ['DIR']],
  [['wait', 'x', '--timeout', '1s', '--dir', 'DIR'], 1, ['DIR']],
  [['signal', 'absent', 'TERM', '--dir', 'DIR'], 7, ['DIR']],
  [['run', 'x', '--dir', 'DIR', '--', 'true'], 122, ['DIR']],
]

describe.each(PATHS)('every error: one line of at most 100 columns (but the values it quotes), at most one hint (%s)', (_which, pathEnv) => {
  test.each(CASES)('%j exits %d', async (argv, status, values = [], env = {}) => {
    const real = argv.map((a) => (a === 'DIR' ? svc : a))
    const r = await cli(real, {env: {...pathEnv, ...env}})
    const shown = values.flatMap((v) => (v === 'DIR' ? [svc, path.join(svc, 'x.pid')] : [v]))
    expect({argv, status: r.status, stdout: r.stdout}).toEqual({argv, status, stdout: ''})
    expectOneError(r.stderr, shown)
  })
})

/**
 * Container runtimes (src/runtime), on the machine's own Docker: a container that does not exist
 * is said once ("no container X (Docker)", not the engine's echo of it); with a second runtime
 * whose socket (root's, bound and never listened on) refuses connections, nothing settles it:
 * "cannot tell", the runtimes counted and named on the line, each one's words in --json only.
 */
describe.each(PATHS)('container runtimes: one short line, the runtimes\u2019 words in --json only (%s)', (_which, pathEnv) => {
  const missing = `nsl-b3-nosuch-${process.pid}`
  const clean = {DOCKER_HOST: undefined, CONTAINER_HOST: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined, XDG_RUNTIME_DIR: undefined}
  let refusing: string
  beforeAll(async () => {
    refusing = `unix://${path.join(tmpdir('nslocate-refusing-'), 'podman.sock')}`
    const bind = spawn('/usr/bin/python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', refusing.slice('unix://'.length)])
    expect(await new Promise((resolve) => bind.once('exit', resolve))).toBe(0)
  })

  test('signal: a Docker container that does not exist is "no container X (Docker)", said once (exit 7)', async () => {
    const r = await cli(['signal', 'web', 'TERM', '--container', missing], {env: {...clean, ...pathEnv}})
    expect({status: r.status, stdout: r.stdout}).toEqual({status: 7, stdout: ''})
    expect(expectOneError(r.stderr, [missing])).toEqual([
      `nslocate: web is not running: no container ${missing} (Docker); nothing was signalled`,
      `hint: see where it looked: nslocate find web --container ${missing}`,
    ])
  })

  test('wait --for running: the same fact in its timeout line (exit 1)', async () => {
    const r = await cli(['wait', 'web', '--container', missing, '--for', 'running', '--timeout', '300ms'], {env: {...clean, ...pathEnv}})
    expect({status: r.status, stdout: r.stdout}).toEqual({status: 1, stdout: ''})
    expect(expectOneError(r.stderr, [missing])[0]).toBe(`nslocate: web: timed out after 300 ms waiting for it to be running (no container ${missing} (Docker))`)
  })

  test('find, Podman refusing (CONTAINER_HOST) and Docker not knowing it: cannot tell (exit 4), one line and the hint', async () => {
    const env = {...clean, CONTAINER_HOST: refusing, ...pathEnv}
    const r = await cli(['find', 'web', '--container', missing], {env})
    expect({status: r.status, stdout: r.stdout}).toEqual({status: 4, stdout: ''})
    expect(expectOneError(r.stderr, [missing])).toEqual([
      `nslocate: cannot tell whether container ${missing} runs: 1 could not tell (Podman), 1 did not know it`,
      'hint: fix the runtime that failed, or name the one that has the container (KIND://REF or --runtime)',
    ])
    const j = await cli(['find', 'web', '--container', missing, '--json'], {env})
    expect(JSON.parse(j.stdout).error).toMatchObject({
      code: 'RUNTIME',
      failed: [{runtime: `Podman at ${refusing} (CONTAINER_HOST; a socket owned by root)`, said: 'cannot be reached (ECONNREFUSED)'}],
      unknownTo: ['Docker at unix:///var/run/docker.sock (a socket owned by root)'],
    })
  })
})

/**
 * Errors whose advice used to be part of one long line (review of issue 21: the library wrote
 * "FACT; what to do" without the `advice` beside it, so nothing could be cut off): each is
 * triggered for real, and prints its fact on the line and its advice as the hint, exactly, with the
 * exit status run (or the command) always had. test/unit/error-width.test.ts holds every error of
 * src/** to the rule; these are the ones a user meets in `run` and on the command line.
 */
describe.each(PATHS)('errors that carried their advice in one long line: the fact, then the hint (%s)', (_which, pathEnv) => {
  const env = {...pathEnv}
  /** stderr's lines, checked as every error's (one line and one hint, 100 columns but for `values`), and the status. */
  const lines = async (argv: string[], values: string[], extra: Record<string, string> = {}) => {
    const r = await cli(argv, {env: {...env, ...extra}})
    expect(r.stdout).toBe('')
    return [r.status, expectOneError(r.stderr, values)]
  }

  test('run --dir a directory every user may write (mode 777): 123', async () => {
    const dir = path.join(tmpdir(), 'open')
    fs.mkdirSync(dir)
    fs.chmodSync(dir, 0o777)
    expect(await lines(['run', 'web', '--dir', dir, '--', 'true'], [dir])).toEqual([
      123,
      [
        `nslocate: refusing to write a pidfile in ${dir}: it may be written by every user (mode 777)`,
        'hint: use a directory owned by root or by you that no one else may write',
      ],
    ])
    expect(fs.readdirSync(dir)).toEqual([])
  })

  test('run --dir a directory another group may write (mode 775, group 1): 123', async () => {
    const dir = path.join(tmpdir(), 'group')
    fs.mkdirSync(dir)
    fs.chownSync(dir, 0, 1)
    fs.chmodSync(dir, 0o775)
    expect(await lines(['run', 'web', '--dir', dir, '--', 'true'], [dir])).toEqual([
      123,
      [
        `nslocate: refusing to write a pidfile in ${dir}: it may be written by group 1 (mode 775)`,
        'hint: use a directory owned by root or by you that no one else may write',
      ],
    ])
  })

  test('run --dir through a symbolic link another user owns (uid 1): 123, nothing followed', async () => {
    const top = tmpdir()
    fs.mkdirSync(path.join(top, 'real'))
    const link = path.join(top, 'link')
    fs.symlinkSync(path.join(top, 'real'), link)
    fs.lchownSync(link, 1, 1)
    expect(await lines(['run', 'web', '--dir', link, '--', 'true'], [link])).toEqual([
      123,
      [`nslocate: ${link} is a symbolic link owned by uid 1; refusing to follow it`, 'hint: use a directory owned by root or by you'],
    ])
    expect(fs.readdirSync(path.join(top, 'real'))).toEqual([])
  })

  test('run --pidfile a file that holds no pid: 123, the file left as it is', async () => {
    const file = path.join(tmpdir(), 'web.conf')
    fs.writeFileSync(file, 'listen 80;\n')
    expect(await lines(['run', 'web', '--pidfile', file, '--', 'true'], [file])).toEqual([
      123,
      [`nslocate: refusing to overwrite ${file}: it holds 11 bytes that are not a pid`, 'hint: remove it or choose another --pidfile'],
    ])
    expect(fs.readFileSync(file, 'utf8')).toBe('listen 80;\n')
  })

  test("run --pidfile a file that is also another file's name (2 links): 123", async () => {
    const top = tmpdir()
    const file = path.join(top, 'web.pid')
    fs.writeFileSync(file, '42')
    fs.linkSync(file, path.join(top, 'other'))
    expect(await lines(['run', 'web', '--pidfile', file, '--', 'true'], [file])).toEqual([
      123,
      [`nslocate: ${file} has 2 links: it is another file's name too, which the pid would overwrite; refusing it`, `hint: remove ${file} if it is a leftover`],
    ])
  })

  test('run --dir on a kernel pseudo file system (/proc/sys): 123', async () => {
    expect(await lines(['run', 'web', '--dir', '/proc/sys', '--', 'true'], ['/proc/sys/web.pid', '/proc/sys'])).toEqual([
      123,
      [
        'nslocate: /proc/sys/web.pid is on proc (/proc/sys), a pseudo file system where a write changes the kernel; refusing it',
        'hint: use --dir on a real or tmpfs directory, e.g. /run/nslocate',
      ],
    ])
  })

  test("run --replace of an instance it may not stop (the holder is run's own parent): what signal said, 124", async () => {
    const file = path.join(tmpdir(), 'web.pid')
    // flock holds the lock; the shell it starts writes its own pid, then starts run as its child.
    const script = `echo $$ > ${file}; ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} run web --pidfile ${file} --replace -- true`
    const r = spawnSync('flock', [file, 'sh', '-c', script], {encoding: 'utf8', env: {...process.env, ...env}, timeout: 30_000})
    const parent = fs.readFileSync(file, 'utf8').trim()
    expect([r.status, r.stdout, expectOneError(r.stderr, [parent])]).toEqual([
      124,
      '',
      [`nslocate: web: pid ${parent} is an ancestor of nslocate; nothing was signalled`],
    ])
  })

  test('signal --scope cgroup of a service in no cgroup of its own: 4, the reasons in --json only', async () => {
    const dir = tmpdir()
    const svc = track(spawn(process.execPath, [BIN, 'run', 'cgs', '--dir', dir, '--cgroup', 'none', '--', 'sleep', '600'], {stdio: 'ignore', detached: true}), {
      group: true,
    })
    await until(() => /^[0-9]+$/.test(fs.existsSync(path.join(dir, 'cgs.pid')) ? fs.readFileSync(path.join(dir, 'cgs.pid'), 'utf8') : ''), 'cgs to run')
    const pid = fs.readFileSync(path.join(dir, 'cgs.pid'), 'utf8')
    expect(await lines(['signal', 'cgs', 'TERM', '--scope', 'cgroup', '--dir', dir], [pid])).toEqual([
      4,
      [
        `nslocate: --scope cgroup: pid ${pid} has no cgroup of its own (shared_cgroup); nothing was signalled`,
        "hint: use --scope tree or group (only a container's or a unit's cgroup, .service or .scope, is used)",
      ],
    ])
    const j = await cli(['signal', 'cgs', 'TERM', '--scope', 'cgroup', '--dir', dir, '--json'], {env})
    expect(JSON.parse(j.stdout).error).toMatchObject({
      code: 'PERMISSION',
      reason: 'shared_cgroup',
      refusals: expect.arrayContaining([expect.stringMatching(/^0::/)]),
    })
    expect(fs.existsSync(`/proc/${pid}`)).toBe(true)
    const gone = new Promise((resolve) => svc.once('exit', resolve))
    process.kill(-svc.pid!, 'SIGKILL')
    await gone
  })

  test('NSLOCATE_ADDON naming a file others may write (0666): 4, never loaded', async () => {
    const top = tmpdir()
    fs.chmodSync(top, 0o755)
    const addon = path.join(top, 'nslocate.node')
    fs.writeFileSync(addon, 'not an addon')
    fs.chmodSync(addon, 0o666)
    fs.writeFileSync(path.join(top, 'app.pid'), '')
    expect(await lines(['find', 'app', '--pidfile', path.join(top, 'app.pid')], [addon], {NSLOCATE_ADDON: addon})).toEqual([
      4,
      [
        `nslocate: refusing to load NSLOCATE_ADDON=${addon}: writable by group and others (mode 0666)`,
        'hint: put it where only root or you can write (chown root, chmod go-w), or unset NSLOCATE_ADDON',
      ],
    ])
  })

  test.each([
    [
      ['signal', 'web', 'TERM', '--retry', '5/KILL'],
      'invalid --retry schedule "5/KILL": item 1 ("5") must be a signal',
      'start the schedule with one, e.g. TERM/30/KILL/5',
    ],
    [
      ['signal', 'web', 'TERM', '--retry', 'KILL/5'],
      '--retry KILL/5 starts with KILL, but SIGNAL is TERM',
      'start the schedule with TERM (e.g. TERM/30/KILL/5), or give a number of seconds',
    ],
    [['find', 'web', '--process-name', 'a/b'], '--process-name "a/b": give a process name without "/", e.g. --process-name nginx', 'use --exec for a path'],
    [
      ['reload', 'web', '--watch', '/nonexistent-ew'],
      '--watch /nonexistent-ew: no such file or directory',
      "give an existing file or directory (a ConfigMap volume's mount point works)",
    ],
  ])('a usage error too long for one line with its advice: %j, 2, the advice as the hint', async (argv, line, hint) => {
    expect(await lines(argv, [])).toEqual([2, [`nslocate: ${line}`, `hint: ${hint}`]])
  })

  test('CONTAINER_RUNTIME_ENDPOINT that is no local socket: 2', async () => {
    expect(await lines(['find', 'web', '--pod', 'shop/web-0'], ['tcp://cri.example:1'], {CONTAINER_RUNTIME_ENDPOINT: 'tcp://cri.example:1'})).toEqual([
      2,
      ['nslocate: CONTAINER_RUNTIME_ENDPOINT=tcp://cri.example:1 is not understood: nslocate needs a local socket', 'hint: use unix:///path/to/socket'],
    ])
  })
})

describe.each(PATHS)("run's cgroup errors: the fact, then what it takes (%s)", (_which, pathEnv) => {
  let user: TestUser
  beforeAll(() => {
    user = createTestUser('ewcg')
  })
  afterAll(() => user.remove())

  test('--cgroup required, run by a user who may not make a cgroup here: 125, nothing started', () => {
    const dir = path.join(user.home, 'run')
    fs.mkdirSync(dir)
    fs.chownSync(dir, user.uid, user.gid)
    const marker = path.join(dir, 'ran')
    const r = cliAs(user, ['run', 'web', '--dir', dir, '--cgroup', 'required', '--', 'touch', marker], pathEnv)
    // the cgroup it could not make is under its own: a path as long as the caller's cgroup's
    const made = /cannot create (\/sys\/fs\/cgroup\/\S*) /.exec(r.stderr)?.[1] ?? '?'
    expect([r.status, r.stdout, expectOneError(r.stderr, [made])]).toEqual([
      125,
      '',
      [
        `nslocate: no cgroup for web: cannot create ${made} (EACCES); nothing was started`,
        'hint: run as root or in a cgroup subtree delegated to this user, or use --cgroup auto',
      ],
    ])
    expect(fs.existsSync(marker)).toBe(false)
  })

  test('a SIGKILLed run left a process in its cgroup: the next run conflicts (122), naming it, and says how to stop it', async () => {
    const dir = tmpdir()
    const lives = path.join(dir, 'lives')
    // the service writes its pid, then closes every descriptor (the inherited lock too)
    const closesAll = `import os, sys, time\nopen(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\nos.rename(sys.argv[1] + '.tmp', sys.argv[1])\nos.closerange(0, 65536)\nwhile True: time.sleep(1)\n`
    const sup = spawn(process.execPath, [BIN, 'run', 'cgx', '--dir', dir, '--', '/usr/bin/python3', '-c', closesAll, lives], {
      stdio: 'ignore',
      env: {...process.env, ...pathEnv},
    })
    const entry = trackExtra(sup)
    await until(() => fs.existsSync(lives) && /^[0-9]+$/.test(fs.readFileSync(lives, 'utf8')), 'the service to write its pid')
    const pid = Number(fs.readFileSync(lives, 'utf8'))
    entry.extra.push({pid, start: startTime(pid)})
    await until(() => fs.readdirSync(`/proc/${pid}/fd`).length === 0, 'the service to close every descriptor')
    sup.kill('SIGKILL')
    await entry.exited
    const cgroup = JSON.parse((await cli(['find', 'cgx', '--dir', dir, '--json'])).stdout).cgroup.dir as string
    const r = await cli(['run', 'cgx', '--dir', dir, '--', 'true'], {env: pathEnv})
    expect([r.status, r.stdout, expectOneError(r.stderr, [cgroup, String(pid)])]).toEqual([
      122,
      '',
      [
        `nslocate: cgx is still running: its cgroup ${cgroup}, left by an earlier run, holds pid ${pid}`,
        `hint: stop them (echo 1 > ${cgroup}/cgroup.kill) or wait for them`,
      ],
    ])
    // The service is stopped by its pid (it is still the same process), and the next run removes its cgroup.
    process.kill(pid, 'SIGKILL')
    await waitGone(entry.extra, 10_000)
    await until(() => !fs.existsSync(cgroup) || fs.readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8') === '', 'the cgroup to empty')
    expect((await cli(['run', 'cgx', '--dir', dir, '--', 'true'], {env: pathEnv})).status).toBe(0)
    expect(fs.existsSync(cgroup)).toBe(false)
  })
})
