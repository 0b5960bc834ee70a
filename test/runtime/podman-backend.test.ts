/**
 * The Podman backend (src/runtime/podman.ts) against a real rootful `podman system service` started
 * by the test (test/helpers/podman.ts), every answer cross-checked with the podman CLI and /proc,
 * which the backend does not use; and against a fake service on a unix socket for what a real one
 * does not do: garbage, lies, hangs and floods. Each must be a RUNTIME error, never a pid.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError} from '../../src/errors'
import {podmanRuntime} from '../../src/runtime/podman'
import type {ContainerRuntime} from '../../src/runtime/types'
import {Behaviour, FakeEngine, startFakeEngine} from '../helpers/fake-engine'
import {PodmanService, buildBusybox, describeWithPodman, ownedDir, startRootful} from '../helpers/podman'
import {readNSpid} from '../helpers/proc'
import {stopAll, tempDir} from '../helpers/tracked'

const ID = (c: string) => c.repeat(64)

/** The error `p` rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<NslocateError> {
  try {
    await p
  } catch (error) {
    if (error instanceof NslocateError) return error
    throw error
  }
  throw new Error('resolved, but an error was expected')
}

describeWithPodman('Podman backend: libpod API of a real rootful service', () => {
  let svc: PodmanService
  let rt: ContainerRuntime
  const ids: Record<string, string> = {}
  let logDir: string
  let podId: string

  beforeAll(async () => {
    svc = await startRootful()
    const image = await buildBusybox(svc)
    rt = podmanRuntime({socketPath: svc.socket, where: svc.host})
    logDir = ownedDir(svc, 'log')
    // The service is a child of the container's init (sh), so its host pid is not State.Pid.
    const service = ['sh', '-c', 'siglog /log/signals.log --pidfile /run/app.pid --exit-on TERM & wait']
    ids.app = await svc.run(['--name', 'pb-app', '--label', 'role=app', '-v', `${logDir}:/log`, image, ...service])
    ids.created = (await svc.podman(['create', '--label', 'nslocate.test=1', '--name', 'pb-created', image, 'sleep', '1000'])).trim()
    ids.exited = await svc.run(['--name', 'pb-exited', image, 'true'])
    await svc.podman(['wait', ids.exited])
    podId = (await svc.podman(['pod', 'create', '--name', 'pb-pod', '--share', '+pid', '--label', 'nslocate.test=1'])).trim()
    ids.podApp = await svc.run(['--pod', 'pb-pod', '--name', 'pb-pod-app', image, ...service.slice(0, 2), 'siglog /tmp/s.log --pidfile /run/app.pid & wait'])
    ids.podSide = await svc.run(['--pod', 'pb-pod', '--name', 'pb-pod-side', image, 'sleep', '1000'])
    // A pod with the default sharing (ipc, net, uts: not pid) and one container.
    await svc.podman(['pod', 'create', '--name', 'pb-solo', '--label', 'nslocate.test=1'])
    ids.solo = await svc.run(['--pod', 'pb-solo', '--name', 'pb-solo-app', image, 'sleep', '1000'])
  }, 120_000)

  afterAll(async () => {
    await svc?.stop()
    await stopAll()
  }, 60_000)

  test("inspect by name, short and full id: what `podman inspect` says, and /proc agrees it is the container's init", async () => {
    const cli = (await svc.inspect('pb-app', '{{.Id}} {{.State.Pid}} {{.ImageName}} {{.HostConfig.PidMode}}')).split(' ')
    const byName = await rt.inspect({ref: 'pb-app'})
    expect(byName).toEqual({
      id: cli[0],
      name: 'pb-app',
      runtime: 'podman',
      image: cli[2],
      running: true,
      status: 'running',
      hostPid: Number(cli[1]),
      pidMode: cli[3],
      labels: expect.objectContaining({'nslocate.test': '1', role: 'app'}),
    })
    expect(cli[3]).toBe('private')
    expect(await rt.inspect({ref: ids.app.slice(0, 12)})).toEqual(byName)
    expect(await rt.inspect({ref: ids.app})).toEqual(byName)
    // Independent of the API: the process is in the container's cgroup, and pid 1 of its namespace.
    expect(fs.readFileSync(`/proc/${byName.hostPid}/cgroup`, 'utf8')).toContain(`libpod-${ids.app}`)
    expect(readNSpid(byName.hostPid)).toEqual([byName.hostPid, 1])
  })

  test('a container that does not exist is NOT_RUNNING, naming it and the service', async () => {
    const e = await failure(rt.inspect({ref: 'pb-nothing'}))
    expect(e.code).toBe('NOT_RUNNING')
    expect(e.message).toBe(
      `container pb-nothing does not exist (Podman at ${svc.host}): check the name with \`podman ps -a\` for that service, or name another runtime`,
    )
    expect((await failure(rt.inspect({ref: ''}))).code).toBe('USAGE')
  })

  test('created and exited containers: not running, hostPid 0', async () => {
    for (const name of ['pb-created', 'pb-exited']) {
      const c = await rt.inspect({ref: name})
      expect(c).toMatchObject({id: ids[name.slice(3)], name, running: false, hostPid: 0})
      expect(await svc.inspect(name, '{{.State.Running}} {{.State.Pid}}')).toBe('false 0')
    }
  })

  test("a pod sharing its PID namespace (--share +pid): Podman says container:<infra id>, nslocate 'pod'; the init is not pid 1 there", async () => {
    const infra = await svc.podman(['pod', 'inspect', '-f', '{{.InfraContainerID}}', 'pb-pod'])
    expect(await svc.inspect('pb-pod-app', '{{.HostConfig.PidMode}}')).toBe(`container:${infra.trim()}`)
    const app = await rt.inspect({ref: 'pb-pod-app'})
    const side = await rt.inspect({ref: 'pb-pod-side'})
    expect(app).toMatchObject({id: ids.podApp, pidMode: 'pod', pod: {namespace: '', name: 'pb-pod', id: podId}, running: true})
    expect(side).toMatchObject({id: ids.podSide, pidMode: 'pod', pod: {name: 'pb-pod', id: podId}})
    expect(app.hostPid).toBe(Number(await svc.inspect('pb-pod-app', '{{.State.Pid}}')))
    // One PID namespace for both (the kernel says so), whose pid 1 is the infra container's catatonit.
    expect(fs.readlinkSync(`/proc/${app.hostPid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${side.hostPid}/ns/pid`))
    expect(readNSpid(app.hostPid).at(-1)).not.toBe(1)
    const infraInfo = await rt.inspect({ref: infra.trim()})
    expect(infraInfo).toMatchObject({pidMode: 'private', pod: {name: 'pb-pod'}})
    expect(readNSpid(infraInfo.hostPid).at(-1)).toBe(1)
    expect(fs.readlinkSync(`/proc/${infraInfo.hostPid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${app.hostPid}/ns/pid`))
  })

  test('a pod with the default sharing (no pid): its container keeps what Podman says, not pod', async () => {
    const said = await svc.inspect('pb-solo-app', '{{.HostConfig.PidMode}}')
    const c = await rt.inspect({pod: {namespace: '', name: 'pb-solo'}})
    expect(c).toMatchObject({id: ids.solo, name: 'pb-solo-app', pidMode: said, pod: {name: 'pb-solo'}})
    expect(c.pidMode).not.toBe('pod')
    expect(readNSpid(c.hostPid)).toEqual([c.hostPid, 1])
  })

  test('pod selectors: one container needs a name when there are two; unknown names are listed', async () => {
    const two = await failure(rt.inspect({pod: {namespace: '', name: 'pb-pod'}}))
    expect(two.code).toBe('USAGE')
    expect(two.message).toBe(`pod pb-pod (Podman at ${svc.host}) has 2 containers (pb-pod-app, pb-pod-side): name one with option containerName`)
    expect(await rt.inspect({pod: {namespace: '', name: 'pb-pod'}, containerName: 'pb-pod-side'})).toMatchObject({id: ids.podSide})
    expect(await rt.inspect({pod: {namespace: '', name: podId.slice(0, 12)}, containerName: 'pb-pod-app'})).toMatchObject({id: ids.podApp})
    const unknown = await failure(rt.inspect({pod: {namespace: '', name: 'pb-pod'}, containerName: 'web'}))
    expect(unknown.code).toBe('NOT_RUNNING')
    expect(unknown.message).toContain('has no container web: its containers are pb-pod-app, pb-pod-side')
    const nopod = await failure(rt.inspect({pod: {namespace: '', name: 'pb-nopod'}}))
    expect(nopod.code).toBe('NOT_RUNNING')
    expect(nopod.message).toContain('pod pb-nopod does not exist')
    const ns = await failure(rt.inspect({pod: {namespace: 'default', name: 'pb-pod'}}))
    expect(ns.code).toBe('USAGE')
  })

  test('list(): every container of the service (podman ps -a), each as inspect gives it', async () => {
    const all = (await svc.podman(['ps', '-a', '-q', '--no-trunc'])).split('\n').filter(Boolean).sort()
    const listed = await rt.list()
    expect(listed.map((c) => c.id).sort()).toEqual(all)
    for (const c of listed) {
      expect(c.hostPid).toBe(Number(await svc.inspect(c.id, '{{.State.Pid}}')))
      expect(c.runtime).toBe('podman')
    }
  })

  test("runToCompletion: a helper container in the host's PID namespace through the Docker-compatible API, removed afterwards", async () => {
    const app = await rt.inspect({ref: 'pb-app'})
    const r = await rt.runToCompletion!({
      image: 'localhost/nslocate-busybox:test',
      cmd: ['sh', '-c', `grep NSpid /proc/${app.hostPid}/status; echo oops >&2; exit 3`],
      pidMode: 'host',
      timeoutMs: 30_000,
      labels: {'nslocate.test': '1', 'nslocate.test.helper': 'backend'},
    })
    // The helper saw the app's init under its host pid: it ran in the host's PID namespace.
    expect(r).toEqual({exitCode: 3, stdout: `NSpid:\t${app.hostPid}\t1\n`, stderr: 'oops\n'})
    expect(await svc.podman(['ps', '-a', '-q', '--filter', 'label=nslocate.test.helper=backend'])).toBe('')
  })

  test('runToCompletion with an image the service does not have: RUNTIME naming the image', async () => {
    const e = await failure(rt.runToCompletion!({image: 'localhost/nothing:here', cmd: ['true'], pidMode: 'host', timeoutMs: 10_000}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('localhost/nothing:here')
  })

  test('the victim in the container was never signalled by any of this', () => {
    expect(fs.readFileSync(path.join(logDir, 'signals.log'), 'utf8')).toBe('')
  })
})

describe('Podman backend: a service that answers garbage, lies, hangs or floods', () => {
  let engine: FakeEngine | undefined
  let dir: string

  const good = (over: Record<string, unknown> = {}) => ({
    Id: ID('a'),
    Name: 'web',
    ImageName: 'localhost/web:1',
    State: {Status: 'running', Running: true, Pid: 4242},
    Config: {Labels: {a: 'b'}},
    HostConfig: {PidMode: 'private'},
    Pod: '',
    ...over,
  })

  /** A fake service on a fresh socket; `routes` maps a path to what it answers (404 for the rest). */
  async function serve(routes: Record<string, Behaviour>, env: NodeJS.ProcessEnv = {}): Promise<ContainerRuntime> {
    await engine?.close()
    dir = tempDir('nslocate-fakepodman-')
    engine = await startFakeEngine(path.join(dir, 'podman.sock'), (_m, url) => routes[url] ?? {kind: 'json', status: 404, body: {message: 'no such container'}})
    return podmanRuntime({socketPath: engine.socket, where: `unix://${engine.socket}`, env})
  }
  const json = (body: unknown, status = 200): Behaviour => ({kind: 'json', status, body})
  const WEB = '/v4.0.0/libpod/containers/web/json'

  afterAll(async () => {
    await engine?.close()
    await stopAll()
  })

  test('a well-formed answer is taken as it is (the baseline of the cases below)', async () => {
    const rt = await serve({[WEB]: json(good())})
    expect(await rt.inspect({ref: 'web'})).toEqual({
      id: ID('a'),
      name: 'web',
      runtime: 'podman',
      image: 'localhost/web:1',
      running: true,
      status: 'running',
      hostPid: 4242,
      pidMode: 'private',
      labels: {a: 'b'},
    })
    expect(engine!.requests).toEqual([`GET ${WEB}`])
  })

  test.each([
    ['State.Pid a string', good({State: {Status: 'running', Running: true, Pid: '4242'}}), 'State.Pid'],
    ['State.Pid negative', good({State: {Status: 'running', Running: true, Pid: -1}}), 'State.Pid'],
    ['State.Pid fractional', good({State: {Status: 'running', Running: true, Pid: 42.5}}), 'State.Pid'],
    ['State.Pid above pid_max', good({State: {Status: 'running', Running: true, Pid: 2 ** 31}}), 'State.Pid'],
    ['State.Pid 0 while running', good({State: {Status: 'running', Running: true, Pid: 0}}), 'State.Pid (0, and running)'],
    ['State.Running a string', good({State: {Status: 'running', Running: 'true', Pid: 4242}}), 'State.Running'],
    ['Running but Status exited', good({State: {Status: 'exited', Running: true, Pid: 4242}}), 'State (Running, but Status "exited")'],
    ['State missing', good({State: undefined}), 'State'],
    ['Id not a full id', good({Id: 'abc'}), 'Id'],
    ['Name a number', good({Name: 7}), 'Name'],
    ['labels with a number', good({Config: {Labels: {a: 1}}}), 'Config.Labels'],
    ['PidMode an object', good({HostConfig: {PidMode: {mode: 'host'}}}), 'HostConfig.PidMode'],
    ['Pod not an id', good({Pod: '../../etc'}), 'Pod'],
    ['an answer about another container', good({Name: 'db', Id: ID('b')}), 'container (asked "web", answered db'],
    ['an array', [good()], 'answer (no JSON object)'],
  ])('%s: RUNTIME naming the field, no pid', async (_what, body, field) => {
    const rt = await serve({[WEB]: json(body)})
    const e = await failure(rt.inspect({ref: 'web'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(`Podman at unix://${engine!.socket} answered inspect container web with an invalid ${field}`)
    expect(e.advice).toBe('is CONTAINER_HOST a Podman service?')
  })

  test('a pod answer of the wrong shape, or about another pod, is RUNTIME', async () => {
    const pod = ID('c')
    const container = good({Pod: pod, HostConfig: {PidMode: `container:${ID('d')}`}})
    const podAnswer = {Id: pod, Name: 'p', InfraContainerID: ID('d'), SharedNamespaces: ['pid'], Containers: [{Id: ID('a'), Name: 'web'}]}
    let rt = await serve({[WEB]: json(container), [`/v4.0.0/libpod/pods/${pod}/json`]: json(podAnswer)})
    expect(await rt.inspect({ref: 'web'})).toMatchObject({pidMode: 'pod', pod: {namespace: '', name: 'p', id: pod}})
    for (const [bad, field] of [
      [{...podAnswer, SharedNamespaces: 'pid'}, 'SharedNamespaces'],
      [{...podAnswer, InfraContainerID: 5}, 'InfraContainerID'],
      [{...podAnswer, Id: ID('e')}, `pod (asked "${pod}", answered p eeeeeeeeeeee)`],
      [{...podAnswer, Containers: [{Id: 'x', Name: 'web'}]}, 'Id'],
    ] as const) {
      rt = await serve({[WEB]: json(container), [`/v4.0.0/libpod/pods/${pod}/json`]: json(bad)})
      const e = await failure(rt.inspect({ref: 'web'}))
      expect(e.code).toBe('RUNTIME')
      expect(e.message).toContain(`invalid ${field}`)
    }
    // The pod lists a container that names another pod: refused, not taken.
    rt = await serve({
      '/v4.0.0/libpod/pods/p/json': json(podAnswer),
      [`/v4.0.0/libpod/containers/${ID('a')}/json`]: json(good({Pod: ''})),
    })
    const e = await failure(rt.inspect({pod: {namespace: '', name: 'p'}}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('invalid Pod (not p, which lists it)')
  })

  test('HTTP 500 with a message, and an answer that is not JSON: RUNTIME with what the service said', async () => {
    let rt = await serve({[WEB]: json({cause: 'boom', message: 'database is locked', response: 500}, 500)})
    let e = await failure(rt.inspect({ref: 'web'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toBe(`Podman at unix://${engine!.socket} failed to inspect container web (HTTP 500): database is locked`)
    rt = await serve({[WEB]: {kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!', end: 'close'}})
    e = await failure(rt.inspect({ref: 'web'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('an answer that is not JSON')
  })

  test('a service that drips, floods or is not there: RUNTIME within the limits (NSLOCATE_DOCKER_TIMEOUT, _MAX_BYTES)', async () => {
    let rt = await serve({[WEB]: {kind: 'drip', phase: 'headers', everyMs: 50}}, {NSLOCATE_DOCKER_TIMEOUT: '300ms'})
    const t0 = Date.now()
    let e = await failure(rt.inspect({ref: 'web'}))
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('did not answer within 300 ms while trying to inspect container web')
    rt = await serve({[WEB]: {kind: 'flood', bytes: 64 << 20}}, {NSLOCATE_DOCKER_MAX_BYTES: '64K'})
    e = await failure(rt.inspect({ref: 'web'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('sent more than 64 KiB')
    expect(engine!.bytesSent).toBeLessThan(8 << 20)
    const gone = podmanRuntime({socketPath: path.join(dir, 'nothing.sock'), where: `unix://${path.join(dir, 'nothing.sock')}`})
    e = await failure(gone.inspect({ref: 'web'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('cannot reach Podman at unix://')
    expect(() => podmanRuntime({socketPath: '/x', where: 'unix:///x', env: {NSLOCATE_DOCKER_TIMEOUT: 'soon'}})).toThrow(/NSLOCATE_DOCKER_TIMEOUT/)
  })

  test('list(): a container gone between the list and its inspection is skipped; a list that is not one is RUNTIME', async () => {
    let rt = await serve({
      '/v4.0.0/libpod/containers/json?all=true': json([{Id: ID('a')}, {Id: ID('f')}]),
      [`/v4.0.0/libpod/containers/${ID('a')}/json`]: json(good()),
    })
    expect((await rt.list()).map((c) => c.id)).toEqual([ID('a')])
    rt = await serve({'/v4.0.0/libpod/containers/json?all=true': json({Id: ID('a')})})
    const e = await failure(rt.list())
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain('invalid answer (not a list)')
    rt = await serve({'/v4.0.0/libpod/containers/json?all=true': json([{Id: 12}])})
    expect((await failure(rt.list())).message).toContain('invalid Id')
  })
})
