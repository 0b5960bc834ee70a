/**
 * Issue 22, the library: acquire({name, dir, cgroup}) from a Node service (a child process using
 * the built package, as test/cli/acquire-lib.test.ts does). With 'auto' as root the caller is moved
 * into the service's cgroup (its own /proc/self/cgroup says so), handle.cgroup names it, the record
 * is on the file, and release() moves the caller back and removes the cgroup. As a user without
 * delegation, 'auto' degrades (handle.cgroupNote, a `none` record) and 'required' fails
 * (UNSUPPORTED) leaving no pidfile. An invalid mode is a USAGE error. The default is 'none'.
 *
 * The root services run inside a cgroup of this file's own (W, beside /sys/fs/cgroup/unified/nslocate),
 * so "moved back" is a move back to W, not to the root, and W/nslocate is seen to go.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, cliJson, killTracked, track, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {leafName} from '../../src/cgroup/service'
import {OWN, V2, cgroupsIn, readOr, removeTree} from '../helpers/cgroup'

const LIB = path.join(ROOT, 'dist/src')
const RECORD = 'user.nslocate.cgroup'
const BOOT_ID = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()

let user: TestUser
const wrappers: string[] = []
let count = 0

beforeAll(() => {
  user = createTestUser('cglib')
})
afterEach(async () => {
  await killTracked()
  for (const w of wrappers.splice(0)) await removeTree(w)
})
afterAll(async () => {
  await stopAll()
  user.remove()
})

/** A cgroup of this test's own, under the v2 root. */
function makeWrapper(): {name: string; dir: string} {
  const name = `nsl-tp-lib-${process.pid}-${count++}`
  const dir = path.join(V2, name)
  fs.mkdirSync(dir)
  wrappers.push(dir)
  return {name, dir}
}

/** The raw cgroup record on a file, or null when there is none. */
function recordOf(file: string): string | null {
  const out = require('node:child_process').execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      `import os,sys\ntry: sys.stdout.write(os.getxattr(sys.argv[1], ${JSON.stringify(RECORD)}).decode('latin1'))\nexcept OSError as e: sys.stdout.write('ERRNO %d' % e.errno)`,
      file,
    ],
    {encoding: 'utf8'},
  )
  return out === 'ERRNO 61' ? null : out
}

/**
 * A Node service: runs `body` (ns, fs, cg() = its own v2 cgroup path, say(obj) = one JSON line,
 * next() = resolves at the next line on stdin) inside an async function. In W when given, as
 * `as` when given.
 */
function service(body: string, opts: {wrapper?: string; as?: TestUser} = {}): ChildProcess & {lines: string[]; next: () => Promise<any>} {
  const script = `
const fs = require('fs')
const ns = require(${JSON.stringify(LIB)})
const cg = () => (/^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8')) || [])[1]
const say = (o) => console.log(JSON.stringify(o))
let buffered = ''
const waiting = []
process.stdin.on('data', (d) => {
  buffered += d
  while (buffered.includes('\\n') && waiting.length) {
    buffered = buffered.slice(buffered.indexOf('\\n') + 1)
    waiting.shift()()
  }
})
const next = () => new Promise((resolve) => waiting.push(resolve))
;(async () => {
${body}
})().catch((e) => { say({fatal: String((e && e.stack) || e)}); process.exitCode = 1 }).finally(() => process.stdin.destroy())
`
  const argv = opts.wrapper
    ? ['sh', '-c', `echo $$ > ${opts.wrapper}/cgroup.procs && exec "$@"`, 'sh', process.execPath, '-e', script]
    : [process.execPath, '-e', script]
  const child = track(
    spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'inherit'],
      ...(opts.as ? {uid: opts.as.uid, gid: opts.as.gid, cwd: opts.as.home, env: {PATH: process.env.PATH, HOME: opts.as.home}} : {}),
    }),
  )
  const lines: string[] = []
  const pending: Array<(line: string) => void> = []
  let buf = ''
  child.stdout!.on('data', (d) => {
    buf += d
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      if (pending.length) pending.shift()!(line)
      else lines.push(line)
    }
  })
  // the next JSON line; a {fatal} line (the service threw) fails the test at once, with its stack
  const next = () =>
    new Promise<any>((resolve, reject) => {
      const take = (line: string) => {
        const parsed = JSON.parse(line)
        if (parsed && typeof parsed.fatal === 'string') reject(new Error(`the service threw: ${parsed.fatal}`))
        else resolve(parsed)
      }
      if (lines.length) return take(lines.shift()!)
      pending.push(take)
      child.once('exit', (code) => reject(new Error(`the service exited (${code}) before printing`)))
    })
  return Object.assign(child, {lines, next})
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

