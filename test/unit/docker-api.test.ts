/**
 * The Docker API failure paths of --container, without an engine:
 *  - dockerError(): each failure class -> NslocateError code, message, exit status;
 *  - the library over nock (nock 15.0.0 intercepts dockerode's HTTP-over-unix-socket requests when
 *    scoped as http://localhost): no such container, stopped container, an engine that refuses the
 *    API version, a container that goes away between two calls, the helper route when State.Pid
 *    names nothing here;
 *  - the built CLI as a subprocess (exit status as users see it) against a tiny fake engine on a
 *    unix socket in a temp dir, a socket that does not exist, and a socket the caller may not open
 *    (mode 000, run as uid 65534). These need `npm run build` (npm test does it).
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as os from 'node:os'
import * as path from 'node:path'

import nock from 'nock'

import {containerTarget} from '../../src/runtime/container-target'
import {dockerApi, dockerError, engineEndpoint} from '../../src/runtime/docker'
import {listContainers, locateInContainer, signalInContainer} from '../../src/runtime/in-container'
import {NslocateError} from '../../src/errors'

const dockerWhere = (env: NodeJS.ProcessEnv) => engineEndpoint(env).where
const leanEndpoint = (env: NodeJS.ProcessEnv) => engineEndpoint(env).lean

const ROOT = path.resolve(__dirname, '../..')
const BIN = path.join(ROOT, 'bin', 'run.js')
const WHERE = 'unix:///var/run/docker.sock'
const ID = 'a'.repeat(64)
/** A pid no process can have (pid_max is at most 2^22, pids are below it). */
const NO_SUCH_PID = 4_194_304
/** Which socket gave a "not running" answer, and whose it is (src/runtime/resolve.ts): root's default socket, or none there. */
const ANSWERED = expect.stringMatching(/^answered by Docker at unix:\/\/\/var\/run\/docker\.sock \((a socket owned by root|no socket there)\)$/)

/** A `GET /containers/ID/json` body, as the engine answers it. */
function inspectBody(over: {running?: boolean; pid?: number; id?: string; name?: string} = {}) {
  const running = over.running ?? true
  return {
    Id: over.id ?? ID,
    Name: `/${over.name ?? 'web'}`,
    Config: {Image: 'web:1'},
    State: {Status: running ? 'running' : 'exited', Running: running, Pid: running ? (over.pid ?? NO_SUCH_PID) : 0, ExitCode: running ? 0 : 137},
  }
}

/** Docker's multiplexed log stream (no TTY): [stream, 0, 0, 0, size BE32] + payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text)
  const head = Buffer.alloc(8)
  head[0] = stream
  head.writeUInt32BE(payload.length, 4)
  return Buffer.concat([head, payload])
}

/**
 * The engine names container web's init by a pid that is not in this PID namespace (the sidecar
 * case). Answered 3 times: containerTarget asks again twice before taking the helper route.
 */
function webInAnotherPidNs(): nock.Scope {
  return nock('http://localhost')
    .get('/containers/web/json')
    .times(3)
    .reply(200, inspectBody({pid: NO_SUCH_PID}))
}

/** Runs fn and returns what it threw (failing if it did not throw a NslocateError). */
async function caught(fn: () => unknown): Promise<NslocateError> {
  try {
    await fn()
  } catch (error) {
    if (error instanceof NslocateError) return error
    throw error
  }
  throw new Error('expected a NslocateError, nothing was thrown')
}

