/**
 * The daemonless backend (src/runtime/containerd-state.ts) over a state tree built in a temp
 * directory as containerd 1.6 and runc lay it out (the annotations, namespaces, options.json,
 * shim-binary-path and state.json fields below are the ones the second containerd of
 * test/helpers/containerd.ts wrote for a CRI pod on this machine). The inits are real processes
 * (sleep), so each pid and start time is checked against the live /proc. Then the refusals: a file
 * owned by another uid, a group-writable directory, a symbolic link, a file too big, a shim or
 * runtime that is not runc, and the ways a pid stops being the container's (exited, reused, not
 * started, runc disagreeing). daemonless-containerd.test.ts does the same against the real thing.
 */
import {ChildProcess} from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError} from '../../src/errors'
import {DEFAULT_RUNC_ROOT, MAX_JSON_BYTES, TASKS_DIR, containerdStateRuntime} from '../../src/runtime/containerd-state'
import type {ContainerRuntime} from '../../src/runtime/types'
import {startTime} from '../helpers/proc'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

const NS = 'k8s.io'
const hex = () => crypto.randomBytes(32).toString('hex')

interface Proc {
  pid: number
  start: number
  child: ChildProcess
}

async function sleeper(): Promise<Proc> {
  const child = spawnTracked(['sleep', '600'])
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve())
    child.once('error', reject)
  })
  const start = startTime(child.pid!)
  if (start === null) throw new Error(`no start time for ${child.pid}`)
  return {pid: child.pid!, start, child}
}

/** A pid that names no process now (a child that was started, killed and reaped). */
async function deadPid(): Promise<number> {
  const p = await sleeper()
  const exited = new Promise((resolve) => p.child.once('exit', resolve))
  p.child.kill('SIGKILL')
  await exited
  return p.pid
}

interface TaskSpec {
  id?: string
  type?: 'sandbox' | 'container' | null
  name?: string
  pod?: {namespace: string; name: string; uid: string; sandboxId: string}
  /** 'host': no pid namespace; 'private'; else a path */
  pidNs?: string
  /** the process of init.pid (null: no init.pid) */
  init: {pid: number; start: number} | null
  /** what runc recorded, when it differs from init */
  runc?: {pid?: number; start?: number; id?: string; bundle?: string} | null
  options?: Record<string, unknown>
  shim?: string
  created?: boolean
  extraAnnotations?: Record<string, string>
}

/** A state tree: STATE/io.containerd.runtime.v2.task/NS/ID and a runc root of its own (options.json root). */
class Tree {
  readonly dir = tempDir('nslocate-dl-state-')
  readonly state = path.join(this.dir, 'state')
  readonly runc = path.join(this.dir, 'runc')

  bundle(id: string): string {
    return path.join(this.state, TASKS_DIR, NS, id)
  }

  runcDir(id: string): string {
    return path.join(this.runc, NS, id)
  }