test("cgroup 'auto' as root: the caller is moved into the service's cgroup, handle.cgroup and the record name it; release() moves it back and removes it", async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cglib-')
  const file = path.join(dir, 'libcg.pid')
  const leaf = leafName('libcg', file)
  const svcDir = path.join(w.dir, 'nslocate', leaf)
  const svcPath = `/${w.name}/nslocate/${leaf}`
  const svc = service(
    `const before = cg()
     const h = await ns.acquire({name: 'libcg', dir: ${JSON.stringify(dir)}, cgroup: 'auto'})
     const held = h.cgroup
     say({before, inside: cg(), pid: process.pid, path: h.path, cgroup: held, note: h.cgroupNote, content: fs.readFileSync(h.path, 'utf8')})
     await next()
     h.release()
     say({after: cg(), cgroup: h.cgroup, dirLeft: fs.existsSync(held.dir), fileLeft: fs.existsSync(h.path)})`,
    {wrapper: w.dir},
  )
  const held = await svc.next()
  expect(held.before).toBe(`/${w.name}`)
  expect(held.inside).toBe(svcPath)
  expect(held.cgroup).toEqual({path: svcPath, dir: svcDir, ino: fs.statSync(svcDir).ino})
  expect(held.note).toBeNull()
  expect([held.path, held.content]).toEqual([file, String(svc.pid)])
  // the caller is the cgroup's one process, and the record on the file binds it (path, inode, boot)
  expect(readOr(path.join(svcDir, 'cgroup.procs')).trim()).toBe(String(svc.pid))
  expect(recordOf(file)).toBe(`v1 path=${svcPath} ino=${held.cgroup.ino} boot_id=${BOOT_ID}`)
  const found = await cliJson(['find', 'libcg', '--dir', dir])
  expect([found.status, found.json.state, found.json.pid]).toEqual([0, 'running', svc.pid])
  expect(found.json.cgroup).toEqual({path: svcPath, dir: svcDir, populated: true, processes: [svc.pid], why: null})

  svc.stdin!.write('release\n')
  const released = await svc.next()
  expect(released).toEqual({after: `/${w.name}`, cgroup: null, dirLeft: false, fileLeft: false})
  expect(await exited(svc)).toBe(0)
  expect(cgroupsIn(w.dir)).toEqual([])
})

test("cgroup 'auto': what the caller started while it held the cgroup keeps it after release(); the next acquire() removes it once empty", async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cglib-')
  const file = path.join(dir, 'libkid.pid')
  const svcDir = path.join(w.dir, 'nslocate', leafName('libkid', file))
  const svc = service(
    `const h = await ns.acquire({name: 'libkid', dir: ${JSON.stringify(dir)}, cgroup: 'auto'})
     const kid = require('child_process').spawn('sleep', ['300'], {stdio: 'ignore', detached: true})
     kid.unref()
     say({kid: kid.pid, ino: h.cgroup.ino})
     await next()
     h.release()
     say({after: cg()})`,
    {wrapper: w.dir},
  )
  const {kid, ino} = await svc.next()
  try {
    await until(() => readOr(`/proc/${kid}/comm`).trim() === 'sleep', 'the kid to run sleep')
    expect(readOr(path.join(svcDir, 'cgroup.procs')).trim().split('\n').map(Number).sort()).toEqual([svc.pid, kid].sort())
    svc.stdin!.write('release\n')
    expect(await svc.next()).toEqual({after: `/${w.name}`})
    expect(await exited(svc)).toBe(0)
    // the kid still holds the cgroup: it stays (with it alone in it), and the pidfile is gone
    expect(readOr(path.join(svcDir, 'cgroup.procs')).trim()).toBe(String(kid))
    expect(fs.existsSync(file)).toBe(false)
  } finally {
    process.kill(kid, 'SIGKILL')
  }
  await until(() => !/^populated 1$/m.test(readOr(path.join(svcDir, 'cgroup.events'))), 'the cgroup to empty')
  const again = service(
    `const h = await ns.acquire({name: 'libkid', dir: ${JSON.stringify(dir)}, cgroup: 'auto'})
     say({inside: cg(), ino: h.cgroup && h.cgroup.ino})
     h.release()`,
    {wrapper: w.dir},
  )
  const second = await again.next()
  expect(second.inside).toBe(`/${w.name}/nslocate/${leafName('libkid', file)}`)
  expect(second.ino).not.toBe(ino)
  expect(await exited(again)).toBe(0)
  expect(cgroupsIn(w.dir)).toEqual([])
})

test("the name-first form acquire(NAME, {dir, cgroup: 'auto'}) takes the option too", async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cglib-')
  const svc = service(
    `const h = await ns.acquire('libover', {dir: ${JSON.stringify(dir)}, cgroup: 'auto'})
     say({inside: cg(), dir: h.cgroup && h.cgroup.dir})
     h.release()
     say({after: cg()})`,
    {wrapper: w.dir},
  )
  const leaf = leafName('libover', path.join(dir, 'libover.pid'))
  expect(await svc.next()).toEqual({inside: `/${w.name}/nslocate/${leaf}`, dir: path.join(w.dir, 'nslocate', leaf)})
  expect(await svc.next()).toEqual({after: `/${w.name}`})
  expect(await exited(svc)).toBe(0)
  expect(cgroupsIn(w.dir)).toEqual([])
})

