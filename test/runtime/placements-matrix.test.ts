/**
 * Issue 19's closing-note table, run for real: runtime × placement, with find, signal and wait in
 * each cell, for Docker (the machine's dockerd, plain `docker` CLI), root's Podman (a test-owned
 * service, test/helpers/podman.ts) and the CRI (a second containerd, test/helpers/containerd.ts, pods
 * made by test/helpers/kubelet.ts). The four placements:
 *
 *   host                  nslocate on the node: --container NAME (Docker, found by auto-detection),
 *                         --container podman://NAME, --pod NS/NAME --container-name C
 *   shared PID namespace  nslocate in a sidecar that shares the app's PID namespace (Docker
 *                         `--pid container:APP`, Podman `--share +pid`, CRI pid POD), the app's
 *                         pidfile directory shared at /shared: --dir /shared
 *   shared volume only    nslocate in a container with a PID namespace of its own that shares only
 *                         the pidfile directory (a Docker container with its own PID namespace, a
 *                         Podman container outside any pod, a CRI pod with pid CONTAINER): the lock
 *                         is seen, its holder is not; signal must send nothing
 *   helper container      nslocate in a container of its own PID namespace with the runtime's socket
 *                         directory mounted and --container/--pod: Docker and Podman run a helper
 *                         container in the host's PID namespace; the CRI cannot, and nslocate must
 *                         say so (NOT_VISIBLE, exit 4) rather than act
 *
 * and, from the host, TERM then `wait --for stopped` on a fresh app. The app is the same program on
 * every runtime, nslocate-cri-app:local (test/helpers/containerd.ts, loaded into Docker with
 * `docker load` and into Podman with `podman load`): lock-exec holds a POSIX lock on /run/app/app.pid
 * and execs siglog, which logs every signal it receives (with its sender, numbered in the app's PID
 * namespace) to /run/app/signals.log, a host directory this test reads. Each cell is recorded
 * (matrix-table.ts) before it is asserted; the table goes to build/runtime-placements.md
 * ($NSLOCATE_PLACEMENTS_TABLE). Every pid a find returns is cross-checked against `docker inspect`,
 * `podman inspect` or `ctr -n k8s.io tasks ls`, which nslocate does not use.
 */
import {execFile, execFileSync} from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {CliResult, cli, runCollect} from '../helpers/cli'
import {
  CONTAINERD_BIN,
  CTR_BIN,
  APP_IMAGE as CRI_APP_IMAGE,
  Containerd,
  K8S_NS,
  appCommand,
  describeWithContainerd,
  testImageArchives,
} from '../helpers/containerd'
import {RUN_ID, describeWithEngine, engineEndpoint, ensureImages, testLabels} from '../helpers/engine'
import {Kubelet, Pod, RunningContainer} from '../helpers/kubelet'
import {PodmanService, describeWithPodman, loadNslocate, ownedDir, startRootful} from '../helpers/podman'
import {allPids, readNSpid, readPpid} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {Received, readLog} from '../helpers/victims'
import {MatrixTable, Placement, Runtime, findCell, signalCell, waitCell} from './matrix-table'

const HUP = 1
const TERM = 15
/** Where the app keeps its pidfile and signal log, inside its container; a host directory is bound there. */
const APP_DIR = '/run/app'
const APP = appCommand({dir: APP_DIR, exitOn: ['TERM']})

const table = new MatrixTable()
table.note(
  'Each cell: exit status, then the state or outcome nslocate printed (`--json`); for signal, what the app (siglog) logged. `from` is the sender as numbered in the app’s PID namespace (0: from outside it).',
)

/** nslocate's exit status and printed JSON (stdout), with its stderr. */
interface Run {
  status: number | null
  json: any
  stdout: string
  stderr: string
}

