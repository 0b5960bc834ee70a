/**
 * Whom the reader believes. F2: anyone who can read a pidfile can flock it; mallory's lock on a
 * stale root pidfile must not make root's find say running, nor `wait --for running` return, nor
 * `signal` reach her process. F3: a group-writable directory is the process's own only when its
 * group holds nobody but the process's user: alice (a member of shr) plants bob's pidfile in
 * root:shr 2775, and root's signal must not reach bob's process; postgres:postgres 2775 with only
 * postgres in it keeps working. Victims log every signal (victims.ts); users are real (users.ts).
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, spawnVictim} from '../helpers/victims'

const SIGTERM = 15
let mallory: TestUser
let alice: TestUser
let bob: TestUser
let pg: TestUser
const group = `nsl-shr-${Math.random().toString(36).slice(2, 8)}`
let shrGid: number
beforeAll(() => {
  mallory = createTestUser('rdtrust')
  alice = createTestUser('rdalice')
  bob = createTestUser('rdbob')
  pg = createTestUser('rdpg')
  execFileSync('groupadd', [group])
  shrGid = Number(execFileSync('getent', ['group', group], {encoding: 'utf8'}).split(':')[2])
  execFileSync('usermod', ['-aG', group, alice.name])
  execFileSync('usermod', ['-aG', group, bob.name])
})
afterAll(async () => {
  await stopAll()
  for (const u of [mallory, alice, bob, pg]) u.remove()
  try {
    execFileSync('groupdel', [group], {stdio: 'ignore'})
  } catch {}
})

function publicDir(): string {
  const d = tempDir('nslocate-rdtrust-')
  fs.chmodSync(d, 0o755)
  return d
}

/** A log file the victim, running as `u`, may write. */
function logFor(u: TestUser): string {
  const d = fs.mkdtempSync(path.join(u.home, 'log-'))
  fs.chownSync(d, u.uid, u.gid)
  return path.join(d, 'signals.log')
}

