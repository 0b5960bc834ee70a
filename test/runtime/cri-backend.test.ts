/**
 * criRuntime (src/runtime/cri.ts) against a real containerd serving CRI (test/helpers/containerd.ts),
 * with pods made by the test kubelet (test/helpers/kubelet.ts). Every pid it answers is checked
 * against `ctr -n k8s.io tasks ls` (containerd's task service, which nslocate never asks) and against
 * the process's own cgroup (/kubepods/besteffort/pod<uid>/<container id>), and the PID namespace mode
 * against the process's /proc/PID/ns/pid.
 */
import * as fs from 'node:fs'

import {NslocateError} from '../../src/errors'
import {criRuntime, criVersion} from '../../src/runtime/cri'
import type {ContainerInfo, ContainerRuntime} from '../../src/runtime/types'
import {APP_PIDFILE_DIR, Containerd, appCommand, describeWithContainerd} from '../helpers/containerd'
import {Kubelet, Pod, RunningContainer} from '../helpers/kubelet'
import {sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'

async function until<T>(what: string, f: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v as NonNullable<Awaited<T>>
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** What inspect() throws, as an NslocateError. */
async function failure(p: Promise<unknown>): Promise<NslocateError> {
  try {
    await p
  } catch (e) {
    if (e instanceof NslocateError) return e
    throw e
  }
  throw new Error('expected a failure')
}

const pidns = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/pid`)

describeWithContainerd('criRuntime against containerd 1.6 with its CRI plugin', (cd: () => Containerd) => {
  let kubelet: Kubelet
  let cri: ContainerRuntime
  let web: Pod
  let solo: Pod
  let hostPod: Pod
  let app: RunningContainer
  let sidecar: RunningContainer
  let soloApp: RunningContainer
  let hostApp: RunningContainer

  /** The pid ctr reports for a container id (the independent source). */
  const ctrPid = async (id: string) => until(`${id.slice(0, 12)} in ctr tasks ls`, async () => (await cd().tasks()).get(id)?.pid)

  beforeAll(async () => {
    kubelet = new Kubelet(cd())
    cri = criRuntime({socketPath: cd().socket, where: cd().endpoint, env: {}})
    const image = cd().images.app
    web = await kubelet.runPod({namespace: 'shop', name: 'web-0', pid: 'POD'})
    app = await kubelet.runContainer(web, {
      name: 'app',
      image,
      command: appCommand(),
      mounts: [{hostPath: tempDir('nslocate-cri-'), containerPath: APP_PIDFILE_DIR}],
    })
    sidecar = await kubelet.runContainer(web, {name: 'sidecar', image, command: ['/bin/sleep', '100000']})
    solo = await kubelet.runPod({namespace: 'shop', name: 'solo-0', pid: 'CONTAINER'})
    soloApp = await kubelet.runContainer(solo, {
      name: 'app',
      image,
      command: appCommand(),
      mounts: [{hostPath: tempDir('nslocate-cri-'), containerPath: APP_PIDFILE_DIR}],
    })
    hostPod = await kubelet.runPod({namespace: 'kube-system', name: 'agent-0', pid: 'NODE'})
    hostApp = await kubelet.runContainer(hostPod, {name: 'agent', image, command: ['/bin/sleep', '100000']})
  }, 120_000)

  afterAll(async () => {
    await kubelet?.cleanup()
    await stopAll()
  }, 120_000)

  test('criVersion: containerd, CRI v1', async () => {
    expect(await criVersion({socketPath: cd().socket, where: cd().endpoint, env: {}})).toEqual({
      runtimeName: 'containerd',
      runtimeVersion: expect.stringMatching(/^1\.6\./),
      runtimeApiVersion: 'v1',
    })
  })

  test('--pod shop/web-0 --container-name app: the app, at the pid ctr reports, in the pod PID namespace', async () => {
    const info = await cri.inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'app'})
    const pid = await ctrPid(app.id)
    expect(info).toEqual<ContainerInfo>({
      id: app.id,
      name: 'app',
      runtime: 'cri',
      image: cd().images.app,
      running: true,
      hostPid: pid,
      pidMode: 'pod',
      labels: expect.objectContaining({'io.kubernetes.container.name': 'app', 'io.kubernetes.pod.name': 'web-0', 'nslocate.test': '1'}),
      pod: {namespace: 'shop', name: 'web-0', uid: web.uid, id: web.id},
    })
    // The process itself says so: its cgroup is the pod's and the container's, its PID namespace the pause container's.
    expect(fs.readFileSync(`/proc/${info.hostPid}/cgroup`, 'utf8')).toContain(`:/kubepods/besteffort/pod${web.uid}/${app.id}\n`)
    expect(pidns(info.hostPid)).toBe(pidns((await cd().tasks()).get(web.id)!.pid))
  })

  test('the sidecar of the same pod, and the same PID namespace as the app', async () => {
    const info = await cri.inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'sidecar'})
    expect(info.id).toBe(sidecar.id)
    expect(info.hostPid).toBe(await ctrPid(sidecar.id))
    expect(info.pidMode).toBe('pod')
    expect(pidns(info.hostPid)).toBe(pidns(await ctrPid(app.id)))
  })

  test('a pod with pid CONTAINER: pidMode private, the app alone in its namespace', async () => {
    const info = await cri.inspect({pod: {namespace: 'shop', name: 'solo-0'}, containerName: 'app'})
    expect(info).toMatchObject({id: soloApp.id, hostPid: await ctrPid(soloApp.id), pidMode: 'private', pod: {name: 'solo-0', uid: solo.uid}})
    expect(pidns(info.hostPid)).not.toBe(pidns((await cd().tasks()).get(solo.id)!.pid))
  })

  test('a hostPID pod: pidMode host, the container in the node PID namespace', async () => {
    const info = await cri.inspect({pod: {namespace: 'kube-system', name: 'agent-0'}})
    expect(info).toMatchObject({id: hostApp.id, name: 'agent', hostPid: await ctrPid(hostApp.id), pidMode: 'host'})
    expect(pidns(info.hostPid)).toBe(pidns(process.pid))
  })

  test('a pod with one container needs no container name; with two it is USAGE naming them', async () => {
    expect((await cri.inspect({pod: {namespace: 'shop', name: 'solo-0'}})).id).toBe(soloApp.id)
    const e = await failure(cri.inspect({pod: {namespace: 'shop', name: 'web-0'}}))
    expect(e.code).toBe('USAGE')
    expect(e.message).toMatch(/pod shop\/web-0 has 2 containers \(app, sidecar\): name one with option containerName/)
  })

  test('an unknown pod, namespace or container name is NOT_RUNNING, and says what there is', async () => {
    const noPod = await failure(cri.inspect({pod: {namespace: 'shop', name: 'nope'}, containerName: 'app'}))
    expect(noPod).toMatchObject({code: 'NOT_RUNNING', details: {pod: 'shop/nope'}})
    const wrongNs = await failure(cri.inspect({pod: {namespace: 'default', name: 'web-0'}, containerName: 'app'}))
    expect(wrongNs.code).toBe('NOT_RUNNING')
    expect(wrongNs.message).toContain('pods of that name: shop/web-0')
    const noName = await failure(cri.inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'db'}))
    expect(noName.code).toBe('NOT_RUNNING')
    expect(noName.message).toContain('(its containers: app, sidecar)')
  })

  test('by reference: full id, unique id prefix, a name in one pod; a name in two pods is USAGE', async () => {
    const pid = await ctrPid(sidecar.id)
    for (const ref of [sidecar.id, sidecar.id.slice(0, 12), 'sidecar']) {
      const info = await cri.inspect({ref})
      expect(info).toMatchObject({id: sidecar.id, hostPid: pid, pod: {namespace: 'shop', name: 'web-0', uid: web.uid, id: web.id}})
    }
    const e = await failure(cri.inspect({ref: 'app'}))
    expect(e.code).toBe('USAGE')
    expect(e.message).toMatch(/container name "app" is in 2 pods \(shop\/(web|solo)-0, shop\/(web|solo)-0\)/)
    expect((await failure(cri.inspect({ref: 'f'.repeat(64)}))).code).toBe('NOT_RUNNING')
  })

  test('list(): every container with its pod, the running ones at the pids ctr reports', async () => {
    const all = await cri.list()
    const tasks = await cd().tasks()
    for (const c of [app, sidecar, soloApp, hostApp]) {
      const row = all.find((i) => i.id === c.id)
      expect(row).toMatchObject({
        name: c.name,
        running: true,
        hostPid: tasks.get(c.id)!.pid,
        pod: {namespace: c.pod.namespace, name: c.pod.name, uid: c.pod.uid},
      })
    }
    // No pause containers: the CRI lists sandboxes apart.
    expect(all.some((i) => i.id === web.id)).toBe(false)
  })

  test('a container restarted in the same pod: attempt 1 is found at its new pid; then stopped, it is not running', async () => {
    const pod = await kubelet.runPod({namespace: 'shop', name: 'cycle-0', pid: 'POD'})
    const first = await kubelet.runContainer(pod, {name: 'app', image: cd().images.app, command: appCommand({exitOn: ['TERM']})})
    const firstPid = await ctrPid(first.id)
    expect((await cri.inspect({pod: {namespace: 'shop', name: 'cycle-0'}, containerName: 'app'})).hostPid).toBe(firstPid)
    const second = await kubelet.restartContainer(first, {graceS: 2})
    const secondPid = await ctrPid(second.id)
    expect(secondPid).not.toBe(firstPid)
    const info = await cri.inspect({pod: {namespace: 'shop', name: 'cycle-0'}, containerName: 'app'})
    expect(info).toMatchObject({id: second.id, hostPid: secondPid, running: true})
    // Attempt 1 stopped too: the newest attempt is reported, not running, with no pid.
    await kubelet.stopContainer(second.id, 2)
    const stopped = await cri.inspect({pod: {namespace: 'shop', name: 'cycle-0'}, containerName: 'app'})
    expect(stopped).toMatchObject({id: second.id, running: false, hostPid: 0})
    expect((await cd().tasks()).get(second.id)?.status).not.toBe('RUNNING')
    await kubelet.removePod(pod)
  })

  test('a pod recreated with the same name: the READY sandbox is chosen over the stopped one', async () => {
    const old = await kubelet.runPod({namespace: 'shop', name: 'again-0', pid: 'POD'})
    await kubelet.runContainer(old, {name: 'app', image: cd().images.app, command: ['/bin/sleep', '100000']})
    await kubelet.stopPod(old)
    const now = await kubelet.runPod({namespace: 'shop', name: 'again-0', pid: 'POD', uid: old.uid, attempt: 1})
    const c = await kubelet.runContainer(now, {name: 'app', image: cd().images.app, command: ['/bin/sleep', '100000']})
    const info = await cri.inspect({pod: {namespace: 'shop', name: 'again-0'}, containerName: 'app'})
    expect(info).toMatchObject({id: c.id, running: true, hostPid: await ctrPid(c.id), pod: {id: now.id}})
    await kubelet.removePod(old)
    await kubelet.removePod(now)
  })

  test('a kubectl-debug style container targeting the app: pidMode container:<app id>, in the app PID namespace', async () => {
    const dbg = await kubelet.runContainer(solo, {name: 'debugger', image: cd().images.app, command: ['/bin/sleep', '100000'], pid: {target: soloApp.id}})
    const info = await cri.inspect({pod: {namespace: 'shop', name: 'solo-0'}, containerName: 'debugger'})
    expect(info.pidMode).toBe(`container:${soloApp.id}`)
    expect(info.hostPid).toBe(await ctrPid(dbg.id))
    expect(pidns(info.hostPid)).toBe(pidns(await ctrPid(soloApp.id)))
    await kubelet.stopContainer(dbg.id, 0)
    await kubelet.removeContainer(dbg.id)
  })

  test('the containerd socket unreachable: RUNTIME naming the socket, with a hint', async () => {
    const gone = criRuntime({socketPath: `${cd().state}/nothing.sock`, where: `unix://${cd().state}/nothing.sock`, env: {}})
    const e = await failure(gone.inspect({pod: {namespace: 'shop', name: 'web-0'}}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(`cannot reach the CRI runtime at unix://${cd().state}/nothing.sock (ENOENT)`)
    expect(e.details).toMatchObject({reason: 'unreachable', socket: `${cd().state}/nothing.sock`})
  })
})
