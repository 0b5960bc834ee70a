/**
 * The built CLI against root's Podman (a test-owned `podman system service`, test/helpers/podman.ts),
 * each placement with a victim that logs every signal it receives (fixtures/victims/siglog.c):
 *
 *   a. host -> container       find/signal/wait --container podman://REF (CONTAINER_HOST), --runtime
 *                              podman, and auto-detection; pids cross-checked with `podman inspect` and /proc
 *   c. pod sharing its PID ns  `podman pod create --share +pid`: from a sidecar in the pod (nslocate's
 *                              image), with the pidfile's directory shared and without; from the host with
 *                              --pod NAME --runtime podman --container-name C
 *   d. helper container        nslocate in a container of its own PID namespace with only the socket's
 *                              directory mounted: the helper runs in the host's PID namespace through
 *                              Podman's Docker-compatible API
 *
 * The service in each app container is siglog, a child of the container's init (busybox sh), writing
 * its pid (as the container numbers it) to a pidfile; its log is on a bind mount the test reads.
 */
import {execFile} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {CliResult, cli, until} from '../helpers/cli'
import {PodmanService, buildBusybox, describeWithPodman, loadNslocate, ownedDir, startRootful} from '../helpers/podman'
import {readNSpid} from '../helpers/proc'
import {stopAll} from '../helpers/tracked'
import {Received, readLog} from '../helpers/victims'

const HUP = 1
const TERM = 15
/** The service: siglog as a child of the container's init, pidfile and log where the arguments say. */
const SERVICE = (pidfile: string, log: string) => ['sh', '-c', `siglog ${log} --pidfile ${pidfile} --exit-on TERM & wait`]

interface App {
  id: string
  name: string
  /** State.Pid as `podman inspect` says it */
  initPid: number
  /** the host directory bound at /log: signals.log */
  logDir: string
  /** the host directory bound at /run/app (pidfile), when there is one */
  runDir?: string
}

/** The pid in a pidfile read through `root` (/proc/PID/root or a host dir), once it is there. */
async function pidIn(file: string): Promise<number> {
  let pid = 0
  await until(
    () => {
      try {
        pid = Number(fs.readFileSync(file, 'utf8').trim())
      } catch {}
      return pid > 0
    },
    `a pid in ${file}`,
    10_000,
  )
  return pid
}

/** The host pid of the process numbered `inner` in the PID namespace of `initPid` (a child of the init). */
function hostPidOf(initPid: number, inner: number): number {
  const ns = fs.readlinkSync(`/proc/${initPid}/ns/pid`)
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (fs.readlinkSync(`/proc/${name}/ns/pid`) === ns && readNSpid(Number(name)).at(-1) === inner) return Number(name)
    } catch {}
  }
  throw new Error(`no process numbered ${inner} in the PID namespace of ${initPid}`)
}

function signals(app: App): Received[] {
  return readLog(path.join(app.logDir, 'signals.log'))
}

function json(r: CliResult): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

