/**
 * Issue 22, "Degrade, and say so": when no cgroup can be made, `run` works as before and says why
 * in the record beside the pid, which find shows (--json: cgroup.path null and cgroup.why; an
 * evidence line; the text output's cgroup row). run itself prints nothing about it (the lead's
 * design since 04:48: src/cli/commands/run.ts, "No cgroup ... prints nothing");
 * `--cgroup=required` turns that into exit 125 with nothing started and no pidfile left;
 * `--cgroup=none` says and records nothing. Three real ways to have no cgroup: an unprivileged
 * user without delegation (EACCES on the cgroup tree), and root in a mount namespace of its own
 * where the v2 hierarchy is unmounted, or bind-remounted read-only (EROFS).
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, killTracked, runCollect, track, until} from '../helpers/cli'
import {cliAs} from '../helpers/as-user'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {leafName} from '../../src/cgroup/service'
import {exitOf, untilRunning} from './run-helpers'
import {OWN, V2, readOr, removeTree} from '../helpers/cgroup'

const RECORD = 'user.nslocate.cgroup'

let user: TestUser
beforeAll(() => {
  user = createTestUser('cgdeg')
})
afterEach(() => killTracked())
afterAll(async () => {
  await stopAll()
  user.remove()
})

/** A directory of the test user's own, in its home. */
let count = 0
function userDir(): string {
  const dir = path.join(user.home, `d${count++}`)
  fs.mkdirSync(dir, {mode: 0o755})
  fs.chownSync(dir, user.uid, user.gid)
  return dir
}

/** The cgroup record on a file (the raw xattr), or null when there is none. */
function recordOf(file: string): string | null {
  const r = runPy(
    `import os,sys\ntry: sys.stdout.write(os.getxattr(sys.argv[1], ${JSON.stringify(RECORD)}).decode('latin1'))\nexcept OSError as e: sys.stdout.write('ERRNO %d' % e.errno)`,
    file,
  )
  return r === 'ERRNO 61' ? null : r
}

function runPy(code: string, ...args: string[]): string {
  return require('node:child_process').execFileSync('/usr/bin/python3', ['-c', code, ...args], {encoding: 'utf8'})
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function v2PathOfPid(pid: number): string | null {
  const m = /^0::(.*)$/m.exec(readOr(`/proc/${pid}/cgroup`))
  return m ? m[1] : null
}

/** `nslocate run ARGS` in the background (argv before BIN: a user switch or a namespace), stderr collected. */
function background(argv: string[], opts: {uid?: number; gid?: number; cwd?: string; env?: NodeJS.ProcessEnv} = {}): ChildProcess & {err: () => string} {
  const child = track(
    spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      uid: opts.uid,
      gid: opts.gid,
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    }),
    {group: true},
  )
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  return Object.assign(child, {err: () => err})
}

const asUser = () => ({uid: user.uid, gid: user.gid, cwd: user.home, env: {PATH: process.env.PATH, HOME: user.home}})

/** The pid run wrote, once it runs `comm`. */
async function started(file: string, comm: string): Promise<number> {
  await until(() => /^[0-9]+$/.test(readOr(file)), `${file} to hold a pid`)
  const pid = Number(readOr(file))
  await untilRunning(pid, comm)
  return pid
}