  add(t: TaskSpec): string {
    const id = t.id ?? hex()
    const b = this.bundle(id)
    fs.mkdirSync(b, {recursive: true, mode: 0o700})
    for (const d of [this.state, path.join(this.state, TASKS_DIR), path.join(this.state, TASKS_DIR, NS)]) fs.chmodSync(d, 0o711)
    const annotations: Record<string, string> = {...t.extraAnnotations}
    if (t.type) {
      annotations['io.kubernetes.cri.container-type'] = t.type
      if (t.pod) {
        annotations['io.kubernetes.cri.sandbox-id'] = t.pod.sandboxId
        annotations['io.kubernetes.cri.sandbox-name'] = t.pod.name
        annotations['io.kubernetes.cri.sandbox-namespace'] = t.pod.namespace
        annotations['io.kubernetes.cri.sandbox-uid'] = t.pod.uid
      }
      if (t.type === 'container') {
        annotations['io.kubernetes.cri.container-name'] = t.name ?? 'app'
        annotations['io.kubernetes.cri.image-name'] = 'docker.io/library/nslocate-cri-app:local'
      } else if (t.pod) {
        annotations['io.kubernetes.cri.sandbox-log-directory'] = `/var/log/pods/${t.pod.namespace}_${t.pod.name}_${t.pod.uid}`
      }
    }
    const namespaces: object[] = []
    if (t.pidNs === undefined || t.pidNs === 'private') namespaces.push({type: 'pid'})
    else if (t.pidNs !== 'host') namespaces.push({type: 'pid', path: t.pidNs})
    namespaces.push({type: 'ipc'}, {type: 'mount'})
    const spec = {
      ociVersion: '1.0.2-dev',
      process: {args: ['/bin/sleep', '600']},
      annotations,
      linux: {namespaces, cgroupsPath: `/kubepods/besteffort/pod${t.pod?.uid ?? 'x'}/${id}`},
    }
    this.write(path.join(b, 'config.json'), JSON.stringify(spec), 0o644)
    this.write(path.join(b, 'options.json'), JSON.stringify(t.options ?? {root: this.runc}), 0o600)
    this.write(path.join(b, 'runtime'), '', 0o600)
    this.write(path.join(b, 'shim-binary-path'), t.shim ?? '/usr/bin/containerd-shim-runc-v2', 0o600)
    this.write(path.join(b, 'address'), 'unix:///run/containerd/s/0000', 0o644)
    if (t.init) this.write(path.join(b, 'init.pid'), String(t.init.pid), 0o644)
    if (t.runc !== null && (t.init || t.runc)) {
      const r = this.runcDir(id)
      fs.mkdirSync(r, {recursive: true, mode: 0o711})
      for (const d of [this.runc, path.join(this.runc, NS)]) fs.chmodSync(d, 0o700)
      const state = {
        id: t.runc?.id ?? id,
        init_process_pid: t.runc?.pid ?? t.init?.pid ?? 0,
        init_process_start: t.runc?.start ?? t.init?.start ?? 0,
        created: new Date().toISOString(),
        config: {labels: [`bundle=${t.runc?.bundle ?? b}`]},
        rootless: false,
        cgroup_paths: {},
        namespace_paths: {},
      }
      this.write(path.join(r, 'state.json'), JSON.stringify(state), 0o600)
      if (t.created) fs.writeFileSync(path.join(r, 'exec.fifo'), '')
    }
    return id
  }

  write(file: string, text: string, mode: number): void {
    fs.writeFileSync(file, text)
    fs.chmodSync(file, mode)
  }

  runtime(namespace?: string): ContainerRuntime {
    return containerdStateRuntime({stateDir: this.state, namespace})
  }
}

/** A pod as the CRI makes it: a sandbox (pause) and containers joining its PID namespace. */
async function podTree(opts: {names?: string[]; pidMode?: 'POD' | 'CONTAINER'} = {}) {
  const tree = new Tree()
  const sandbox = await sleeper()
  const sandboxId = hex()
  const pod = {namespace: 'shop', name: 'web-0', uid: crypto.randomUUID(), sandboxId}
  tree.add({id: sandboxId, type: 'sandbox', pod, init: sandbox, pidNs: 'private'})
  const containers: Record<string, {id: string; proc: Proc}> = {}
  for (const name of opts.names ?? ['app', 'sidecar']) {
    const p = await sleeper()
    const id = tree.add({type: 'container', name, pod, init: p, pidNs: opts.pidMode === 'CONTAINER' ? 'private' : `/proc/${sandbox.pid}/ns/pid`})
    containers[name] = {id, proc: p}
  }
  return {tree, pod, sandbox, sandboxId, containers}
}

async function rejection(p: Promise<unknown>): Promise<NslocateError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(NslocateError)
    return e as NslocateError
  }
  throw new Error('expected a rejection')
}

afterAll(async () => {
  await stopAll()
})

