/**
 * criRuntime's answers to what a real containerd never says: a small fake CRI server (grpc-js, the
 * same proto) on a unix socket in a temp dir answers garbage, lies, hangs or floods, and nslocate
 * must give RUNTIME (or NOT_RUNNING) naming the socket, never a pid. Also CRI-O's shape of the
 * verbose info (no CRI config, the OCI spec only), which this machine has no CRI-O to produce, and
 * the socket errors: missing, refused, permission denied (as the unprivileged user nobody), not a
 * CRI server (no RuntimeService; plain HTTP/1.1 as Docker's API speaks it).
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'

import type * as grpcTypes from '@grpc/grpc-js'

import {NslocateError} from '../../src/errors'
import {criRuntime} from '../../src/runtime/cri'
import {loadCri} from '../../src/runtime/cri-proto'
import type {ContainerRuntime} from '../../src/runtime/types'
import {ROOT} from '../helpers/paths'
import {stopAll, tempDir} from '../helpers/tracked'

const SANDBOX = 'a'.repeat(64)
const APP = 'b'.repeat(64)
const OTHER = 'c'.repeat(64)
const NOW = '1796511320011725914'

type Handler = (request: any) => unknown | Promise<unknown> | typeof HANG
/** A handler result that never answers. */
const HANG = Symbol('hang')

const sandbox = (over: object = {}) => ({
  id: SANDBOX,
  metadata: {name: 'web-0', namespace: 'shop', uid: 'u-1', attempt: 0},
  state: 0,
  created_at: NOW,
  labels: {},
  annotations: {},
  ...over,
})
const listed = (over: object = {}) => ({
  id: APP,
  pod_sandbox_id: SANDBOX,
  metadata: {name: 'app', attempt: 0},
  image: {image: 'docker.io/library/app:1'},
  image_ref: 'sha256:1',
  state: 1,
  created_at: NOW,
  labels: {},
  annotations: {},
  ...over,
})
const containerdInfo = (over: object = {}) =>
  JSON.stringify({
    sandboxID: SANDBOX,
    pid: 4242,
    config: {metadata: {name: 'app'}, linux: {security_context: {namespace_options: {network: 2}}}},
    runtimeSpec: {linux: {namespaces: [{type: 'pid', path: '/proc/4000/ns/pid'}, {type: 'mount'}]}},
    ...over,
  })
const status = (info: string | undefined, over: object = {}) => ({
  status: {
    id: APP,
    metadata: {name: 'app', attempt: 0},
    state: 1,
    created_at: NOW,
    image: {image: 'docker.io/library/app:1'},
    labels: {'io.kubernetes.container.name': 'app'},
    ...over,
  },
  info: info === undefined ? {} : {info},
})

/** The handlers of a CRI runtime that knows one pod shop/web-0 with one running container app at pid 4242. */
function healthy(): Record<string, Handler> {
  return {
    Version: () => ({version: '0.1.0', runtime_name: 'fake', runtime_version: '0', runtime_api_version: 'v1'}),
    ListPodSandbox: () => ({items: [sandbox()]}),
    PodSandboxStatus: () => ({status: sandbox(), info: {}}),
    ListContainers: () => ({containers: [listed()]}),
    ContainerStatus: () => status(containerdInfo()),
  }
}

interface Fake {
  socket: string
  cri: (env?: NodeJS.ProcessEnv) => ContainerRuntime
  close(): Promise<void>
}

const servers: grpcTypes.Server[] = []

/** A gRPC server on a fresh unix socket serving `handlers` (raw: a Buffer answered as the response's bytes). */
async function fake(handlers: Record<string, Handler>, opts: {register?: boolean} = {}): Promise<Fake> {
  const {grpc, RuntimeService} = loadCri()
  const socket = path.join(tempDir('nslocate-cri-fake-'), 'cri.sock')
  const server = new grpc.Server()
  servers.push(server)
  if (opts.register !== false) {
    const definition: Record<string, grpcTypes.MethodDefinition<any, any>> = {}
    const impl: grpcTypes.UntypedServiceImplementation = {}
    for (const [name, method] of Object.entries(RuntimeService.service)) {
      // A handler may answer raw bytes: serialise Buffers as they are.
      definition[name] = {...method, responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : method.responseSerialize(v))}
      impl[name] = (call: grpcTypes.ServerUnaryCall<any, any>, callback: grpcTypes.sendUnaryData<any>) => {
        const h = handlers[name]
        if (!h) return callback({code: grpc.status.UNIMPLEMENTED, details: `${name} not in this fake`})
        Promise.resolve(h(call.request)).then(
          (answer) => {
            if (answer !== HANG) callback(null, answer)
          },
          (e) => callback(e),
        )
      }
    }
    server.addService(definition, impl)
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  )
  return {
    socket,
    cri: (env = {}) => criRuntime({socketPath: socket, where: `unix://${socket}`, env}),
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  }
}