function parsed(r: CliResult, what: string): Run {
  try {
    return {status: r.status, json: JSON.parse(r.stdout), stdout: r.stdout, stderr: r.stderr}
  } catch {
    throw new Error(`not JSON from ${what} (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

/** An app container: its host pidfile directory (bound at /run/app) and its signal log. */
interface App {
  dir: string
  log(): Received[]
}

async function until<T>(what: string, f: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v as NonNullable<Awaited<T>>
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** The pid the app wrote in its pidfile (as its PID namespace numbers it), once it is there. */
function pidfilePid(app: App): Promise<number> {
  return until(`a pid in ${app.dir}/app.pid`, () => {
    try {
      return Number(fs.readFileSync(path.join(app.dir, 'app.pid'), 'utf8').trim()) || 0
    } catch {
      return 0
    }
  })
}

/** What the app logged after its first `since` entries: `expected` entries are waited for, then a moment for any extra one. */
async function loggedSince(app: App, since: number, expected: number): Promise<Received[]> {
  if (expected > 0) await until(`${expected} signal(s) in ${app.dir}/signals.log`, () => app.log().length - since >= expected, 5000).catch(() => undefined)
  await sleep(expected > 0 ? 200 : 400)
  return app.log().slice(since)
}

function describeLog(got: Received[]): string {
  if (got.length === 0) return 'the app logged nothing'
  const names: Record<number, string> = {[HUP]: 'HUP', [TERM]: 'TERM'}
  return `the app logged ${got.map((g) => `${names[g.signo] ?? g.signo} (from ${g.from})`).join(', ')}`
}

/** One cell: where nslocate runs, how it is run, how it names the target. */
interface Cell {
  runtime: Runtime
  placement: Placement
  how: string
  nslocate(args: string[]): Promise<Run>
  target: string[]
  app: App
}

interface Observed {
  find: Run
  signal: Run
  received: Received[]
  wait: Run
}

/** find, signal HUP and wait --for running in one placement, each recorded in the table before anything is asserted. */
async function observe(c: Cell, pidNote: (pid: number | null) => Promise<string>): Promise<Observed> {
  table.record(c.runtime, c.placement, 'how', c.how)
  const find = await c.nslocate(['find', 'app', ...c.target, '--json'])
  table.record(c.runtime, c.placement, 'find', findCell(find, await pidNote(find.json?.pid ?? null)))
  const since = c.app.log().length
  const signal = await c.nslocate(['signal', 'app', 'HUP', ...c.target, '--json'])
  const received = await loggedSince(c.app, since, signal.json?.delivered?.length ? 1 : 0)
  table.record(c.runtime, c.placement, 'signal', signalCell(signal, describeLog(received), find))
  const wait = await c.nslocate(['wait', 'app', '--for', 'running', '--timeout', '2s', ...c.target, '--json'])
  table.record(c.runtime, c.placement, 'wait', waitCell(wait, find))
  return {find, signal, received, wait}
}

/** From the host: TERM, then wait --for stopped, on an app nothing else touched. */
async function observeTerm(c: Cell, pidNote: (pid: number | null) => Promise<string>): Promise<Observed> {
  table.record(c.runtime, c.placement, 'how', c.how)
  const find = await c.nslocate(['find', 'app', ...c.target, '--json'])
  table.record(c.runtime, c.placement, 'find', findCell(find, await pidNote(find.json?.pid ?? null)))
  const since = c.app.log().length
  const signal = await c.nslocate(['signal', 'app', 'TERM', ...c.target, '--json'])
  const received = await loggedSince(c.app, since, signal.json?.delivered?.length ? 1 : 0)
  table.record(c.runtime, c.placement, 'signal', `TERM: ${signalCell(signal, describeLog(received), find)}`)
  const wait = await c.nslocate(['wait', 'app', '--for', 'stopped', '--timeout', '10s', ...c.target, '--json'])
  table.record(c.runtime, c.placement, 'wait', `--for stopped --timeout 10s: ${waitCell(wait, find)}`)
  return {find, signal, received, wait}
}

function version(argv: string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), {encoding: 'utf8', timeout: 10_000}).trim().split('\n')[0]
  } catch (error) {
    return `${argv[0]}: ${(error as Error).message.split('\n')[0]}`
  }
}

afterAll(() => {
  table.write()
})

describeWithPodman('placements matrix: root Podman', () => {
  const R: Runtime = 'Podman (rootful)'
  let svc: PodmanService
  let appImage: string
  let nslocateImage: string
  let env: NodeJS.ProcessEnv
  /** in the pod `mx-pod` (--share +pid), beside the sidecar mx-pod-side */
  let podApp: PodmanApp
  /** outside any pod, beside mx-solo-side (the same directory) and mx-helper (the socket's directory) */
  let soloApp: PodmanApp
  let termApp: PodmanApp

  interface PodmanApp extends App {
    id: string
    name: string
  }

  /** State.Pid as `podman inspect` says it: the app's host pid (lock-exec execs siglog, the container's first process). */
  const statePid = async (app: PodmanApp) => Number(await svc.inspect(app.id, '{{.State.Pid}}'))

  async function startApp(name: string, extra: string[] = []): Promise<PodmanApp> {
    const dir = ownedDir(svc, 'app')
    const id = await svc.run(['--name', name, '-v', `${dir}:${APP_DIR}`, ...extra, appImage, ...APP])
    const app = {id, name, dir, log: () => readLog(path.join(dir, 'signals.log'))}
    await pidfilePid(app)
    return app
  }

  /** A long-running container of nslocate's image (its entrypoint replaced by sleep), for `podman exec`. */
  const sidecar = (name: string, extra: string[]) => svc.run(['--name', name, ...extra, '--entrypoint', 'sleep', nslocateImage, '100000'])

  /** `podman exec CONTAINER nslocate ARGS`: its status and output, whatever the status. */
  const inContainer =
    (container: string) =>
    (args: string[]): Promise<Run> =>
      new Promise((resolve, reject) =>
        execFile('podman', ['exec', container, 'nslocate', ...args], {env: svc.env, timeout: 60_000, killSignal: 'SIGKILL'}, (error, stdout, stderr) => {
          const status = error ? (typeof error.code === 'number' ? error.code : null) : 0
          if (status === null) return reject(new Error(`podman exec ${container} nslocate ${args.join(' ')}: ${error!.message}\n${stdout}${stderr}`))
          try {
            resolve(parsed({status, signal: null, stdout, stderr}, `nslocate ${args.join(' ')} in ${container}`))
          } catch (e) {
            reject(e)
          }
        }),
      )

  const onHost = async (args: string[]): Promise<Run> => parsed(await cli(args, {env, timeoutMs: 30_000}), `nslocate ${args.join(' ')}`)

  /** " (= podman inspect State.Pid)" when `pid` is the app's host pid, else what podman says instead. */
  const vsInspect = (app: PodmanApp) => async (pid: number | null) => {
    if (pid === null) return ''
    const want = await statePid(app)
    return pid === want ? ' (= podman inspect State.Pid)' : ` (podman inspect State.Pid: ${want})`
  }
  /** " (= NSpid of podman's State.Pid)" when `pid` is the app as its PID namespace numbers it. */
  const vsNSpid = (app: PodmanApp) => async (pid: number | null) => {
    if (pid === null) return ''
    const inner = readNSpid(await statePid(app)).at(-1)
    return pid === inner ? ' (= last NSpid of podman inspect State.Pid)' : ` (the app is ${inner} there)`
  }

  beforeAll(async () => {
    svc = await startRootful()
    const loadApp = async () => {
      const out = await svc.podman(['load', '-i', testImageArchives().app], {timeoutMs: 120_000})
      const m = /Loaded image(?:\(s\))?: (\S+)/.exec(out)
      if (!m) throw new Error(`podman load did not name the image: ${out}`)
      return m[1]
    }
    ;[appImage, nslocateImage] = await Promise.all([loadApp(), loadNslocate(svc)])
    // undefined: left out of the child's environment (no Docker, no CRI by accident)
    env = {CONTAINER_HOST: svc.host, DOCKER_HOST: undefined, XDG_RUNTIME_DIR: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined}
    table.note(`${R}: ${version(['podman', '--version'])}, runc, cgroupfs; a test-owned \`podman system service\` (test/helpers/podman.ts).`)
    await svc.podman(['pod', 'create', '--name', 'mx-pod', '--share', '+pid', '--label', 'nslocate.test=1'])
    ;[podApp, soloApp, termApp] = await Promise.all([startApp('mx-pod-app', ['--pod', 'mx-pod']), startApp('mx-solo-app'), startApp('mx-term-app')])
    await Promise.all([
      sidecar('mx-pod-side', ['--pod', 'mx-pod', '-v', `${podApp.dir}:/shared`]),
      sidecar('mx-solo-side', ['-v', `${soloApp.dir}:/shared`]),
      sidecar('mx-helper', ['-v', `${path.dirname(svc.socket)}:/run/podman`, '-e', 'CONTAINER_HOST=unix:///run/podman/podman.sock']),
    ])
  }, 300_000)

  afterAll(async () => {
    await svc?.stop()
    await stopAll()
  }, 60_000)

  test('host: --container podman://NAME (the app in a --share +pid pod)', async () => {
    const host = await statePid(podApp)
    const inner = await pidfilePid(podApp)
    const o = await observe(
      {
        runtime: R,
        placement: 'host',
        how: 'the host: `--container podman://mx-pod-app` (CONTAINER_HOST)',
        nslocate: onHost,
        target: ['--container', 'podman://mx-pod-app'],
        app: podApp,
      },
      vsInspect(podApp),
    )
    expect(readNSpid(host)).toEqual([host, inner])
    expect(inner).toBeGreaterThan(1) // the pod's infra (catatonit) is pid 1 of the shared namespace
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: host, holder: host, nspid: [host, inner], visible: true, reasons: []})
    expect(o.find.json.pidfile).toMatchObject({pid: inner, lock: 'posix'})
    expect(o.find.json.container).toMatchObject({id: podApp.id, runtime: 'podman'})
    expect(o.signal.status).toBe(0)
    expect(o.signal.json.delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, inner], signal: 'HUP'}])
    expect(o.received).toEqual([{pid: inner, signo: HUP, from: 0, uid: 0, code: 0}])
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: host}})
  }, 60_000)

  test('shared PID namespace: a sidecar in the pod, the pidfile directory shared (--dir /shared)', async () => {
    const host = await statePid(podApp)
    const inner = await pidfilePid(podApp)
    const o = await observe(
      {
        runtime: R,
        placement: 'shared PID namespace',
        how: '`podman exec` into mx-pod-side (nslocate’s image) in the `--share +pid` pod, app dir at /shared: `--dir /shared`',
        nslocate: inContainer('mx-pod-side'),
        target: ['--dir', '/shared'],
        app: podApp,
      },
      vsNSpid(podApp),
    )
    expect(readNSpid(host).at(-1)).toBe(inner)
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: inner, holder: inner, nspid: [inner], visible: true, reasons: []})
    expect(o.signal.status).toBe(0)
    expect(o.signal.json.delivered).toEqual([{pid: inner, pidfd_id: expect.any(Number), nspid: [inner], signal: 'HUP'}])
    expect(o.received).toHaveLength(1)
    expect(o.received[0]).toMatchObject({pid: inner, signo: HUP, uid: 0})
    // The sender is numbered in the app's namespace: nslocate ran in the pod's PID namespace (not pid 1, catatonit).
    expect(o.received[0].from).toBeGreaterThan(1)
    expect(o.received[0].from).not.toBe(inner)
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, target: {state: 'running', pid: inner}})
  }, 60_000)

  test('shared volume only: a container outside the pod, with only the pidfile directory: running, holder not visible, nothing sent', async () => {
    const host = await statePid(soloApp)
    const o = await observe(
      {
        runtime: R,
        placement: 'shared volume only',
        how: '`podman exec` into mx-solo-side (own PID namespace), app dir at /shared: `--dir /shared`',
        nslocate: inContainer('mx-solo-side'),
        target: ['--dir', '/shared'],
        app: soloApp,
      },
      async () => '',
    )
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: null, holder: null, visible: false, pidfile: {lock: 'posix'}})
    expect(o.find.json.reasons).toContain('holder_not_visible')
    expect(o.signal.status).toBe(4)
    expect(o.signal.json.delivered).toEqual([])
    expect(o.received).toEqual([])
    expect(readNSpid(host)).toEqual([host, 1]) // still there, untouched
    // A lock held is "running" whoever holds it: the wait needs no pid to be reached.
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: null, visible: false}})
  }, 60_000)

  test('helper container: own PID namespace, the socket directory mounted, --container: the helper (host PID namespace) acts', async () => {
    const host = await statePid(soloApp)
    const o = await observe(
      {
        runtime: R,
        placement: 'helper container',
        how: '`podman exec` into mx-helper (own PID namespace), socket dir at /run/podman (CONTAINER_HOST): `--container podman://mx-solo-app`',
        nslocate: inContainer('mx-helper'),
        target: ['--container', 'podman://mx-solo-app'],
        app: soloApp,
      },
      vsInspect(soloApp),
    )
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: host, holder: host, nspid: [host, 1], visible: true})
    expect(o.find.json.evidence.join('\n')).toContain("done by a helper container (image localhost/nslocate:local) in the engine's PID namespace")
    expect(o.signal.status).toBe(0)
    expect(o.signal.json).toMatchObject({helper: 'localhost/nslocate:local', delivered: [{pid: host, nspid: [host, 1], signal: 'HUP'}]})
    expect(o.received).toEqual([{pid: 1, signo: HUP, from: 0, uid: 0, code: 0}])
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: host}})
    // Every helper container is gone.
    expect((await svc.podman(['ps', '-a', '-q', '--filter', 'label=nslocate.helper=1'])).trim()).toBe('')
  }, 90_000)

  test('host, a fresh app: signal TERM, then wait --for stopped (podman inspect: exited)', async () => {
    const host = await statePid(termApp)
    const o = await observeTerm(
      {
        runtime: R,
        placement: 'host, fresh app: TERM',
        how: 'the host: `--container podman://mx-term-app`',
        nslocate: onHost,
        target: ['--container', 'podman://mx-term-app'],
        app: termApp,
      },
      vsInspect(termApp),
    )
    expect(o.find.json).toMatchObject({state: 'running', pid: host})
    expect(o.signal.status).toBe(0)
    expect(o.signal.json.delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, 1], signal: 'TERM'}])
    expect(o.received).toEqual([{pid: 1, signo: TERM, from: 0, uid: 0, code: 0}])
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'stopped'})
    expect(await svc.inspect(termApp.id, '{{.State.Status}}')).toBe('exited')
  }, 60_000)
})

