/**
 * The daemonless backend (issue 19): containerd's own state, read where its CRI socket may not be
 * used (a node agent that may read the host's /run but not talk to the runtime; a containerd that
 * is down or restarting). Nothing is asked of containerd: what it and runc left on disk is read,
 * and every pid is checked against the live process before it is given out.
 *
 * What is read, for each task of containerd namespace NS (default k8s.io, the CRI's):
 *   STATE/io.containerd.runtime.v2.task/NS/ID/          the shim's bundle (runtime v2)
 *     config.json     the OCI spec: annotations (the CRI's io.kubernetes.cri.* keys: container-type
 *                     sandbox|container, sandbox-id, sandbox-name, sandbox-namespace, sandbox-uid,
 *                     container-name, image-name; the kubelet's io.kubernetes.pod.* and
 *                     io.kubernetes.container.name where those are absent) and linux.namespaces
 *                     (no "pid" entry: the host's PID namespace; one with a path: another process's)
 *     init.pid        the container's init, as the shim wrote it (runc create --pid-file)
 *     options.json    the runc options containerd gave the shim: `root` (runc's state root, default
 *                     /run/containerd/runc: containerd's process.RuncRoot, not under STATE) and
 *                     `binary_name`
 *     shim-binary-path  which shim runs it: only containerd-shim-runc-v1/v2 keep these files' meaning
 *   RUNC_ROOT/NS/ID/state.json                           runc's own state: id, init_process_pid,
 *                     init_process_start (clock ticks after boot, /proc/PID/stat field 22), the bundle
 *                     in config.labels; exec.fifo beside it while the container is created, not started
 * A task is running only when init.pid equals runc's init_process_pid, runc is not still waiting to
 * start it, and /proc/PID/stat of that pid now has runc's init_process_start (and is not a zombie):
 * a pid reused after the container died is never given out (ContainerInfo.running false, or
 * NOT_RUNNING from inspect, saying why). The pid is one of containerd's PID namespace: read from
 * another namespace, /proc/PID is another process (or none) and the container is "not running".
 *
 * TRUST: every directory and file read must be root's and not writable by group or others (the
 * rule of src/path-trust.ts, as for the Docker socket, with root as the only owner); files must be
 * regular files (a symbolic link is refused) of bounded size (MAX_JSON_BYTES for config.json and
 * state.json). Anything else is NslocateError('RUNTIME') naming the file and what to do: another
 * user who could write these files would choose the pid nslocate acts on.
 *
 * Selection, as the CRI backend does it (cri.ts), over the tasks there are (a container whose task
 * was deleted has no bundle: it is not there):
 *   {ref}: a full id, a unique id prefix, or a container name (io.kubernetes.cri.container-name;
 *     a task without CRI annotations is named by its id); the running task of it; names in several
 *     pods, or several running tasks, give USAGE.
 *   {pod, containerName?}: the containers whose sandbox-namespace and sandbox-name are the pod's (and
 *     sandbox-uid, when the PodRef has a uid), in a sandbox whose own task runs; without
 *     containerName the pod must hold one container name, else USAGE names them.
 * Sandboxes (the pause containers) are never returned, as ListContainers does not return them.
 * Labels: containerd keeps them in its database, not in the state directory: always {}.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, isErrno} from '../errors'
import {untrustedOnPath} from '../path-trust'
import {ProcFs, proc} from '../proc/proc-fs'
import type {ProcStat} from '../proc/parse-stat'
import type {ContainerInfo, ContainerRuntime, ContainerSelector, PodRef} from './types'
import {downDetails} from './down'
import {CHECK_POD, nameOne, podOrId} from './advice'

/** The runtime v2 shims' bundles, under containerd's state directory. */
export const TASKS_DIR = 'io.containerd.runtime.v2.task'
/** runc's state root when containerd's runc options give none (containerd pkg/process RuncRoot). */
export const DEFAULT_RUNC_ROOT = '/run/containerd/runc'
/** The largest config.json or state.json read (a spec with many mounts and env is tens of KiB). */
export const MAX_JSON_BYTES = 4 * 1024 * 1024
const MAX_SMALL_BYTES = 64 * 1024
/** The most bundles one namespace may hold before the directory is taken for garbage. */
const MAX_TASKS = 100_000
/** What to do instead when the daemonless route cannot be taken or trusted. */
const ASK_CRI = 'ask containerd over its CRI socket (CONTAINER_RUNTIME_ENDPOINT)'

