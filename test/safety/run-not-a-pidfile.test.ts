/**
 * issue 17, hole 6: `run x --pidfile /etc/app/important.conf -- true` (a typo) overwrote a
 * root-owned 0600 file holding text, then deleted it. run must never truncate, rewrite, re-mode or
 * delete a non-empty file that does not hold a pid: it refuses (123) with one line naming the file
 * and what it holds, and COMMAND is not run. A file that is empty or holds a (stale) pid is still a
 * pidfile to take over, as before.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, killTracked} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'

afterEach(() => killTracked())
afterAll(() => stopAll())

/** root's `run NAME --pidfile FILE -- touch MARKER`: the result and whether the command ran. */
async function runOn(file: string): Promise<{status: number | null; stderr: string; ran: boolean}> {
  const marker = path.join(tempDir('nslocate-marker-'), 'ran')
  const r = await cli(['run', 'x', '--pidfile', file, '--', 'touch', marker])
  return {status: r.status, stderr: r.stderr.trim(), ran: fs.existsSync(marker)}
}

function snapshot(file: string): {bytes: string; mode: number; uid: number; ino: number; mtimeMs: number} {
  const st = fs.statSync(file)
  return {bytes: fs.readFileSync(file).toString('hex'), mode: st.mode, uid: st.uid, ino: st.ino, mtimeMs: st.mtimeMs}
}

test.each([
  ['a root 0600 config file', 'important.conf', 'listen = 8080\nsecret=x\n', 0o600],
  ['a root 0400 key (never made 0644)', 'key.pem', '-----BEGIN KEY-----\nabc\n', 0o400],
  ['a pid followed by text (not what run writes)', 'two.pid', '1234\nport 5432\n', 0o644],
  ['a negative number', 'neg.pid', '-1\n', 0o644],
  ['a file of NUL bytes', 'nul.pid', '\0\0\0\0', 0o644],
])('%s: refused (123), byte for byte, mode and inode unchanged, COMMAND not run', async (_what, name, content, mode) => {
  const dir = tempDir('nslocate-notpid-')
  const file = path.join(dir, name)
  fs.writeFileSync(file, content, {mode})
  fs.chmodSync(file, mode)
  const before = snapshot(file)
  const r = await runOn(file)
  expect(r.status).toBe(123)
  expect(r.ran).toBe(false)
  expect(r.stderr).toBe(
    `nslocate: refusing to overwrite ${file}: it holds ${Buffer.byteLength(content)} bytes that are not a pid\nhint: remove it or choose another --pidfile`,
  )
  expect(snapshot(file)).toEqual(before)
  expect(fs.readdirSync(dir)).toEqual([name])
})

test("a file of the caller's that others may write and that holds text: refused before its mode is changed", async () => {
  const dir = tempDir('nslocate-notpid-')
  const file = path.join(dir, 'shared.conf')
  fs.writeFileSync(file, 'not a pid\n')
  fs.chmodSync(file, 0o664)
  const before = snapshot(file)
  const r = await runOn(file)
  expect([r.status, r.ran]).toEqual([123, false])
  expect(snapshot(file)).toEqual(before)
})

test.each([
  ['a stale pid', (pid: number) => String(pid)],
  ['a stale pid and a newline', (pid: number) => `${pid}\n`],
  ['a stale pid with blanks around it', (pid: number) => `  ${pid}\t\r\n\n`],
  ['nothing (empty)', () => ''],
  ['only blanks', () => ' \n\n'],
])('a pidfile holding %s is taken over as before: COMMAND runs, the file is removed after', async (_what, text) => {
  const dir = tempDir('nslocate-notpid-')
  const file = path.join(dir, 'svc.pid')
  const dead = deadPid()
  fs.writeFileSync(file, text(dead), {mode: 0o644})
  const r = await runOn(file)
  expect([r.status, r.ran, r.stderr]).toEqual([0, true, ''])
  expect(fs.existsSync(file)).toBe(false)
})

/** The pid of a process that has exited (and was reaped). */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'}).stdout.trim())
}