async function failure(p: Promise<unknown>): Promise<NslocateError> {
  try {
    const v = await p
    throw new Error(`expected a failure, got ${JSON.stringify(v)}`)
  } catch (e) {
    if (e instanceof NslocateError) return e
    throw e
  }
}

const POD = {pod: {namespace: 'shop', name: 'web-0'}, containerName: 'app'}

afterAll(async () => {
  for (const s of servers) s.forceShutdown()
  await stopAll()
})

describe('a well-behaved fake', () => {
  test('gives the pid and pod mode (the control for every case below)', async () => {
    const f = await fake(healthy())
    expect(await f.cri().inspect(POD)).toEqual({
      id: APP,
      name: 'app',
      runtime: 'cri',
      image: 'docker.io/library/app:1',
      running: true,
      hostPid: 4242,
      pidMode: 'pod',
      labels: {'io.kubernetes.container.name': 'app'},
      pod: {namespace: 'shop', name: 'web-0', uid: 'u-1', id: SANDBOX},
    })
  })
})

describe('garbage and lies give RUNTIME, never a pid', () => {
  const cases: [string, Partial<Record<string, Handler>>, RegExp][] = [
    ['info["info"] that is not JSON', {ContainerStatus: () => status('{"pid": 4242,')}, /info\["info"\] of b{13} is not JSON/],
    ['info["info"] that is JSON but not an object', {ContainerStatus: () => status('[4242]')}, /is \[4242\], not an object/],
    ['a pid that is a string', {ContainerStatus: () => status(containerdInfo({pid: '4242'}))}, /has info pid "4242", not a positive integer/],
    ['a negative pid', {ContainerStatus: () => status(containerdInfo({pid: -1}))}, /has info pid -1, not a positive integer/],
    ['a fractional pid', {ContainerStatus: () => status(containerdInfo({pid: 42.5}))}, /has info pid 42.5, not a positive integer/],
    ['pid 0 for a running container', {ContainerStatus: () => status(containerdInfo({pid: 0}))}, /has info pid 0, not a positive integer/],
    ['no pid for a running container', {ContainerStatus: () => status(containerdInfo({pid: undefined}))}, /has info pid undefined/],
    ['a pid beyond 2^53', {ContainerStatus: () => status(containerdInfo({pid: 2 ** 60}))}, /not a positive integer/],
    ['the status of another container', {ContainerStatus: () => status(containerdInfo(), {id: OTHER})}, /ContainerStatus for b{64} answered container c{64}/],
    [
      'the status under another name',
      {ContainerStatus: () => status(containerdInfo(), {metadata: {name: 'db', attempt: 0}})},
      /named "app" by ListContainers but "db" by ContainerStatus/,
    ],
    [
      'info of another sandbox',
      {ContainerStatus: () => status(containerdInfo({sandboxID: OTHER}))},
      /container b{13} is in sandbox a{13} by ListContainers but c{13} by its info/,
    ],
    ['a sandbox id that is not hex', {ListPodSandbox: () => ({items: [sandbox({id: '../../etc'})]})}, /items\[0\]\.id is "\.\.\/\.\.\/etc", not a hex id/],
    ['a sandbox without metadata', {ListPodSandbox: () => ({items: [sandbox({metadata: null})]})}, /items\[0\]\.metadata is null, not an object/],
    ['a container without metadata', {ListContainers: () => ({containers: [listed({metadata: null})]})}, /containers\[0\]\.metadata is null/],
    ['a status without status', {ContainerStatus: () => ({status: null, info: {info: containerdInfo()}})}, /ContainerStatus status is null/],
    [
      'a pid mode that is not a NamespaceMode',
      {ContainerStatus: () => status(containerdInfo({config: {linux: {security_context: {namespace_options: {pid: 7}}}}}))},
      /namespace_options\.pid is 7, not a CRI NamespaceMode/,
    ],
    [
      'TARGET without a target id',
      {ContainerStatus: () => status(containerdInfo({config: {linux: {security_context: {namespace_options: {pid: 3}}}}}))},
      /namespace_options\.target_id is undefined, not a string/,
    ],
    [
      'host PID namespace by config, a new one by the OCI spec',
      {
        ContainerStatus: () =>
          status(containerdInfo({config: {linux: {security_context: {namespace_options: {pid: 2}}}}, runtimeSpec: {linux: {namespaces: [{type: 'pid'}]}}})),
      },
      /CRI config: PID namespace host; OCI spec: a new one/,
    ],
    [
      'a pod PID namespace by config, none (the host one) by the OCI spec',
      {ContainerStatus: () => status(containerdInfo({runtimeSpec: {linux: {namespaces: [{type: 'mount'}]}}}))},
      /CRI config: PID namespace pod; OCI spec: the host's/,
    ],
    ['no verbose info', {ContainerStatus: () => status(undefined)}, /gives no info\["info"\]\.pid for container app \(b{13}\); use the daemonless route/],
  ]
  test.each(cases)('%s', async (_what, override, message) => {
    const f = await fake({...healthy(), ...override} as Record<string, Handler>)
    const e = await failure(f.cri().inspect(POD))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toMatch(message)
    expect(e.message).toContain(f.socket)
    expect(JSON.stringify(e.details)).not.toContain('4242')
    await f.close()
  })

  test('bytes that are not a CRI message', async () => {
    const f = await fake({...healthy(), ContainerStatus: () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])})
    const e = await failure(f.cri().inspect(POD))
    expect(e).toMatchObject({code: 'RUNTIME', details: {reason: 'invalid', socket: f.socket}})
    expect(e.message).toMatch(/answered something that is not a CRI message/)
    await f.close()
  })

  test('a runtime that ignores the sandbox filter does not hand over another pod container', async () => {
    const f = await fake({...healthy(), ListContainers: () => ({containers: [listed({pod_sandbox_id: OTHER})]})})
    const e = await failure(f.cri().inspect(POD))
    expect(e.code).toBe('NOT_RUNNING')
    expect(e.message).toContain('pod shop/web-0 has no container named "app" (its containers: none)')
    await f.close()
  })

  test('a stopped container: not running, pid 0, whatever pid its info says', async () => {
    const f = await fake({...healthy(), ContainerStatus: () => status(containerdInfo({pid: 'garbage'}), {state: 2})})
    expect(await f.cri().inspect(POD)).toMatchObject({running: false, hostPid: 0})
    await f.close()
  })
})