/** The CRI's annotations in the OCI spec (containerd pkg/cri/annotations). */
const CRI = {
  type: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
} as const
/** The kubelet's keys (CRI-O writes them as annotations), read when containerd's are not there. */
const KUBELET = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
} as const

/** containerd's identifier rule (pkg/identifiers): namespaces and container ids. */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/
/** The shims whose bundle this backend understands. */
const RUNC_SHIMS = new Set(['containerd-shim-runc-v2', 'containerd-shim-runc-v1'])

/** Options of containerdStateRuntime(). */
export interface ContainerdStateOptions {
  /** containerd's state directory (`state` in its config; /run/containerd), the directory of its socket */
  stateDir: string
  /** containerd namespace (default k8s.io, the CRI's) */
  namespace?: string
  /** where /proc is read (tests) */
  procfs?: ProcFs
}

/** One task's bundle, as config.json describes it. */
interface Task {
  id: string
  bundle: string
  /** 'sandbox' | 'container' (CRI), '' for a task without CRI annotations */
  type: string
  name: string
  sandboxId: string
  pod: PodRef | undefined
  image: string
  /** the spec's pid namespace: null = none (the host's), '' = a new one, else the path joined */
  pidNs: string | null
}

/** Whether a task's init runs now, and why not. */
interface Liveness {
  running: boolean
  pid: number
  why: string
}

/** A ContainerRuntime over containerd's state directory (kind 'cri'; `where` is the state directory). */
export function containerdStateRuntime(o: ContainerdStateOptions): ContainerRuntime {
  const namespace = o.namespace ?? 'k8s.io'
  if (!IDENTIFIER.test(namespace) || namespace.length > 76) {
    throw new NslocateError('USAGE', `containerd namespace ${JSON.stringify(namespace)} is not a containerd identifier`)
  }
  const where = o.stateDir
  return {
    kind: 'cri',
    where,
    inspect: async (sel) => new Reader(o.stateDir, namespace, o.procfs ?? proc).inspect(sel),
    list: async () => new Reader(o.stateDir, namespace, o.procfs ?? proc).list(),
  }
}

/** One look at the state (one inspect() or list()): what was read is kept for its duration. */
class Reader {
  private readonly tasksDir: string
  private readonly live = new Map<string, Liveness>()

  constructor(
    readonly stateDir: string,
    readonly ns: string,
    readonly procfs: ProcFs,
  ) {
    this.tasksDir = path.join(stateDir, TASKS_DIR, ns)
  }

  private get at(): string {
    return `containerd's ${this.stateDir} (namespace ${this.ns})`
  }

  // --- reading, with the trust rule ---------------------------------------------------------

  /** RUNTIME for an entry another user could change. */
  private checkTrust(file: string): void {
    const bad = untrustedOnPath(file, {caller: 0})
    if (!bad) return
    const which = bad.path === path.resolve(file) ? '' : ` (on its path: ${bad.path})`
    // Another user could write the pid nslocate would act on: containerd's state directory and runc's state root must be root's, not writable by others.
    const advice = `fix its owner and mode, or ${ASK_CRI}`
    throw new NslocateError('RUNTIME', `refusing containerd's state ${file}${which}: ${bad.why}; ${advice}`, {
      details: {file, untrusted: bad.path, reason: 'untrusted'},
      advice,
    })
  }

  /** A system error on the way, in this backend's words (ENOENT is the caller's). */
  private systemError(error: unknown, file: string): unknown {
    if (isErrno(error, 'EACCES', 'EPERM')) {
      const advice = "run nslocate as root (the daemonless route reads containerd's state directory and runc's)"
      return new NslocateError('RUNTIME', `permission denied reading containerd's state ${file}: it is root's; ${advice}`, {
        details: {file, reason: 'permission'},
        cause: error,
        advice,
      })
    }
    if (error instanceof NslocateError || isErrno(error, 'ENOENT', 'ENOTDIR')) return error
    return new NslocateError('RUNTIME', `cannot read containerd's state ${file}: ${(error as Error).message}`, {
      details: {file, reason: 'failed'},
      cause: error,
    })
  }

