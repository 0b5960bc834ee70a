/**
 * Issue 12, items 8-10: what another user controls is not trusted, and a denial is never "not
 * running". Root services are siglog victims (victims.ts) that log every signal with its sender;
 * the attacker is a real unprivileged user (users.ts). Each case asserts what the victim received.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliAs} from '../helpers/as-user'
import {cli, cliJson} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, spawnVictim} from '../helpers/victims'

let mallory: TestUser
beforeAll(() => {
  mallory = createTestUser('pidatk')
})
afterAll(async () => {
  await stopAll()
  mallory.remove()
})

const SIGUSR1 = 10

/** A directory everyone may traverse (tempDir() is 0700), owned by root. */
function publicDir(): string {
  const d = tempDir('nslocate-pidatk-')
  fs.chmodSync(d, 0o755)
  return d
}

/** A root service: a siglog victim whose pidfile root writes into `dir` after it started. */
async function rootService(dir: string, file = 'siglog.pid'): Promise<{victim: Victim; pidfile: string}> {
  const victim = await spawnVictim()
  const pidfile = path.join(dir, file)
  fs.writeFileSync(pidfile, `${victim.pid}\n`, {mode: 0o644})
  return {victim, pidfile}
}

/** Signals the victim got (after a moment for any late delivery). */
async function received(v: Victim): Promise<number[]> {
  await sleep(200)
  return v.received().map((r) => r.signo)
}

function asMallory(script: string): void {
  execFileSync(mallory.as(['sh', '-c', script])[0], mallory.as(['sh', '-c', script]).slice(1), {stdio: 'pipe'})
}

describe("another user's directory symlink on the path (issue 12, item 9)", () => {
  test('a symlinked directory in her home leads root to a root service: refused, the victim receives nothing', async () => {
    const svc = publicDir()
    const {victim} = await rootService(svc)
    asMallory(`ln -s ${svc} ${mallory.home}/run`)
    const via = path.join(mallory.home, 'run', 'siglog.pid')
    const found = await cliJson(['find', 'siglog', '--pidfile', via])
    expect({status: found.status, state: found.json.state, pid: found.json.pid}).toEqual({status: 4, state: 'unknown', pid: null})
    expect(found.json.reasons).toEqual(expect.arrayContaining(['unsafe_directory', 'unsafe_symlink']))
    const evidence = found.json.evidence.join('\n')
    expect(evidence).toContain(`the directory ${mallory.home} is owned by uid ${mallory.uid}`)
    expect(evidence).toContain(`the symbolic link ${mallory.home}/run -> ${svc} is owned by uid ${mallory.uid}`)
    const sent = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', via])
    expect(sent.status).toBe(4)
    expect(await received(victim)).toEqual([])
    // The same file by a path root controls is the service's (the refusal is about the path).
    const direct = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', path.join(svc, 'siglog.pid')])
    expect(direct.status).toBe(0)
    expect(await received(victim)).toEqual([SIGUSR1])
  })

  test('her symlink in sticky /tmp: refused (unsafe_symlink); --allow-unsafe-pidfile accepts it with a warning', async () => {
    const svc = publicDir()
    const {victim} = await rootService(svc)
    const link = path.join('/tmp', `nslocate-pidatk-link-${process.pid}-${Date.now()}`)
    asMallory(`ln -s ${svc} ${link}`)
    try {
      const via = path.join(link, 'siglog.pid')
      const sent = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', via])
      expect(sent.status).toBe(4)
      const found = await cliJson(['find', 'siglog', '--pidfile', via])
      expect(found.json.reasons).toContain('unsafe_symlink')
      expect(found.json.reasons).not.toContain('unsafe_directory') // /tmp is sticky and root's
      expect(await received(victim)).toEqual([])
      const allowed = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', via, '--allow-unsafe-pidfile'])
      expect(allowed.status).toBe(0)
      expect(await received(victim)).toEqual([SIGUSR1])
    } finally {
      fs.unlinkSync(link)
    }
  })

  test('a directory on the path writable by her group: refused (unsafe_directory)', async () => {
    const top = publicDir()
    const dir = path.join(top, 'shared')
    fs.mkdirSync(dir)
    fs.chownSync(dir, 0, mallory.gid)
    fs.chmodSync(dir, 0o775)
    const {victim, pidfile} = await rootService(dir)
    const found = await cliJson(['find', 'siglog', '--pidfile', pidfile])
    expect({status: found.status, reasons: found.json.reasons}).toEqual({status: 4, reasons: expect.arrayContaining(['unsafe_directory'])})
    expect(found.json.evidence.join('\n')).toContain(`the directory ${dir} is writable by group ${mallory.gid} (mode 0775)`)
    expect((await cli(['signal', 'siglog', 'USR1', '--pidfile', pidfile])).status).toBe(4)
    expect(await received(victim)).toEqual([])
  })

  test("no false refusal: a service's own directory (like /run/postgresql) naming its own process is trusted", async () => {
    const top = publicDir()
    const dir = path.join(top, 'svc')
    fs.mkdirSync(dir)
    fs.chownSync(dir, mallory.uid, mallory.gid)
    fs.chmodSync(dir, 0o2775)
    const log = path.join(dir, 'signals.log')
    const victim = await spawnVictim({prefix: mallory.as([]), log})
    const pidfile = path.join(dir, 'siglog.pid')
    fs.writeFileSync(pidfile, `${victim.pid}\n`)
    fs.chownSync(pidfile, mallory.uid, mallory.gid)
    const found = await cliJson(['find', 'siglog', '--pidfile', pidfile])
    expect({status: found.status, pid: found.json.pid, reasons: found.json.reasons}).toEqual({status: 0, pid: victim.pid, reasons: ['unlocked_pidfile']})
    expect((await cli(['signal', 'siglog', 'USR1', '--pidfile', pidfile])).status).toBe(0)
    expect(await received(victim)).toEqual([SIGUSR1])
  })
})

