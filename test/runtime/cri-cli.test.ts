/**
 * The CLI with --pod against a real containerd serving CRI (test/helpers/containerd.ts), pods made
 * by the test kubelet (test/helpers/kubelet.ts):
 *   shop/web-0  shareProcessNamespace (pid POD): app (a service with a POSIX-locked /run/app.pid that
 *               logs every signal it gets) and sidecar (the nslocate image, the app's /run mounted at
 *               /shared, as an emptyDir);
 *   shop/solo-0 no shared PID namespace (pid CONTAINER): the same two containers.
 * From the node: find/signal/wait --pod NAMESPACE/NAME --container-name C with
 * CONTAINER_RUNTIME_ENDPOINT=unix://SOCKET. From the sidecar (`ctr tasks exec` into it): find/signal
 * through the shared PID namespace, with the pidfile on the shared volume; in solo-0 the sidecar
 * cannot see the app, and says so. Every pid is cross-checked with `ctr -n k8s.io tasks ls` (which
 * nslocate never asks) and with the process's NSpid; every signal with the app's own log.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'

import {BIN, CliResult, cli, cliJson, runCollect} from '../helpers/cli'
import {APP_PIDFILE_DIR, CTR_BIN, Containerd, K8S_NS, appCommand, describeWithContainerd} from '../helpers/containerd'
import {Kubelet, Pod, RunningContainer} from '../helpers/kubelet'
import {untilWaitPins} from '../helpers/pidfs'
import {readNSpid} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {Received, readLog} from '../helpers/victims'
import {nextEvent, startCli, stopCli} from '../sidecar/run-cli'

const HUP = 1
const TERM = 15

async function until<T>(what: string, f: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v as NonNullable<Awaited<T>>
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** GET `urlPath` from `address` (HOST:PORT). */
function get(address: string, urlPath: string): Promise<{status: number; body: string}> {
  const i = address.lastIndexOf(':')
  return new Promise((resolve, reject) => {
    const req = http.request({host: address.slice(0, i), port: Number(address.slice(i + 1)), path: urlPath, agent: false}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode!, body}))
    })
    req.on('error', reject)
    req.end()
  })
}

/** oclif's wrapped error text on one line. */
const oneLine = (s: string) => s.replace(/\s*\n\s*›\s*/g, ' ').replace(/\s+/g, ' ')

/** An app container and where its pidfile and signal log are on the host. */
interface App {
  c: RunningContainer
  dir: string
  log: () => Received[]
}

