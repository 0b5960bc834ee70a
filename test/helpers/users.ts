/**
 * Unprivileged users made by a test and removed by it: the attacker and the caller without
 * privilege that safety tests need. Names are unique per call, so test files and parallel runs
 * never share one. Needs root (useradd/userdel from Debian's passwd package).
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

export interface TestUser {
  name: string
  uid: number
  gid: number
  /** a HOME of its own (0700, owned by the user) */
  home: string
  /** argv prefix running a command as this user, with no supplementary groups (util-linux setpriv) */
  as(argv: string[]): string[]
  /** userdel and remove the home; idempotent */
  remove(): void
}

const made = new Set<TestUser>()
process.once('exit', () => {
  for (const u of made) u.remove()
})

/** `tag`: a few letters naming the test (the user is nsl-TAG-RANDOM, at most 32 characters). */
export function createTestUser(tag: string): TestUser {
  const name = `nsl-${tag.replace(/[^a-z0-9]/g, '').slice(0, 12)}-${Math.random().toString(36).slice(2, 8)}`
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `nslocate-home-${tag}-`))
  execFileSync('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', name], {stdio: 'pipe'})
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim())
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim())
  fs.chownSync(home, uid, gid)
  fs.chmodSync(home, 0o700)
  let removed = false
  const user: TestUser = {
    name,
    uid,
    gid,
    home,
    as: (argv) => ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--reset-env', '--', ...argv],
    remove() {
      if (removed) return
      removed = true
      made.delete(user)
      try {
        execFileSync('pkill', ['-KILL', '-U', String(uid)], {stdio: 'ignore'})
      } catch {}
      // userdel fails while another test file's useradd or userdel holds /etc/passwd's lock: try again for up to 10 s.
      for (let i = 0; i < 100; i++) {
        try {
          execFileSync('userdel', [name], {stdio: 'ignore'})
          break
        } catch {
          if (spawnSync('id', ['-u', name], {stdio: 'ignore'}).status !== 0) break // gone after all
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
        }
      }
      fs.rmSync(home, {recursive: true, force: true})
    },
  }
  made.add(user)
  return user
}