describe('dockerError(): each failure says what to do, with its error code', () => {
  const err = (props: Record<string, unknown>) => Object.assign(new Error(String(props.message ?? 'x')), props)

  test.each(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT'])('%s: the engine cannot be reached (DOCKER, exit 4)', (code) => {
    const e = dockerError(err({code}), 'inspect container web', WHERE)
    expect(e).toMatchObject({code: 'DOCKER', advice: 'is dockerd running? Set DOCKER_HOST to its socket (in a container: mount /var/run/docker.sock)'})
    expect(e.message).toBe(
      `cannot reach the Docker engine at ${WHERE} (${code}) while trying to inspect container web: is dockerd running? Set DOCKER_HOST to its socket (in a container: mount /var/run/docker.sock)`,
    )
  })

  test.each(['EACCES', 'EPERM'])('%s on the socket: PERMISSION, exit 4, says how to get access', (code) => {
    const e = dockerError(err({code, syscall: 'connect', address: '/var/run/docker.sock'}), 'inspect container web', WHERE)
    expect(e).toMatchObject({code: 'PERMISSION', advice: 'run as root or as a member of the docker group'})
    expect(e.message).toBe(
      `permission denied on the Docker socket ${WHERE} while trying to inspect container web: run as root or as a member of the docker group`,
    )
  })

  test("404: no such container (NOT_RUNNING, exit 3), said once: the engine's own echo of it is dropped, anything else it says is kept", () => {
    const e = dockerError(err({statusCode: 404, json: {message: 'No such container: web'}}), 'inspect container web', WHERE)
    expect(e).toMatchObject({code: 'NOT_RUNNING'})
    expect(e.message).toBe('no container web (Docker)')
    const other = dockerError(err({statusCode: 404, json: {message: 'page not found'}}), 'inspect container web', WHERE)
    expect(other.message).toBe('no such container while trying to inspect container web: page not found')
  })

  test('400 naming the API version: the engine is too old (DOCKER, exit 4)', () => {
    const e = dockerError(
      err({statusCode: 400, json: {message: 'client version 1.41 is too new. Maximum supported API version is 1.23'}}),
      'inspect container web',
      WHERE,
    )
    expect(e).toMatchObject({code: 'DOCKER'})
    expect(e.message).toContain('refused the API version (client version 1.41 is too new. Maximum supported API version is 1.23)')
    expect(e.message).toContain('nslocate needs Docker API 1.24 or newer')
  })

  test('409: the container is not running (NOT_RUNNING, exit 3)', () => {
    const e = dockerError(err({statusCode: 409, json: {message: `Container ${ID} is not running`}}), 'run the helper container (image nslocate:local)', WHERE)
    expect(e).toMatchObject({code: 'NOT_RUNNING'})
    expect(e.message).toBe(`the container is not running (Container ${ID} is not running) while trying to run the helper container (image nslocate:local)`)
  })

  test("anything else: DOCKER, exit 4, the engine's message", () => {
    const e = dockerError(err({statusCode: 500, json: {message: 'driver failed'}}), 'list containers', WHERE)
    expect(e).toMatchObject({code: 'DOCKER'})
    expect(e.message).toBe(`the Docker engine at ${WHERE} failed to list containers: driver failed`)
  })
})

describe('engineEndpoint().lean: inspect goes over node:http only where docker-modem would do the same', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-home-'))
  afterAll(() => fs.rmSync(home, {recursive: true, force: true}))
  test.each([
    [{}, {socketPath: '/var/run/docker.sock'}],
    [{DOCKER_HOST: 'unix:///run/user/1000/docker.sock'}, {socketPath: '/run/user/1000/docker.sock'}],
    [{DOCKER_HOST: 'tcp://127.0.0.1:2375'}, {host: '127.0.0.1', port: 2375}],
    [{DOCKER_HOST: 'tcp://docker.example:2375/'}, {host: 'docker.example', port: 2375}],
    [{DOCKER_HOST: 'tcp://127.0.0.1:2376'}, null], // docker-modem switches to TLS on 2376
    [{DOCKER_HOST: 'tcp://127.0.0.1:2375', DOCKER_TLS_VERIFY: '1'}, null],
    [{DOCKER_HOST: 'tcp://127.0.0.1:2375', DOCKER_TLS_VERIFY: '0'}, null],
    [{DOCKER_HOST: 'tcp://127.0.0.1:99999'}, null],
    [{DOCKER_HOST: 'tcp://127.0.0.1'}, null],
    [{DOCKER_HOST: 'unix://'}, null],
    [{DOCKER_HOST: 'ssh://me@host'}, null],
    [{DOCKER_PATH_PREFIX: '/v1.41'}, null],
    [{DOCKER_CLIENT_TIMEOUT: '5000'}, null],
  ])('%j -> %j', (env, want) => {
    expect(leanEndpoint({HOME: home, ...env})).toEqual(want)
  })
  test('no DOCKER_HOST and a Docker Desktop socket in ~/.docker/run: left to docker-modem, which prefers it; messages name it', () => {
    expect(dockerWhere({HOME: home})).toBe('unix:///var/run/docker.sock')
    fs.mkdirSync(path.join(home, '.docker', 'run'), {recursive: true})
    fs.writeFileSync(path.join(home, '.docker', 'run', 'docker.sock'), '')
    expect(leanEndpoint({HOME: home})).toBeNull()
    expect(dockerWhere({HOME: home})).toBe(`unix://${home}/.docker/run/docker.sock`)
    expect(dockerWhere({HOME: home, DOCKER_HOST: 'tcp://h:2375'})).toBe('tcp://h:2375')
  })
})