  /**
   * The text of `file`: its path trusted, then opened without following a link and checked again on
   * the descriptor (a regular file, root's, not writable by group or others), at most `max` bytes.
   * Throws ENOENT (the file is not there) as fs does; anything else refused is RUNTIME.
   */
  readFile(file: string, max: number): string {
    let fd: number
    try {
      this.checkTrust(file)
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
    } catch (error) {
      if (isErrno(error, 'ELOOP')) {
        const advice = `remove it, or ${ASK_CRI}`
        throw new NslocateError('RUNTIME', `refusing containerd's state ${file}: it is a symbolic link (containerd and runc write none); ${advice}`, {
          details: {file, reason: 'untrusted'},
          advice,
        })
      }
      throw this.systemError(error, file)
    }
    try {
      const st = fs.fstatSync(fd)
      // (another user could write the pid nslocate would act on)
      const refuse = (why: string) =>
        new NslocateError('RUNTIME', `refusing containerd's state ${file}: ${why}; ${ASK_CRI}`, {details: {file, reason: 'untrusted'}, advice: ASK_CRI})
      if (!st.isFile()) throw refuse('it is not a regular file')
      if (st.uid !== 0) throw refuse(`it is owned by uid ${st.uid}, not root`)
      if ((st.mode & 0o022) !== 0) throw refuse(`it is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`)
      if (st.size > max) throw this.tooBig(file, max)
      const buf = Buffer.allocUnsafe(Math.min(max, Math.max(st.size, 4096)) + 1)
      let n = 0
      for (;;) {
        const got = fs.readSync(fd, buf, n, buf.length - n, null)
        if (got === 0) break
        n += got
        if (n > max) throw this.tooBig(file, max)
      }
      return buf.subarray(0, n).toString('utf8')
    } catch (error) {
      throw this.systemError(error, file)
    } finally {
      fs.closeSync(fd)
    }
  }

  private tooBig(file: string, max: number): NslocateError {
    return new NslocateError('RUNTIME', `containerd's state ${file} is larger than ${max} bytes, which no containerd writes; not read further`, {
      details: {file, reason: 'too_big'},
    })
  }

