/**
 * The daemonless backend (src/runtime/containerd-state.ts) against a real containerd 1.6 with its
 * CRI plugin (test/helpers/containerd.ts; pods made by the test kubelet, test/helpers/kubelet.ts),
 * reading only what containerd and runc wrote: its state directory and runc's state root.
 *   shop/web-0   shared PID namespace (POD): app and sidecar;  shop/solo-0  one per container.
 * Every pid is checked against `ctr -n k8s.io tasks ls` (containerd's task service, which nslocate
 * does not use), against the CRI's own answer (criRuntime, over the socket), and against the
 * process itself (its cgroup names the container and the pod uid; its PID namespace).
 * Then: a stopped container (task deleted by the CRI) is not running; a restarted one is followed;
 * a container made by `ctr run` in namespace default (no CRI annotations) is found by id, and once
 * its task is killed (bundle and runc state left behind) it is not running; runc's real state of it,
 * with init.pid pointed at a live process (a reused pid), is refused.
 * Last, the CLI: with the CRI socket out of reach (CONTAINER_RUNTIME_ENDPOINT names a socket that
 * does not exist in containerd's state directory) `find app --pod shop/web-0 --container-name app`
 * answers the app's pid from the state directory, and says so in its evidence.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError} from '../../src/errors'
import {containerFromCgroup, parseCgroup} from '../../src/proc/parse-cgroup'
import {DEFAULT_RUNC_ROOT, TASKS_DIR, containerdStateRuntime} from '../../src/runtime/containerd-state'
import {criRuntime} from '../../src/runtime/cri'
import type {ContainerInfo, ContainerRuntime} from '../../src/runtime/types'
import {cliJson} from '../helpers/cli'
import {APP_PIDFILE_DIR, Containerd, appCommand, describeWithContainerd, testImageArchives} from '../helpers/containerd'
import {Kubelet, Pod, RunningContainer} from '../helpers/kubelet'
import {readNSpid, startTime} from '../helpers/proc'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

async function until<T>(what: string, f: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v as NonNullable<Awaited<T>>
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

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
const cgroupOf = (pid: number) => containerFromCgroup(parseCgroup(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')))

describeWithContainerd('the daemonless backend against containerd 1.6 (CRI pods, ctr containers)', (cd: () => Containerd) => {
  let kubelet: Kubelet
  let state: ContainerRuntime
  let cri: ContainerRuntime
  let web: Pod
  let solo: Pod
  let app: RunningContainer
  let sidecar: RunningContainer
  let soloApp: RunningContainer
  let appDir: string
  const ctrIds: string[] = []
  /** runc makes its namespace directory on the first container there; the test removes it if it made it */
  const runcDefault = path.join(DEFAULT_RUNC_ROOT, 'default')
  const runcDefaultExisted = fs.existsSync(runcDefault)

  const ctrPid = async (id: string, ns = 'k8s.io') => until(`${id.slice(0, 12)} in ctr tasks ls`, async () => (await cd().tasks(ns)).get(id)?.pid)

  beforeAll(async () => {
    kubelet = new Kubelet(cd())
    state = containerdStateRuntime({stateDir: cd().state})
    cri = criRuntime({socketPath: cd().socket, where: cd().endpoint, env: {}})
    const image = cd().images.app
    appDir = tempDir('nslocate-dl-app-')
    web = await kubelet.runPod({namespace: 'shop', name: 'web-0', pid: 'POD'})
    app = await kubelet.runContainer(web, {name: 'app', image, command: appCommand(), mounts: [{hostPath: appDir, containerPath: APP_PIDFILE_DIR}]})
    sidecar = await kubelet.runContainer(web, {name: 'sidecar', image, command: ['/bin/sleep', '100000']})
    solo = await kubelet.runPod({namespace: 'shop', name: 'solo-0', pid: 'CONTAINER'})
    soloApp = await kubelet.runContainer(solo, {name: 'app', image, command: ['/bin/sleep', '100000']})
    await until('the app pidfile', () => fs.existsSync(path.join(appDir, 'app.pid')) && fs.readFileSync(path.join(appDir, 'app.pid'), 'utf8') !== '')
  }, 300_000)

  afterAll(async () => {
    for (const id of ctrIds) {
      await cd()
        .ctr(['tasks', 'delete', '-f', id], {namespace: 'default'})
        .catch(() => undefined)
      await cd()
        .ctr(['containers', 'rm', id], {namespace: 'default'})
        .catch(() => undefined)
    }
    await kubelet?.cleanup()
    await stopAll()
    if (!runcDefaultExisted) {
      try {
        fs.rmdirSync(runcDefault) // only when empty: another containerd's containers there are left alone
      } catch {}
    }
  }, 120_000)

  test('the state directory is where containerd keeps its socket, and runc keeps its state under /run/containerd/runc', () => {
    expect(path.dirname(cd().socket)).toBe(cd().state)
    expect(fs.existsSync(path.join(cd().state, TASKS_DIR, 'k8s.io', app.id, 'init.pid'))).toBe(true)
    expect(JSON.parse(fs.readFileSync(path.join(cd().state, TASKS_DIR, 'k8s.io', app.id, 'options.json'), 'utf8'))).toEqual({})
    expect(fs.existsSync(path.join(DEFAULT_RUNC_ROOT, 'k8s.io', app.id, 'state.json'))).toBe(true)
  })

  test.each([
    ['app', () => app],
    ['sidecar', () => sidecar],
  ])("shop/web-0 %s: the pid equals ctr tasks ls and the CRI answer; pidMode pod; the process is the container's", async (name, c) => {
    const sel = {pod: {namespace: 'shop', name: 'web-0'}, containerName: name}
    const mine = await state.inspect(sel)
    const pid = await ctrPid(c().id)
    const theirs = await cri.inspect(sel)
    expect(mine.hostPid).toBe(pid)
    expect(theirs.hostPid).toBe(pid)
    expect(mine).toEqual<ContainerInfo>({
      id: c().id,
      name,
      runtime: 'cri',
      image: cd().images.app,
      running: true,
      hostPid: pid,
      pidMode: 'pod',
      labels: {},
      pod: {namespace: 'shop', name: 'web-0', uid: web.uid, id: web.id},
    })
    expect({pidMode: theirs.pidMode, pod: theirs.pod, id: theirs.id, name: theirs.name}).toEqual({
      pidMode: mine.pidMode,
      pod: mine.pod,
      id: mine.id,
      name: mine.name,
    })
    // The process itself: its cgroup names the container and the pod; it shares the pause's PID namespace, where it is not pid 1.
    expect(cgroupOf(pid)).toMatchObject({id: c().id, runtime: 'kubernetes', podUid: web.uid})
    const pause = await ctrPid(web.id)
    expect(pidns(pid)).toBe(pidns(pause))
    expect(readNSpid(pid).at(-1)).toBeGreaterThan(1)
  })

  test('shop/solo-0: pidMode private (its own PID namespace, where it is pid 1); by id, id prefix; the name "app" in two pods is USAGE', async () => {
    const pid = await ctrPid(soloApp.id)
    const mine = await state.inspect({pod: {namespace: 'shop', name: 'solo-0'}})
    expect(mine).toMatchObject({id: soloApp.id, hostPid: pid, pidMode: 'private'})
    expect((await cri.inspect({pod: {namespace: 'shop', name: 'solo-0'}})).pidMode).toBe('private')
    expect(readNSpid(pid).at(-1)).toBe(1)
    expect((await state.inspect({ref: soloApp.id})).hostPid).toBe(pid)
    expect((await state.inspect({ref: soloApp.id.slice(0, 12)})).hostPid).toBe(pid)
    expect((await state.inspect({ref: 'sidecar'})).hostPid).toBe(await ctrPid(sidecar.id))
    const e = await failure(state.inspect({ref: 'app'}))
    expect(e.code).toBe('USAGE')
    expect(e.message).toMatch(/in 2 pods/)
    const w = await failure(state.inspect({pod: {namespace: 'shop', name: 'web-0'}}))
    expect(w.code).toBe('USAGE')
    expect(w.message).toMatch(/\(app, sidecar\)/)
  })

  test('list(): the CRI containers (never the sandboxes), each pid as ctr tasks ls says', async () => {
    const rows = await state.list()
    const tasks = await cd().tasks()
    const criRows = await cri.list()
    const running = criRows.filter((r) => r.running)
    expect(rows.map((r) => r.id).sort()).toEqual(running.map((r) => r.id).sort())
    for (const r of rows) {
      expect(r.running).toBe(true)
      expect(r.hostPid).toBe(tasks.get(r.id)?.pid)
    }
    expect(rows.map((r) => r.id)).not.toContain(web.id)
    expect(rows.map((r) => r.id)).not.toContain(solo.id)
  })

  test('a container stopped by the CRI (its task deleted): not running; restarted in the same pod: the new one, as ctr says', async () => {
    const pod = await kubelet.runPod({namespace: 'shop', name: 'restart-0', pid: 'POD'})
    const first = await kubelet.runContainer(pod, {name: 'worker', image: cd().images.app, command: ['/bin/sleep', '100000']})
    const firstPid = await ctrPid(first.id)
    expect((await state.inspect({pod: {namespace: 'shop', name: 'restart-0'}, containerName: 'worker'})).hostPid).toBe(firstPid)
    await kubelet.stopContainer(first.id, 1)
    await until('the task gone from ctr', async () => !(await cd().tasks()).has(first.id))
    expect(fs.existsSync(path.join(cd().state, TASKS_DIR, 'k8s.io', first.id))).toBe(false)
    const gone = await failure(state.inspect({pod: {namespace: 'shop', name: 'restart-0'}, containerName: 'worker'}))
    expect(gone.code).toBe('NOT_RUNNING')
    expect((await failure(state.inspect({ref: first.id}))).code).toBe('NOT_RUNNING')
    expect((await state.list()).map((r) => r.id)).not.toContain(first.id)
    const second = await kubelet.runContainer(pod, {name: 'worker', image: cd().images.app, command: ['/bin/sleep', '100000']}, first.attempt + 1)
    const secondPid = await ctrPid(second.id)
    const now = await state.inspect({pod: {namespace: 'shop', name: 'restart-0'}, containerName: 'worker'})
    expect(now).toMatchObject({id: second.id, hostPid: secondPid})
    expect(now.hostPid).toBe((await cri.inspect({pod: {namespace: 'shop', name: 'restart-0'}, containerName: 'worker'})).hostPid)
  })

  describe('a container made by ctr (namespace default, no CRI annotations)', () => {
    const id = crypto.randomBytes(32).toString('hex')
    let pid: number
    let start: number

    beforeAll(async () => {
      await cd().ctr(['images', 'import', testImageArchives().app], {namespace: 'default', timeoutMs: 120_000})
      cd().addCgroupParent('/default')
      ctrIds.push(id)
      await cd().ctr(['run', '-d', '--label', 'nslocate.test=1', cd().images.app, id, '/bin/sleep', '100000'], {namespace: 'default'})
      pid = await ctrPid(id, 'default')
      start = startTime(pid)!
    }, 180_000)

    test("by id and id prefix, the pid ctr gives; its cgroup is containerd's default /default/ID", async () => {
      const rt = containerdStateRuntime({stateDir: cd().state, namespace: 'default'})
      const info = await rt.inspect({ref: id})
      expect(info).toEqual<ContainerInfo>({id, name: id, runtime: 'cri', image: '', running: true, hostPid: pid, pidMode: 'private', labels: {}})
      expect((await rt.inspect({ref: id.slice(0, 10)})).hostPid).toBe(pid)
      expect(cgroupOf(pid)).toEqual({id, name: null, runtime: 'containerd', cgroup: `/default/${id}`})
      // the k8s.io namespace does not hold it
      expect((await failure(state.inspect({ref: id}))).code).toBe('NOT_RUNNING')
    })

    test('its task killed but not deleted (bundle, init.pid and runc state left behind): not running, "has exited"', async () => {
      await cd().ctr(['tasks', 'kill', '-s', 'SIGKILL', id], {namespace: 'default'})
      await until('the task stopped', async () => (await cd().tasks('default')).get(id)?.status === 'STOPPED')
      const bundle = path.join(cd().state, TASKS_DIR, 'default', id)
      expect(fs.readFileSync(path.join(bundle, 'init.pid'), 'utf8').trim()).toBe(String(pid))
      expect(fs.existsSync(path.join(DEFAULT_RUNC_ROOT, 'default', id, 'state.json'))).toBe(true)
      const rt = containerdStateRuntime({stateDir: cd().state, namespace: 'default'})
      const e = await failure(rt.inspect({ref: id}))
      expect(e.code).toBe('NOT_RUNNING')
      expect(e.details).toEqual({
        container: id,
        reason: 'container_not_running',
        name: id,
        runtime: 'cri',
        state: `containerd's ${cd().state} (namespace default)`,
      })
      expect(e.message).toContain(`its init (pid ${pid}) has exited`)
      expect(await rt.list()).toEqual([expect.objectContaining({id, running: false, hostPid: 0})])
    })

    test("runc's real state of it, with init.pid now naming a live process (a reused pid): refused, and the live process is not given out", async () => {
      // The bundle files and runc's state.json as containerd and runc wrote them, copied into a
      // root-owned tree; only the pid is changed, to a live process's, as a reused pid would be.
      const innocent = spawnTracked(['sleep', '600'])
      await until('the innocent', () => startTime(innocent.pid!) !== null)
      const tree = tempDir('nslocate-dl-reuse-')
      const bundle = path.join(tree, 'state', TASKS_DIR, 'default', id)
      const runcRoot = path.join(tree, 'runc')
      fs.mkdirSync(bundle, {recursive: true, mode: 0o711})
      fs.mkdirSync(path.join(runcRoot, 'default', id), {recursive: true, mode: 0o711})
      const real = path.join(cd().state, TASKS_DIR, 'default', id)
      for (const f of ['config.json', 'shim-binary-path']) fs.copyFileSync(path.join(real, f), path.join(bundle, f))
      fs.writeFileSync(
        path.join(bundle, 'options.json'),
        JSON.stringify({...JSON.parse(fs.readFileSync(path.join(real, 'options.json'), 'utf8')), root: runcRoot}),
        {mode: 0o600},
      )
      fs.writeFileSync(path.join(bundle, 'init.pid'), String(innocent.pid), {mode: 0o644})
      const runcState = JSON.parse(fs.readFileSync(path.join(DEFAULT_RUNC_ROOT, 'default', id, 'state.json'), 'utf8'))
      expect(runcState).toMatchObject({id, init_process_pid: pid, init_process_start: start})
      runcState.init_process_pid = innocent.pid
      runcState.config.labels = (runcState.config.labels as string[]).map((l) => (l.startsWith('bundle=') ? `bundle=${bundle}` : l))
      fs.writeFileSync(path.join(runcRoot, 'default', id, 'state.json'), JSON.stringify(runcState), {mode: 0o600})
      const rt = containerdStateRuntime({stateDir: path.join(tree, 'state'), namespace: 'default'})
      const e = await failure(rt.inspect({ref: id}))
      expect(e.code).toBe('NOT_RUNNING')
      expect(e.message).toContain(`pid ${innocent.pid} is now another process (start tick ${startTime(innocent.pid!)}; runc recorded ${start})`)
      expect((await rt.list()).map((r) => [r.running, r.hostPid])).toEqual([[false, 0]])
      // control: with the start time of the live process, the same files give it (the refusal is the start time's)
      runcState.init_process_start = startTime(innocent.pid!)
      fs.writeFileSync(path.join(runcRoot, 'default', id, 'state.json'), JSON.stringify(runcState), {mode: 0o600})
      expect((await rt.inspect({ref: id})).hostPid).toBe(innocent.pid)
    })
  })

  describe("the CLI: the CRI socket out of reach, containerd's state directory read instead", () => {
    test("find app --pod shop/web-0 --container-name app --json: the app's pid (ctr tasks ls), from the state directory", async () => {
      const pid = await ctrPid(app.id)
      const missing = path.join(cd().state, 'containerd-unreachable.sock')
      const env = {CONTAINER_RUNTIME_ENDPOINT: `unix://${missing}`}
      const {status, json, stderr} = await cliJson(['find', 'app', '--pod', 'shop/web-0', '--container-name', 'app'], {env})
      expect({status, stderr}).toEqual({status: 0, stderr: ''})
      expect(json.state).toBe('running')
      expect(json.pid).toBe(pid)
      expect(json.nspid).toEqual([pid, readNSpid(pid).at(-1)])
      expect(json.container).toMatchObject({id: app.id, name: 'app', pod: {namespace: 'shop', name: 'web-0', uid: web.uid}})
      const evidence = JSON.stringify(json.evidence)
      expect(evidence).toContain(`cannot connect (ENOENT); reading containerd's state in ${cd().state} instead`)
      expect(evidence).toContain(
        `containerd's state directory (${cd().state}): container app (${app.id.slice(0, 12)}) of pod shop/web-0 runs with init.pid ${pid}`,
      )
      // the same through the socket, for comparison: the same pid
      const viaSocket = await cliJson(['find', 'app', '--pod', 'shop/web-0', '--container-name', 'app'], {env: {CONTAINER_RUNTIME_ENDPOINT: cd().endpoint}})
      expect(viaSocket.json.pid).toBe(pid)
      expect(JSON.stringify(viaSocket.json.evidence)).not.toContain("reading containerd's state")
    })

    test('a container of the pod that is not running through the state directory: exit 3, not running', async () => {
      const missing = path.join(cd().state, 'containerd-unreachable.sock')
      const {status, json} = await cliJson(['find', 'app', '--pod', 'shop/web-0', '--container-name', 'nginx'], {
        env: {CONTAINER_RUNTIME_ENDPOINT: `unix://${missing}`},
      })
      expect(status).toBe(3)
      expect(JSON.stringify(json)).toMatch(/no container task named \\"nginx\\"/)
    })
  })
})