test('an empty container ref is a usage error, never "no container" (which would search the host)', async () => {
  for (const run of [() => locateInContainer('app', ''), () => signalInContainer('app', 'TERM', ' '), () => containerTarget('')]) {
    const e = await caught(run)
    expect(e).toMatchObject({code: 'USAGE', message: 'option container needs a container name or id; it was given an empty value'})
    expect(e.render((o) => `--${o}`)).toBe('--container needs a container name or id; it was given an empty value')
  }
})

describe('the Docker API through nock (dockerode over the unix socket)', () => {
  const saved = {DOCKER_HOST: process.env.DOCKER_HOST, NSLOCATE_HELPER_IMAGE: process.env.NSLOCATE_HELPER_IMAGE, HOSTNAME: process.env.HOSTNAME}

  beforeAll(() => {
    delete process.env.DOCKER_HOST
    delete process.env.NSLOCATE_HELPER_IMAGE
    nock.disableNetConnect()
  })
  afterEach(() => {
    const pending = nock.pendingMocks()
    nock.cleanAll()
    for (const [k, v] of Object.entries(saved)) {
      if (k === 'DOCKER_HOST' || k === 'NSLOCATE_HELPER_IMAGE') delete process.env[k]
      else if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    expect(pending).toEqual([]) // every call the test expected was made
  })
  afterAll(() => {
    nock.enableNetConnect()
    nock.restore()
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v
  })

  test('no such container: a result for find and signal (stopped, container_not_running, no container named); containerTarget() throws NOT_RUNNING', async () => {
    nock('http://localhost').get('/containers/nope/json').times(3).reply(404, {message: 'No such container: nope'})
    const why = 'no container nope (Docker)'
    const found = await locateInContainer('app', 'nope')
    expect(found).toMatchObject({name: 'app', state: 'stopped', pid: null, reasons: ['container_not_running'], container: null})
    expect(found.evidence).toEqual([`${why}; so app is not running there`, ANSWERED])
    const s = await signalInContainer('app', 'TERM', 'nope')
    expect(s).toMatchObject({
      outcome: 'not_running',
      delivered: [],
      message: `app is not running: ${why}; nothing was signalled. See where it looked: nslocate find app`,
      advice: 'See where it looked: nslocate find app',
      target: found,
    })
    const e = await caught(() => containerTarget('nope'))
    expect(e).toMatchObject({code: 'NOT_RUNNING'})
    expect(e.message).toBe(why)
  })

  test('a stopped container: a result (stopped, container_not_running) naming it and its state', async () => {
    nock('http://localhost')
      .get('/containers/web/json')
      .reply(200, inspectBody({running: false}))
    const found = await locateInContainer('app', 'web')
    expect(found).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: ID, name: 'web', runtime: 'docker', cgroup: ''}})
    expect(found.evidence).toEqual([`container web (${ID.slice(0, 12)}) is not running (exited); so app is not running there`, ANSWERED])
  })

  test('an engine older than the client: 400 "client version ... is too new" -> DOCKER, exit 4', async () => {
    nock('http://localhost').get('/containers/web/json').reply(400, {message: 'client version 1.41 is too new. Maximum supported API version is 1.23'})
    const e = await caught(() => locateInContainer('app', 'web'))
    expect(e).toMatchObject({code: 'DOCKER'})
    expect(e.message).toBe(
      `the Docker engine at ${WHERE} refused the API version (client version 1.41 is too new. Maximum supported API version is 1.23): the engine is too old; nslocate needs Docker API 1.24 or newer`,
    )
  })

  test('an engine that is not there: cannot reach, exit 4', async () => {
    nock.enableNetConnect()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-nosock-'))
    try {
      process.env.DOCKER_HOST = `unix://${dir}/docker.sock`
      const e = await caught(async () => (await dockerApi()).inspect({ref: 'web'}))
      expect(e).toMatchObject({code: 'DOCKER'})
      expect(e.message).toContain(`cannot reach the Docker engine at unix://${dir}/docker.sock (ENOENT) while trying to inspect container web`)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
      nock.disableNetConnect()
    }
  })

  test('containers: one that goes away between list and inspect (404) is left out, not an error', async () => {
    const other = 'b'.repeat(64)
    nock('http://localhost')
      .get('/containers/json')
      .reply(200, [
        {Id: ID, Names: ['/web'], Image: 'web:1', State: 'running'},
        {Id: other, Names: ['/gone'], Image: 'x', State: 'running'},
      ])
      .get(`/containers/${ID}/json`)
      .reply(200, inspectBody({running: false}))
      .get(`/containers/${other}/json`)
      .reply(404, {message: `No such container: ${other}`})
    const api = await dockerApi()
    expect(await api.list()).toEqual([
      {id: ID, name: 'web', runtime: 'docker', image: 'web:1', running: false, status: 'exited', hostPid: 0, pidMode: '', labels: {}},
    ])
  })

  test('containers: one that stops between list and the /proc look (inspect says not running) is skipped', async () => {
    nock('http://localhost')
      .get('/containers/json')
      .reply(200, [{Id: ID, Names: ['/web'], Image: 'web:1', State: 'running'}])
      .get(`/containers/${ID}/json`)
      .reply(200, inspectBody({pid: NO_SUCH_PID}))
      .get(`/containers/${ID}/json`)
      .reply(200, inspectBody({running: false}))
    const rows = await listContainers()
    expect(rows).toEqual([])
  })

  test('inspect says running but State.Pid names nothing here: reported as another PID namespace (the helper route)', async () => {
    webInAnotherPidNs()
    const t = await containerTarget('web')
    expect(t.rootPid).toBeNull()
    expect(t.evidence).toEqual([
      `Docker API (${WHERE}): container web (${ID.slice(0, 12)}) runs with State.Pid ${NO_SUCH_PID} in the engine's PID namespace`,
      `pid ${NO_SUCH_PID} does not exist here: nslocate runs in another PID namespace than the engine`,
    ])
  })

  test('State.Pid names nothing here, then the engine says the container stopped: stopped (3), no helper is started', async () => {
    nock('http://localhost')
      .get('/containers/web/json')
      .reply(200, inspectBody({pid: NO_SUCH_PID}))
      .get('/containers/web/json')
      .reply(200, inspectBody({running: false}))
    const found = await locateInContainer('app', 'web')
    expect(found).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: ID, name: 'web'}})
    expect(found.evidence).toEqual([`container web (${ID.slice(0, 12)}) is not running (exited); so app is not running there`, ANSWERED])
  })

  test('State.Pid in another PID namespace and no helper image known: USAGE, exit 2 (a container that has just stopped is NOT_RUNNING: see above)', async () => {
    process.env.HOSTNAME = 'not-a-container'
    webInAnotherPidNs().get('/containers/not-a-container/json').reply(404, {message: 'No such container: not-a-container'})
    const e = await caught(() => locateInContainer('app', 'web'))
    expect(e).toMatchObject({code: 'USAGE'})
    expect(e.message).toMatch(/^no image for the helper container \(not this container's own: .*\): set NSLOCATE_HELPER_IMAGE to the nslocate image$/)
    expect(e).toMatchObject({advice: 'set NSLOCATE_HELPER_IMAGE to the nslocate image'})
  })

  /** The engine runs helper container `id` to the end: created, started, exited with `status`, printed `logs`, removed. */
  function helperRuns(id: string, status: number, logs: Buffer, onCreate: (body: unknown) => void = () => {}): void {
    webInAnotherPidNs()
      .post('/containers/create', (body) => (onCreate(body), true))
      .query(true)
      .reply(201, {Id: id, Warnings: []})
      .post(`/containers/${id}/start`)
      .query(true)
      .reply(204)
      .post(`/containers/${id}/wait`)
      .query(true)
      .reply(200, {StatusCode: status})
      .get(`/containers/${id}/logs`)
      .query(true)
      .reply(200, logs, {'Content-Type': 'application/vnd.docker.raw-stream'})
      .delete(`/containers/${id}`)
      .query({force: 'true'})
      .reply(204)
  }

  test('the container stops mid-operation: the helper finds State.Pid gone and says so (not_running, exit 7, nothing signalled); the helper is removed', async () => {
    process.env.NSLOCATE_HELPER_IMAGE = 'nslocate:local'
    const helper = 'c'.repeat(64)
    const said = JSON.stringify({error: {code: 'NOT_RUNNING', message: `pid ${NO_SUCH_PID} (whose mount namespace holds the pidfile) has exited`}})
    let created: any
    helperRuns(helper, 3, frame(1, said), (body) => (created = body))
    const r = await signalInContainer('app', 'TERM', 'web', {wait: true})
    const why = `container web (${ID.slice(0, 12)}) stopped: helper container: pid ${NO_SUCH_PID} (whose mount namespace holds the pidfile) has exited`
    expect(r).toMatchObject({
      outcome: 'not_running',
      delivered: [],
      message: `app is not running: ${why}; nothing was signalled. See where it looked: nslocate find app`,
      advice: 'See where it looked: nslocate find app',
    })
    expect(r.target).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: ID, name: 'web'}})
    // The helper: the engine's PID namespace, CAP_SYS_PTRACE, no network, labelled, the pid it was given.
    expect(created).toMatchObject({
      Image: 'nslocate:local',
      Labels: {'nslocate.helper': '1', 'nslocate.target': ID},
      HostConfig: {PidMode: 'host', CapAdd: ['SYS_PTRACE'], NetworkMode: 'none'},
    })
    expect(created.Cmd).toEqual(['signal', 'app', 'TERM', '--scope', 'main', '--wait', '--root-pid', String(NO_SUCH_PID), '--json'])
  })

  test('a second call answered 409 (not running): the container stopped (stopped, exit 3); the helper is still removed', async () => {
    process.env.NSLOCATE_HELPER_IMAGE = 'nslocate:local'
    const helper = 'd'.repeat(64)
    webInAnotherPidNs()
      .post('/containers/create')
      .query(true)
      .reply(201, {Id: helper, Warnings: []})
      .post(`/containers/${helper}/start`)
      .query(true)
      .reply(409, {message: `Container ${ID} is not running`})
      .delete(`/containers/${helper}`)
      .query({force: 'true'})
      .reply(204)
    const found = await locateInContainer('app', 'web')
    expect(found).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: ID, name: 'web'}})
    expect(found.evidence).toEqual([
      `container web (${ID.slice(0, 12)}) stopped: the container is not running (Container ${ID} is not running) while trying to run the helper (image nslocate:local); so app is not running there`,
    ])
  })

  test('the helper image does not exist: the 404 of create is DOCKER (exit 4), never "not running" (7)', async () => {
    process.env.NSLOCATE_HELPER_IMAGE = 'nslocate:missing'
    webInAnotherPidNs().post('/containers/create').query(true).reply(404, {message: 'No such image: nslocate:missing'})
    const e = await caught(() => signalInContainer('app', 'TERM', 'web'))
    expect(e).toMatchObject({code: 'DOCKER'})
    expect(e.message).toBe(
      'cannot create the helper container: No such image: nslocate:missing (image nslocate:missing); build or load the nslocate image there, or set NSLOCATE_HELPER_IMAGE to it',
    )
  })

  test("the helper's output is not JSON: DOCKER, exit 4, with what it printed", async () => {
    process.env.NSLOCATE_HELPER_IMAGE = 'busybox:latest'
    const helper = 'e'.repeat(64)
    helperRuns(helper, 127, frame(2, 'exec: "find": executable file not found in $PATH\n'))
    const e = await caught(() => locateInContainer('app', 'web'))
    expect(e).toMatchObject({code: 'DOCKER'})
    expect(e.message).toBe('the helper container (image busybox:latest) did not answer with JSON (exit 127): exec: "find": executable file not found in $PATH')
  })
})