  /** JSON of `file` (an object), bounded; RUNTIME when it is not. */
  private readJson(file: string, max: number): Record<string, unknown> {
    const text = this.readFile(file, max)
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch {
      throw this.invalid(file, 'it is not JSON')
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw this.invalid(file, 'it is not a JSON object')
    return v as Record<string, unknown>
  }

  private invalid(file: string, why: string): NslocateError {
    return new NslocateError('RUNTIME', `untrusted containerd state ${file}: ${why}; nothing was signalled; ${ASK_CRI}`, {
      details: {file, reason: 'invalid'},
      advice: ASK_CRI,
    })
  }

  /** The ids of the namespace's bundles ([] when the namespace has none). */
  private taskIds(): string[] {
    const top = path.join(this.stateDir, TASKS_DIR)
    for (const dir of [this.stateDir, top, this.tasksDir]) {
      try {
        this.checkTrust(dir)
        if (!fs.statSync(dir).isDirectory()) throw this.invalid(dir, 'it is not a directory')
      } catch (error) {
        if (isErrno(error, 'ENOENT')) {
          if (dir === this.stateDir) {
            const advice = "mount containerd's socket directory here, or set CONTAINER_RUNTIME_ENDPOINT to its socket"
            throw new NslocateError('RUNTIME', `no containerd state directory ${this.stateDir} for the daemonless route to read: ${advice}`, {
              details: {file: dir, reason: 'unreachable'},
              advice,
            })
          }
          return []
        }
        throw this.systemError(error, dir)
      }
    }
    let names: string[]
    try {
      names = fs.readdirSync(this.tasksDir)
    } catch (error) {
      throw this.systemError(error, this.tasksDir)
    }
    if (names.length > MAX_TASKS) throw this.invalid(this.tasksDir, `it holds ${names.length} entries`)
    return names.filter((n) => IDENTIFIER.test(n) && n.length <= 76).sort()
  }

  /** A bundle's config.json, or null when the bundle has gone meanwhile. */
  private task(id: string): Task | null {
    const bundle = path.join(this.tasksDir, id)
    const file = path.join(bundle, 'config.json')
    let spec: Record<string, unknown>
    try {
      spec = this.readJson(file, MAX_JSON_BYTES)
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return null
      throw error
    }
    const ann = spec.annotations === undefined || spec.annotations === null ? {} : spec.annotations
    if (typeof ann !== 'object' || Array.isArray(ann)) throw this.invalid(file, 'its annotations are not an object')
    const a = ann as Record<string, unknown>
    const get = (...keys: string[]) => {
      for (const k of keys) if (typeof a[k] === 'string' && a[k] !== '') return a[k] as string
      return ''
    }
    const type = get(CRI.type)
    const podName = get(CRI.sandboxName, KUBELET.podName)
    const sandboxId = get(CRI.sandboxId)
    const pod: PodRef | undefined = podName
      ? {
          namespace: get(CRI.sandboxNamespace, KUBELET.podNamespace),
          name: podName,
          ...optional('uid', get(CRI.sandboxUid, KUBELET.podUid)),
          ...optional('id', sandboxId),
        }
      : undefined
    return {
      id,
      bundle,
      type,
      name: get(CRI.containerName, KUBELET.containerName) || (type === 'sandbox' ? podName : '') || id,
      sandboxId,
      pod,
      image: get(CRI.imageName),
      pidNs: pidNamespaceOf(spec, (why) => this.invalid(file, why)),
    }
  }

  /** Every bundle of the namespace (sandboxes too); bundles that vanish while read are left out. */
  tasks(): Task[] {
    const out: Task[] = []
    for (const id of this.taskIds()) {
      const t = this.task(id)
      if (t) out.push(t)
    }
    return out
  }

  /** Is the task's init running now? (The checks of the module comment; cached for this look.) */
  liveness(t: Task): Liveness {
    const known = this.live.get(t.id)
    if (known) return known
    const l = this.check(t)
    this.live.set(t.id, l)
    return l
  }

  private check(t: Task): Liveness {
    const stopped = (why: string, pid = 0): Liveness => ({running: false, pid, why})
    const gone = (error: unknown) => isErrno(error, 'ENOENT', 'ENOTDIR')
    // Which shim and runtime: only runc's files mean what is checked here.
    const shimFile = path.join(t.bundle, 'shim-binary-path')
    try {
      const shim = this.readFile(shimFile, MAX_SMALL_BYTES).trim()
      if (!RUNC_SHIMS.has(path.basename(shim))) {
        // (its init.pid is not a process nslocate can check)
        throw new NslocateError('RUNTIME', `container ${t.name} (${t.id.slice(0, 12)}) runs under the shim ${shim}, not containerd's runc shim; ${ASK_CRI}`, {
          details: {file: shimFile, reason: 'unsupported', container: t.id},
          advice: ASK_CRI,
        })
      }
    } catch (error) {
      if (!gone(error)) throw error // an older containerd writes no shim-binary-path: the runc shim
    }
    let options: Record<string, unknown> = {}
    const optionsFile = path.join(t.bundle, 'options.json')
    try {
      options = this.readJson(optionsFile, MAX_SMALL_BYTES)
    } catch (error) {
      if (!gone(error)) throw error
    }
    const binary = typeof options.binary_name === 'string' ? options.binary_name : ''
    if (binary !== '' && path.basename(binary) !== 'runc') {
      throw new NslocateError(
        'RUNTIME',
        `container ${t.name} (${t.id.slice(0, 12)}) runs under ${binary}, not runc: nslocate checks a pid against runc's state only; ${ASK_CRI}`,
        {details: {file: optionsFile, reason: 'unsupported', container: t.id}, advice: ASK_CRI},
      )
    }
    const root = typeof options.root === 'string' && options.root !== '' ? options.root : DEFAULT_RUNC_ROOT
    if (!path.isAbsolute(root)) throw this.invalid(optionsFile, `its runc root ${JSON.stringify(root)} is not an absolute path`)

    const pidFile = path.join(t.bundle, 'init.pid')
    let pid: number
    try {
      const text = this.readFile(pidFile, 64)
      if (!/^[1-9][0-9]{0,9}\n?$/.test(text)) throw this.invalid(pidFile, `it holds ${JSON.stringify(text.slice(0, 32))}, not a pid`)
      pid = Number(text.trim())
    } catch (error) {
      if (gone(error)) return stopped(`it has no init.pid in ${t.bundle} (never started, or being deleted)`)
      throw error
    }

    const runcDir = path.join(root, this.ns, t.id)
    const stateFile = path.join(runcDir, 'state.json')
    let st: Record<string, unknown>
    try {
      st = this.readJson(stateFile, MAX_JSON_BYTES)
    } catch (error) {
      if (gone(error)) return stopped(`runc has no state for it (${stateFile}): its container is gone`)
      throw error
    }
    if (st.id !== t.id) throw this.invalid(stateFile, `it is the state of container ${JSON.stringify(st.id)}, not ${t.id}`)
    const runcPid = st.init_process_pid
    const runcStart = st.init_process_start
    if (typeof runcPid !== 'number' || !Number.isSafeInteger(runcPid) || runcPid < 0)
      throw this.invalid(stateFile, `init_process_pid is ${JSON.stringify(runcPid)}`)
    if (typeof runcStart !== 'number' || !Number.isSafeInteger(runcStart) || runcStart < 0)
      throw this.invalid(stateFile, `init_process_start is ${JSON.stringify(runcStart)}`)
    this.checkBundleLabel(st, stateFile, t)
    if (runcPid !== pid) return stopped(`its init.pid says ${pid} but runc's state.json says ${runcPid}`)
    if (exists(path.join(runcDir, 'exec.fifo'))) return stopped('runc has created it but not started it yet')
    let stat: ProcStat
    try {
      stat = this.procfs.readStat(pid)
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ESRCH')) return stopped(`its init (pid ${pid}) has exited`)
      throw this.systemError(error, this.procfs.file(pid, 'stat'))
    }
    if (stat.starttime !== runcStart) {
      // The container's init exited and its pid was reused, or nslocate runs in another PID namespace than containerd.
      return stopped(`pid ${pid} is now another process (start tick ${stat.starttime}; runc recorded ${runcStart})`)
    }
    if (stat.state === 'Z' || stat.state === 'X') return stopped(`its init (pid ${pid}) has exited`)
    return {running: true, pid, why: ''}
  }

  /** runc records the bundle it ran from (config.labels "bundle=PATH"): it must be this one. */
  private checkBundleLabel(st: Record<string, unknown>, stateFile: string, t: Task): void {
    const config = st.config
    const labels = config !== null && typeof config === 'object' ? (config as Record<string, unknown>).labels : undefined
    if (!Array.isArray(labels)) return
    const label = labels.find((l): l is string => typeof l === 'string' && l.startsWith('bundle='))
    if (label === undefined) return
    const recorded = label.slice('bundle='.length)
    if (realpathOr(recorded) !== realpathOr(t.bundle)) throw this.invalid(stateFile, `runc ran it from the bundle ${recorded}, not ${t.bundle}`)
  }

  // --- the seam -----------------------------------------------------------------------------

  private info(t: Task, all: Task[]): ContainerInfo {
    const l = this.liveness(t)
    return {
      id: t.id,
      name: t.name,
      runtime: 'cri',
      image: t.image,
      running: l.running,
      hostPid: l.running ? l.pid : 0,
      pidMode: this.pidMode(t, all),
      labels: {},
      ...(t.pod ? {pod: t.pod} : {}),
    }
  }

  /** 'host' (no PID namespace of its own), 'private', 'pod' (the sandbox's), 'container:ID' (another task's). */
  private pidMode(t: Task, all: Task[]): string {
    if (t.pidNs === null) return 'host'
    if (t.pidNs === '') return 'private'
    const m = /^\/proc\/([0-9]+)\/ns\/pid$/.exec(t.pidNs)
    if (m) {
      const target = Number(m[1])
      const sandbox = all.find((x) => x.id === t.sandboxId && x.type === 'sandbox')
      if (sandbox && this.liveness(sandbox).pid === target) return 'pod'
      const other = all.find((x) => x.id !== t.id && x.type !== 'sandbox' && this.liveness(x).running && this.liveness(x).pid === target)
      if (other) return `container:${other.id}`
    }
    return 'pod' // another process's namespace: never one of its own, so never 'private'
  }

  /** Every container task; one under a shim or runtime other than runc is listed as not running (its pid cannot be checked). */
  async list(): Promise<ContainerInfo[]> {
    const all = this.tasks()
    return all
      .filter((t) => t.type !== 'sandbox')
      .map((t) => {
        try {
          return this.info(t, all)
        } catch (error) {
          if (!(error instanceof NslocateError) || error.details.reason !== 'unsupported') throw error
          return {
            id: t.id,
            name: t.name,
            runtime: 'cri' as const,
            image: t.image,
            running: false,
            hostPid: 0,
            pidMode: '',
            labels: {},
            ...(t.pod ? {pod: t.pod} : {}),
          }
        }
      })
  }

  async inspect(sel: ContainerSelector): Promise<ContainerInfo> {
    const all = this.tasks()
    const containers = all.filter((t) => t.type !== 'sandbox')
    const chosen = 'ref' in sel ? this.byRef(containers, sel.ref) : this.byPod(all, containers, sel.pod, sel.containerName)
    const l = this.liveness(chosen)
    if (!l.running) {
      throw new NslocateError('NOT_RUNNING', `container ${chosen.name} (${chosen.id.slice(0, 12)}) is not running: ${l.why}`, {
        details: {...downDetails({id: chosen.id, name: chosen.name, runtime: 'cri', pod: chosen.pod}), state: this.at},
      })
    }
    return this.info(chosen, all)
  }

  /** Of one container's tasks, the running one; several running is USAGE, none is the first (not running). */
  private current(tasks: Task[], label: string): Task {
    const running = tasks.filter((t) => this.liveness(t).running)
    if (running.length > 1) {
      throw new NslocateError(
        'USAGE',
        `${label} has ${running.length} running tasks in ${this.at} (${running.map((t) => t.id.slice(0, 12)).join(', ')}): give the container id`,
        {details: {containers: running.map((t) => t.id)}, advice: 'give the container id'},
      )
    }
    return running[0] ?? tasks[0]
  }

  private byRef(containers: Task[], ref: string): Task {
    if (ref.trim() === '') throw new NslocateError('USAGE', (n) => `${n('container')} needs a container id or name; it was given an empty value`)
    const exact = containers.find((t) => t.id === ref)
    if (exact) return exact
    if (/^[0-9a-f]+$/.test(ref)) {
      const prefixed = containers.filter((t) => t.id.startsWith(ref))
      if (prefixed.length > 1) {
        throw new NslocateError(
          'USAGE',
          `container id prefix ${ref} is ambiguous in ${this.at}: ${prefixed.map((t) => t.id.slice(0, 13)).join(', ')}; give more digits`,
          {advice: 'give more digits'},
        )
      }
      if (prefixed.length === 1) return prefixed[0]
    }
    const named = containers.filter((t) => t.name === ref)
    const pods = [...new Set(named.map((t) => t.sandboxId))]
    if (pods.length > 1) {
      const where = [...new Set(named.map((t) => (t.pod ? `${t.pod.namespace}/${t.pod.name}` : `sandbox ${t.sandboxId.slice(0, 13)}`)))]
      throw new NslocateError(
        'USAGE',
        (n) => `container name ${JSON.stringify(ref)} is in ${pods.length} pods in ${this.at} (${where.join(', ')}): ${podOrId(n)}`,
        {details: {containers: named.map((t) => t.id)}, advice: podOrId},
      )
    }
    if (named.length) return this.current(named, `container ${ref}`)
    // (a container without a task is not there)
    throw new NslocateError('NOT_RUNNING', `no container ${ref} with a task in ${this.at} (by id, id prefix or name)`, {
      details: {container: ref},
    })
  }

  private byPod(all: Task[], containers: Task[], pod: PodRef, containerName: string | undefined): Task {
    const label = pod.namespace ? `${pod.namespace}/${pod.name}` : pod.name
    if (!pod.name) throw new NslocateError('USAGE', (n) => `${n('pod')} needs a pod name (NAMESPACE/NAME); it was given ${JSON.stringify(label)}`)
    const inPod = containers.filter((t) => t.pod && t.pod.namespace === pod.namespace && t.pod.name === pod.name && (!pod.uid || t.pod.uid === pod.uid))
    if (inPod.length === 0) {
      throw new NslocateError('NOT_RUNNING', `no pod ${label} with a container task in ${this.at}: ${CHECK_POD}`, {details: {pod: label}, advice: CHECK_POD})
    }
    // The pod's sandboxes whose own task runs (a sandbox whose pause exited holds no running container).
    const sandboxIds = [...new Set(inPod.map((t) => t.sandboxId))]
    const ready = sandboxIds.filter((id) => {
      const sb = all.find((x) => x.id === id && x.type === 'sandbox')
      return sb !== undefined && this.liveness(sb).running
    })
    if (ready.length > 1) {
      throw new NslocateError(
        'USAGE',
        `pod ${label} has ${ready.length} running sandboxes in ${this.at} (${ready.map((id) => id.slice(0, 12)).join(', ')}): give the container id`,
        {details: {pod: label}, advice: 'give the container id'},
      )
    }
    if (ready.length === 0) {
      const sb = sandboxIds.map((id) => all.find((x) => x.id === id && x.type === 'sandbox')).find((x): x is Task => x !== undefined)
      throw new NslocateError(
        'NOT_RUNNING',
        `pod ${label} is not running: ${sb ? `sandbox ${sb.id.slice(0, 12)}: ${this.liveness(sb).why}` : 'its sandbox has no task'}`,
        {
          details: {pod: label, state: this.at},
        },
      )
    }
    const members = inPod.filter((t) => t.sandboxId === ready[0])
    const names = [...new Set(members.map((t) => t.name))].sort()
    if (containerName !== undefined) {
      const attempts = members.filter((t) => t.name === containerName)
      if (attempts.length === 0) {
        throw new NslocateError(
          'NOT_RUNNING',
          `pod ${label} has no container task named ${JSON.stringify(containerName)} in ${this.at} (its containers: ${names.join(', ')})`,
          {
            details: {pod: label},
          },
        )
      }
      return this.current(attempts, `container ${containerName} of pod ${label}`)
    }
    if (names.length > 1) {
      throw new NslocateError('USAGE', (n) => `pod ${label} has ${names.length} containers (${names.join(', ')}): ${nameOne(n)}`, {
        details: {pod: label, containers: names},
        advice: nameOne,
      })
    }
    return this.current(members, `pod ${label}`)
  }
}

/** The OCI spec's PID namespace: null when it has none (the host's), '' for a new one, else the path it joins. */
function pidNamespaceOf(spec: Record<string, unknown>, invalid: (why: string) => Error): string | null {
  const linux = spec.linux
  if (linux === undefined || linux === null) return null
  if (typeof linux !== 'object' || Array.isArray(linux)) throw invalid('its linux section is not an object')
  const nss = (linux as Record<string, unknown>).namespaces ?? []
  if (!Array.isArray(nss)) throw invalid('linux.namespaces is not a list')
  for (const n of nss) {
    if (n === null || typeof n !== 'object') throw invalid('linux.namespaces holds a non-object')
    const e = n as Record<string, unknown>
    if (e.type !== 'pid') continue
    if (e.path === undefined || e.path === '') return ''
    if (typeof e.path !== 'string') throw invalid('its pid namespace path is not a string')
    return e.path
  }
  return null
}

function optional<K extends string>(key: K, value: string): Partial<Record<K, string>> {
  return value ? ({[key]: value} as Record<K, string>) : {}
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p)
    return true
  } catch {
    return false
  }
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p)
  } catch {
    return path.resolve(p)
  }
}