describe('a CRI pod in the state directory', () => {
  test('by pod and container name: the init pid, the pod, its PID namespace shared with the sandbox (pod)', async () => {
    const {tree, pod, containers} = await podTree()
    const rt = tree.runtime()
    expect(rt.kind).toBe('cri')
    expect(rt.where).toBe(tree.state)
    const info = await rt.inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'app'})
    expect(info).toEqual({
      id: containers.app.id,
      name: 'app',
      runtime: 'cri',
      image: 'docker.io/library/nslocate-cri-app:local',
      running: true,
      hostPid: containers.app.proc.pid,
      pidMode: 'pod',
      labels: {},
      pod: {namespace: 'shop', name: 'web-0', uid: pod.uid, id: pod.sandboxId},
    })
    expect((await rt.inspect({pod: {namespace: 'shop', name: 'web-0', uid: pod.uid}, containerName: 'sidecar'})).hostPid).toBe(containers.sidecar.proc.pid)
  })

  test('by id, unique id prefix and name; the sandbox is not a container', async () => {
    const {tree, sandboxId, containers} = await podTree()
    const rt = tree.runtime()
    expect((await rt.inspect({ref: containers.app.id})).hostPid).toBe(containers.app.proc.pid)
    expect((await rt.inspect({ref: containers.sidecar.id.slice(0, 12)})).hostPid).toBe(containers.sidecar.proc.pid)
    expect((await rt.inspect({ref: 'sidecar'})).id).toBe(containers.sidecar.id)
    const e = await rejection(rt.inspect({ref: sandboxId}))
    expect(e.code).toBe('NOT_RUNNING')
    const list = await rt.list()
    expect(list.map((c) => c.id).sort()).toEqual([containers.app.id, containers.sidecar.id].sort())
    expect(list.every((c) => c.running && c.hostPid > 0)).toBe(true)
  })

  test('a pod of two containers without a container name: USAGE naming both; a name it lacks: NOT_RUNNING naming its containers', async () => {
    const {tree} = await podTree()
    const rt = tree.runtime()
    const e = await rejection(rt.inspect({pod: {namespace: 'shop', name: 'web-0'}}))
    expect(e.code).toBe('USAGE')
    expect(e.message).toMatch(/2 containers \(app, sidecar\)/)
    const n = await rejection(rt.inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'nginx'}))
    expect(n.code).toBe('NOT_RUNNING')
    expect(n.message).toMatch(/its containers: app, sidecar/)
    const p = await rejection(rt.inspect({pod: {namespace: 'other', name: 'web-0'}, containerName: 'app'}))
    expect(p.code).toBe('NOT_RUNNING')
    expect(p.details).toEqual({pod: 'other/web-0'})
    const u = await rejection(rt.inspect({pod: {namespace: 'shop', name: 'web-0', uid: crypto.randomUUID()}, containerName: 'app'}))
    expect(u.code).toBe('NOT_RUNNING')
  })

  test("one container per PID namespace (CONTAINER): private; the host PID namespace: host; another container's: container:ID", async () => {
    const {tree, pod, containers} = await podTree({pidMode: 'CONTAINER', names: ['app']})
    const rt = tree.runtime()
    expect((await rt.inspect({ref: 'app'})).pidMode).toBe('private')
    const h = await sleeper()
    tree.add({type: 'container', name: 'hostpid', pod, init: h, pidNs: 'host'})
    expect((await rt.inspect({ref: 'hostpid'})).pidMode).toBe('host')
    const d = await sleeper()
    tree.add({type: 'container', name: 'debug', pod, init: d, pidNs: `/proc/${containers.app.proc.pid}/ns/pid`})
    expect((await rt.inspect({ref: 'debug'})).pidMode).toBe(`container:${containers.app.id}`)
  })

  test('the same container name in two pods: by name is USAGE naming both pods', async () => {
    const {tree} = await podTree({names: ['app']})
    const sb = await sleeper()
    const sandboxId = hex()
    const pod2 = {namespace: 'shop', name: 'web-1', uid: crypto.randomUUID(), sandboxId}
    tree.add({id: sandboxId, type: 'sandbox', pod: pod2, init: sb})
    tree.add({type: 'container', name: 'app', pod: pod2, init: await sleeper(), pidNs: `/proc/${sb.pid}/ns/pid`})
    const e = await rejection(tree.runtime().inspect({ref: 'app'}))
    expect(e.code).toBe('USAGE')
    expect(e.message).toMatch(/shop\/web-0/)
    expect(e.message).toMatch(/shop\/web-1/)
  })

  test('a task without CRI annotations (ctr run) is named by its id, in its own namespace', async () => {
    const tree = new Tree()
    const p = await sleeper()
    tree.add({id: 'dl-ctr', type: null, init: p})
    const info = await tree.runtime().inspect({ref: 'dl-ctr'})
    expect(info).toMatchObject({id: 'dl-ctr', name: 'dl-ctr', running: true, hostPid: p.pid, pidMode: 'private', image: ''})
    expect(info.pod).toBeUndefined()
    // another namespace of the same state directory holds nothing
    expect(await tree.runtime('default').list()).toEqual([])
    expect((await rejection(tree.runtime('default').inspect({ref: 'dl-ctr'}))).code).toBe('NOT_RUNNING')
  })
})

