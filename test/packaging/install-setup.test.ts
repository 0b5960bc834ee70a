/**
 * The README's Set up commands, as written, by a user with sudo on this machine: a throwaway user
 * (nsl-p-XXXX, with a sudoers.d entry) gets a clean copy of the repository (the files a clone of the
 * next commit has: git's tracked and not-ignored files), runs `bash scripts/setup.sh` (which re-runs
 * itself with sudo; idempotent, fast once the packages are here) and `npm install` (dependencies,
 * then the build), then the checkout's nslocate. Root runs the same commands in .ci/run. The user,
 * the sudoers entry, the copy and the user's processes are removed afterwards, also on failure.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, ok, run, tempDir} from './exec'

const USER = `nsl-p-${crypto.randomBytes(3).toString('hex')}`
const SUDOERS = `/etc/sudoers.d/${USER}`

let dir: string
let clone: string
let created = false

/** The README's Set up section's commands, in order. */
function setupCommands(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Set up\n')
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1))
  return section.match(/^```\n([\s\S]*?)\n```$/m)![1].split('\n')
}

/**
 * A login shell of the user, in the copy. It keeps only this machine's extra CA (NODE_EXTRA_CA_CERTS,
 * e.g. a TLS-inspecting proxy between it and the registry), which npm needs here as root's npm does.
 */
const as = (command: string, timeoutMs = 120_000) => {
  const ca = process.env.NODE_EXTRA_CA_CERTS
  const keep = ca ? ['--whitelist-environment=NODE_EXTRA_CA_CERTS'] : []
  return run('su', ['--login', ...keep, USER, '--command', `cd ${clone} && ${command}`], {
    cwd: '/',
    env: {LANG: 'C.UTF-8', ...(ca ? {NODE_EXTRA_CA_CERTS: ca} : {})},
    replaceEnv: true,
    timeoutMs,
  })
}

beforeAll(async () => {
  await ok('useradd', ['--create-home', '--shell', '/bin/bash', USER])
  created = true
  fs.writeFileSync(SUDOERS, `${USER} ALL=(ALL) NOPASSWD: ALL\n`, {mode: 0o440})
  dir = tempDir('setup')
  fs.chmodSync(dir, 0o755)
  clone = path.join(dir, 'nslocate')
  const listed = (await ok('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'])).split('\0').filter(Boolean)
  for (const f of listed) {
    if (!fs.existsSync(path.join(ROOT, f))) continue // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(clone, f)), {recursive: true})
    fs.copyFileSync(path.join(ROOT, f), path.join(clone, f))
    fs.chmodSync(path.join(clone, f), fs.statSync(path.join(ROOT, f)).mode & 0o777)
  }
  await ok('chown', ['-R', `${USER}:${USER}`, clone])
}, 120_000)

afterAll(async () => {
  if (created) {
    // The user's processes, by pid (a build's leftovers), then the user, its home and its sudoers entry.
    const uid = (await ok('id', ['-u', USER])).trim()
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (String(fs.statSync(`/proc/${pid}`).uid) === uid) process.kill(Number(pid), 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
    await run('userdel', ['--remove', USER])
  }
  fs.rmSync(SUDOERS, {force: true})
  if (dir) fs.rmSync(dir, {recursive: true, force: true})
}, 60_000)

test('the README\'s Set up is `bash scripts/setup.sh` then `npm install`', () => {
  expect(setupCommands()).toEqual(['bash scripts/setup.sh', 'npm install'])
})

test('as a sudo user: bash scripts/setup.sh re-runs itself with sudo and succeeds', async () => {
  const r = await as(setupCommands()[0], 300_000)
  expect({status: r.status, stderr: r.stderr.split('\n').filter((l) => /error|fail|denied/i.test(l))}).toEqual({status: 0, stderr: []})
  expect(r.stdout).toMatch(/^setup: node v\d+\.\d+\.\d+ /m)
  expect(r.stdout).toMatch(/^setup: engine .*, packages ok$/m)
}, 320_000)

test('as a sudo user: npm install fetches and builds; the checkout\'s nslocate runs, with the addon', async () => {
  const t0 = Date.now()
  const r = await as(setupCommands()[1], 420_000)
  console.log(`npm install in a clean copy, as ${USER}: ${Date.now() - t0} ms`)
  // On a failure: what it printed last.
  expect({status: r.status, tail: r.status === 0 ? '' : `${r.stdout}\n${r.stderr}`.split('\n').slice(-30).join('\n')}).toEqual({status: 0, tail: ''})
  for (const f of ['build/nslocate.node', 'prebuilds/linux-x64/nslocate.napi.uv1.glibc.node', 'prebuilds/linux-arm64/nslocate.napi.uv1.glibc.node', 'dist/fast/find.js']) {
    expect({file: f, there: fs.existsSync(path.join(clone, f))}).toEqual({file: f, there: true})
  }
  const found = await as('./bin/run.js find nothere --pidfile /etc/hostname --json; echo "exit $?"')
  // /etc/hostname: a file with no pid in it, so the addon's lock probe runs (F_GETLK) before the verdict.
  expect(found.stdout).toMatch(/"state": "stale"[\s\S]*"lock": "none"[\s\S]*\nexit 1\n$/)
}, 440_000)