describeWithContainerd(
  'placements matrix: CRI (a second containerd)',
  (cd: () => Containerd) => {
    const R: Runtime = 'CRI (containerd)'
    let kubelet: Kubelet
    let env: NodeJS.ProcessEnv
    let web: Pod
    let solo: Pod
    let webApp: CriApp
    let soloApp: CriApp
    let termApp: CriApp
    let webSidecar: RunningContainer
    let soloSidecar: RunningContainer
    let helper: RunningContainer

    interface CriApp extends App {
      c: RunningContainer
    }

    /** The task's pid as `ctr tasks ls` says it (nslocate never asks ctr). */
    const ctrPid = async (app: CriApp) => until(`${app.c.id.slice(0, 12)} in ctr tasks ls`, async () => (await cd().tasks()).get(app.c.id)?.pid)

    async function startApp(pod: Pod, name: string): Promise<CriApp> {
      const dir = tempDir('nslocate-matrix-cri-')
      const c = await kubelet.runContainer(pod, {name, image: cd().images.app, command: APP, mounts: [{hostPath: dir, containerPath: APP_DIR}]})
      const app = {c, dir, log: () => readLog(path.join(dir, 'signals.log'))}
      await pidfilePid(app)
      return app
    }

    const nslocateContainer = (pod: Pod, name: string, mounts: {hostPath: string; containerPath: string}[]) =>
      kubelet.runContainer(pod, {name, image: cd().images.nslocate!, command: ['sleep', '100000'], mounts})

    /** `ctr tasks exec` nslocate in a container of a pod: its status and output, whatever the status. */
    const inContainer =
      (c: () => RunningContainer) =>
      async (args: string[]): Promise<Run> => {
        const execId = `mx-${crypto.randomBytes(4).toString('hex')}`
        const what = `nslocate ${args.join(' ')} in ${c().pod.namespace}/${c().pod.name} ${c().name}`
        const r = await runCollect([CTR_BIN, '-a', cd().socket, '-n', K8S_NS, 'tasks', 'exec', '--exec-id', execId, c().id, 'nslocate', ...args], {
          timeoutMs: 60_000,
          what,
        })
        return parsed(r, what)
      }

    const onHost = async (args: string[]): Promise<Run> => parsed(await cli(args, {env, timeoutMs: 30_000}), `nslocate ${args.join(' ')}`)

    const vsCtr = (app: () => CriApp) => async (pid: number | null) => {
      if (pid === null) return ''
      const want = await ctrPid(app())
      return pid === want ? ' (= ctr tasks ls)' : ` (ctr tasks ls: ${want})`
    }
    const vsNSpid = (app: () => CriApp) => async (pid: number | null) => {
      if (pid === null) return ''
      const inner = readNSpid(await ctrPid(app())).at(-1)
      return pid === inner ? ' (= last NSpid of the ctr tasks ls pid)' : ` (the app is ${inner} there)`
    }

    beforeAll(async () => {
      kubelet = new Kubelet(cd())
      env = {CONTAINER_RUNTIME_ENDPOINT: cd().endpoint, DOCKER_HOST: undefined, CONTAINER_HOST: undefined, XDG_RUNTIME_DIR: undefined}
      table.note(
        `${R}: ${version([CONTAINERD_BIN, '--version'])}, a second instance with the CRI plugin (test/helpers/containerd.ts); pods by a test kubelet over the CRI (test/helpers/kubelet.ts), host network, cgroupfs.`,
      )
      ;[web, solo] = await Promise.all([
        kubelet.runPod({namespace: 'mx', name: 'web-0', pid: 'POD'}),
        kubelet.runPod({namespace: 'mx', name: 'solo-0', pid: 'CONTAINER'}),
      ])
      ;[webApp, soloApp, termApp] = await Promise.all([startApp(web, 'app'), startApp(solo, 'app'), startApp(web, 'term')])
      ;[webSidecar, soloSidecar, helper] = await Promise.all([
        nslocateContainer(web, 'sidecar', [{hostPath: webApp.dir, containerPath: '/shared'}]),
        nslocateContainer(solo, 'sidecar', [{hostPath: soloApp.dir, containerPath: '/shared'}]),
        // The socket's directory (containerd keeps its socket in its state directory) at containerd's default
        // path, as a node agent's hostPath /run/containerd: found with no variable. (Not by
        // CONTAINER_RUNTIME_ENDPOINT: the kubelet helper cannot send an env, src/runtime/cri-proto.ts has
        // KeyValue.value as bytes where k8s.io/cri-api has string.)
        nslocateContainer(solo, 'helper', [{hostPath: cd().state, containerPath: '/run/containerd'}]),
      ])
    }, 300_000)

    afterAll(async () => {
      await kubelet?.cleanup()
      await stopAll()
    }, 120_000)

    test('host: --pod mx/web-0 --container-name app (pid POD)', async () => {
      const host = await ctrPid(webApp)
      const inner = await pidfilePid(webApp)
      const o = await observe(
        {
          runtime: R,
          placement: 'host',
          how: 'the node: `--pod mx/web-0 --container-name app` (CONTAINER_RUNTIME_ENDPOINT)',
          nslocate: onHost,
          target: ['--pod', 'mx/web-0', '--container-name', 'app'],
          app: webApp,
        },
        vsCtr(() => webApp),
      )
      expect(readNSpid(host)).toEqual([host, inner])
      expect(inner).toBeGreaterThan(1) // pause is pid 1 of the pod
      expect(o.find.status).toBe(0)
      expect(o.find.json).toMatchObject({state: 'running', pid: host, holder: host, nspid: [host, inner], visible: true, reasons: []})
      expect(o.find.json.container).toMatchObject({id: webApp.c.id, name: 'app', pod: {namespace: 'mx', name: 'web-0', uid: web.uid}})
      expect(o.signal.status).toBe(0)
      expect(o.signal.json.delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, inner], signal: 'HUP'}])
      expect(o.received).toEqual([{pid: inner, signo: HUP, from: 0, uid: 0, code: 0}])
      expect(o.wait.status).toBe(0)
      expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: host}})
    }, 60_000)

    test('shared PID namespace: the sidecar of mx/web-0, the pidfile directory shared (--dir /shared)', async () => {
      const host = await ctrPid(webApp)
      const inner = await pidfilePid(webApp)
      const o = await observe(
        {
          runtime: R,
          placement: 'shared PID namespace',
          how: '`ctr tasks exec` into the sidecar (nslocate’s image) of mx/web-0 (pid POD), app dir at /shared: `--dir /shared`',
          nslocate: inContainer(() => webSidecar),
          target: ['--dir', '/shared'],
          app: webApp,
        },
        vsNSpid(() => webApp),
      )
      expect(readNSpid(host).at(-1)).toBe(inner)
      expect(o.find.status).toBe(0)
      expect(o.find.json).toMatchObject({state: 'running', pid: inner, holder: inner, nspid: [inner], visible: true, reasons: []})
      expect(o.signal.status).toBe(0)
      expect(o.signal.json.delivered).toEqual([{pid: inner, pidfd_id: expect.any(Number), nspid: [inner], signal: 'HUP'}])
      expect(o.received).toHaveLength(1)
      expect(o.received[0]).toMatchObject({pid: inner, signo: HUP, uid: 0})
      expect(o.received[0].from).toBeGreaterThan(1) // numbered in the pod's namespace: neither outside (0) nor pause (1)
      expect(o.received[0].from).not.toBe(inner)
      expect(o.wait.status).toBe(0)
      expect(o.wait.json).toMatchObject({reached: true, target: {state: 'running', pid: inner}})
    }, 60_000)

    test('shared volume only: the sidecar of mx/solo-0 (pid CONTAINER): running, holder not visible, nothing sent', async () => {
      const host = await ctrPid(soloApp)
      const o = await observe(
        {
          runtime: R,
          placement: 'shared volume only',
          how: '`ctr tasks exec` into the sidecar of mx/solo-0 (pid CONTAINER), app dir at /shared: `--dir /shared`',
          nslocate: inContainer(() => soloSidecar),
          target: ['--dir', '/shared'],
          app: soloApp,
        },
        async () => '',
      )
      expect(o.find.status).toBe(0)
      expect(o.find.json).toMatchObject({state: 'running', pid: null, holder: null, visible: false, pidfile: {lock: 'posix'}})
      expect(o.find.json.reasons).toContain('holder_not_visible')
      expect(o.signal.status).toBe(4)
      expect(o.signal.json.delivered).toEqual([])
      expect(o.received).toEqual([])
      expect(readNSpid(host)).toEqual([host, 1])
      expect(o.wait.status).toBe(0)
      expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: null, visible: false}})
    }, 60_000)

    test('helper container: own PID namespace, the socket directory mounted, --pod: the CRI runs no helper, nslocate says so (NOT_VISIBLE, 4)', async () => {
      const host = await ctrPid(soloApp)
      const o = await observe(
        {
          runtime: R,
          placement: 'helper container',
          how: '`ctr tasks exec` into the helper container of mx/solo-0 (pid CONTAINER), containerd’s state dir (its socket) at /run/containerd: `--pod mx/solo-0 --container-name app`',
          nslocate: inContainer(() => helper),
          target: ['--pod', 'mx/solo-0', '--container-name', 'app'],
          app: soloApp,
        },
        async () => '',
      )
      const refusal = {code: 'NOT_VISIBLE', message: expect.stringContaining('CRI cannot run a helper container')}
      expect(o.find.status).toBe(4)
      expect(o.find.json.error).toMatchObject(refusal)
      expect(o.signal.status).toBe(4)
      expect(o.signal.json.error).toMatchObject(refusal)
      expect(o.received).toEqual([])
      expect(o.wait.status).toBe(4)
      expect(o.wait.json.error).toMatchObject(refusal)
      expect(readNSpid(host)).toEqual([host, 1])
    }, 60_000)

    test('host, a fresh app: signal TERM, then wait --for stopped (ctr tasks ls: STOPPED)', async () => {
      const host = await ctrPid(termApp)
      const inner = await pidfilePid(termApp)
      const o = await observeTerm(
        {
          runtime: R,
          placement: 'host, fresh app: TERM',
          how: 'the node: `--pod mx/web-0 --container-name term`',
          nslocate: onHost,
          target: ['--pod', 'mx/web-0', '--container-name', 'term'],
          app: termApp,
        },
        vsCtr(() => termApp),
      )
      expect(o.find.json).toMatchObject({state: 'running', pid: host})
      expect(o.signal.status).toBe(0)
      expect(o.signal.json.delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, inner], signal: 'TERM'}])
      expect(o.received).toEqual([{pid: inner, signo: TERM, from: 0, uid: 0, code: 0}])
      expect(o.wait.status).toBe(0)
      expect(o.wait.json).toMatchObject({reached: true, condition: 'stopped'})
      const task = (await cd().tasks()).get(termApp.c.id)
      expect(task?.status ?? 'gone').toMatch(/^(STOPPED|gone)$/)
    }, 60_000)
  },
  {nslocateImage: true},
)

