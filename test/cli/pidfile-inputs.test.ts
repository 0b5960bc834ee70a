/**
 * Issue 11 items 1, 3 and 7, issue 12 item 11: relative and empty paths, pidfile formats, and
 * list covering find's search path. Real files, siglog victims (victims.ts) that log what they
 * receive, the built CLI (fast path and oclif path) and the library.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, ROOT, cli, cliJson} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {Victim, spawnVictim} from '../helpers/victims'

afterAll(() => stopAll())

const SIGUSR1 = 10
const PATHS = [{}, {NSLOCATE_NO_FAST_PATH: '1'}]
const via = (env: object) => ('NSLOCATE_NO_FAST_PATH' in env ? 'oclif' : 'fast path')

async function received(v: Victim): Promise<number[]> {
  await sleep(200)
  return v.received().map((r) => r.signo)
}

async function service(text?: (pid: number) => string, file = 'siglog.pid'): Promise<{victim: Victim; dir: string; pidfile: string}> {
  const victim = await spawnVictim()
  const dir = tempDir('nslocate-inputs-')
  const pidfile = path.join(dir, file)
  fs.writeFileSync(pidfile, text ? text(victim.pid) : `${victim.pid}\n`)
  return {victim, dir, pidfile}
}

describe('relative --pidfile and --dir (issue 11, item 1)', () => {
  test.each(PATHS)('from another working directory, through %j: running, the same pid', async (env) => {
    const {victim, dir} = await service()
    for (const args of [
      ['--pidfile', 'siglog.pid'],
      ['--pidfile', './sub/../siglog.pid'],
      ['--dir', '.'],
      [`--pidfile=${path.relative(ROOT, path.join(dir, 'siglog.pid'))}`],
    ]) {
      fs.mkdirSync(path.join(dir, 'sub'), {recursive: true})
      const cwd = args[0].startsWith('--pidfile=') ? ROOT : dir
      const r = await cliJson(['find', 'siglog', ...args], {cwd, env})
      expect({via: via(env), args, status: r.status, pid: r.json.pid, path: r.json.pidfile?.path}).toEqual({
        via: via(env),
        args,
        status: 0,
        pid: victim.pid,
        path: path.join(dir, 'siglog.pid'),
      })
    }
    const sent = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', 'siglog.pid'], {cwd: dir, env})
    expect(sent.status).toBe(0)
    expect(await received(victim)).toEqual([SIGUSR1])
  })

  test('the library: locate() with a relative pidfile, from another working directory', async () => {
    const {victim, dir} = await service()
    const script =
      `const {locateSync: locate} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))}); ` +
      "const r = locate({name: 'siglog', pidfile: 'siglog.pid'}); process.stdout.write(JSON.stringify(r))"
    const r = JSON.parse(execFileSync(process.execPath, ['-e', script], {cwd: dir, encoding: 'utf8'}))
    expect({state: r.state, pid: r.pid, path: r.pidfile.path}).toEqual({state: 'running', pid: victim.pid, path: path.join(dir, 'siglog.pid')})
  })
})

describe('empty --pidfile / --dir are usage errors everywhere (issue 12, item 11)', () => {
  const EMPTY = [['--pidfile', ''], ['--pidfile='], ['--dir', ''], ['--dir=']]
  const COMMANDS = [['find', 'siglog'], ['signal', 'siglog', 'USR1'], ['wait', 'siglog', '--for', 'stopped', '--timeout', '1s'], ['list']]

  test.each(PATHS)('exit 2 and nothing signalled, with a service in the default directories (%j)', async (env) => {
    const {victim, dir} = await service()
    const e = {...env, NSLOCATE_RUNTIME_DIR: dir}
    // The default search does find it (so an ignored empty value would act on it).
    expect((await cli(['find', 'siglog'], {env: e})).status).toBe(0)
    for (const c of COMMANDS) {
      for (const empty of EMPTY) {
        if (c[0] === 'list' && empty[0].startsWith('--pidfile')) continue
        const r = await cli([...c, ...empty], {env: e})
        expect({via: via(env), argv: [...c, ...empty], status: r.status}).toEqual({via: via(env), argv: [...c, ...empty], status: 2})
        expect(r.stderr).toMatch(/--(pidfile|dir) is empty/)
      }
    }
    expect(await received(victim)).toEqual([])
  })

  test('run: exit 2 and COMMAND never started', async () => {
    const dir = tempDir('nslocate-inputs-')
    const marker = path.join(dir, 'started')
    for (const empty of [['--pidfile', ''], ['--pidfile='], ['--dir', ''], ['--dir=']]) {
      const r = await cli(['run', 'web', ...empty, '--', 'touch', marker], {env: {NSLOCATE_RUNTIME_DIR: dir}})
      expect({empty, status: r.status}).toEqual({empty, status: 2})
      expect(fs.existsSync(marker)).toBe(false)
    }
  })

  test.each(['find', 'list'])('%s --json: a USAGE error object whose message names the flag', async (cmd) => {
    const r = await cliJson(cmd === 'find' ? ['find', 'siglog', '--dir='] : ['list', '--dir', ''])
    expect({status: r.status, error: r.json.error}).toEqual({
      status: 2,
      error: {code: 'USAGE', message: expect.stringMatching(/^--dir is empty: give a directory path/)},
    })
  })

  test('the library refuses an empty pidfile (USAGE) instead of searching', () => {
    const script =
      `const {locateSync: locate} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))}); ` +
      "try { locate({name: 'siglog', pidfile: ''}); console.log('searched') } catch (e) { console.log(e.code) }"
    expect(execFileSync(process.execPath, ['-e', script], {encoding: 'utf8'}).trim()).toBe('USAGE')
  })
})

describe('formats (issue 11, item 3)', () => {
  test.each(PATHS)('postmaster.pid: the first line is the pid, the rest is noted; signal reaches it (%j)', async (env) => {
    // PostgreSQL 15's layout: pid, data directory, start time, port, socket directory, listen address, shmem key, status.
    const {victim, pidfile} = await service(
      (pid) => `${pid}\n/var/lib/postgresql/15/main\n1764612345\n5432\n/var/run/postgresql\n*\n  5432001    163840\nready   \n`,
      'postmaster.pid',
    )
    const r = await cliJson(['find', 'siglog', '--pidfile', pidfile], {env})
    expect({status: r.status, state: r.json.state, pid: r.json.pid, filePid: r.json.pidfile.pid}).toEqual({
      status: 0,
      state: 'running',
      pid: victim.pid,
      filePid: victim.pid,
    })
    expect(r.json.evidence).toContain(`${pidfile}: 7 later lines ignored: the pid is the first line (as in postgres's postmaster.pid)`)
    expect((await cli(['signal', 'siglog', 'USR1', '--pidfile', pidfile], {env})).status).toBe(0)
    expect(await received(victim)).toEqual([SIGUSR1])
  })

  test.each(PATHS)('254 spaces then the pid: the whole number, not its first digits (%j)', async (env) => {
    const {victim, pidfile} = await service((pid) => ' '.repeat(254) + `${pid}\n`)
    expect(victim.pid).toBeGreaterThan(99) // so that a cut at 256 bytes would change it
    const r = await cliJson(['find', 'siglog', '--pidfile', pidfile], {env})
    expect({status: r.status, pid: r.json.pid, filePid: r.json.pidfile.pid}).toEqual({status: 0, pid: victim.pid, filePid: victim.pid})
  })

  test('a first line beyond 4096 bytes is rejected whole: garbage_pidfile, stale (1), nothing sent', async () => {
    const {victim, pidfile} = await service((pid) => ' '.repeat(4095) + `${pid}\n`)
    const r = await cliJson(['find', 'siglog', '--pidfile', pidfile])
    expect({status: r.status, reasons: r.json.reasons}).toEqual({status: 1, reasons: expect.arrayContaining(['garbage_pidfile'])})
    expect(r.json.evidence).toContain(`${pidfile}: its first line is longer than 4096 bytes: not a pid`)
    expect((await cli(['signal', 'siglog', 'USR1', '--pidfile', pidfile])).status).toBe(7)
    expect(await received(victim)).toEqual([])
  })
})

describe('list shows what find finds (issue 11, item 7)', () => {
  test('in a mount namespace with its own /run: /run/NAME/NAME.pid and the rest of the search path', async () => {
    const victim = await spawnVictim()
    const p = victim.pid
    // A private /run (tmpfs) holding the layouts daemons use; /var/run is the usual symlink to /run.
    expect(fs.readlinkSync('/var/run')).toMatch(/^(\/run|\.\.\/run)$/)
    const node = process.execPath
    const script = [
      'set -e',
      'mount -t tmpfs nslocate-test /run',
      'mkdir -p /run/redis /run/mysqld /run/nslocate /run/both /run/other',
      `echo ${p} > /run/redis/redis.pid`,
      `echo ${p} > /run/mysqld/mysqld.pid`,
      `echo ${p} > /run/nslocate/siglog.pid`,
      `echo ${p} > /run/crond.pid`,
      `echo ${p} > /run/both.pid`,
      `echo ${p} > /run/both/both.pid`,
      `echo ${p} > /run/other/notmine.pid`,
      `${node} ${BIN} list --json; echo '=====';`,
      `for n in redis mysqld siglog crond both notmine; do ${node} ${BIN} find $n --json || true; echo '-----'; done`,
    ].join('\n')
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {encoding: 'utf8', timeout: 60_000})
    expect(r.status).toBe(0)
    const [listOut, findOut] = r.stdout.split('=====\n')
    const rows: Array<{name: string; pidfile: {path: string} | null}> = JSON.parse(listOut)
    const listed = rows.map((x) => x.pidfile?.path).sort()
    expect(listed).toEqual(['/run/both.pid', '/run/crond.pid', '/run/mysqld/mysqld.pid', '/run/nslocate/siglog.pid', '/run/redis/redis.pid'])
    const found = findOut
      .split('-----\n')
      .filter((s) => s.trim())
      .map((s) => JSON.parse(s))
      .map((j) => j.pidfile?.path ?? null)
      .filter(Boolean)
      .sort()
    expect(found).toEqual(listed)
    // (Every row is stale: the victim lives outside this mount namespace and does not see these files.)
    expect(rows.map((x) => x.name).sort()).toEqual(['both', 'crond', 'mysqld', 'redis', 'siglog'])
  })

  test('list --root-pid: the nested places inside the target, and nothing of the host through its absolute /var/run -> /run link', async () => {
    const script = 'mount -t tmpfs nslocate-test /run && mkdir /run/redis && echo $$ > /run/redis/redis.pid && echo $$ > /run/flat.pid && exec sleep 60'
    const child = spawnTracked(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script])
    const pid = child.pid!
    const deadline = Date.now() + 10_000
    while (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sleep' && Date.now() < deadline) await sleep(50)
    const r = await cliJson(['list', '--root-pid', String(pid)])
    expect(r.status).toBe(0)
    expect(r.json.map((x: {pidfile: {path: string}}) => x.pidfile.path).sort()).toEqual([
      `/proc/${pid}/root/run/flat.pid`,
      `/proc/${pid}/root/run/redis/redis.pid`,
    ])
    const found = await cliJson(['find', 'redis', '--root-pid', String(pid)])
    expect(found.json.pidfile.path).toBe(`/proc/${pid}/root/run/redis/redis.pid`)
  })
})
