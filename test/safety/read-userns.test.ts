/**
 * F6 (reader part): inside a user namespace every owner that is not mapped into it shows as the
 * overflow uid (65534), and so does `/` when root is unmapped. path-safety.ts trusted the owner of
 * `/` as the namespace's root, and with it every unmapped user: alice, in `unshare -U -r`, was
 * told a pidfile in bob's directory was fine. The overflow uid is never trusted: her signal is
 * refused and the process the file names receives nothing.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnVictim} from '../helpers/victims'

let alice: TestUser
let bob: TestUser
beforeAll(() => {
  alice = createTestUser('rdnsalice')
  bob = createTestUser('rdnsbob')
})
afterAll(async () => {
  await stopAll()
  alice.remove()
  bob.remove()
})

/** Runs the CLI as root of the user namespace `nsPid` is in (alice's: she owns it, so she may enter it). */
function inUserns(nsPid: number, args: string[]): {status: number | null; json: any; stderr: string} {
  const argv = alice.as(['nsenter', '-U', '-t', String(nsPid), '--preserve-credentials', '--', process.execPath, BIN, ...args])
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', timeout: 20_000, cwd: '/', env: {...process.env}})
  let json: any = null
  try {
    json = JSON.parse(r.stdout)
  } catch {}
  return {status: r.status, json, stderr: r.stderr}
}

test("in alice's user namespace, a pidfile in unmapped bob's directory is not trusted as root's (unsafe_directory, overflow uid); nothing is signalled", async () => {
  const top = tempDir('nslocate-rdns-')
  fs.chmodSync(top, 0o755)
  const dir = path.join(top, 'bobs')
  fs.mkdirSync(dir)
  fs.chownSync(dir, bob.uid, bob.gid)
  fs.chmodSync(dir, 0o755)
  const logDir = fs.mkdtempSync(path.join(alice.home, 'log-'))
  fs.chownSync(logDir, alice.uid, alice.gid)
  // The service runs in alice's user namespace (unshare execs siglog): she is its root, bob and host root are unmapped.
  const victim = await spawnVictim({prefix: alice.as(['unshare', '-U', '-r', '--']), log: path.join(logDir, 'signals.log'), env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
  const file = path.join(dir, 'siglog.pid')
  fs.writeFileSync(file, `${victim.ready[0]}\n`)
  fs.chownSync(file, alice.uid, alice.gid)
  const overflow = Number(fs.readFileSync('/proc/sys/kernel/overflowuid', 'utf8'))
  const found = inUserns(victim.pid, ['find', 'siglog', '--pidfile', file, '--json'])
  expect(found.json).not.toBeNull()
  expect(found.json.state).toBe('unknown')
  expect(found.json.reasons).toContain('unsafe_directory')
  expect(found.json.evidence.join('\n')).toContain(`is owned by uid ${overflow}`)
  expect(found.json.pid).toBeNull()
  const sent = inUserns(victim.pid, ['signal', 'siglog', 'TERM', '--pidfile', file, '--json'])
  expect(sent.status).toBe(4)
  await sleep(300)
  expect(victim.received()).toEqual([])
  expect(fs.existsSync(`/proc/${victim.ready[0]}`)).toBe(true)
})