describe('a root pidfile writable by another group (issue 12, item 8)', () => {
  test('group-writable by her group: unsafe (group_writable), nothing sent; --allow-unsafe-pidfile overrides', async () => {
    const {victim, pidfile} = await rootService(publicDir())
    fs.chownSync(pidfile, 0, mallory.gid)
    fs.chmodSync(pidfile, 0o664)
    const found = await cliJson(['find', 'siglog', '--pidfile', pidfile])
    expect({status: found.status, state: found.json.state, reasons: found.json.reasons}).toEqual({
      status: 4,
      state: 'unknown',
      reasons: expect.arrayContaining(['group_writable']),
    })
    expect(found.json.evidence.join('\n')).toContain(`${pidfile} is writable by group ${mallory.gid} (mode 0664)`)
    expect((await cli(['signal', 'siglog', 'USR1', '--pidfile', pidfile])).status).toBe(4)
    expect((await cli(['wait', 'siglog', '--for', 'stopped', '--timeout', '1s', '--pidfile', pidfile])).status).toBe(4)
    expect(await received(victim)).toEqual([])
    expect((await cli(['signal', 'siglog', 'USR1', '--pidfile', pidfile, '--allow-unsafe-pidfile'])).status).toBe(0)
    expect(await received(victim)).toEqual([SIGUSR1])
  })

  test("group-writable by root's own group stays trusted", async () => {
    const {victim, pidfile} = await rootService(publicDir())
    fs.chmodSync(pidfile, 0o664)
    const found = await cliJson(['find', 'siglog', '--pidfile', pidfile])
    expect({status: found.status, pid: found.json.pid}).toEqual({status: 0, pid: victim.pid})
  })
})

describe('permission denied is never "not running" (issue 12, item 10)', () => {
  test('a 0700 root directory facing a non-root caller while the service runs: unknown/permission_denied (4) everywhere', async () => {
    const top = publicDir()
    const dir = path.join(top, 'private')
    fs.mkdirSync(dir, {mode: 0o700})
    const log = path.join(mallory.home, 'signals.log')
    // Her own service (she could signal it), whose pidfile root keeps where she cannot look.
    const victim = await spawnVictim({prefix: mallory.as([]), log})
    const pidfile = path.join(dir, 'siglog.pid')
    fs.writeFileSync(pidfile, `${victim.pid}\n`)
    const find = cliAs(mallory, ['find', 'siglog', '--pidfile', pidfile, '--json'])
    expect({status: find.status, state: find.json?.state, reasons: find.json?.reasons}).toEqual({status: 4, state: 'unknown', reasons: ['permission_denied']})
    expect(find.json.evidence.join('\n')).toContain(`permission denied: cannot look into ${dir} (mode 0700, owner uid 0, group 0)`)
    // The search path: a denied place ends the search instead of reading as "no pidfile".
    const searched = cliAs(mallory, ['find', 'siglog', '--json'], {NSLOCATE_RUNTIME_DIR: dir})
    expect({status: searched.status, reasons: searched.json?.reasons}).toEqual({status: 4, reasons: ['permission_denied']})
    expect(cliAs(mallory, ['find', 'siglog', '--dir', dir]).status).toBe(4)
    const sig = cliAs(mallory, ['signal', 'siglog', 'USR1', '--pidfile', pidfile])
    expect(sig.status).toBe(4)
    expect(sig.stderr).toContain('permission_denied')
    const wait = cliAs(mallory, ['wait', 'siglog', '--for', 'stopped', '--timeout', '500ms', '--pidfile', pidfile])
    expect(wait.status).not.toBe(0)
    expect(wait.status).toBe(4)
    expect(await received(victim)).toEqual([])
    // Root, who may look, finds it.
    const asRoot = await cliJson(['find', 'siglog', '--pidfile', pidfile])
    expect({status: asRoot.status, pid: asRoot.json.pid}).toEqual({status: 0, pid: victim.pid})
  })
})
