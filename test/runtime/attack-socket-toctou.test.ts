/**
 * ATTACK (issue 19 review): a socket that does not exist when socket-trust.ts checks it is
 * "trusted" ({delegate: null}: "left to the connection"), and the connection that follows looks
 * the path up again. Another user who can create the name (any missing path under a root-owned
 * sticky directory: /tmp, /var/tmp, /dev/shm, /run/lock) plants a socket between the check and
 * the connect, and its answers are then taken with no delegate rule at all: here it names root's
 * own Docker container, and root's nslocate resolves (and would signal) it.
 *
 * The race is made deterministic: the Podman backend's factory (called by select.ts right after
 * checkSocket) moves the attacker's already-listening socket into place, as a rename loop run by
 * an unprivileged user does by chance (measured: 9 of 60 `find` runs and a `signal ... KILL` won
 * against `while True: rename(a,b); rename(b,a)`). Fixed: the check pins the inode it judged
 * (an O_PATH descriptor) and every client connects to /proc/self/fd/N; a socket missing at the
 * check gives NO_SOCKET, which no planted socket can answer (socket-trust.ts).
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {NO_SOCKET, checkSocket} from '../../src/runtime/socket-trust'
import {APP_IMAGE, engineAvailableSync} from '../helpers/engine'
import {FakeEngine, startFakeEngine} from '../helpers/fake-engine'

let plant: (() => void) | null = null
jest.mock('../../src/runtime/podman', () => {
  const real = jest.requireActual('../../src/runtime/podman')
  return {
    ...real,
    podmanRuntime: (o: unknown) => {
      plant?.()
      return real.podmanRuntime(o)
    },
  }
})

const {containerTarget} = require('../../src/runtime/container-target') as typeof import('../../src/runtime/container-target')

const NOBODY = 65534
const root = process.geteuid?.() === 0
if (!root) throw new Error('these tests plant a socket as another user: run them as root (the test machines do)')
if (!engineAvailableSync()) throw new Error('no Docker engine answers: the victim is a Docker container (scripts/setup.sh starts one)')
const withDocker = describe

describe('checkSocket on a missing socket', () => {
  test('a missing socket under /tmp is never connected to by its path: NO_SOCKET, and a socket planted there later is not reached', async () => {
    const missing = path.join(os.tmpdir(), `nsl-attack-missing-${process.pid}.sock`)
    const verdict = checkSocket(missing, 'CONTAINER_HOST', process.env, 'Podman')
    expect(verdict).toEqual({delegate: null, path: NO_SOCKET})
    const planted = await startFakeEngine(missing, () => ({kind: 'json', body: {}}))
    try {
      const {connectable} = await import('../../src/runtime/select')
      expect(await connectable(verdict.path, 2000)).toBe('ENOENT')
      expect(planted.connections).toBe(0)
    } finally {
      await planted.close()
      fs.rmSync(missing, {force: true})
    }
  })

  test('an existing socket is pinned: a rename over its path after the check does not change what is reached', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsl-attack-pin-'))
    const good = await startFakeEngine(path.join(dir, 'good.sock'), () => ({kind: 'json', body: {}}))
    const evil = await startFakeEngine(path.join(dir, 'evil.sock'), () => ({kind: 'json', body: {}}))
    try {
      const verdict = checkSocket(path.join(dir, 'good.sock'), 'CONTAINER_HOST', process.env, 'Podman')
      expect(verdict.path).toMatch(/^\/proc\/self\/fd\/\d+$/)
      fs.renameSync(path.join(dir, 'evil.sock'), path.join(dir, 'good.sock'))
      const {connectable} = await import('../../src/runtime/select')
      expect(await connectable(verdict.path, 2000)).toBeNull()
      await new Promise((r) => setTimeout(r, 100))
      expect({good: good.connections, evil: evil.connections}).toEqual({good: 1, evil: 0})
    } finally {
      await good.close()
      await evil.close()
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})

withDocker('a socket planted after the check (TOCTOU)', () => {
  let cid = ''
  let pid = 0
  let engine: FakeEngine | null = null
  let hidden = ''
  let target = ''
  let dir = ''

  beforeAll(async () => {
    cid = execFileSync('docker', ['run', '-d', '--rm', '--entrypoint', 'sh', APP_IMAGE, '-c', 'echo $$ > /run/app.pid; exec sleep 600']).toString().trim()
    pid = Number(execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', cid]).toString().trim())
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsl-attack-'))
    fs.chownSync(dir, NOBODY, NOBODY)
    hidden = path.join(dir, 's')
    target = path.join(os.tmpdir(), `nsl-attack-race-${process.pid}.sock`)
    const body = {
      Id: cid,
      Name: 'x',
      ImageName: 'i',
      State: {Status: 'running', Running: true, Pid: pid},
      Config: {Labels: {}},
      HostConfig: {PidMode: 'private'},
      Pod: '',
    }
    engine = await startFakeEngine(hidden, (_m, url) =>
      url.includes('/containers/') ? {kind: 'json', body} : {kind: 'json', status: 404, body: {message: 'no such container'}},
    )
    fs.chownSync(hidden, NOBODY, NOBODY)
  }, 60_000)

  afterAll(async () => {
    plant = null
    await engine?.close()
    for (const p of [target, dir]) fs.rmSync(p, {recursive: true, force: true})
    if (cid) execFileSync('docker', ['rm', '-f', cid], {stdio: 'ignore'})
  })

  test("root's containerTarget refuses an answer from a socket that appeared after the check", async () => {
    expect(fs.existsSync(target)).toBe(false)
    plant = () => {
      plant = null
      fs.renameSync(hidden, target) // the attacker's rename, between checkSocket and connect
    }
    const env = {...process.env, CONTAINER_HOST: `unix://${target}`}
    const outcome = await containerTarget({container: 'podman://x'}, {env}).then(
      (t) => ({resolved: true, rootPid: t.rootPid, delegate: t.delegate, socketOwner: fs.statSync(target).uid}),
      (error: Error) => ({resolved: false, message: error.message}),
    )
    // Today: {resolved: true, rootPid: <root's container's init>, delegate: null, socketOwner: 65534}.
    expect(outcome).toMatchObject({resolved: false})
  })
})