describeWithEngine('placements matrix: Docker', () => {
  const R: Runtime = 'Docker'
  /** Every container this block started, in the order it started them (removed by id, newest first). */
  const ids: string[] = []
  /** What `docker load` changed: undone in afterAll. */
  let restoreAppImage: () => Promise<void> = async () => undefined
  let nslocateImage: string
  let env: NodeJS.ProcessEnv
  /** pid 1 of its container (lock-exec execs siglog): host, shared volume only, helper container */
  let app: DockerApp
  /** run with `--init` (docker-init, Docker's tini, is pid 1; the app is its child): shared PID namespace */
  let initApp: DockerApp
  let termApp: DockerApp
  /** The engine's socket and how the helper placement mounts it. */
  const socket = engineEndpoint().socketPath ?? '/var/run/docker.sock'
  const defaultSocket = socket === '/var/run/docker.sock'

  interface DockerApp extends App {
    id: string
    name: string
  }

  /** `docker ARGS`: its stdout, or an error with its stdout and stderr. */
  const docker = (args: string[], timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('docker', args, {timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20}, (error, stdout, stderr) => {
        if (error) reject(new Error(`docker ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stdout}${stderr}`))
        else resolve(stdout)
      }),
    )

  const nameOf = (tag: string) => `mx-${tag}-${RUN_ID}`
  const labelArgs = Object.entries(testLabels()).flatMap(([k, v]) => ['--label', `${k}=${v}`])

  /** `docker run -d` with the test labels and no network; the container's full id. */
  async function run(args: string[]): Promise<string> {
    const id = (await docker(['run', '-d', '--pull', 'never', '--network', 'none', ...labelArgs, ...args])).trim()
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`docker run ${args.join(' ')} printed no container id: ${id}`)
    ids.push(id)
    return id
  }

  const inspect = async (id: string, format: string) => (await docker(['inspect', '-f', format, id])).trim()
  /** State.Pid as `docker inspect` says it. */
  const statePid = async (c: {id: string}) => Number(await inspect(c.id, '{{.State.Pid}}'))

  /** The app's host pid under docker-init: State.Pid's only child (read from /proc, not from nslocate). */
  async function childOfInit(c: DockerApp): Promise<number> {
    const init = await statePid(c)
    const children = allPids().filter((p) => readPpid(p) === init)
    if (children.length !== 1) throw new Error(`docker-init (pid ${init}) of ${c.name} has children [${children.join(', ')}], not one`)
    return children[0]
  }

  async function startApp(tag: string, extra: string[] = []): Promise<DockerApp> {
    const dir = tempDir('nslocate-matrix-docker-')
    const name = nameOf(tag)
    const id = await run(['--name', name, '-v', `${dir}:${APP_DIR}`, ...extra, CRI_APP_IMAGE, ...APP])
    const started = {id, name, dir, log: () => readLog(path.join(dir, 'signals.log'))}
    await pidfilePid(started)
    return started
  }

  /** A long-running container of nslocate's image (its entrypoint replaced by sleep), for `docker exec`. */
  const sidecar = (tag: string, extra: string[]) => run(['--name', nameOf(tag), ...extra, '--entrypoint', 'sleep', nslocateImage, '100000'])

  /** `docker exec CONTAINER nslocate ARGS`: its status and output, whatever the status. */
  const inContainer =
    (tag: string) =>
    (args: string[]): Promise<Run> =>
      new Promise((resolve, reject) =>
        execFile('docker', ['exec', nameOf(tag), 'nslocate', ...args], {timeout: 60_000, killSignal: 'SIGKILL'}, (error, stdout, stderr) => {
          const status = error ? (typeof error.code === 'number' ? error.code : null) : 0
          if (status === null) return reject(new Error(`docker exec ${nameOf(tag)} nslocate ${args.join(' ')}: ${error!.message}\n${stdout}${stderr}`))
          try {
            resolve(parsed({status, signal: null, stdout, stderr}, `nslocate ${args.join(' ')} in ${nameOf(tag)}`))
          } catch (e) {
            reject(e)
          }
        }),
      )

  const onHost = async (args: string[]): Promise<Run> => parsed(await cli(args, {env, timeoutMs: 30_000}), `nslocate ${args.join(' ')}`)

  /** " (= docker inspect State.Pid)" when `pid` is the app's host pid, else what docker says instead. */
  const vsInspect = (c: () => DockerApp) => async (pid: number | null) => {
    if (pid === null) return ''
    const want = await statePid(c())
    return pid === want ? ' (= docker inspect State.Pid)' : ` (docker inspect State.Pid: ${want})`
  }

  /** Load nslocate-cri-app:local unless this very image is there; what to do afterwards to leave Docker's images as they were. */
  async function loadApp(): Promise<() => Promise<void>> {
    const idOf = () => inspect(CRI_APP_IMAGE, '{{.Id}}').catch(() => null)
    const before = await idOf()
    const out = await docker(['load', '-i', testImageArchives().app], 120_000)
    if (!out.includes(CRI_APP_IMAGE)) throw new Error(`docker load did not load ${CRI_APP_IMAGE}: ${out}`)
    const after = await idOf()
    if (!after) throw new Error(`${CRI_APP_IMAGE} is not in Docker after docker load: ${out}`)
    if (before === after) return async () => undefined
    return async () => {
      if (before) await docker(['tag', before, CRI_APP_IMAGE])
      await docker(['image', 'rm', before ? after : CRI_APP_IMAGE])
    }
  }

  beforeAll(async () => {
    const [restore, images] = await Promise.all([loadApp(), ensureImages()])
    restoreAppImage = restore
    nslocateImage = images.app
    // undefined: left out of the child's environment (no Podman, no CRI by accident); DOCKER_HOST as
    // this run has it (normally unset: nslocate finds /var/run/docker.sock by itself)
    env = {DOCKER_HOST: process.env.DOCKER_HOST, CONTAINER_HOST: undefined, XDG_RUNTIME_DIR: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined}
    table.note(
      `${R}: ${version(['docker', 'info', '-f', 'Docker Engine {{.ServerVersion}}, {{.Driver}}, cgroup driver {{.CgroupDriver}} (v{{.CgroupVersion}}), default runtime {{.DefaultRuntime}}'])}; the machine's dockerd, containers started with the \`docker\` CLI, \`--network none\`.`,
    )
    ;[app, initApp, termApp] = await Promise.all([startApp('app'), startApp('init-app', ['--init']), startApp('term-app')])
    await Promise.all([
      sidecar('pid-side', ['--pid', `container:${initApp.id}`, '-v', `${initApp.dir}:/shared`]),
      sidecar('pid1-side', ['--pid', `container:${app.id}`, '-v', `${app.dir}:/shared`]),
      sidecar('vol-side', ['-v', `${app.dir}:/shared`]),
    ])
    // Last: the host's /run (bound recursively) holds the mounts of every container started before it.
    await sidecar(
      'helper',
      defaultSocket ? ['-v', '/var/run:/var/run:ro'] : ['-v', `${path.dirname(socket)}:${path.dirname(socket)}:ro`, '-e', `DOCKER_HOST=unix://${socket}`],
    )
  }, 600_000)

  afterAll(async () => {
    const errors: string[] = []
    // Helper containers carry nslocate.helper=1 and nslocate.target=<the app>, not the test label.
    const helpers = (await docker(['ps', '-a', '--no-trunc', '--filter', 'label=nslocate.helper=1', '--format', '{{.ID}} {{.Label "nslocate.target"}}']))
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([id, target]) => id && ids.includes(target))
      .map(([id]) => id)
    for (const id of [...helpers, ...[...ids].reverse()]) {
      await docker(['rm', '-f', '-v', id]).catch((e: Error) => {
        if (!/No such container/.test(e.message)) errors.push(e.message)
      })
    }
    await restoreAppImage().catch((e: Error) => errors.push(e.message))
    await stopAll()
    if (errors.length) throw new Error(`Docker clean-up failed:\n${errors.join('\n')}`)
  }, 120_000)

  test('host: --container NAME (auto-detection: /var/run/docker.sock)', async () => {
    const host = await statePid(app)
    const inner = await pidfilePid(app)
    const o = await observe(
      {
        runtime: R,
        placement: 'host',
        how: `the host: \`--container mx-app-…\` (${process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : 'no DOCKER_HOST: /var/run/docker.sock found by auto-detection'})`,
        nslocate: onHost,
        target: ['--container', app.name],
        app,
      },
      vsInspect(() => app),
    )
    expect(inner).toBe(1) // lock-exec execs siglog: the app is its container's init
    expect(readNSpid(host)).toEqual([host, 1])
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: host, holder: host, nspid: [host, 1], visible: true, reasons: []})
    expect(o.find.json.pidfile).toMatchObject({pid: 1, lock: 'posix'})
    expect(o.find.json.container).toMatchObject({id: app.id, name: app.name, runtime: 'docker'})
    expect(o.signal.status).toBe(0)
    expect(o.signal.json.delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, 1], signal: 'HUP'}])
    expect(o.received).toEqual([{pid: 1, signo: HUP, from: 0, uid: 0, code: 0}])
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: host}})
  }, 60_000)

  test('shared PID namespace: a sidecar with --pid container:APP (the app under --init), the pidfile directory shared (--dir /shared)', async () => {
    const host = await childOfInit(initApp)
    const inner = await pidfilePid(initApp)
    const o = await observe(
      {
        runtime: R,
        placement: 'shared PID namespace',
        how: '`docker exec` into a sidecar (nslocate’s image) run with `--pid container:mx-init-app-…` (the app under `--init`: docker-init is pid 1), app dir at /shared: `--dir /shared`',
        nslocate: inContainer('pid-side'),
        target: ['--dir', '/shared'],
        app: initApp,
      },
      async (pid) => {
        if (pid === null) return ''
        const want = readNSpid(await childOfInit(initApp)).at(-1)
        return pid === want ? ' (= last NSpid of the child of docker inspect State.Pid)' : ` (the app is ${want} there)`
      },
    )
    expect(readNSpid(host)).toEqual([host, inner])
    expect(inner).toBeGreaterThan(1) // docker-init is pid 1
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: inner, holder: inner, nspid: [inner], visible: true, reasons: []})
    expect(o.signal.status).toBe(0)
    expect(o.signal.json.delivered).toEqual([{pid: inner, pidfd_id: expect.any(Number), nspid: [inner], signal: 'HUP'}])
    expect(o.received).toHaveLength(1)
    expect(o.received[0]).toMatchObject({pid: inner, signo: HUP, uid: 0})
    // The sender is numbered in the app's namespace: nslocate ran in it (not docker-init, not the app).
    expect(o.received[0].from).toBeGreaterThan(1)
    expect(o.received[0].from).not.toBe(inner)
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: inner}})
  }, 60_000)

  test('shared PID namespace, the app its pid 1 (no --init): found, but signal refuses pid 1 (exit 4, nothing sent)', async () => {
    const host = await statePid(app)
    const nslocate = inContainer('pid1-side')
    const target = ['--dir', '/shared']
    const find = await nslocate(['find', 'app', ...target, '--json'])
    const since = app.log().length
    const signal = await nslocate(['signal', 'app', 'HUP', ...target, '--json'])
    const received = await loggedSince(app, since, signal.json?.delivered?.length ? 1 : 0)
    const wait = await nslocate(['wait', 'app', '--for', 'running', '--timeout', '2s', ...target, '--json'])
    table.note(
      `${R}, shared PID namespace with the app as its container’s pid 1 (no \`--init\`; \`docker exec\` into a sidecar with \`--pid container:mx-app-…\`, \`--dir /shared\`): find: ${findCell(find)}; signal HUP: ${signalCell(signal, describeLog(received), find)}${signal.json?.skipped?.length ? ` (skipped: ${signal.json.skipped.map((s: {pid: number; reason: string}) => `pid ${s.pid} ${s.reason}`).join(', ')})` : ''}; wait: ${waitCell(wait, find)}.`,
    )
    expect(find.status).toBe(0)
    expect(find.json).toMatchObject({state: 'running', pid: 1, holder: 1, nspid: [1], visible: true})
    expect(signal.status).toBe(4)
    expect(signal.json.delivered).toEqual([])
    expect(signal.json.skipped).toEqual([{pid: 1, pidfd_id: expect.any(Number), reason: 'unsafe'}])
    expect(received).toEqual([])
    expect(readNSpid(host)).toEqual([host, 1])
    expect(wait.status).toBe(0)
    expect(wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: 1}})
  }, 60_000)

  test('shared volume only: a sidecar with its own PID namespace and only the pidfile directory: running, holder not visible, nothing sent', async () => {
    const host = await statePid(app)
    const o = await observe(
      {
        runtime: R,
        placement: 'shared volume only',
        how: '`docker exec` into a sidecar with its own PID namespace, app dir at /shared: `--dir /shared`',
        nslocate: inContainer('vol-side'),
        target: ['--dir', '/shared'],
        app,
      },
      async () => '',
    )
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: null, holder: null, visible: false, pidfile: {lock: 'posix'}})
    expect(o.find.json.reasons).toContain('holder_not_visible')
    expect(o.signal.status).toBe(4)
    expect(o.signal.json.delivered).toEqual([])
    expect(o.received).toEqual([])
    expect(readNSpid(host)).toEqual([host, 1]) // still there, untouched
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: null, visible: false}})
  }, 60_000)

  test('helper container: own PID namespace, the socket directory mounted, --container NAME: the helper (host PID namespace) acts, none is left', async () => {
    const host = await statePid(app)
    const since = (Date.now() / 1000 - 1).toFixed(3)
    const o = await observe(
      {
        runtime: R,
        placement: 'helper container',
        how: defaultSocket
          ? '`docker exec` into a container of nslocate’s image with its own PID namespace and `-v /var/run:/var/run:ro` (the socket found by auto-detection): `--container mx-app-…`'
          : `\`docker exec\` into a container of nslocate’s image with its own PID namespace, ${path.dirname(socket)} mounted (DOCKER_HOST): \`--container mx-app-…\``,
        nslocate: inContainer('helper'),
        target: ['--container', app.name],
        app,
      },
      vsInspect(() => app),
    )
    expect(o.find.status).toBe(0)
    expect(o.find.json).toMatchObject({state: 'running', pid: host, holder: host, nspid: [host, 1], visible: true})
    expect(o.find.json.evidence.join('\n')).toContain(`done by a helper container (image ${nslocateImage}) in the engine's PID namespace`)
    expect(o.signal.status).toBe(0)
    expect(o.signal.json).toMatchObject({helper: nslocateImage, delivered: [{pid: host, nspid: [host, 1], signal: 'HUP'}]})
    expect(o.received).toEqual([{pid: 1, signo: HUP, from: 0, uid: 0, code: 0}])
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running', pid: host}})
    // The engine's own record: helper containers for this app were created, and every one was destroyed.
    const helperEvents = async () =>
      (
        await docker([
          'events',
          '--since',
          since,
          '--until',
          (Date.now() / 1000).toFixed(3),
          '--filter',
          'type=container',
          '--filter',
          'label=nslocate.helper=1',
          '--filter',
          `label=nslocate.target=${app.id}`,
          '--format',
          '{{.Action}} {{.Actor.ID}}',
        ])
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
    let events: string[][] = []
    const created = () => events.filter(([a]) => a === 'create').map(([, id]) => id)
    await until('a destroy event for every helper container created', async () => {
      events = await helperEvents()
      const destroyed = new Set(events.filter(([a]) => a === 'destroy').map(([, id]) => id))
      return created().length > 0 && created().every((id) => destroyed.has(id))
    }).catch((e: Error) => {
      throw new Error(`${e.message}; docker events: ${JSON.stringify(events)}`)
    })
    table.note(
      `${R}, helper container: ${created().length} helper container(s) (label nslocate.helper=1, nslocate.target=the app) were created for find, signal and wait, and each was destroyed (\`docker events\`).`,
    )
    expect(created().length).toBeGreaterThanOrEqual(2) // find and signal each ran one
    expect((await docker(['ps', '-aq', '--filter', 'label=nslocate.helper=1'])).trim()).toBe('')
  }, 90_000)

  test('host, a fresh app: signal TERM, then wait --for stopped (docker inspect: exited 0)', async () => {
    const host = await statePid(termApp)
    const o = await observeTerm(
      {
        runtime: R,
        placement: 'host, fresh app: TERM',
        how: 'the host: `--container mx-term-app-…`',
        nslocate: onHost,
        target: ['--container', termApp.name],
        app: termApp,
      },
      vsInspect(() => termApp),
    )
    expect(o.find.json).toMatchObject({state: 'running', pid: host})
    expect(o.signal.status).toBe(0)
    expect(o.signal.json.delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, 1], signal: 'TERM'}])
    expect(o.received).toEqual([{pid: 1, signo: TERM, from: 0, uid: 0, code: 0}])
    expect(o.wait.status).toBe(0)
    expect(o.wait.json).toMatchObject({reached: true, condition: 'stopped'})
    expect(await inspect(termApp.id, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0')
  }, 60_000)
})