// ---------------------------------------------------------------------------------------------------
// The CLI as users run it: exit status and the --json error, against a fake engine on a unix socket.

interface FakeEngine {
  socket: string
  requests: string[]
  close(): Promise<void>
}

/** A tiny "engine": answers each request with route(method, url) -> [status, body]. */
async function fakeEngine(dir: string, route: (method: string, url: string) => [number, unknown]): Promise<FakeEngine> {
  const socket = path.join(dir, 'docker.sock')
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    const [status, body] = route(req.method ?? 'GET', req.url ?? '/')
    res.writeHead(status, {'Content-Type': 'application/json'})
    res.end(JSON.stringify(body))
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  return {socket, requests, close: () => new Promise((resolve) => server.close(() => resolve()))}
}

interface Run {
  status: number | null
  stdout: string
  stderr: string
  json: any
}

function runCli(args: string[], opts: {env?: NodeJS.ProcessEnv; uid?: number; gid?: number} = {}): Promise<Run> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'find.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: {PATH: process.env.PATH, HOME: os.tmpdir(), ...opts.env},
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`nslocate ${args.join(' ')} did not finish in 20 s`))
    }, 20_000)
    child.on('close', (status) => {
      clearTimeout(timer)
      let json: any = null
      try {
        json = JSON.parse(stdout)
      } catch {}
      resolve({status, stdout, stderr, json})
    })
  })
}

