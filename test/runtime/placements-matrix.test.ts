/**
 * Issue 19's closing-note table, run for real: runtime × placement, with find, signal and wait in
 * each cell, for root's Podman (a test-owned service, test/helpers/podman.ts) and the CRI (a second
 * containerd, test/helpers/containerd.ts, pods made by test/helpers/kubelet.ts). Docker's matrix is
 * test/container/placements.test.ts; the placements here are the same four:
 *
 *   host                  nslocate on the node: --container podman://NAME, --pod NS/NAME --container-name C
 *   shared PID namespace  nslocate in a sidecar of the app's pod (Podman `--share +pid`, CRI pid POD),
 *                         the app's pidfile directory shared at /shared: --dir /shared
 *   shared volume only    nslocate in a container with a PID namespace of its own that shares only
 *                         the pidfile directory (a Podman container outside any pod, a CRI pod with
 *                         pid CONTAINER): the lock is seen, its holder is not; signal must send nothing
 *   helper container      nslocate in a container of its own PID namespace with the runtime's socket
 *                         directory mounted and --container/--pod: Podman runs a helper container in
 *                         the host's PID namespace (its Docker-compatible API); the CRI cannot, and
 *                         nslocate must say so (NOT_VISIBLE, exit 4) rather than act
 *
 * and, from the host, TERM then `wait --for stopped` on a fresh app. The app is the same program on
 * both runtimes, nslocate-cri-app:local (test/helpers/containerd.ts, loaded into Podman with
 * `podman load`): lock-exec holds a POSIX lock on /run/app/app.pid and execs siglog, which logs every
 * signal it receives (with its sender, numbered in the app's PID namespace) to /run/app/signals.log,
 * a host directory this test reads. Each cell is recorded (matrix-table.ts) before it is asserted;
 * the table goes to build/runtime-placements.md ($NSLOCATE_PLACEMENTS_TABLE). Every pid a find
 * returns is cross-checked against `podman inspect` or `ctr -n k8s.io tasks ls`, which nslocate
 * does not use.
 */
import {execFile, execFileSync} from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {CliResult, cli, runCollect} from '../helpers/cli'
import {CONTAINERD_BIN, CTR_BIN, Containerd, K8S_NS, appCommand, describeWithContainerd, testImageArchives} from '../helpers/containerd'
import {Kubelet, Pod, RunningContainer} from '../helpers/kubelet'
import {PodmanService, describeWithPodman, loadNslocate, ownedDir, startRootful} from '../helpers/podman'
import {readNSpid} from '../helpers/proc'
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
table.note('Docker’s placements are tested in test/container/placements.test.ts (not repeated here).')

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
    expect(o.signal.json.delivered).toEqual([{pid: host, nspid: [host, inner], signal: 'HUP'}])
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
    expect(o.signal.json.delivered).toEqual([{pid: inner, nspid: [inner], signal: 'HUP'}])
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
    expect(o.signal.json.delivered).toEqual([{pid: host, nspid: [host, 1], signal: 'TERM'}])
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
      expect(o.signal.json.delivered).toEqual([{pid: host, nspid: [host, inner], signal: 'HUP'}])
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
      expect(o.signal.json.delivered).toEqual([{pid: inner, nspid: [inner], signal: 'HUP'}])
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
      expect(o.signal.json.delivered).toEqual([{pid: host, nspid: [host, inner], signal: 'TERM'}])
      expect(o.received).toEqual([{pid: inner, signo: TERM, from: 0, uid: 0, code: 0}])
      expect(o.wait.status).toBe(0)
      expect(o.wait.json).toMatchObject({reached: true, condition: 'stopped'})
      const task = (await cd().tasks()).get(termApp.c.id)
      expect(task?.status ?? 'gone').toMatch(/^(STOPPED|gone)$/)
    }, 60_000)
  },
  {nslocateImage: true},
)