test('the default (no cgroup option) is none: the caller stays where it is, no cgroup, no record', async () => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cglib-')
  const svc = service(
    `const h = await ns.acquire({name: 'libnone', dir: ${JSON.stringify(dir)}})
     say({inside: cg(), cgroup: h.cgroup, note: h.cgroupNote, path: h.path})
     await next()
     h.release()`,
    {wrapper: w.dir},
  )
  const held = await svc.next()
  expect(held).toEqual({inside: `/${w.name}`, cgroup: null, note: null, path: path.join(dir, 'libnone.pid')})
  expect(recordOf(held.path)).toBeNull()
  const found = await cliJson(['find', 'libnone', '--dir', dir])
  expect([found.json.pid, found.json.cgroup]).toEqual([svc.pid, null])
  expect(cgroupsIn(w.dir)).toEqual([])
  svc.stdin!.write('release\n')
  expect(await exited(svc)).toBe(0)
})

describe('a user without delegation', () => {
  function userDir(): string {
    const dir = path.join(user.home, `d${count++}`)
    fs.mkdirSync(dir, {mode: 0o755})
    fs.chownSync(dir, user.uid, user.gid)
    return dir
  }

  test("cgroup 'required': UNSUPPORTED, saying why; no pidfile left", async () => {
    const dir = userDir()
    const svc = service(
      `const r = await ns.acquire({name: 'libreq', dir: ${JSON.stringify(dir)}, cgroup: 'required'}).then(
         (h) => ({acquired: h.path}),
         (e) => ({nslocateError: e instanceof ns.NslocateError, code: e.code, message: e.message, details: e.details}))
       say({...r, inside: cg(), left: fs.readdirSync(${JSON.stringify(dir)})})`,
      {as: user},
    )
    const r = await svc.next()
    expect(r).toMatchObject({nslocateError: true, code: 'UNSUPPORTED', inside: OWN || '/', left: []})
    // The line is the failure; what it takes is the advice (the hint on the command line); the record keeps the whole reason.
    expect(r.message).toMatch(
      /^no cgroup for libreq: cannot create \S+ \(EACCES\); nothing was started; run as root or in a cgroup subtree delegated to this user, or use option cgroup "auto"$/,
    )
    expect(r.details).toMatchObject({why: expect.stringMatching(/\(EACCES\): making a cgroup needs write access there/)})
    expect(r.details).toMatchObject({reason: 'no_cgroup', why: expect.stringMatching(/\(EACCES\)/)})
    expect(await exited(svc)).toBe(0)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  test("cgroup 'auto': acquired without one; handle.cgroupNote and the record say why", async () => {
    const dir = userDir()
    const svc = service(
      `const h = await ns.acquire({name: 'libauto', dir: ${JSON.stringify(dir)}, cgroup: 'auto'})
       say({inside: cg(), cgroup: h.cgroup, note: h.cgroupNote, path: h.path})
       await next()
       h.release()`,
      {as: user},
    )
    const held = await svc.next()
    expect([held.inside, held.cgroup]).toEqual([OWN || '/', null])
    expect(held.note).toMatch(/^cannot create \S+ \(EACCES\): making a cgroup needs write access there/)
    expect(recordOf(held.path)).toBe(`v1 none why=${held.note}`)
    const found = await cliJson(['find', 'libauto', '--dir', dir])
    expect(found.json.cgroup).toEqual({path: null, dir: null, populated: null, processes: [], why: held.note})
    svc.stdin!.write('release\n')
    expect(await exited(svc)).toBe(0)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

test.each([['bogus'], ['AUTO'], [''], ['required ']])('an invalid mode %j: USAGE, no pidfile left, no cgroup made', async (mode) => {
  const w = makeWrapper()
  const dir = tempDir('nslocate-cglib-')
  const svc = service(
    `const r = await ns.acquire({name: 'libbad', dir: ${JSON.stringify(dir)}, cgroup: ${JSON.stringify(mode)}}).then(
       (h) => ({acquired: h.path}),
       (e) => ({nslocateError: e instanceof ns.NslocateError, code: e.code, message: e.message}))
     say({...r, inside: cg()})`,
    {wrapper: w.dir},
  )
  const r = await svc.next()
  expect(r).toMatchObject({nslocateError: true, code: 'USAGE', inside: `/${w.name}`})
  // refused as a bad value of a known option, not as an unknown option
  expect(r.message).toMatch(/cgroup/)
  expect(r.message).not.toMatch(/unknown option/)
  expect(await exited(svc)).toBe(0)
  expect(fs.readdirSync(dir)).toEqual([])
  expect(cgroupsIn(w.dir)).toEqual([])
})
