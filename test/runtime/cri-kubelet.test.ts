/**
 * The CRI test bed itself (test/helpers/containerd.ts, test/helpers/kubelet.ts), before anything of
 * nslocate is tested on it: the second containerd serves CRI v1 beside Docker's; a pod with a shared
 * PID namespace holds the app, whose pid `ctr tasks ls` reports, whose cgroup is the cgroupfs
 * kubepods layout, and which logs the signals it receives; a pod with pid CONTAINER gives the app a
 * namespace of its own; a restart in the same pod gives attempt 1 a new pid; and stop() leaves no
 * process, mount, directory or cgroup behind.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {APP_PIDFILE_DIR, Containerd, appCommand, startContainerd} from '../helpers/containerd'
import {Kubelet, Pod, RunningContainer} from '../helpers/kubelet'
import {readNSpid} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {readLog} from '../helpers/victims'

/** Poll `f` until it returns a truthy value (or throw after `ms`). */
async function until<T>(what: string, f: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v as NonNullable<Awaited<T>>
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

const pidnsOf = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/pid`)

let cd: Containerd | undefined
let kubelet: Kubelet

beforeAll(async () => {
  cd = await startContainerd()
  kubelet = new Kubelet(cd)
}, 300_000)

afterAll(async () => {
  const errors: unknown[] = []
  await kubelet?.cleanup().catch((e) => errors.push(e))
  const c = cd
  await c?.stop().catch((e) => errors.push(e))
  await stopAll()
  if (c) {
    // Nothing of the instance is left: its directories, its shims, its pods' cgroups.
    expect(fs.existsSync(c.state)).toBe(false)
    expect(fs.existsSync(c.root)).toBe(false)
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(c.state)
  }
  if (errors.length) throw errors[0]
}, 180_000)

describe('the second containerd', () => {
  test('serves CRI v1 on its own socket, in its own state directory, beside Docker', async () => {
    const v = await kubelet.call('Version', {})
    expect(v).toMatchObject({runtime_name: 'containerd', runtime_api_version: 'v1'})
    expect(path.dirname(cd!.socket)).toBe(cd!.state)
    expect(cd!.socket).not.toBe('/run/containerd/containerd.sock')
    const images = await cd!.ctr(['images', 'ls', '-q'])
    expect(images).toContain(cd!.images.pause)
    expect(images).toContain(cd!.images.app)
  })
})

describe('a containerd that does not come up', () => {
  test('fails with its log tail (never a skip), and leaves nothing behind', async () => {
    let message = ''
    await startContainerd({timeoutMs: 1}).catch((e: Error) => (message = e.message))
    expect(message).toMatch(/^the second containerd \(\/usr\/bin\/containerd --config \/var\/lib\/nslocate-cri-[0-9a-f]{8}\/config\.toml\) did not come up: /)
    expect(message).toContain('--- containerd.log (last lines) ---\n')
    expect(message).toMatch(/level=info msg="loading plugin/)
    const id = /nslocate-cri-([0-9a-f]{8})/.exec(message)![1]
    expect(fs.existsSync(`/run/nslocate-cri-${id}`)).toBe(false)
    expect(fs.existsSync(`/var/lib/nslocate-cri-${id}`)).toBe(false)
  })
})

describe('pods', () => {
  let dir: string
  let pod: Pod
  let app: RunningContainer
  let appPid: number

  beforeAll(async () => {
    dir = tempDir('nslocate-cri-')
    pod = await kubelet.runPod({namespace: 'shop', name: 'web-0', pid: 'POD'})
    app = await kubelet.runContainer(pod, {
      name: 'app',
      image: cd!.images.app,
      command: appCommand(),
      mounts: [{hostPath: dir, containerPath: APP_PIDFILE_DIR}],
    })
    appPid = await until('the app in ctr tasks ls', async () => (await cd!.tasks()).get(app.id)?.pid)
    await until('the app pidfile', () => fs.existsSync(path.join(dir, 'app.pid')))
  }, 60_000)

  test('the app runs at the pid ctr reports, in the pod cgroup, in the pause container PID namespace', async () => {
    const tasks = await cd!.tasks()
    expect(tasks.get(app.id)?.status).toBe('RUNNING')
    const sandboxPid = tasks.get(pod.id)!.pid
    const cgroup = fs.readFileSync(`/proc/${appPid}/cgroup`, 'utf8')
    expect(cgroup).toContain(`:pids:/kubepods/besteffort/pod${pod.uid}/${app.id}\n`)
    expect(pidnsOf(appPid)).toBe(pidnsOf(sandboxPid))
    // pause is pid 1 of the pod's namespace; the app is another pid in it, and the pidfile says which.
    expect(readNSpid(sandboxPid).at(-1)).toBe(1)
    const inner = readNSpid(appPid).at(-1)!
    expect(inner).toBeGreaterThan(1)
    expect(Number(fs.readFileSync(path.join(dir, 'app.pid'), 'utf8'))).toBe(inner)
  })

  test('containerd verbose ContainerStatus gives the same pid, and the pod mode as config.linux.security_context', async () => {
    const st = await kubelet.containerStatus(app.id, true)
    const info = JSON.parse(st.info.info)
    expect(info.pid).toBe(appPid)
    // POD is 0, which Go's JSON leaves out (omitempty): no pid key means POD.
    expect(info.config.linux.security_context.namespace_options.pid ?? 0).toBe(0)
    expect(info.config.linux.security_context.namespace_options.network).toBe(2)
  })

  test('the app logs the signals it gets', async () => {
    process.kill(appPid, 'SIGHUP')
    await until('HUP in the log', () => readLog(path.join(dir, 'signals.log')).some((r) => r.signo === 1))
    await sleep(100) // a second HUP, were there one, would be logged by now
    const log = readLog(path.join(dir, 'signals.log')).filter((r) => r.signo === 1)
    expect(log).toHaveLength(1)
    expect(log[0].from).toBe(0) // sent from outside the pod's PID namespace
  })

  test('a restart in the same pod is attempt 1 with a new pid; attempt 0 stays, exited', async () => {
    const next = await kubelet.restartContainer(app, {graceS: 1})
    expect(next.attempt).toBe(1)
    expect(next.id).not.toBe(app.id)
    const pid = await until('attempt 1 in ctr tasks ls', async () => (await cd!.tasks()).get(next.id)?.pid)
    expect(pid).not.toBe(appPid)
    const {containers} = await kubelet.call('ListContainers', {filter: {pod_sandbox_id: pod.id}})
    const byId = new Map((containers as any[]).map((c) => [c.id, c]))
    expect(byId.get(app.id)).toMatchObject({state: 2, metadata: {name: 'app', attempt: 0}})
    expect(byId.get(next.id)).toMatchObject({state: 1, metadata: {name: 'app', attempt: 1}})
  })

  test('a pod with pid CONTAINER gives its app a PID namespace of its own, where it is pid 1', async () => {
    const dir2 = tempDir('nslocate-cri-')
    const pod2 = await kubelet.runPod({namespace: 'shop', name: 'solo-0', pid: 'CONTAINER'})
    const c = await kubelet.runContainer(pod2, {name: 'app', image: cd!.images.app, command: appCommand(), mounts: [{hostPath: dir2, containerPath: '/run'}]})
    const pid = await until('the app in ctr tasks ls', async () => (await cd!.tasks()).get(c.id)?.pid)
    const sandboxPid = (await cd!.tasks()).get(pod2.id)!.pid
    expect(pidnsOf(pid)).not.toBe(pidnsOf(sandboxPid))
    expect(readNSpid(pid).at(-1)).toBe(1)
    const info = JSON.parse((await kubelet.containerStatus(c.id, true)).info.info)
    expect(info.config.linux.security_context.namespace_options.pid).toBe(1)
    await kubelet.removePod(pod2)
    expect((await cd!.tasks()).has(c.id)).toBe(false)
  })
})