describeWithPodman('nslocate CLI with root Podman', () => {
  let svc: PodmanService
  let image: string
  let nslocateImage: string
  /** The CLI's environment: Podman by CONTAINER_HOST, never Docker's socket by accident. */
  let env: NodeJS.ProcessEnv

  async function startApp(name: string, extra: string[] = [], opts: {runDir?: boolean; pidfile?: string} = {}): Promise<App> {
    const logDir = ownedDir(svc, 'log')
    const runDir = opts.runDir ? ownedDir(svc, 'run') : undefined
    const binds = ['-v', `${logDir}:/log`, ...(runDir ? ['-v', `${runDir}:/run/app`] : [])]
    const pidfile = opts.pidfile ?? (runDir ? '/run/app/app.pid' : '/run/app.pid')
    const id = await svc.run(['--name', name, ...binds, ...extra, image, ...SERVICE(pidfile, '/log/signals.log')])
    const initPid = Number(await svc.inspect(id, '{{.State.Pid}}'))
    const app = {id, name, initPid, logDir, runDir}
    await pidIn(`/proc/${initPid}/root${pidfile}`)
    return app
  }

  /** `nslocate ARGS` in a one-shot container of nslocate's image (removed afterwards): its exit code and output. */
  async function inContainer(args: string[], podmanArgs: string[]): Promise<{code: number; stdout: string; stderr: string}> {
    const id = await svc.run([...podmanArgs, nslocateImage, ...args])
    const code = Number((await svc.podman(['wait', id], {timeoutMs: 60_000})).trim())
    const out = await new Promise<{stdout: string; stderr: string}>((resolve, reject) => {
      execFile('podman', ['logs', id], {env: svc.env, timeout: 20_000}, (error, stdout, stderr) => (error ? reject(error) : resolve({stdout, stderr})))
    })
    await svc.podman(['rm', '-f', id])
    return {code, ...out}
  }

  beforeAll(async () => {
    svc = await startRootful()
    ;[image, nslocateImage] = await Promise.all([buildBusybox(svc), loadNslocate(svc)])
    // undefined: left out of the child's environment (no Docker, no other runtime by accident)
    env = {CONTAINER_HOST: svc.host, DOCKER_HOST: undefined, XDG_RUNTIME_DIR: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined}
  }, 300_000)

  afterAll(async () => {
    await svc?.stop()
    await stopAll()
  }, 60_000)

  describe('a. host -> container', () => {
    let app: App

    beforeAll(async () => {
      app = await startApp('pa-app')
    }, 60_000)

    test('find --container podman://REF: the host pid of the service, its NSpid chain, the container (cross-checked with podman inspect and /proc)', async () => {
      const inner = await pidIn(`/proc/${app.initPid}/root/run/app.pid`)
      const host = hostPidOf(app.initPid, inner)
      const r = await cli(['find', 'app', '--container', 'podman://pa-app', '--json'], {env})
      expect(r.status).toBe(0)
      const j = json(r)
      expect(j).toMatchObject({state: 'running', pid: host, nspid: [host, inner], pidfile: {pid: inner, lock: 'none'}, reasons: ['unlocked_pidfile']})
      expect(j.container).toMatchObject({id: app.id, name: 'pa-app', runtime: 'podman'})
      expect(j.process.cmdline).toEqual(['siglog', '/log/signals.log', '--pidfile', '/run/app.pid', '--exit-on', 'TERM'])
      // Independent of nslocate: podman's State.Pid is the parent of that process.
      expect(fs.readFileSync(`/proc/${host}/stat`, 'utf8').split(') ')[1].split(' ')[1]).toBe(String(app.initPid))
      expect(signals(app)).toEqual([])
    })

    test('the same container by --runtime podman, and by auto-detection (CONTAINER_HOST)', async () => {
      const want = json(await cli(['find', 'app', '--container', 'podman://pa-app', '--json'], {env}))
      for (const args of [
        ['--runtime', 'podman', '--container', 'pa-app'],
        ['--container', 'pa-app'],
        ['--container', `podman://${app.id.slice(0, 12)}`],
      ]) {
        const r = await cli(['find', 'app', ...args, '--json'], {env})
        expect({args, status: r.status}).toEqual({args, status: 0})
        expect(json(r)).toMatchObject({pid: want.pid, nspid: want.nspid, container: {id: app.id, runtime: 'podman'}})
      }
    })

    test('a container Podman does not know: exit 3, stopped (container_not_running) naming it and the service', async () => {
      const r = await cli(['find', 'app', '--container', 'podman://pa-nothing', '--json'], {env})
      expect(r.status).toBe(3)
      expect(json(r)).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: null})
      expect(json(r).evidence[0]).toContain(`container pa-nothing does not exist (Podman at ${svc.host})`)
    })

    test('the start-up fast path prints what the oclif path prints, for Podman too', async () => {
      for (const args of [
        ['find', 'app', '--container', 'podman://pa-app'],
        ['find', 'app', '--container', 'podman://pa-app', '--json'],
        ['find', 'app', '--container', 'podman://pa-nothing', '--json'],
      ]) {
        const fast = await cli(args, {env})
        const slow = await cli(args, {env: {...env, NSLOCATE_NO_FAST_PATH: '1'}})
        // Start times are computed from /proc/uptime at 10 ms resolution: they may differ by a few ms.
        const strip = (t: string) => t.replace(/"started": "[^"]+"/g, '').replace(/started \S+/g, '')
        expect({args, status: fast.status, out: strip(fast.stdout)}).toEqual({args, status: slow.status, out: strip(slow.stdout)})
      }
    })

    test('containers: the Podman container with its runtime, and the service found in it', async () => {
      const inner = await pidIn(`/proc/${app.initPid}/root/run/app.pid`)
      const host = hostPidOf(app.initPid, inner)
      const r = await cli(['containers', '--json'], {env})
      expect(r.status).toBe(0)
      const row = json(r).find((c: {id: string}) => c.id === app.id)
      expect(row).toMatchObject({name: 'pa-app', runtime: 'podman', pod: null, image: 'localhost/nslocate-busybox:test', pid: app.initPid, visible: true})
      expect(row.services).toHaveLength(1)
      expect(row.services[0]).toMatchObject({name: 'app', state: 'running', pid: host, nspid: [host, inner], container: {id: app.id, runtime: 'podman'}})
      expect(row.services[0].container.cgroup).toBe(`/libpod_parent/libpod-${app.id}`)
    })

    test('signal HUP --container podman://REF: the service logs exactly one HUP, from outside its namespace', async () => {
      const inner = await pidIn(`/proc/${app.initPid}/root/run/app.pid`)
      const host = hostPidOf(app.initPid, inner)
      const r = await cli(['signal', 'app', 'HUP', '--container', 'podman://pa-app', '--json'], {env})
      expect(r.status).toBe(0)
      expect(json(r)).toMatchObject({exit_code: 0, signal: 'HUP', delivered: [{pid: host, nspid: [host, inner], signal: 'HUP'}]})
      await until(() => signals(app).length > 0, 'the HUP in the log', 5000)
      await new Promise((r) => setTimeout(r, 200))
      expect(signals(app)).toEqual([{pid: inner, signo: HUP, from: 0, uid: 0, code: 0}])
    })

    test('signal TERM, then wait --for stopped: the service exits on TERM, the container stops (podman inspect: exited)', async () => {
      const before = signals(app).length
      const s = await cli(['signal', 'app', 'TERM', '--container', 'podman://pa-app', '--json'], {env})
      expect(s.status).toBe(0)
      const w = await cli(['wait', 'app', '--container', 'podman://pa-app', '--for', 'stopped', '--timeout', '15s', '--json'], {env, timeoutMs: 30_000})
      expect(w.status).toBe(0)
      expect(json(w)).toMatchObject({reached: true, condition: 'stopped'})
      expect(
        signals(app)
          .slice(before)
          .map((x) => x.signo),
      ).toEqual([TERM])
      await until(async () => (await svc.inspect(app.id, '{{.State.Status}}')) === 'exited', 'pa-app exited', 10_000)
      const f = await cli(['find', 'app', '--container', 'podman://pa-app', '--json'], {env})
      expect(f.status).toBe(3)
      expect(json(f)).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: app.id, name: 'pa-app', runtime: 'podman'}})
    }, 60_000)
  })

  describe('c. a pod sharing its PID namespace (--share +pid)', () => {
    let app: App
    let podId: string

    beforeAll(async () => {
      podId = (await svc.podman(['pod', 'create', '--name', 'pc-pod', '--share', '+pid', '--label', 'nslocate.test=1'])).trim()
      app = await startApp('pc-app', ['--pod', 'pc-pod'], {runDir: true})
      await svc.run(['--pod', 'pc-pod', '--name', 'pc-side', image, 'sleep', '1000'])
    }, 60_000)

    test("podman says the pod shares its PID namespace, and the kernel agrees: the app's init is not pid 1 there", async () => {
      expect((await svc.podman(['pod', 'inspect', '-f', '{{.SharedNamespaces}}', 'pc-pod'])).trim()).toContain('pid')
      const side = Number(await svc.inspect('pc-side', '{{.State.Pid}}'))
      expect(fs.readlinkSync(`/proc/${side}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${app.initPid}/ns/pid`))
      expect(readNSpid(app.initPid).at(-1)).not.toBe(1)
    })

    test('from the host: find/signal --pod NAME --runtime podman --container-name C', async () => {
      const inner = await pidIn(path.join(app.runDir!, 'app.pid'))
      const host = hostPidOf(app.initPid, inner)
      const f = await cli(['find', 'app', '--pod', 'pc-pod', '--runtime', 'podman', '--container-name', 'pc-app', '--json'], {env})
      expect(f.status).toBe(0)
      expect(json(f)).toMatchObject({pid: host, nspid: [host, inner], container: {id: app.id, runtime: 'podman', pod: {name: 'pc-pod'}}})
      // Two containers besides the infra one: which one must be said.
      const u = await cli(['find', 'app', '--pod', 'pc-pod', '--runtime', 'podman', '--json'], {env})
      expect(u.status).toBe(2)
      expect(json(u).error.message).toContain('pc-app, pc-side')
      const before = signals(app).length
      const s = await cli(['signal', 'app', 'HUP', '--pod', 'pc-pod', '--runtime', 'podman', '--container-name', 'pc-app', '--json'], {env})
      expect(s.status).toBe(0)
      expect(json(s).delivered).toEqual([{pid: host, pidfd_id: expect.any(Number), nspid: [host, inner], signal: 'HUP'}])
      await until(() => signals(app).length > before, 'the HUP in the log', 5000)
      expect(signals(app).slice(before)).toEqual([{pid: inner, signo: HUP, from: 0, uid: 0, code: 0}])
      expect(podId).toMatch(/^[0-9a-f]{64}$/)
    }, 30_000)

    test('containers: the pod members with their pod, the infra container too', async () => {
      const r = await cli(['containers', '--json'], {env})
      expect(r.status).toBe(0)
      // A Podman pod has no namespace: the row names it alone.
      const rows = json(r).filter((c: {pod: string | null}) => c.pod === 'pc-pod')
      const infra = (await svc.podman(['pod', 'inspect', '-f', '{{.InfraContainerID}}', 'pc-pod'])).trim()
      expect(rows.map((c: {id: string}) => c.id).sort()).toEqual([app.id, infra, await svc.inspect('pc-side', '{{.Id}}')].sort())
      const row = rows.find((c: {id: string}) => c.id === app.id)
      expect(row.services.map((x: {name: string; pid: number}) => [x.name, x.pid])).toEqual([
        ['app', hostPidOf(app.initPid, await pidIn(path.join(app.runDir!, 'app.pid')))],
      ])
    })

    test('from a sidecar in the pod with the pidfile directory shared: the HUP comes from inside the namespace', async () => {
      const inner = await pidIn(path.join(app.runDir!, 'app.pid'))
      const before = signals(app).length
      const r = await inContainer(['signal', 'app', 'HUP', '--pidfile', '/run/app/app.pid', '--json'], ['--pod', 'pc-pod', '-v', `${app.runDir}:/run/app`])
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({exit_code: 0, delivered: [{pid: inner, nspid: [inner], signal: 'HUP'}]})
      await until(() => signals(app).length > before, 'the HUP in the log', 5000)
      const got = signals(app).slice(before)
      expect(got).toHaveLength(1)
      expect(got[0]).toMatchObject({pid: inner, signo: HUP, uid: 0})
      // The sender is numbered in the receiver's namespace: nslocate ran in the pod's PID namespace.
      expect(got[0].from).toBeGreaterThan(1)
    }, 60_000)

    test("from a sidecar in the pod without the directory: --root-pid (the app's init as the pod numbers it) reads the pidfile through /proc", async () => {
      const inner = await pidIn(path.join(app.runDir!, 'app.pid'))
      const appInit = readNSpid(app.initPid).at(-1)!
      const before = signals(app).length
      const r = await inContainer(['signal', 'app', 'HUP', '--root-pid', String(appInit), '--dir', '/run/app', '--json'], ['--pod', 'pc-pod'])
      expect({code: r.code, stderr: r.stderr}).toEqual({code: 0, stderr: ''})
      const j = JSON.parse(r.stdout)
      expect(j.delivered).toEqual([{pid: inner, pidfd_id: expect.any(Number), nspid: [inner], signal: 'HUP'}])
      expect(j.target.pidfile.path).toBe(`/proc/${appInit}/root/run/app/app.pid`)
      await until(() => signals(app).length > before, 'the HUP in the log', 5000)
      expect(
        signals(app)
          .slice(before)
          .map((x) => x.signo),
      ).toEqual([HUP])
    }, 60_000)
  })

  describe('d. the helper-container route through Podman', () => {
    let app: App

    beforeAll(async () => {
      app = await startApp('pd-app')
    }, 60_000)

    test("nslocate in a container of its own PID namespace, with the socket's directory: the helper signals the service", async () => {
      const inner = await pidIn(`/proc/${app.initPid}/root/run/app.pid`)
      const host = hostPidOf(app.initPid, inner)
      const sockDir = path.dirname(svc.socket)
      const r = await inContainer(
        ['signal', 'app', 'HUP', '--container', 'podman://pd-app', '--json'],
        ['--name', 'pd-nslocate', '-v', `${sockDir}:/run/podman`, '-e', 'CONTAINER_HOST=unix:///run/podman/podman.sock'],
      )
      expect({code: r.code, stderr: r.stderr}).toEqual({code: 0, stderr: ''})
      const j = JSON.parse(r.stdout)
      expect(j).toMatchObject({exit_code: 0, signal: 'HUP'})
      expect(j.delivered.map((d: {pid: number}) => d.pid)).toEqual([host])
      await until(() => signals(app).length > 0, 'the HUP in the log', 5000)
      expect(signals(app)).toEqual([{pid: inner, signo: HUP, from: 0, uid: 0, code: 0}])
      // The helper container is gone, whatever happened.
      expect((await svc.podman(['ps', '-a', '-q', '--filter', 'label=nslocate.helper=1'])).trim()).toBe('')
    }, 90_000)

    test('find the same way: the host pid, as the helper in the host PID namespace saw it', async () => {
      const inner = await pidIn(`/proc/${app.initPid}/root/run/app.pid`)
      const host = hostPidOf(app.initPid, inner)
      const r = await inContainer(
        ['find', 'app', '--container', 'podman://pd-app', '--json'],
        ['-v', `${path.dirname(svc.socket)}:/run/podman`, '-e', 'CONTAINER_HOST=unix:///run/podman/podman.sock'],
      )
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({state: 'running', pid: host, nspid: [host, inner]})
    }, 90_000)
  })
})
