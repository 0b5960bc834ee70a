/**
 * A test kubelet: plays the kubelet's part over the CRI (src/runtime/cri-proto.ts's RuntimeService,
 * @grpc/grpc-js) against the second containerd of test/helpers/containerd.ts. It asks for what the
 * kubelet asks for, minus what needs a cluster:
 *   - pods on the host network (namespace_options.network = NODE: no CNI here) with no hostname
 *     (a host-network pod may not set one), the PID namespace mode asked (POD: one namespace shared by
 *     the pod's containers, `shareProcessNamespace: true`; CONTAINER: one per container, the default;
 *     NODE: hostPID), and linux.cgroup_parent /kubepods/besteffort/pod<uid>, the cgroupfs driver's
 *     layout for a BestEffort pod, so the containers' cgroups are where a real node puts them;
 *   - the labels and annotations the kubelet puts on sandboxes and containers (io.kubernetes.pod.name,
 *     .namespace, .uid, io.kubernetes.container.name, io.kubernetes.container.restartCount), plus
 *     nslocate.test=1;
 *   - a log directory per pod (<root>/pods/<ns>_<name>_<uid>, as /var/log/pods) and <name>/<attempt>.log;
 *   - "restart a container in the same pod": the running attempt is stopped (StopContainer, as when
 *     its process dies or a liveness probe fails) and a new container with the same name and
 *     attempt + 1 is created and started in the same sandbox; the old one stays, exited, until removed.
 *
 * API (stable: the daemonless tests use it too):
 *   const k = new Kubelet(cd)                       cd: a Containerd (test/helpers/containerd.ts)
 *   k.runPod({namespace, name, pid: 'POD'|'CONTAINER'|'NODE', uid?, labels?}) -> Pod
 *   k.runContainer(pod, {name, image, command, mounts?, env?, labels?, pid?}, attempt?) -> RunningContainer
 *                                                   (attempt: default one more than the pod's last of that name)
 *   k.restartContainer(c, {graceS?}) -> RunningContainer (attempt + 1)
 *   k.stopContainer(id, graceS), k.removeContainer(id), k.stopPod(pod), k.removePod(pod)
 *   k.containerStatus(id, verbose?) -> the CRI answer (status, info)
 *   k.call(method, request, deadlineMs?) -> any RuntimeService call of cri-proto.ts
 *   k.cleanup() removes every pod it ran (then closes); k.close()
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {loadCri} from '../../src/runtime/cri-proto'
import {Containerd} from './containerd'

/** CRI NamespaceMode (api.proto): POD=0, CONTAINER=1, NODE=2, TARGET=3. */
export const NamespaceMode = {POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3} as const
export type PidMode = 'POD' | 'CONTAINER' | 'NODE'
/** CRI ContainerState. */
export const ContainerState = {CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3} as const
/** CRI PodSandboxState. */
export const PodSandboxState = {READY: 0, NOTREADY: 1} as const

export interface PodSpec {
  namespace: string
  name: string
  /** the PID namespace of the pod's containers */
  pid: PidMode
  /** default: a fresh random uuid */
  uid?: string
  /** sandbox attempt (default 0) */
  attempt?: number
  labels?: Record<string, string>
}

export interface Pod {
  /** the sandbox id */
  id: string
  namespace: string
  name: string
  uid: string
  pid: PidMode
  /** /kubepods/besteffort/pod<uid> */
  cgroupParent: string
  logDirectory: string
  /** the PodSandboxConfig sent (CreateContainer repeats it) */
  config: any
}

export interface Mount {
  hostPath: string
  containerPath: string
  readonly?: boolean
}

export interface ContainerSpec {
  name: string
  image: string
  command: string[]
  args?: string[]
  mounts?: Mount[]
  env?: Record<string, string>
  labels?: Record<string, string>
  /** the container's PID namespace (default: the pod's); {target: id} is TARGET (kubectl debug --target) */
  pid?: PidMode | {target: string}
}

export interface RunningContainer {
  id: string
  name: string
  attempt: number
  pod: Pod
  spec: ContainerSpec
}

/** The CRI NamespaceOption a pod with `pid` gives its sandbox and containers (host network, private IPC). */
function namespaceOptions(pid: ContainerSpec['pid']): any {
  if (pid && typeof pid === 'object') return {network: NamespaceMode.NODE, pid: NamespaceMode.TARGET, ipc: NamespaceMode.POD, target_id: pid.target}
  return {network: NamespaceMode.NODE, pid: NamespaceMode[pid ?? 'CONTAINER'], ipc: NamespaceMode.POD}
}

export class Kubelet {
  private readonly client: any
  private readonly pods = new Map<string, Pod>()
  private closed = false

  constructor(readonly cd: Containerd) {
    const {grpc, RuntimeService} = loadCri()
    this.client = new RuntimeService(cd.endpoint, grpc.credentials.createInsecure())
  }