describe('the CLI against a fake engine (exit status as users see it)', () => {
  let dir: string
  let engine: FakeEngine

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-fake-engine-'))
    fs.chmodSync(dir, 0o755)
    engine = await fakeEngine(dir, (method, url) => {
      if (url.startsWith('/containers/old/json')) return [400, {message: 'client version 1.41 is too new. Maximum supported API version is 1.23'}]
      if (url.startsWith('/containers/odd/json')) return [200, {}]
      const m = url.match(/^\/containers\/([^/?]+)\/json/)
      if (method === 'GET' && m) return [404, {message: `No such container: ${m[1]}`}]
      return [500, {message: `fake engine: unexpected ${method} ${url}`}]
    })
  })
  afterAll(async () => {
    await engine?.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  const env = () => ({DOCKER_HOST: `unix://${engine.socket}`})

  test('find --container x: no such container is a result, stopped, exit 3 (LSB status "not running")', async () => {
    const r = await runCli(['find', 'app', '--container', 'x', '--json'], {env: env()})
    expect(r.status).toBe(3)
    expect(r.json).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: null})
    expect(r.json.evidence).toEqual([
      'no container x (Docker); so app is not running there',
      `answered by Docker at unix://${engine.socket} (DOCKER_HOST; a socket owned by root)`,
    ])
    expect(engine.requests).toContain('GET /containers/x/json')
  })

  test('wait --container x: no such container: --for stopped is reached (0), --for running times out (1)', async () => {
    const r = await runCli(['wait', 'app', '--container', 'x', '--json'], {env: env()})
    expect(r.status).toBe(0)
    expect(r.json).toMatchObject({reached: true, condition: 'stopped', exit_code: 0, target: {state: 'stopped', reasons: ['container_not_running']}})
    const before = engine.requests.length
    const t = await runCli(['wait', 'app', '--container', 'x', '--for', 'running', '--timeout', '700ms', '--json'], {env: env()})
    expect(t.status).toBe(1)
    expect(t.json).toMatchObject({reached: false, condition: 'running', exit_code: 1})
    expect(t.json.message).toContain('timed out after 700 ms')
    // It looked at the container again while waiting (every 250 ms).
    expect(engine.requests.slice(before).filter((q) => q.startsWith('GET /containers/x/json')).length).toBeGreaterThanOrEqual(3)
  })

  test('signal --container x TERM: no such container exits 7 (LSB action "not running"), nothing sent', async () => {
    const r = await runCli(['signal', 'app', 'TERM', '--container', 'x', '--json'], {env: env()})
    expect(r.json).toMatchObject({exit_code: 7, delivered: [], target: {state: 'stopped', reasons: ['container_not_running']}})
    expect(r.status).toBe(7)
  })

  test('an answer without Id and State: DOCKER, exit 4, on the fast path and through oclif alike', async () => {
    for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const r = await runCli(['find', 'app', '--container', 'odd', '--json'], {env: {...env(), ...extra}})
      expect(r.status).toBe(4)
      expect(r.json.error.code).toBe('DOCKER')
      expect(r.json.error.message).toContain("answered without a container's Id and State")
    }
  })

  test('an empty --container (CID=$(...) found nothing) is a usage error (2) for every command, and the engine is not asked', async () => {
    const before = engine.requests.length
    for (const args of [
      ['find', 'app', '--container='],
      ['find', 'app', '--container', ''],
      ['signal', 'app', 'TERM', '--container', ''],
      ['wait', 'app', '--container', ''],
      ['list', '--container', ''],
    ]) {
      const r = await runCli([...args, '--json'], {env: env()})
      expect({args, status: r.status, code: r.json?.error?.code}).toEqual({args, status: 2, code: 'USAGE'})
    }
    expect(engine.requests.length).toBe(before)
  })

  test('an engine that refuses the API version exits 4 and says the engine is too old', async () => {
    const r = await runCli(['find', 'app', '--container', 'old', '--json'], {env: env()})
    expect(r.status).toBe(4)
    expect(r.json.error.code).toBe('DOCKER')
    expect(r.json.error.message).toContain('refused the API version (client version 1.41 is too new')
  })

  test('DOCKER_HOST names a socket that does not exist: exit 4, "cannot reach"', async () => {
    const missing = path.join(dir, 'missing.sock')
    const r = await runCli(['find', 'app', '--container', 'x', '--json'], {env: {DOCKER_HOST: `unix://${missing}`}})
    expect(r.status).toBe(4)
    // What to do is its own field too (`hint`), nslocate's words only: the engine's socket, and in a
    // container, the socket mounted there (it names no command, so no flag of the user's goes into it).
    const advice = 'is dockerd running? Set DOCKER_HOST to its socket (in a container: mount /var/run/docker.sock)'
    expect(r.json.error).toEqual({
      code: 'DOCKER',
      message: `cannot reach the Docker engine at unix://${missing} (ENOENT) while trying to inspect container x: ${advice}`,
      hint: advice,
    })
    // Without --json: the fact on one line, the advice on the hint line, on both front ends.
    for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const t = await runCli(['signal', 'app', 'TERM', '--container', 'x'], {env: {DOCKER_HOST: `unix://${missing}`, ...extra}})
      expect({status: t.status, stdout: t.stdout, stderr: t.stderr}).toEqual({
        status: 4,
        stdout: '',
        stderr: `nslocate: cannot reach the Docker engine at unix://${missing} (ENOENT) while trying to inspect container x\nhint: ${advice}\n`,
      })
    }
  })

  test('a socket the caller may not open (mode 000, uid 65534): exit 4, permission denied, names the docker group', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test switches to uid 65534: run it as root (the test machines do)')
    const locked = path.join(dir, 'locked.sock')
    const other = await new Promise<http.Server>((resolve) => {
      const s = http.createServer((_q, r) => r.end('{}'))
      s.listen(locked, () => resolve(s))
    })
    try {
      fs.chmodSync(locked, 0)
      const r = await runCli(['find', 'app', '--container', 'x', '--json'], {env: {DOCKER_HOST: `unix://${locked}`}, uid: 65534, gid: 65534})
      expect(r.status).toBe(4)
      expect(r.json.error).toEqual({
        code: 'PERMISSION',
        message: `permission denied on the Docker socket unix://${locked} while trying to inspect container x: run as root or as a member of the docker group`,
        hint: 'run as root or as a member of the docker group',
      })
    } finally {
      await new Promise((resolve) => other.close(resolve))
    }
  })
})