describe('CRI-O shaped verbose info (sandboxID, pid, runtimeSpec, privileged; no CRI config)', () => {
  const crio = (namespaces: object[]) => () => status(JSON.stringify({sandboxID: SANDBOX, pid: 777, runtimeSpec: {linux: {namespaces}}, privileged: false}))
  test.each([
    ['a PID namespace joined by path: pod', [{type: 'pid', path: '/var/run/crio/ns/pidns/x'}], 'pod'],
    ['a new PID namespace: private', [{type: 'pid'}, {type: 'mount'}], 'private'],
    ['no PID namespace: host', [{type: 'mount'}], 'host'],
  ])('%s', async (_what, namespaces, mode) => {
    const f = await fake({...healthy(), ContainerStatus: crio(namespaces)})
    expect(await f.cri().inspect(POD)).toMatchObject({hostPid: 777, pidMode: mode})
    await f.close()
  })
})

describe('limits and sockets', () => {
  test('a server that never answers: RUNTIME at the deadline (NSLOCATE_DOCKER_TIMEOUT)', async () => {
    const f = await fake({...healthy(), ContainerStatus: () => HANG})
    const t0 = Date.now()
    const e = await failure(f.cri({NSLOCATE_DOCKER_TIMEOUT: '300ms'}).inspect(POD))
    const took = Date.now() - t0
    expect(e).toMatchObject({code: 'RUNTIME', details: {reason: 'deadline', socket: f.socket}})
    expect(e.message).toContain('did not answer within 300 ms while trying to read the status of container app')
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(3000)
    f.close().catch(() => undefined)
  })

  test('an answer larger than NSLOCATE_DOCKER_MAX_BYTES: RUNTIME, not read', async () => {
    const f = await fake({...healthy(), ListPodSandbox: () => ({items: [sandbox({labels: {big: 'x'.repeat(64 * 1024)}})]})})
    const e = await failure(f.cri({NSLOCATE_DOCKER_MAX_BYTES: '16K'}).inspect(POD))
    expect(e).toMatchObject({code: 'RUNTIME', details: {reason: 'too_big'}})
    expect(e.message).toContain('sent more than 16 KiB while trying to find pod shop/web-0')
    // The same answer within the default cap is fine.
    expect((await f.cri().inspect(POD)).hostPid).toBe(4242)
    await f.close()
  })

  test('a gRPC server without the CRI RuntimeService: RUNTIME, unsupported (the selection layer asks the next socket)', async () => {
    const f = await fake({}, {register: false})
    const e = await failure(f.cri().inspect(POD))
    expect(e).toMatchObject({code: 'RUNTIME', details: {reason: 'unimplemented', unsupported: true, socket: f.socket}})
    expect(e.message).toMatch(/does not serve the CRI v1 RuntimeService/)
    await f.close()
  })

  test('an HTTP/1.1 server (a Docker-style API) on the socket: RUNTIME, no pid', async () => {
    const socket = path.join(tempDir('nslocate-cri-http-'), 'api.sock')
    const server = http.createServer((_req, res) => res.end('{"Id":"x","State":{"Pid":4242}}'))
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    try {
      const e = await failure(criRuntime({socketPath: socket, where: `unix://${socket}`, env: {NSLOCATE_DOCKER_TIMEOUT: '2s'}}).inspect(POD))
      expect(e.code).toBe('RUNTIME')
      expect(e.message).toContain(socket)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  test('no socket: RUNTIME, unreachable (ENOENT)', async () => {
    const socket = path.join(tempDir('nslocate-cri-'), 'none.sock')
    const e = await failure(criRuntime({socketPath: socket, where: `unix://${socket}`, env: {}}).inspect(POD))
    expect(e).toMatchObject({code: 'RUNTIME', details: {reason: 'unreachable', errno: 'ENOENT', socket}})
    expect(e.message).toMatch(
      /cannot reach the CRI runtime at unix:\/\/.*none\.sock \(ENOENT\) while trying to find pod shop\/web-0: is containerd or CRI-O running\?/,
    )
  })

  test('a socket nobody listens on: RUNTIME, unreachable (ECONNREFUSED)', async () => {
    const socket = path.join(tempDir('nslocate-cri-'), 'dead.sock')
    // Bound and never listened on: the file is there, connect() is refused.
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket])
    const e = await failure(criRuntime({socketPath: socket, where: `unix://${socket}`, env: {}}).inspect(POD))
    expect(e).toMatchObject({code: 'RUNTIME', details: {reason: 'unreachable', errno: 'ECONNREFUSED'}})
  })

  test('a socket the caller may not connect to: RUNTIME, permission (as user nobody)', async () => {
    const f = await fake(healthy())
    fs.chmodSync(path.dirname(f.socket), 0o755)
    fs.chmodSync(f.socket, 0o600)
    const code = `
      const {criRuntime} = require(${JSON.stringify(path.join(ROOT, 'dist/src/runtime/cri.js'))})
      criRuntime({socketPath: ${JSON.stringify(f.socket)}, where: 'unix://' + ${JSON.stringify(f.socket)}, env: {}})
        .inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'app'})
        .then((i) => console.log(JSON.stringify({pid: i.hostPid})), (e) => console.log(JSON.stringify({code: e.code, message: e.message, details: {reason: e.details.reason, errno: e.details.errno}})))`
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e', code], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({code: 'RUNTIME', details: {reason: 'permission', errno: 'EACCES'}})
    expect(out.message).toContain(`permission denied on the CRI socket ${f.socket}`)
    await f.close()
  })
})