describe("when the pid is not (or no longer) the container's init", () => {
  test('its init exited: not running, and inspect says so (NOT_RUNNING naming the container)', async () => {
    const tree = new Tree()
    const pid = await deadPid()
    const id = tree.add({type: null, init: {pid, start: 1}})
    const [row] = await tree.runtime().list()
    expect(row).toMatchObject({id, running: false, hostPid: 0})
    const e = await rejection(tree.runtime().inspect({ref: id}))
    expect(e.code).toBe('NOT_RUNNING')
    expect(e.details).toEqual({
      container: id,
      reason: 'container_not_running',
      name: id,
      runtime: 'cri',
      state: `containerd's ${tree.state} (namespace k8s.io)`,
    })
    expect(e.message).toMatch(new RegExp(`pid ${pid}\\) has exited`))
  })

  test('a reused pid: init.pid names a live process whose start time is not the one runc recorded: refused', async () => {
    const tree = new Tree()
    const innocent = await sleeper()
    const id = tree.add({type: null, init: {pid: innocent.pid, start: innocent.start}, runc: {start: innocent.start - 7}})
    const [row] = await tree.runtime().list()
    expect(row).toMatchObject({running: false, hostPid: 0})
    const e = await rejection(tree.runtime().inspect({ref: id}))
    expect(e.code).toBe('NOT_RUNNING')
    expect(e.message).toMatch(new RegExp(`pid ${innocent.pid} is now another process \\(start tick ${innocent.start}; runc recorded ${innocent.start - 7}\\)`))
    expect(fs.existsSync(`/proc/${innocent.pid}`)).toBe(true) // the innocent lives on; nothing touched it
  })

  test("init.pid and runc's init_process_pid disagree: not running", async () => {
    const tree = new Tree()
    const a = await sleeper()
    const b = await sleeper()
    const id = tree.add({type: null, init: a, runc: {pid: b.pid, start: b.start}})
    const e = await rejection(tree.runtime().inspect({ref: id}))
    expect(e.message).toMatch(new RegExp(`init.pid says ${a.pid} but runc's state.json says ${b.pid}`))
  })

  test('created but not started (runc exec.fifo), no init.pid, no runc state: not running', async () => {
    const tree = new Tree()
    const p = await sleeper()
    const created = tree.add({type: null, init: p, created: true})
    const noPid = tree.add({type: null, init: null, runc: {pid: p.pid, start: p.start}})
    const noState = tree.add({type: null, init: p, runc: null})
    const rt = tree.runtime()
    expect((await rejection(rt.inspect({ref: created}))).message).toMatch(/created it but not started it/)
    expect((await rejection(rt.inspect({ref: noPid}))).message).toMatch(/no init\.pid/)
    expect((await rejection(rt.inspect({ref: noState}))).message).toMatch(/runc has no state for it/)
  })

  test("runc's state of another container or another bundle: RUNTIME, never a pid", async () => {
    const tree = new Tree()
    const p = await sleeper()
    const other = tree.add({type: null, init: p, runc: {id: 'someone-else'}})
    expect((await rejection(tree.runtime().inspect({ref: other}))).message).toMatch(/state of container "someone-else"/)
    const t2 = new Tree()
    const moved = t2.add({type: null, init: p, runc: {bundle: '/run/elsewhere'}})
    const e = await rejection(t2.runtime().inspect({ref: moved}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toMatch(/ran it from the bundle \/run\/elsewhere/)
  })

  test('runc root: the default when options.json gives none', async () => {
    const tree = new Tree()
    const p = await sleeper()
    const id = tree.add({type: null, init: p, options: {}})
    const e = await rejection(tree.runtime().inspect({ref: id}))
    expect(e.code).toBe('NOT_RUNNING')
    expect(e.message).toContain(path.join(DEFAULT_RUNC_ROOT, NS, id, 'state.json'))
  })
})

describe("trust: every file and directory root's and not writable by others; regular files; bounded", () => {
  test('a config.json owned by another uid', async () => {
    const {tree, containers} = await podTree({names: ['app']})
    const file = path.join(tree.bundle(containers.app.id), 'config.json')
    fs.chownSync(file, 65534, 65534)
    const e = await rejection(tree.runtime().inspect({ref: 'app'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(`refusing containerd's state ${file}: owned by uid 65534`)
    expect(e.message).not.toContain('\n')
    expect(e.details).toMatchObject({file, reason: 'untrusted'})
  })

  test('a group-writable bundle directory', async () => {
    const {tree, containers} = await podTree({names: ['app']})
    const dir = tree.bundle(containers.app.id)
    fs.chmodSync(dir, 0o770)
    const e = await rejection(tree.runtime().inspect({pod: {namespace: 'shop', name: 'web-0'}, containerName: 'app'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toMatch(new RegExp(`\\(on its path: ${dir}\\): writable by group`))
  })

  test('a group-writable state directory, and a runc root owned by another uid', async () => {
    const {tree} = await podTree({names: ['app']})
    fs.chmodSync(tree.state, 0o775)
    const e = await rejection(tree.runtime().list())
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(tree.state)
    fs.chmodSync(tree.state, 0o711)
    expect((await tree.runtime().list()).length).toBe(1)
    fs.chownSync(path.join(tree.runc, NS), 65534, 65534)
    const r = await rejection(tree.runtime().inspect({ref: 'app'}))
    expect(r.code).toBe('RUNTIME')
    expect(r.message).toMatch(new RegExp(`on its path: ${path.join(tree.runc, NS)}\\): owned by uid 65534`))
  })

  test('init.pid as a symbolic link (even to a root-owned file in a trusted directory)', async () => {
    const {tree, containers} = await podTree({names: ['app']})
    const file = path.join(tree.bundle(containers.app.id), 'init.pid')
    const target = path.join(tree.dir, 'other.pid')
    tree.write(target, String(process.pid), 0o644)
    fs.rmSync(file)
    fs.symlinkSync(target, file)
    const e = await rejection(tree.runtime().inspect({ref: 'app'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(`refusing containerd's state ${file}: it is a symbolic link`)
  })

  test("a group-writable state.json (runc's)", async () => {
    const {tree, containers} = await podTree({names: ['app']})
    const file = path.join(tree.runcDir(containers.app.id), 'state.json')
    fs.chmodSync(file, 0o664)
    const e = await rejection(tree.runtime().inspect({ref: 'app'}))
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(file)
    expect(e.message).toMatch(/writable by group/)
  })

  test('a config.json larger than the cap is not read', async () => {
    const tree = new Tree()
    const p = await sleeper()
    const id = tree.add({type: null, init: p})
    const file = path.join(tree.bundle(id), 'config.json')
    tree.write(file, JSON.stringify({annotations: {pad: 'x'.repeat(MAX_JSON_BYTES)}}), 0o644)
    const e = await rejection(tree.runtime().list())
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toContain(`${file} is larger than ${MAX_JSON_BYTES} bytes`)
  })

  test('garbage in init.pid is RUNTIME, not a pid', async () => {
    const tree = new Tree()
    const p = await sleeper()
    const id = tree.add({type: null, init: p})
    tree.write(path.join(tree.bundle(id), 'init.pid'), '12 34', 0o644)
    expect((await rejection(tree.runtime().inspect({ref: id}))).code).toBe('RUNTIME')
  })

  test('a shim or runtime that is not runc: RUNTIME (its init.pid means something else)', async () => {
    const tree = new Tree()
    const p = await sleeper()
    const kata = tree.add({type: null, init: p, shim: '/usr/bin/containerd-shim-kata-v2'})
    const crun = tree.add({type: null, init: p, options: {binary_name: 'crun', root: tree.runc}})
    expect((await rejection(tree.runtime().inspect({ref: kata}))).message).toMatch(/shim \/usr\/bin\/containerd-shim-kata-v2, not containerd's runc shim/)
    expect((await rejection(tree.runtime().inspect({ref: crun}))).message).toMatch(/runs under crun, not runc/)
    // listed, but not as running: its pid cannot be checked
    const rows = await tree.runtime().list()
    expect(rows.map((r) => [r.id, r.running, r.hostPid]).sort()).toEqual(
      [
        [crun, false, 0],
        [kata, false, 0],
      ].sort(),
    )
  })

  test('no state directory: RUNTIME saying what to mount; no task directory for the namespace: nothing there', async () => {
    const tree = new Tree()
    const gone = containerdStateRuntime({stateDir: path.join(tree.dir, 'missing')})
    const e = await rejection(gone.list())
    expect(e.code).toBe('RUNTIME')
    expect(e.message).toMatch(/no containerd state directory .*missing/)
    fs.mkdirSync(tree.state, {mode: 0o711})
    expect(await tree.runtime().list()).toEqual([])
  })

  test('a bad namespace is USAGE', () => {
    expect(() => containerdStateRuntime({stateDir: '/run/containerd', namespace: '../x'})).toThrow(/not a containerd identifier/)
  })
})