describeWithContainerd(
  'nslocate --pod against containerd CRI',
  (cd: () => Containerd) => {
    let kubelet: Kubelet
    let web: Pod
    let solo: Pod
    let webApp: App
    let soloApp: App
    let webSidecar: RunningContainer
    let soloSidecar: RunningContainer
    let env: NodeJS.ProcessEnv

    const ctrPid = async (id: string) => until(`${id.slice(0, 12)} in ctr tasks ls`, async () => (await cd().tasks()).get(id)?.pid)

    /** A new attempt of `name` in `pod`, its /run on a fresh host directory. */
    async function startApp(pod: Pod, attempt?: number): Promise<App> {
      const dir = tempDir('nslocate-cri-app-')
      const c = await kubelet.runContainer(
        pod,
        {name: 'app', image: cd().images.app, command: appCommand({exitOn: ['TERM']}), mounts: [{hostPath: dir, containerPath: APP_PIDFILE_DIR}]},
        attempt,
      )
      await until('the app pidfile', () => fs.existsSync(path.join(dir, 'app.pid')) && fs.readFileSync(path.join(dir, 'app.pid'), 'utf8') !== '')
      return {c, dir, log: () => readLog(path.join(dir, 'signals.log'))}
    }

    /** nslocate in the sidecar (ctr tasks exec), bounded. */
    function inSidecar(sidecar: RunningContainer, args: string[], timeoutMs = 30_000): Promise<CliResult> {
      const execId = `nsl-${crypto.randomBytes(4).toString('hex')}`
      return runCollect([CTR_BIN, '-a', cd().socket, '-n', K8S_NS, 'tasks', 'exec', '--exec-id', execId, sidecar.id, 'nslocate', ...args], {
        timeoutMs,
        what: `nslocate ${args.join(' ')} in ${sidecar.name}`,
      })
    }

    /** The one signal of kind `signo` the app logged after `since` entries, once it is there. */
    async function loggedOnce(app: App, signo: number, since: number): Promise<Received> {
      await until(`signal ${signo} in ${app.dir}/signals.log`, () =>
        app
          .log()
          .slice(since)
          .some((r) => r.signo === signo),
      )
      await sleep(150) // a second one, were there one, would be logged by now
      const got = app.log().slice(since)
      expect(got.map((r) => r.signo)).toEqual([signo])
      return got[0]
    }

    beforeAll(async () => {
      kubelet = new Kubelet(cd())
      env = {CONTAINER_RUNTIME_ENDPOINT: cd().endpoint}
      web = await kubelet.runPod({namespace: 'shop', name: 'web-0', pid: 'POD'})
      webApp = await startApp(web)
      webSidecar = await kubelet.runContainer(web, {
        name: 'sidecar',
        image: cd().images.nslocate!,
        command: ['sleep', '100000'],
        mounts: [{hostPath: webApp.dir, containerPath: '/shared'}],
      })
      solo = await kubelet.runPod({namespace: 'shop', name: 'solo-0', pid: 'CONTAINER'})
      soloApp = await startApp(solo)
      soloSidecar = await kubelet.runContainer(solo, {
        name: 'sidecar',
        image: cd().images.nslocate!,
        command: ['sleep', '100000'],
        mounts: [{hostPath: soloApp.dir, containerPath: '/shared'}],
      })
    }, 300_000)

    afterAll(async () => {
      await kubelet?.cleanup()
      await stopAll()
    }, 120_000)

    describe('from the node', () => {
      test('find app --pod shop/web-0 --container-name app: the app host pid (ctr tasks ls), its NSpid chain, the pod', async () => {
        const pid = await ctrPid(webApp.c.id)
        const inner = readNSpid(pid).at(-1)!
        expect(inner).toBeGreaterThan(1) // pause is pid 1 of the pod
        const {status, json, stderr} = await cliJson(['find', 'app', '--pod', 'shop/web-0', '--container-name', 'app'], {env})
        expect({status, stderr}).toEqual({status: 0, stderr: ''})
        expect(json.state).toBe('running')
        expect(json.pid).toBe(pid)
        expect(json.nspid).toEqual([pid, inner])
        expect(json.pidfile).toMatchObject({pid: inner, lock: 'posix'})
        expect(json.holder).toBe(pid)
        expect(json.pidfile).toMatchObject({path: `/proc/${pid}/root/run/app.pid`})
        // The container as the runtime named it, its cgroup (the cgroupfs kubepods layout) and its pod.
        expect(json.container).toMatchObject({
          id: webApp.c.id,
          name: 'app',
          runtime: 'kubernetes',
          cgroup: `/kubepods/besteffort/pod${web.uid}/${webApp.c.id}`,
          pod: {namespace: 'shop', name: 'web-0', uid: web.uid},
        })
        // The evidence names the CRI answer: the container, its pod, and the pid it gave.
        expect(json.evidence.join('\n')).toMatch(new RegExp(`container app \\(${webApp.c.id.slice(0, 12)}\\) of pod shop/web-0 runs with [a-z.]*pid ${pid}\\b`))
      })

      test('the same with --runtime cri, and by cri://ID', async () => {
        const pid = await ctrPid(webApp.c.id)
        for (const args of [
          ['--pod', 'shop/web-0', '--container-name', 'app', '--runtime', 'cri'],
          ['--container', `cri://${webApp.c.id}`],
          ['--container', `cri://${webApp.c.id.slice(0, 13)}`],
        ]) {
          const {status, json} = await cliJson(['find', 'app', ...args], {env})
          expect({args, status, pid: json.pid}).toEqual({args, status: 0, pid})
        }
      })

      test('a pod with two containers needs --container-name (usage error naming them); an unknown pod is not running (a result)', async () => {
        const r = await cli(['find', 'app', '--pod', 'shop/web-0'], {env})
        expect(r.status).toBe(2)
        expect(oneLine(r.stderr)).toContain('pod shop/web-0 has 2 containers (app, sidecar): name one with --container-name')
        const gone = await cliJson(['find', 'app', '--pod', 'shop/nope', '--container-name', 'app'], {env})
        expect(gone.status).toBe(3)
        expect(gone.json).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: null})
        expect(gone.json.evidence[0]).toContain('no pod shop/nope')
      })

      test('signal app HUP --pod ...: the app logs exactly one HUP, sent from outside the pod PID namespace', async () => {
        const since = webApp.log().length
        const pid = await ctrPid(webApp.c.id)
        const r = await cli(['signal', 'app', 'HUP', '--pod', 'shop/web-0', '--container-name', 'app'], {env})
        expect({status: r.status, stdout: r.stdout, stderr: r.stderr}).toEqual({
          status: 0,
          stdout: expect.stringMatching(new RegExp(`^app: sent HUP to pid ${pid}(:[0-9]+)?\n$`)),
          stderr: '',
        })
        const got = await loggedOnce(webApp, HUP, since)
        expect(got.pid).toBe(readNSpid(pid).at(-1))
        expect(got.from).toBe(0)
      })

      test('list --pod ...: the app service in its pod, at the pid ctr reports', async () => {
        const pid = await ctrPid(webApp.c.id)
        const {status, json} = await cliJson(['list', '--pod', 'shop/web-0', '--container-name', 'app'], {env})
        expect(status).toBe(0)
        expect(json.map((r: any) => [r.name, r.state, r.pid, r.container.id])).toEqual([['app', 'running', pid, webApp.c.id]])
      })

      test('containers: every CRI container with its runtime, pod, pid (ctr tasks ls) and services', async () => {
        const {status, json} = await cliJson(['containers'], {env})
        expect(status).toBe(0)
        const tasks = await cd().tasks()
        const ours = (json as any[]).filter((r) => r.runtime === 'cri' && tasks.has(r.id))
        const rows = Object.fromEntries(ours.map((r) => [`${r.pod} ${r.name}`, r]))
        expect(Object.keys(rows).sort()).toEqual(['shop/solo-0 app', 'shop/solo-0 sidecar', 'shop/web-0 app', 'shop/web-0 sidecar'])
        for (const r of ours) expect(r.pid).toBe(tasks.get(r.id)!.pid)
        expect(rows['shop/web-0 app'].services.map((x: any) => [x.name, x.pid])).toEqual([['app', tasks.get(webApp.c.id)!.pid]])
        expect(rows['shop/solo-0 app'].services.map((x: any) => [x.name, x.pid, x.nspid])).toEqual([
          ['app', tasks.get(soloApp.c.id)!.pid, [tasks.get(soloApp.c.id)!.pid, 1]],
        ])
        expect(rows['shop/web-0 sidecar']).toMatchObject({image: cd().images.nslocate, services: []})
      })

      test('serve app --pod ...: /healthz/app is 200 with the app host pid, /metrics says so', async () => {
        const pid = await ctrPid(webApp.c.id)
        const r = startCli(['serve', 'app', '--pod', 'shop/web-0', '--container-name', 'app', '--listen', '0', '--interval', '200ms'], env)
        try {
          const e = await nextEvent(r, (x) => x.event === 'listen')
          const res = await get(e.address, '/healthz/app')
          expect(res.status).toBe(200)
          expect(JSON.parse(res.body)).toMatchObject({state: 'running', pid, container: {id: webApp.c.id}})
          const metrics = (await get(e.address, '/metrics')).body
          expect(metrics).toContain('nslocate_service_up{name="app"} 1\n')
          expect(metrics).toContain(`nslocate_service_main_pid{name="app"} ${pid}\n`)
        } finally {
          await stopCli(r)
        }
      })

      test('reload app --pod ... --watch FILE: a change to the file is one HUP, logged by the app, at the pid ctr reports', async () => {
        const pid = await ctrPid(webApp.c.id)
        const watched = path.join(tempDir('nslocate-cri-reload-'), 'app.conf')
        fs.writeFileSync(watched, 'v1\n')
        const r = startCli(['reload', 'app', '--pod', 'shop/web-0', '--container-name', 'app', '--watch', watched, '--debounce', '100ms'], env)
        try {
          const svc = await nextEvent(r, (e) => e.event === 'service')
          expect(svc).toMatchObject({pid})
          const since = webApp.log().length
          fs.writeFileSync(`${watched}.new`, 'v2\n')
          fs.renameSync(`${watched}.new`, watched)
          const sent = await nextEvent(r, (e) => e.event === 'signal')
          expect(sent).toMatchObject({result: 'signalled', pid})
          const got = await loggedOnce(webApp, HUP, since)
          expect(got.from).toBe(0)
        } finally {
          await stopCli(r)
        }
      })

      test('a pod without a shared PID namespace: find from the node still gives the app (pid 1 of its own namespace)', async () => {
        const pid = await ctrPid(soloApp.c.id)
        const {status, json} = await cliJson(['find', 'app', '--pod', 'shop/solo-0', '--container-name', 'app'], {env})
        expect(status).toBe(0)
        expect(json.pid).toBe(pid)
        expect(json.nspid).toEqual([pid, 1])
      })
    })

    describe('from the sidecar (nslocate in the nslocate image, ctr tasks exec)', () => {
      test('shared PID namespace: find app --dir /shared gives the app pid as the pod sees it', async () => {
        const inner = readNSpid(await ctrPid(webApp.c.id)).at(-1)!
        const r = await inSidecar(webSidecar, ['find', 'app', '--dir', '/shared', '--json'])
        expect(r.stderr).toBe('')
        expect(r.status).toBe(0)
        const json = JSON.parse(r.stdout)
        expect(json).toMatchObject({state: 'running', pid: inner, visible: true})
      })

      test('shared PID namespace: signal app HUP --dir /shared, the app logs one HUP from a process of its pod', async () => {
        const since = webApp.log().length
        const inner = readNSpid(await ctrPid(webApp.c.id)).at(-1)!
        const r = await inSidecar(webSidecar, ['signal', 'app', 'HUP', '--dir', '/shared'])
        expect({status: r.status, stdout: r.stdout, stderr: r.stderr}).toEqual({
          status: 0,
          stdout: expect.stringMatching(new RegExp(`^app: sent HUP to pid ${inner}(:[0-9]+)?\n$`)),
          stderr: '',
        })
        const got = await loggedOnce(webApp, HUP, since)
        // The sender is numbered in the app's namespace: it is in the pod's, neither pause (1) nor the app.
        expect(got.from).toBeGreaterThan(1)
        expect(got.from).not.toBe(got.pid)
      })

      test('no shared PID namespace: the sidecar sees the lock but not its holder, says so, and signals nothing', async () => {
        const found = await inSidecar(soloSidecar, ['find', 'app', '--dir', '/shared', '--json'])
        const json = JSON.parse(found.stdout)
        expect(json).toMatchObject({state: 'running', visible: false, pid: null})
        expect(json.reasons).toContain('holder_not_visible')
        const since = soloApp.log().length
        const r = await inSidecar(soloSidecar, ['signal', 'app', 'HUP', '--dir', '/shared'])
        expect(r.status).toBe(4)
        expect(r.stderr).toMatch(/holder_not_visible|cannot see|not visible/i)
        await sleep(300)
        expect(soloApp.log().slice(since)).toEqual([])
      })
    })

    describe('a container restarted in the same pod', () => {
      let old: App
      let oldPid: number

      test('wait --for stopped --pod ... returns 0 when the kubelet stops attempt 0 (TERM: the app exits)', async () => {
        old = webApp
        oldPid = await ctrPid(old.c.id)
        const waiting = spawnTracked(
          [process.execPath, BIN, 'wait', 'app', '--for', 'stopped', '--pod', 'shop/web-0', '--container-name', 'app', '--timeout', '30s'],
          {
            env: {...process.env, ...env},
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
        let waitErr = ''
        waiting.stderr!.on('data', (d) => (waitErr += d))
        const waited = new Promise<number | null>((resolve) => waiting.once('exit', (code) => resolve(code)))
        // It waits once it has pinned the app (a fixed second could end with the CLI still starting
        // on a loaded machine, and the stop below would then come before the wait)...
        await untilWaitPins([oldPid])
        // ... and goes on waiting while the app runs.
        await sleep(1000)
        expect(waiting.exitCode).toBeNull() // still waiting: the app runs
        const since = old.log().length
        await kubelet.stopContainer(old.c.id, 5)
        expect(
          old
            .log()
            .slice(since)
            .map((r) => r.signo),
        ).toEqual([TERM])
        expect({status: await waited, stderr: waitErr}).toEqual({status: 0, stderr: ''})
      })

      test('attempt 1 (a new container of the same name in the same pod) is found and signalled; attempt 0 is not', async () => {
        old ??= webApp
        oldPid ??= await ctrPid(old.c.id)
        if ((await cd().tasks()).get(old.c.id)?.status === 'RUNNING') await kubelet.stopContainer(old.c.id, 5)
        webApp = await startApp(web)
        expect(webApp.c.attempt).toBe(1)
        const pid = await ctrPid(webApp.c.id)
        expect(pid).not.toBe(oldPid)

        const {status, json} = await cliJson(['find', 'app', '--pod', 'shop/web-0', '--container-name', 'app'], {env})
        expect(status).toBe(0)
        expect(json.pid).toBe(pid)
        expect(json.container).toMatchObject({id: webApp.c.id})

        const oldSince = old.log().length
        const newSince = webApp.log().length
        const r = await cli(['signal', 'app', 'HUP', '--pod', 'shop/web-0', '--container-name', 'app'], {env})
        expect({status: r.status, stdout: r.stdout, stderr: r.stderr}).toEqual({
          status: 0,
          stdout: expect.stringMatching(/^app: sent HUP to pid [0-9]+(:[0-9]+)?\n$/),
          stderr: '',
        })
        await loggedOnce(webApp, HUP, newSince)
        expect(old.log().slice(oldSince)).toEqual([])
      })
    })
  },
  {nslocateImage: true},
)