describe('an unprivileged user without delegation', () => {
  test('auto (the default): the service runs as before; find shows cgroup.path null, the why and an evidence line; run prints nothing about it', async () => {
    const dir = userDir()
    const file = path.join(dir, 'cgdeg.pid')
    const marker = path.join(dir, 'ran')
    const sup = background([process.execPath, BIN, 'run', 'cgdeg', '--dir', dir, '--', 'sh', '-c', `echo $$ > ${marker}; exec sleep 300`], asUser())
    const pid = await started(file, 'sleep')
    expect(readOr(marker).trim()).toBe(String(pid))
    // not moved: it is in the cgroup the user's run was in, and no service cgroup exists
    expect(v2PathOfPid(pid)).toBe(OWN || '/')
    expect(fs.existsSync(path.join(V2, OWN, 'nslocate', leafName('cgdeg', file)))).toBe(false)

    const found = cliAs(user, ['find', 'cgdeg', '--dir', dir, '--json'])
    expect([found.status, found.json?.state, found.json?.pid]).toEqual([0, 'running', pid])
    expect(found.json.cgroup).toEqual({path: null, dir: null, populated: null, processes: [], why: expect.any(String)})
    const why: string = found.json.cgroup.why
    expect(why).toMatch(/^cannot create \/sys\/fs\/cgroup\/unified\S*\/nslocate\S* \(EACCES\): making a cgroup needs write access there/)
    expect(recordOf(file)).toBe(`v1 none why=${why}`)
    expect(found.json.evidence).toContain(`run made the service no cgroup: ${why}`)
    // the text output's cgroup row
    const text = cliAs(user, ['find', 'cgdeg', '--dir', dir])
    expect(text.stdout.split('\n')).toContainEqual(expect.stringMatching(new RegExp(`^\\s*cgroup\\s+none \\(${escape(why)}\\)$`)))

    process.kill(sup.pid!, 'SIGTERM')
    expect(await exitOf(sup)).toEqual({code: 143, signal: null})
    expect(sup.err()).toBe('')
    expect(fs.existsSync(file)).toBe(false)
  })

  test("auto: COMMAND's exit status and output pass through, nothing added", () => {
    const dir = userDir()
    const r = cliAs(user, ['run', 'cgdeg7', '--dir', dir, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7'])
    expect([r.status, r.stdout, r.stderr]).toEqual([7, 'out\n', 'err\n'])
    expect(fs.readdirSync(dir)).toEqual([])
  })

  test('--cgroup=required: exit 125, one line and its hint, COMMAND not started, no pidfile left', () => {
    const dir = userDir()
    const marker = path.join(dir, 'ran')
    const r = cliAs(user, ['run', 'cgreq', '--dir', dir, '--cgroup=required', '--', 'sh', '-c', `touch ${marker}`])
    expect(r.status).toBe(125)
    const lines = r.stderr.split('\n').filter(Boolean)
    expect(lines).toEqual([
      expect.stringMatching(/^nslocate: no cgroup for cgreq: cannot create \S+ \(EACCES\); nothing was started$/),
      'hint: run as root or in a cgroup subtree delegated to this user, or use --cgroup auto',
    ])
    expect(r.stdout).toBe('')
    expect(fs.existsSync(marker)).toBe(false)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  test('--cgroup=none: nothing said about cgroups, nothing recorded (find: cgroup null)', async () => {
    const dir = userDir()
    const file = path.join(dir, 'cgnone.pid')
    const sup = background([process.execPath, BIN, 'run', 'cgnone', '--dir', dir, '--cgroup=none', '--', 'sh', '-c', 'exec sleep 300'], asUser())
    const pid = await started(file, 'sleep')
    const found = cliAs(user, ['find', 'cgnone', '--dir', dir, '--json'])
    expect([found.status, found.json?.state, found.json?.pid, found.json?.cgroup]).toEqual([0, 'running', pid, null])
    expect(recordOf(file)).toBeNull()
    process.kill(sup.pid!, 'SIGTERM')
    expect(await exitOf(sup)).toEqual({code: 143, signal: null})
    expect(sup.err()).toBe('')
  })
})

test("root with --cgroup=none: COMMAND stays in the caller's cgroup, no cgroup is made, nothing said or recorded", async () => {
  const dir = tempDir('nslocate-cgdeg-')
  const file = path.join(dir, 'cgrootnone.pid')
  const sup = background([process.execPath, BIN, 'run', 'cgrootnone', '--dir', dir, '--cgroup=none', '--', 'sh', '-c', 'exec sleep 300'])
  const pid = await started(file, 'sleep')
  expect(v2PathOfPid(pid)).toBe(v2PathOfPid(process.pid))
  expect(fs.existsSync(path.join(V2, OWN, 'nslocate', leafName('cgrootnone', file)))).toBe(false)
  const found = await cliJson(['find', 'cgrootnone', '--dir', dir])
  expect([found.status, found.json.pid, found.json.cgroup]).toEqual([0, pid, null])
  expect(recordOf(file)).toBeNull()
  process.kill(sup.pid!, 'SIGTERM')
  expect(await exitOf(sup)).toEqual({code: 143, signal: null})
  expect(sup.err()).toBe('')
})

/**
 * Root, in a mount namespace of its own where the v2 hierarchy is gone or read-only: the reason
 * recorded (whyPattern), the reason on --cgroup=required's line (linePattern: without what it would
 * take) and that line's hint.
 */
const NAMESPACES = [
  [
    'unmounted',
    `umount ${V2}`,
    /^no cgroup v2 hierarchy is mounted here \(\/proc\/self\/mountinfo lists no cgroup2\)$/,
    /^no cgroup v2 hierarchy is mounted here$/,
    'hint: use --cgroup auto to start without one',
  ],
  // a bind remount changes this mount only (a plain remount would make the cgroup2 super block read-only for everyone)
  [
    'bind-remounted read-only',
    `mount -o remount,bind,ro ${V2}`,
    /^cannot create \/sys\/fs\/cgroup\/unified\S*\/nslocate\S* \(EROFS\): the cgroup file system is mounted read-only here$/,
    /^cannot create \/sys\/fs\/cgroup\/unified\S*\/nslocate\S* \(EROFS\)$/,
    'hint: use --cgroup auto to start without one',
  ],
] as const

const inNamespace = (setup: string, args: string[]) => ['unshare', '-m', 'sh', '-c', `${setup} && exec "$@"`, 'sh', process.execPath, BIN, ...args]

describe.each(NAMESPACES)('root, the v2 hierarchy %s in its mount namespace (unshare -m)', (_what, setup, whyPattern, linePattern, hint) => {
  test('auto: the service runs; find (outside) shows cgroup.path null, the why and an evidence line; run prints nothing about it', async () => {
    const dir = tempDir('nslocate-cgdeg-')
    const file = path.join(dir, 'cgns.pid')
    const marker = path.join(dir, 'ran')
    const sup = background(inNamespace(setup, ['run', 'cgns', '--dir', dir, '--', 'sh', '-c', `echo $$ > ${marker}; exec sleep 300`]))
    const pid = await started(file, 'sleep')
    expect(readOr(marker).trim()).toBe(String(pid))
    expect(v2PathOfPid(pid)).toBe(v2PathOfPid(process.pid))
    expect(fs.existsSync(path.join(V2, OWN, 'nslocate', leafName('cgns', file)))).toBe(false)
    // the host's hierarchy is untouched by the namespace's umount or remount
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).toMatch(new RegExp(` ${V2} rw,.* - cgroup2 `))

    const found = await cliJson(['find', 'cgns', '--dir', dir])
    expect([found.status, found.json.state, found.json.pid]).toEqual([0, 'running', pid])
    expect(found.json.cgroup).toEqual({path: null, dir: null, populated: null, processes: [], why: expect.stringMatching(whyPattern)})
    const why: string = found.json.cgroup.why
    expect(recordOf(file)).toBe(`v1 none why=${why}`)
    expect(found.json.evidence).toContain(`run made the service no cgroup: ${why}`)

    process.kill(sup.pid!, 'SIGTERM')
    expect(await exitOf(sup)).toEqual({code: 143, signal: null})
    expect(sup.err()).toBe('')
    expect(fs.readdirSync(dir)).toEqual(['ran'])
  })

  test('--cgroup=required: exit 125, one line and its hint, nothing started, no pidfile left', async () => {
    const dir = tempDir('nslocate-cgdeg-')
    const marker = path.join(dir, 'ran')
    const r = await runCollect(inNamespace(setup, ['run', 'cgnsreq', '--dir', dir, '--cgroup=required', '--', 'touch', marker]))
    expect(r.status).toBe(125)
    const lines = r.stderr.split('\n').filter(Boolean)
    expect(lines).toHaveLength(2)
    const m = /^nslocate: no cgroup for cgnsreq: (.*); nothing was started$/.exec(lines[0])
    expect(m?.[1]).toMatch(linePattern)
    expect(lines[1]).toBe(hint)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

test('the host hierarchy is still writable after the namespace tests (the remount stayed in its namespace)', async () => {
  const dir = tempDir('nslocate-cgdeg-')
  const r = await cli(['run', 'cgafter', '--dir', dir, '--cgroup=required', '--', 'sh', '-c', `sed -n 's/^0:://p' /proc/self/cgroup > ${dir}/cg`])
  expect([r.status, r.stderr]).toEqual([0, ''])
  expect(readOr(path.join(dir, 'cg')).trim()).toBe(`${OWN}/nslocate/${leafName('cgafter', path.join(dir, 'cgafter.pid'))}`)
})

/**
 * A cgroup delegated to the test user (made by root and chowned to it, as systemd's Delegate=yes
 * does: the directory, cgroup.procs, cgroup.subtree_control, cgroup.threads), removed after the test.
 */
function delegated(tag: string): string {
  const dir = path.join(V2, `nsl-deleg-${tag}-${process.pid}`)
  fs.mkdirSync(dir)
  for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) fs.chownSync(path.join(dir, f), user.uid, user.gid)
  return dir
}

test("root run from a cgroup delegated to another user (sudo in a user's session): no service cgroup is made there (that user could fill, empty or swap it); run works, and find says why", async () => {
  const deleg = delegated('root')
  const dir = tempDir('nslocate-cgdeg-')
  try {
    // the user's own nslocate/ and a leaf named as root's would be, with the user's process in it
    const services = path.join(deleg, 'nslocate')
    const planted = path.join(services, leafName('cgdel', path.join(dir, 'cgdel.pid')))
    runPy(`import os\nos.setgid(${user.gid}); os.setuid(${user.uid})\nos.mkdir(${JSON.stringify(services)}); os.mkdir(${JSON.stringify(planted)})`)
    expect(fs.statSync(planted).uid).toBe(user.uid)
    const marker = path.join(dir, 'ran')
    const r = await runCollect(
      [
        'sh',
        '-c',
        `echo $$ > ${deleg}/cgroup.procs && exec "$@"`,
        'sh',
        process.execPath,
        BIN,
        'run',
        'cgdel',
        '--dir',
        dir,
        '--',
        'sh',
        '-c',
        `sed -n 's/^0:://p' /proc/self/cgroup > ${marker}`,
      ],
      {timeoutMs: 30_000},
    )
    expect([r.status, r.stderr]).toEqual([0, ''])
    // COMMAND ran in the caller's (delegated) cgroup, not in the user's planted leaf
    expect(readOr(marker).trim()).toBe(`/${path.basename(deleg)}`)
    expect(fs.existsSync(planted)).toBe(true)
    // with --cgroup=required: refused, naming the owner
    const req = await runCollect(
      [
        'sh',
        '-c',
        `echo $$ > ${deleg}/cgroup.procs && exec "$@"`,
        'sh',
        process.execPath,
        BIN,
        'run',
        'cgdel',
        '--dir',
        dir,
        '--cgroup=required',
        '--',
        'touch',
        `${marker}2`,
      ],
      {timeoutMs: 30_000},
    )
    expect(req.status).toBe(125)
    expect(req.stderr).toMatch(new RegExp(`belongs to uid ${user.uid}`))
    expect(fs.existsSync(`${marker}2`)).toBe(false)
  } finally {
    await removeTree(deleg)
  }
})

test("a record on root's pidfile naming a cgroup another user owns (populated by that user's process): root's run neither conflicts on it nor removes it", async () => {
  const deleg = delegated('rec')
  const dir = tempDir('nslocate-cgdeg-')
  const file = path.join(dir, 'cgrec.pid')
  try {
    const leafPath = `/${path.basename(deleg)}/nslocate/cgrec-0123abcd`
    const leaf = path.join(V2, leafPath)
    runPy(`import os\nos.setgid(${user.gid}); os.setuid(${user.uid})\nos.makedirs(${JSON.stringify(leaf)})`)
    // one of the user's processes in it
    const sleeper = background(['sleep', '300'], asUser())
    await untilRunning(sleeper.pid!, 'sleep')
    // (moved there by root, as the user could from within its delegated subtree)
    fs.writeFileSync(path.join(leaf, 'cgroup.procs'), String(sleeper.pid))
    // root's stale pidfile, recording that cgroup (as only root could write it)
    fs.writeFileSync(file, '99999')
    const boot = readOr('/proc/sys/kernel/random/boot_id').trim()
    runPy(
      `import os,sys\nos.setxattr(sys.argv[1], ${JSON.stringify(RECORD)}, sys.argv[2].encode())`,
      file,
      `v1 path=${leafPath} ino=${fs.statSync(leaf).ino} boot_id=${boot}`,
    )
    const marker = path.join(dir, 'ran')
    const r = await cli(['run', 'cgrec', '--dir', dir, '--', 'touch', marker])
    expect([r.status, r.stderr]).toEqual([0, ''])
    expect(fs.existsSync(marker)).toBe(true)
    // the user's cgroup and process untouched
    expect(readOr(path.join(leaf, 'cgroup.procs')).trim()).toBe(String(sleeper.pid))
    process.kill(sleeper.pid!, 'SIGKILL')
    await exitOf(sleeper)
  } finally {
    await removeTree(deleg)
  }
})