  /** One RuntimeService call (method as in cri-proto.ts), with a deadline; rejects with the gRPC error, its method named. */
  call<T = any>(method: string, request: object, deadlineMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method](request, {deadline: Date.now() + deadlineMs}, (error: (Error & {details?: string}) | null, answer: T) => {
        if (error) reject(Object.assign(new Error(`CRI ${method}: ${error.details ?? error.message}`), {cause: error, code: (error as any).code}))
        else resolve(answer)
      })
    })
  }

  /** RunPodSandbox: a READY pod with the asked PID namespace mode, on the host network, under /kubepods/besteffort/pod<uid>. */
  async runPod(spec: PodSpec): Promise<Pod> {
    const uid = spec.uid ?? crypto.randomUUID()
    const cgroupParent = `/kubepods/besteffort/pod${uid}`
    const logDirectory = path.join(this.cd.root, 'pods', `${spec.namespace}_${spec.name}_${uid}`)
    fs.mkdirSync(logDirectory, {recursive: true})
    const config = {
      metadata: {name: spec.name, namespace: spec.namespace, uid, attempt: spec.attempt ?? 0},
      log_directory: logDirectory,
      labels: {
        'io.kubernetes.pod.name': spec.name,
        'io.kubernetes.pod.namespace': spec.namespace,
        'io.kubernetes.pod.uid': uid,
        'nslocate.test': '1',
        ...spec.labels,
      },
      annotations: {'kubernetes.io/config.source': 'api'},
      linux: {cgroup_parent: cgroupParent, security_context: {namespace_options: namespaceOptions(spec.pid)}},
    }
    this.cd.addCgroupParent(cgroupParent)
    const {pod_sandbox_id: id} = await this.call('RunPodSandbox', {config})
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new Error(`RunPodSandbox answered a sandbox id ${JSON.stringify(id)}`)
    const pod: Pod = {id, namespace: spec.namespace, name: spec.name, uid, pid: spec.pid, cgroupParent, logDirectory, config}
    this.pods.set(id, pod)
    return pod
  }

  /** CreateContainer + StartContainer in `pod`, as attempt `attempt` (default: one more than the last of that name in any sandbox of the pod, else 0). */
  async runContainer(pod: Pod, spec: ContainerSpec, attempt?: number): Promise<RunningContainer> {
    if (attempt === undefined) {
      // As the kubelet's restart count: over every sandbox of the pod (same uid), not only this one.
      const {containers} = await this.call('ListContainers', {filter: {label_selector: {'io.kubernetes.pod.uid': pod.uid}}})
      const attempts = (containers as any[]).filter((c) => c.metadata?.name === spec.name).map((c) => c.metadata.attempt as number)
      attempt = attempts.length ? Math.max(...attempts) + 1 : 0
    }
    fs.mkdirSync(path.join(pod.logDirectory, spec.name), {recursive: true})
    const config = {
      metadata: {name: spec.name, attempt},
      image: {image: spec.image},
      command: spec.command,
      args: spec.args ?? [],
      envs: Object.entries(spec.env ?? {}).map(([key, value]) => ({key, value})),
      mounts: (spec.mounts ?? []).map((m) => ({container_path: m.containerPath, host_path: m.hostPath, readonly: Boolean(m.readonly)})),
      labels: {
        'io.kubernetes.container.name': spec.name,
        'io.kubernetes.pod.name': pod.name,
        'io.kubernetes.pod.namespace': pod.namespace,
        'io.kubernetes.pod.uid': pod.uid,
        'nslocate.test': '1',
        ...spec.labels,
      },
      annotations: {'io.kubernetes.container.restartCount': String(attempt), 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log'},
      log_path: `${spec.name}/${attempt}.log`,
      linux: {security_context: {namespace_options: namespaceOptions(spec.pid ?? pod.pid)}},
    }
    const {container_id: id} = await this.call('CreateContainer', {pod_sandbox_id: pod.id, config, sandbox_config: pod.config})
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new Error(`CreateContainer answered a container id ${JSON.stringify(id)}`)
    await this.call('StartContainer', {container_id: id})
    return {id, name: spec.name, attempt, pod, spec}
  }

  /**
   * The kubelet's restart of a container in the same pod: stop the running attempt (SIGTERM, then
   * SIGKILL after graceS), then create and start attempt + 1 from the same spec. The old container
   * stays (exited) until removed, as the kubelet keeps the last dead attempt.
   */
  async restartContainer(c: RunningContainer, opts: {graceS?: number} = {}): Promise<RunningContainer> {
    await this.stopContainer(c.id, opts.graceS ?? 2)
    return this.runContainer(c.pod, c.spec, c.attempt + 1)
  }

  stopContainer(id: string, graceS = 2): Promise<unknown> {
    return this.call('StopContainer', {container_id: id, timeout: graceS}, (graceS + 30) * 1000)
  }

  removeContainer(id: string): Promise<unknown> {
    return this.call('RemoveContainer', {container_id: id})
  }

  /** ContainerStatus (verbose: with info["info"], containerd's JSON: pid, config, runtimeSpec). */
  containerStatus(id: string, verbose = false): Promise<{status: any; info: Record<string, string>}> {
    return this.call('ContainerStatus', {container_id: id, verbose})
  }

  async stopPod(pod: Pod): Promise<void> {
    await this.call('StopPodSandbox', {pod_sandbox_id: pod.id}, 60_000)
  }

  async removePod(pod: Pod): Promise<void> {
    await this.stopPod(pod)
    await this.call('RemovePodSandbox', {pod_sandbox_id: pod.id}, 60_000)
    this.pods.delete(pod.id)
  }

  /** Stop and remove every pod this kubelet ran (their containers go with them), then close. */
  async cleanup(): Promise<void> {
    const errors: string[] = []
    for (const pod of [...this.pods.values()]) await this.removePod(pod).catch((e) => errors.push(e.message))
    this.close()
    if (errors.length) throw new Error(`kubelet clean-up: ${errors.join('; ')}`)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.client.close()
  }
}