/** A pid that was just used and is now free (a stale pidfile's content). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'})
  return Number(r.stdout.trim())
}

async function nothingReceived(v: Victim): Promise<void> {
  await sleep(300)
  expect(v.received()).toEqual([])
  expect(fs.existsSync(`/proc/${v.ready[0]}`)).toBe(true)
}

describe('F2: a lock held by a user who could not have written the pidfile is no evidence (src/locate/writer.ts)', () => {
  test("mallory flocks root's stale pidfile: find says stale as without her lock, wait --for running does not return, signal reaches nothing", async () => {
    const dir = publicDir()
    const file = path.join(dir, 'svc.pid')
    fs.writeFileSync(file, `${deadPid()}\n`, {mode: 0o644})
    // mallory's own process holds a shared flock on it (she may read it, so she may lock it).
    const victim = await spawnVictim({prefix: mallory.as(['flock', '-s', file]), log: logFor(mallory), env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
    const holder = victim.pid
    const found = await cliJson(['find', 'svc', '--pidfile', file, '--json'])
    expect(found.status).toBe(1)
    expect(found.json.state).toBe('stale')
    expect(found.json.pid).toBeNull()
    expect(found.json.pidfile.lock).toBe('none')
    expect(found.json.reasons).not.toContain('foreign_lock_holder')
    const ev = found.json.evidence.join('\n')
    expect(ev).toContain(`pid ${holder} may hold a flock lock`)
    expect(ev).toContain(`its real uid ${mallory.uid} is neither root nor the file's owner uid 0`)
    const waited = await cliJson(['wait', 'svc', '--pidfile', file, '--for', 'running', '--timeout', '1500ms', '--json'])
    expect(waited.status).not.toBe(0)
    const sent = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file, '--json'])
    expect(sent.status).not.toBe(0)
    await nothingReceived(victim)
  })

  test('the pidfile owner holding the lock on its own file is still believed (running, exit 0)', async () => {
    const dir = publicDir()
    fs.chownSync(dir, bob.uid, bob.gid)
    const file = path.join(dir, 'own.pid')
    const victim = await spawnVictim({prefix: bob.as(['flock', file]), pidfile: file, log: logFor(bob), env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
    const found = await cliJson(['find', 'own', '--pidfile', file, '--json'])
    expect(found.json.pidfile.lock).toBe('flock')
    expect(found.json.state).toBe('running')
    expect(found.status).toBe(0)
    await nothingReceived(victim)
  })
})

describe('F3: a group-writable directory is trusted only when its group holds nobody but the process user', () => {
  test("alice (member of shr) renames bob's other pidfile to siglog.pid in root:shr 2775: root's signal is refused (unsafe_directory naming the members), bob's process receives nothing", async () => {
    const top = publicDir()
    const dir = path.join(top, 'shared')
    fs.mkdirSync(dir)
    fs.chownSync(dir, 0, shrGid)
    fs.chmodSync(dir, 0o2775)
    const bobAs = ['setpriv', `--reuid=${bob.uid}`, `--regid=${shrGid}`, `--groups=${shrGid}`, '--reset-env', '--']
    const victim = await spawnVictim({prefix: bobAs, pidfile: path.join(dir, 'other.pid'), log: logFor(bob), env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
    const aliceAs = ['setpriv', `--reuid=${alice.uid}`, `--regid=${alice.gid}`, `--groups=${shrGid}`, '--reset-env', '--']
    execFileSync(aliceAs[0], [...aliceAs.slice(1), 'mv', path.join(dir, 'other.pid'), path.join(dir, 'siglog.pid')])
    const sent = await cliJson(['signal', 'siglog', 'TERM', '--dir', dir, '--json'])
    expect(sent.status).toBe(4)
    const found = await cliJson(['find', 'siglog', '--dir', dir, '--json'])
    expect(found.json.state).toBe('unknown')
    expect(found.json.reasons).toContain('unsafe_directory')
    const ev = found.json.evidence.join('\n')
    expect(ev).toContain(`group ${group} (gid ${shrGid}) with members`)
    expect(ev).toContain(`${alice.name} (uid ${alice.uid})`)
    expect(ev).toContain(`${bob.name} (uid ${bob.uid})`)
    await nothingReceived(victim)
  })

  test('postgres-style pg:pg 2775 with only pg in the group: believed, root signal reaches the process', async () => {
    const top = publicDir()
    const dir = path.join(top, 'pgrun')
    fs.mkdirSync(dir)
    fs.chownSync(dir, pg.uid, pg.gid)
    fs.chmodSync(dir, 0o2775)
    const victim = await spawnVictim({
      prefix: pg.as([]),
      pidfile: path.join(dir, 'siglog.pid'),
      log: logFor(pg),
      exitOn: ['TERM'],
      env: {NSLOCATE_SIGLOG_PDEATH: '1'},
    })
    const found = await cliJson(['find', 'siglog', '--dir', dir, '--json'])
    expect(found.json.reasons).not.toContain('unsafe_directory')
    expect(found.json.state).toBe('running')
    const sent = await cliJson(['signal', 'siglog', 'TERM', '--dir', dir, '--json'])
    expect(sent.status).toBe(0)
    await victim.exited
    expect(victim.received().map((r) => r.signo)).toEqual([SIGTERM])
  })
})

describe('a group-writable pidfile (as root)', () => {
  test("redis-style 0660 pg:pg naming pg's own process, the group private to pg: believed, TERM reaches it", async () => {
    const dir = publicDir()
    const file = path.join(dir, 'siglog.pid')
    const victim = await spawnVictim({prefix: pg.as([]), log: logFor(pg), exitOn: ['TERM'], env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
    fs.writeFileSync(file, String(victim.ready[0]), {mode: 0o660})
    fs.chownSync(file, pg.uid, pg.gid)
    fs.chmodSync(file, 0o660)
    const found = await cliJson(['find', 'siglog', '--pidfile', file])
    expect(found.json.reasons).not.toContain('group_writable')
    expect(found.json).toMatchObject({state: 'running', pid: victim.ready[0]})
    const sent = await cliJson(['signal', 'siglog', 'TERM', '--pidfile', file])
    expect(sent.status).toBe(0)
    await victim.exited
    expect(victim.received().map((r) => r.signo)).toEqual([SIGTERM])
  })

  test("0660 bob:shr naming bob's process, where alice is in shr too: group_writable, nothing is sent", async () => {
    const dir = publicDir()
    const file = path.join(dir, 'siglog.pid')
    const victim = await spawnVictim({
      prefix: ['setpriv', `--reuid=${bob.uid}`, `--regid=${shrGid}`, '--clear-groups', '--'],
      log: logFor(bob),
      env: {NSLOCATE_SIGLOG_PDEATH: '1'},
    })
    fs.writeFileSync(file, String(victim.ready[0]), {mode: 0o660})
    fs.chownSync(file, bob.uid, shrGid)
    fs.chmodSync(file, 0o660)
    const found = await cliJson(['find', 'siglog', '--pidfile', file])
    expect(found.status).toBe(4)
    expect(found.json.reasons).toContain('group_writable')
    const sent = await cliJson(['signal', 'siglog', 'TERM', '--pidfile', file])
    expect(sent.status).toBe(4)
    await nothingReceived(victim)
  })
})
