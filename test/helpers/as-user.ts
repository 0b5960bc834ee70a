/** Run the built CLI as a test user (users.ts), as an unprivileged caller would. */
import {spawnSync} from 'node:child_process'

import {BIN} from './cli'
import {TestUser} from './users'

export interface UserRun {
  status: number | null
  stdout: string
  stderr: string
  json: any
}

export function cliAs(user: TestUser, args: string[], env: NodeJS.ProcessEnv = {}): UserRun {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    uid: user.uid,
    gid: user.gid,
    cwd: user.home,
    encoding: 'utf8',
    timeout: 20_000,
    env: {PATH: process.env.PATH, HOME: user.home, ...env},
  })
  let json: any = null
  try {
    json = JSON.parse(r.stdout)
  } catch {}
  return {status: r.status, stdout: r.stdout, stderr: r.stderr, json}
}
