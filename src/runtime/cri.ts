/**
 * The Kubernetes CRI backend (issue 19): containerd's CRI plugin, CRI-O, any runtime that serves
 * `runtime.v1.RuntimeService` on a unix socket, spoken over gRPC (@grpc/grpc-js, loaded on first
 * use only: src/runtime/cri-proto.ts). nslocate only reads: ListPodSandbox, PodSandboxStatus,
 * ListContainers and ContainerStatus (verbose: the runtime's own `info`, where containerd and CRI-O
 * put the container's init pid); it never creates, stops or signals anything through the CRI (the
 * CRI has no signal call: kubernetes#24957).
 *
 * Selection:
 *   {ref}: a full container id, a unique id prefix, or a CRI container name (ContainerMetadata.name).
 *     A name is unique when one pod has it (its attempts are one container: the running one, else
 *     the newest attempt); names in several pods give USAGE listing them.
 *   {pod: {namespace, name}, containerName?}: the pod's sandbox (PodSandboxMetadata namespace and
 *     name; the READY one, newest first, when the pod has had several), its containers
 *     (ListContainers by pod_sandbox_id), the one named containerName (several attempts: the RUNNING
 *     one with the highest attempt, else the highest attempt); without containerName the pod must
 *     have exactly one container name, else USAGE names them.
 *
 * What the answer gives: hostPid = verbose info["info"] JSON `pid` (containerd, CRI-O: the init's
 * pid in the runtime's PID namespace); pidMode from the container's CRI config in that JSON
 * (containerd: config.linux.security_context.namespace_options.pid, absent = POD since Go leaves a
 * zero out: POD 'pod', CONTAINER 'private', NODE 'host', TARGET 'container:<target_id>'), else from
 * the OCI spec's pid namespace (CRI-O: runtimeSpec.linux.namespaces: none 'host', a path 'pod', no
 * path 'private'); when both are there they must not contradict each other on 'host', the one mode
 * that relaxes nslocate's check of the init (a spec with no PID namespace is the host's, one that
 * creates a namespace is not; one joined by path can be either: containerd 1.6 joins a hostPID
 * container to its sandbox's namespace, which is the host's). Every answer is checked for type and consistency (the container
 * asked for, its sandbox, a positive integer pid for a running container): a runtime that lies or
 * answers garbage gives RUNTIME, never a pid.
 *
 * Limits: each call has the deadline and the answer-size cap of dockerLimits(env)
 * (NSLOCATE_DOCKER_TIMEOUT, NSLOCATE_DOCKER_MAX_BYTES), as gRPC's deadline and
 * grpc.max_receive_message_length. Errors: RUNTIME naming the socket and what to do (details.socket,
 * details.reason 'unreachable' | 'permission' | 'deadline' | 'too_big' | 'unimplemented' | 'invalid'
 * | 'failed'; details.unsupported when the socket does not serve CRI v1 at all, so the selection layer
 * asks the next one), NOT_RUNNING for a pod or container that is not there (details.container or
 * details.pod), USAGE for an ambiguous selector. One gRPC channel per inspect()/list(), closed
 * after it, so nothing keeps the process alive.
 */
import {NslocateError} from '../errors'
import {loadCri} from './cri-proto'
import {DockerLimits, dockerLimits, limitMessage} from './http'
import {CHECK_POD, nameOne, podOrId} from './advice'
import type {ContainerInfo, ContainerRuntime, ContainerSelector, PodRef} from './types'

/** CRI enum values (api.proto). */
const SANDBOX_READY = 0
const CONTAINER_RUNNING = 1
const NAMESPACE_MODES: Record<number, string> = {0: 'pod', 1: 'private', 2: 'host', 3: 'container'}

/** What a gRPC call fails with (grpc-js ServiceError). */
interface GrpcError extends Error {
  code?: number
  details?: string
}

/** gRPC status codes used here. */
const Status = {DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14} as const

/** Options of criRuntime(): the socket (already checked by socket-trust.ts), how messages name it, the environment (limits). */
export interface CriOptions {
  socketPath: string
  where: string
  env?: NodeJS.ProcessEnv
}

/** The CRI's Version answer. */
export interface CriVersion {
  runtimeName: string
  runtimeVersion: string
  runtimeApiVersion: string
}

/** A pod sandbox as ListPodSandbox / PodSandboxStatus report it, checked. */
interface Sandbox {
  id: string
  namespace: string
  name: string
  uid: string
  ready: boolean
  createdAt: bigint
}

/** A container as ListContainers reports it, checked. */
interface Listed {
  id: string
  sandboxId: string
  name: string
  attempt: number
  running: boolean
  createdAt: bigint
  image: string
}

/** One connection to the runtime for the duration of one inspect() or list(). */
interface Session {
  call(method: string, request: object, what: string): Promise<Record<string, unknown>>
  close(): void
}

/** A ContainerRuntime over the CRI socket `socketPath`; throws USAGE on a bad NSLOCATE_DOCKER_* value. */
export function criRuntime(o: CriOptions): ContainerRuntime {
  const limits = dockerLimits(o.env ?? process.env)
  const ctx: Ctx = {socketPath: o.socketPath, where: o.where, limits}
  return {
    kind: 'cri',
    where: o.where,
    inspect: (sel) => withSession(ctx, (s) => inspect(ctx, s, sel)),
    list: () => withSession(ctx, (s) => list(ctx, s)),
  }
}

/** The runtime's name and versions (the CRI Version call): whether the socket serves CRI v1 at all. */
export function criVersion(o: CriOptions): Promise<CriVersion> {
  const ctx: Ctx = {socketPath: o.socketPath, where: o.where, limits: dockerLimits(o.env ?? process.env)}
  return withSession(ctx, async (s) => {
    const v = await s.call('Version', {}, 'ask its version')
    return {
      runtimeName: str(ctx, v.runtime_name, 'Version runtime_name'),
      runtimeVersion: str(ctx, v.runtime_version, 'Version runtime_version'),
      runtimeApiVersion: str(ctx, v.runtime_api_version, 'Version runtime_api_version'),
    }
  })
}

interface Ctx {
  socketPath: string
  where: string
  limits: DockerLimits
}

async function withSession<T>(ctx: Ctx, f: (s: Session) => Promise<T>): Promise<T> {
  const {grpc, RuntimeService} = loadCri()
  const client = new RuntimeService(`unix://${ctx.socketPath}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': ctx.limits.maxBytes,
    'grpc.enable_retries': 0,
  }) as unknown as Record<string, (req: object, opts: object, cb: (e: GrpcError | null, r: unknown) => void) => void> & {close(): void}
  const session: Session = {
    call: (method, request, what) =>
      new Promise((resolve, reject) => {
        client[method](request, {deadline: Date.now() + ctx.limits.deadlineMs}, (error, answer) => {
          if (error) reject(grpcError(ctx, error, what))
          else if (answer === null || typeof answer !== 'object') reject(invalid(ctx, `${method} answered ${JSON.stringify(answer)}`))
          else resolve(answer as Record<string, unknown>)
        })
      }),
    close: () => client.close(),
  }
  try {
    return await f(session)
  } finally {
    session.close()
  }
}

/** A gRPC failure as an NslocateError that names the socket and says what to do. */
function grpcError(ctx: Ctx, e: GrpcError, what: string): NslocateError {
  const detail = (e.details || e.message || String(e)).replace(/\s+/g, ' ').trim()
  const errno = /\b(ENOENT|ECONNREFUSED|EACCES|EPERM|ECONNRESET|ENOTSOCK|ENOTDIR)\b/.exec(detail)?.[1]
  const at = `the CRI runtime at ${ctx.where}`
  const details = (reason: string, extra: Record<string, unknown> = {}) => ({details: {socket: ctx.socketPath, reason, grpcCode: e.code, ...extra}, cause: e})
  if (e.code === Status.DEADLINE_EXCEEDED || (e.code === Status.RESOURCE_EXHAUSTED && /larger than max/i.test(detail))) {
    const kind = e.code === Status.DEADLINE_EXCEEDED ? 'deadline' : 'too_big'
    const {message, advice} = limitMessage(kind, at, what, ctx.limits)
    return new NslocateError('RUNTIME', message, {...details(kind), advice})
  }
  if (errno === 'EACCES' || errno === 'EPERM' || e.code === Status.PERMISSION_DENIED) {
    // The socket is root's; read-only access to the runtime's state directory is the daemonless route.
    const advice = "run nslocate as root, or mount the runtime's state directory here for the daemonless route"
    return new NslocateError('RUNTIME', `permission denied on the CRI socket ${ctx.socketPath} while trying to ${what}; ${advice}`, {
      ...details('permission', {errno}),
      advice,
    })
  }
  if (e.code === Status.UNAVAILABLE) {
    // (containerd's: unix:///run/containerd/containerd.sock)
    const advice = 'is containerd or CRI-O running? Set CONTAINER_RUNTIME_ENDPOINT to its socket, or mount it here'
    return new NslocateError('RUNTIME', `cannot reach ${at} (${errno ?? detail}) while trying to ${what}: ${advice}`, {
      ...details('unreachable', {errno}),
      advice,
    })
  }
  if (e.code === Status.UNIMPLEMENTED) {
    // Its CRI plugin is disabled (Docker's own containerd disables it), or it is no CRI socket.
    const advice = "point CONTAINER_RUNTIME_ENDPOINT at the kubelet's runtime socket (not Docker's containerd)"
    return new NslocateError('RUNTIME', `${at} does not serve the CRI v1 RuntimeService (${detail}): ${advice}`, {
      ...details('unimplemented', {unsupported: true}),
      advice,
    })
  }
  if (e.code === Status.INTERNAL && /pars|decod|deserial/i.test(detail)) {
    const advice = 'is it a CRI socket?'
    return new NslocateError('RUNTIME', `${at} answered something that is not a CRI message (${detail}): ${advice}`, {
      ...details('invalid', {unsupported: true}),
      advice,
    })
  }
  return new NslocateError('RUNTIME', `${at} failed to ${what}: ${detail}`, details('failed'))
}

/** A lying or garbage answer. */
function invalid(ctx: Ctx, what: string): NslocateError {
  // An answer nslocate cannot trust: nothing was signalled. The runtime is named in the advice (its socket) and the details.
  const advice = `check which runtime CONTAINER_RUNTIME_ENDPOINT (${ctx.socketPath}) points at`
  return new NslocateError('RUNTIME', `bad CRI answer: ${what.length > 300 ? `${what.slice(0, 300)}...` : what}; ${advice}`, {
    details: {socket: ctx.socketPath, where: ctx.where, reason: 'invalid'},
    advice,
  })
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 120)}...` : s
}

function obj(ctx: Ctx, v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(ctx, `${what} is ${show(v)}, not an object`)
  return v as Record<string, unknown>
}

function str(ctx: Ctx, v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalid(ctx, `${what} is ${show(v)}, not a string`)
  return v
}

function arr(ctx: Ctx, v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(ctx, `${what} is ${show(v)}, not a list`)
  return v
}

function uint(ctx: Ctx, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(ctx, `${what} is ${show(v)}, not an integer >= 0`)
  return v
}

/** A proto int64 (decoded as a decimal string). */
function int64(ctx: Ctx, v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^-?[0-9]{1,20}$/.test(v)) throw invalid(ctx, `${what} is ${show(v)}, not an int64`)
  return BigInt(v)
}

/** A container or sandbox id: hex, as containerd and CRI-O make them (64 digits). */
function id(ctx: Ctx, v: unknown, what: string): string {
  const s = str(ctx, v, what)
  if (!/^[0-9a-f]{1,128}$/.test(s)) throw invalid(ctx, `${what} is ${show(s)}, not a hex id`)
  return s
}

function labelsOf(ctx: Ctx, v: unknown, what: string): Record<string, string> {
  const m = obj(ctx, v ?? {}, what)
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(m)) out[k] = str(ctx, val, `${what}[${JSON.stringify(k)}]`)
  return out
}

function sandboxOf(ctx: Ctx, v: unknown, what: string): Sandbox {
  const s = obj(ctx, v, what)
  const md = obj(ctx, s.metadata, `${what}.metadata`)
  const state = uint(ctx, s.state, `${what}.state`)
  return {
    id: id(ctx, s.id, `${what}.id`),
    namespace: str(ctx, md.namespace, `${what}.metadata.namespace`),
    name: str(ctx, md.name, `${what}.metadata.name`),
    uid: str(ctx, md.uid, `${what}.metadata.uid`),
    ready: state === SANDBOX_READY,
    createdAt: int64(ctx, s.created_at, `${what}.created_at`),
  }
}

function listedOf(ctx: Ctx, v: unknown, what: string): Listed {
  const c = obj(ctx, v, what)
  const md = obj(ctx, c.metadata, `${what}.metadata`)
  const image = c.image === null || c.image === undefined ? {} : obj(ctx, c.image, `${what}.image`)
  return {
    id: id(ctx, c.id, `${what}.id`),
    sandboxId: id(ctx, c.pod_sandbox_id, `${what}.pod_sandbox_id`),
    name: str(ctx, md.name, `${what}.metadata.name`),
    attempt: uint(ctx, md.attempt, `${what}.metadata.attempt`),
    running: uint(ctx, c.state, `${what}.state`) === CONTAINER_RUNNING,
    createdAt: int64(ctx, c.created_at, `${what}.created_at`),
    image: typeof image.image === 'string' ? image.image : '',
  }
}

async function listSandboxes(ctx: Ctx, s: Session, what: string): Promise<Sandbox[]> {
  const a = await s.call('ListPodSandbox', {}, what)
  return arr(ctx, a.items, 'ListPodSandbox items').map((x, i) => sandboxOf(ctx, x, `ListPodSandbox items[${i}]`))
}

async function listContainers(ctx: Ctx, s: Session, what: string, sandboxId?: string): Promise<Listed[]> {
  const a = await s.call('ListContainers', sandboxId ? {filter: {pod_sandbox_id: sandboxId}} : {}, what)
  const out = arr(ctx, a.containers, 'ListContainers containers').map((x, i) => listedOf(ctx, x, `ListContainers containers[${i}]`))
  // A runtime that ignores the filter would hand over another pod's container.
  if (sandboxId) return out.filter((c) => c.sandboxId === sandboxId)
  return out
}

const podName = (p: {namespace: string; name: string}) => (p.namespace ? `${p.namespace}/${p.name}` : p.name)

/** Newest first. */
const byCreated = <T extends {createdAt: bigint}>(a: T, b: T) => (a.createdAt === b.createdAt ? 0 : a.createdAt > b.createdAt ? -1 : 1)

/** Of one container name's attempts: the running one with the highest attempt, else the highest attempt (newest on a tie). */
function currentAttempt(attempts: Listed[]): Listed {
  return [...attempts].sort((a, b) => Number(b.running) - Number(a.running) || b.attempt - a.attempt || byCreated(a, b))[0]
}

async function inspect(ctx: Ctx, s: Session, sel: ContainerSelector): Promise<ContainerInfo> {
  if ('ref' in sel) return inspectRef(ctx, s, sel.ref)
  return inspectPod(ctx, s, sel.pod, sel.containerName)
}

async function inspectPod(ctx: Ctx, s: Session, pod: PodRef, containerName: string | undefined): Promise<ContainerInfo> {
  const label = podName(pod)
  if (!pod.name) throw new NslocateError('USAGE', (n) => `${n('pod')} needs a pod name (NAMESPACE/NAME); it was given ${JSON.stringify(label)}`)
  const what = `find pod ${label}`
  const all = await listSandboxes(ctx, s, what)
  const matches = all.filter((x) => x.namespace === pod.namespace && x.name === pod.name && (!pod.uid || x.uid === pod.uid))
  if (matches.length === 0) {
    const sameName = all.filter((x) => x.name === pod.name).map(podName)
    throw new NslocateError(
      'NOT_RUNNING',
      `no pod ${label} on the CRI runtime at ${ctx.where}${sameName.length ? ` (pods of that name: ${[...new Set(sameName)].join(', ')})` : ''}: ${CHECK_POD}`,
      {details: {pod: label}, advice: CHECK_POD},
    )
  }
  // The READY sandbox, newest first; a pod being recreated may also have NOTREADY ones.
  const sandbox = [...matches].sort((a, b) => Number(b.ready) - Number(a.ready) || byCreated(a, b))[0]
  const containers = await listContainers(ctx, s, `list the containers of pod ${label}`, sandbox.id)
  const names = [...new Set(containers.map((c) => c.name))].sort()
  let chosen: Listed
  if (containerName !== undefined) {
    const attempts = containers.filter((c) => c.name === containerName)
    if (attempts.length === 0) {
      throw new NslocateError(
        'NOT_RUNNING',
        `pod ${label} has no container named ${JSON.stringify(containerName)} (its containers: ${names.join(', ') || 'none'})${sandbox.ready ? '' : '; the pod is not ready'}`,
        {details: {pod: label}},
      )
    }
    chosen = currentAttempt(attempts)
  } else {
    if (names.length === 0)
      throw new NslocateError('NOT_RUNNING', `pod ${label} has no containers${sandbox.ready ? '' : ' (it is not ready)'}`, {details: {pod: label}})
    if (names.length > 1) {
      throw new NslocateError('USAGE', (n) => `pod ${label} has ${names.length} containers (${names.join(', ')}): ${nameOne(n)}`, {
        details: {pod: label, containers: names},
        advice: nameOne,
      })
    }
    chosen = currentAttempt(containers)
  }
  return status(ctx, s, chosen, sandbox)
}

async function inspectRef(ctx: Ctx, s: Session, ref: string): Promise<ContainerInfo> {
  if (ref.trim() === '') throw new NslocateError('USAGE', (n) => `${n('container')} needs a container id or name; it was given an empty value`)
  const containers = await listContainers(ctx, s, `find container ${ref}`)
  let chosen: Listed | undefined = containers.find((c) => c.id === ref)
  if (!chosen && /^[0-9a-f]+$/.test(ref)) {
    const prefixed = containers.filter((c) => c.id.startsWith(ref))
    if (prefixed.length > 1) {
      throw new NslocateError(
        'USAGE',
        `container id prefix ${ref} is ambiguous on the CRI runtime at ${ctx.where}: ${prefixed.map((c) => c.id.slice(0, 13)).join(', ')}; give more digits`,
        {advice: 'give more digits'},
      )
    }
    chosen = prefixed[0]
  }
  if (!chosen) {
    // A name: one pod's container of that name (its current attempt).
    const named = containers.filter((c) => c.name === ref)
    const pods = [...new Set(named.map((c) => c.sandboxId))]
    if (pods.length > 1) {
      const sandboxes = new Map((await listSandboxes(ctx, s, `find the pods of container ${ref}`)).map((x) => [x.id, x]))
      const where = pods.map((p) => (sandboxes.has(p) ? podName(sandboxes.get(p)!) : `sandbox ${p.slice(0, 13)}`))
      throw new NslocateError('USAGE', (n) => `container name ${JSON.stringify(ref)} is in ${pods.length} pods (${where.join(', ')}): ${podOrId(n)}`, {
        details: {containers: named.map((c) => c.id)},
        advice: podOrId,
      })
    }
    if (named.length) chosen = currentAttempt(named)
  }
  if (!chosen)
    throw new NslocateError('NOT_RUNNING', `no container ${ref} on the CRI runtime at ${ctx.where} (by id, id prefix or name)`, {details: {container: ref}})
  const sandbox = await sandboxStatus(ctx, s, chosen.sandboxId)
  return status(ctx, s, chosen, sandbox)
}

async function sandboxStatus(ctx: Ctx, s: Session, sandboxId: string): Promise<Sandbox | null> {
  try {
    const a = await s.call('PodSandboxStatus', {pod_sandbox_id: sandboxId}, `read the status of pod sandbox ${sandboxId.slice(0, 13)}`)
    const sb = sandboxOf(ctx, a.status, 'PodSandboxStatus status')
    if (sb.id !== sandboxId) throw invalid(ctx, `PodSandboxStatus for ${sandboxId} answered sandbox ${sb.id}`)
    return sb
  } catch (error) {
    // Removed meanwhile: the container is reported without its pod rather than not at all.
    if ((error as NslocateError).details?.grpcCode === Status.NOT_FOUND) return null
    throw error
  }
}

/** ContainerStatus (verbose) of a listed container, checked against the listing, as a ContainerInfo. */
async function status(ctx: Ctx, s: Session, c: Listed, sandbox: Sandbox | null): Promise<ContainerInfo> {
  let a: Record<string, unknown>
  try {
    a = await s.call('ContainerStatus', {container_id: c.id, verbose: true}, `read the status of container ${c.name} (${c.id.slice(0, 13)})`)
  } catch (error) {
    if ((error as NslocateError).details?.grpcCode === Status.NOT_FOUND) {
      throw new NslocateError('NOT_RUNNING', `container ${c.name} (${c.id.slice(0, 13)}) was removed meanwhile`, {details: {container: c.id}})
    }
    throw error
  }
  const st = obj(ctx, a.status, 'ContainerStatus status')
  const statusId = id(ctx, st.id, 'ContainerStatus status.id')
  if (statusId !== c.id) throw invalid(ctx, `ContainerStatus for ${c.id} answered container ${statusId}`)
  const md = obj(ctx, st.metadata, 'ContainerStatus status.metadata')
  const name = str(ctx, md.name, 'ContainerStatus status.metadata.name')
  if (name !== c.name)
    throw invalid(ctx, `container ${c.id} is named ${JSON.stringify(c.name)} by ListContainers but ${JSON.stringify(name)} by ContainerStatus`)
  const running = uint(ctx, st.state, 'ContainerStatus status.state') === CONTAINER_RUNNING
  const image = st.image === null || st.image === undefined ? {} : obj(ctx, st.image, 'ContainerStatus status.image')
  const labels = labelsOf(ctx, st.labels, 'ContainerStatus status.labels')
  const info = labelsOf(ctx, a.info, 'ContainerStatus info')
  let hostPid = 0
  let pidMode = ''
  if (info.info === undefined) {
    if (running) {
      throw new NslocateError(
        'RUNTIME',
        // (containerd and CRI-O give it)
        `the CRI runtime at ${ctx.where} gives no info["info"].pid for container ${c.name} (${c.id.slice(0, 13)}); use the daemonless route (containerd's state directory) instead`,
        {details: {socket: ctx.socketPath, reason: 'invalid', container: c.id}, advice: "use the daemonless route (containerd's state directory) instead"},
      )
    }
  } else {
    let parsed: unknown
    try {
      parsed = JSON.parse(info.info)
    } catch {
      throw invalid(ctx, `ContainerStatus info["info"] of ${c.id.slice(0, 13)} is not JSON: ${show(info.info)}`)
    }
    const j = obj(ctx, parsed, `ContainerStatus info["info"] of ${c.id.slice(0, 13)}`)
    if (j.sandboxID !== undefined && id(ctx, j.sandboxID, 'info sandboxID') !== c.sandboxId) {
      throw invalid(
        ctx,
        `container ${c.id.slice(0, 13)} is in sandbox ${c.sandboxId.slice(0, 13)} by ListContainers but ${String(j.sandboxID).slice(0, 13)} by its info`,
      )
    }
    if (running) {
      if (typeof j.pid !== 'number' || !Number.isSafeInteger(j.pid) || j.pid <= 0) {
        throw invalid(ctx, `running container ${c.name} (${c.id.slice(0, 13)}) has info pid ${show(j.pid)}, not a positive integer`)
      }
      hostPid = j.pid
    }
    pidMode = pidModeOf(ctx, j, c)
  }
  return {
    id: c.id,
    name,
    runtime: 'cri',
    image: typeof image.image === 'string' && image.image ? image.image : c.image,
    running,
    hostPid,
    pidMode,
    labels,
    ...(sandbox ? {pod: {namespace: sandbox.namespace, name: sandbox.name, uid: sandbox.uid, id: sandbox.id}} : {}),
  }
}

/**
 * The PID namespace mode from the verbose info: the CRI config's namespace_options (containerd),
 * else the OCI spec's namespaces (CRI-O), '' when neither says. When both say, they must agree on
 * whether it is the host's.
 */
function pidModeOf(ctx: Ctx, j: Record<string, unknown>, c: Listed): string {
  const at = `${c.id.slice(0, 13)}'s info`
  let fromConfig: string | null = null
  if (j.config !== undefined && j.config !== null) {
    const linux = obj(ctx, j.config, `${at} config`).linux
    const sc = linux === undefined || linux === null ? undefined : obj(ctx, linux, `${at} config.linux`).security_context
    const no = sc === undefined || sc === null ? undefined : obj(ctx, sc, `${at} config.linux.security_context`).namespace_options
    const opts = no === undefined || no === null ? {} : obj(ctx, no, `${at} config.linux.security_context.namespace_options`)
    // Go's JSON leaves out zero values: no pid is POD (0).
    const mode = opts.pid === undefined ? 0 : uint(ctx, opts.pid, `${at} namespace_options.pid`)
    if (!(mode in NAMESPACE_MODES)) throw invalid(ctx, `${at} namespace_options.pid is ${mode}, not a CRI NamespaceMode`)
    fromConfig = NAMESPACE_MODES[mode]
    if (fromConfig === 'container') fromConfig = `container:${id(ctx, opts.target_id, `${at} namespace_options.target_id`)}`
  }
  let fromSpec: string | null = null
  const spec = j.runtimeSpec
  if (spec !== undefined && spec !== null) {
    const linux = obj(ctx, spec, `${at} runtimeSpec`).linux
    if (linux !== undefined && linux !== null) {
      const nss = arr(ctx, obj(ctx, linux, `${at} runtimeSpec.linux`).namespaces ?? [], `${at} runtimeSpec.linux.namespaces`)
      const pidNs = nss.map((n, i) => obj(ctx, n, `${at} runtimeSpec.linux.namespaces[${i}]`)).find((n) => n.type === 'pid')
      fromSpec = !pidNs ? 'host' : typeof pidNs.path === 'string' && pidNs.path !== '' ? 'joined' : 'private'
    }
  }
  // A namespace joined by path may be anyone's (containerd joins a hostPID container to its sandbox's,
  // which is the host's), but none at all is the host's, and a new one is not.
  if (fromConfig !== null && fromSpec !== null && (fromConfig === 'host' ? fromSpec === 'private' : fromSpec === 'host')) {
    throw invalid(ctx, `${at}: CRI config: PID namespace ${fromConfig}; OCI spec: ${fromSpec === 'host' ? "the host's" : 'a new one'}`)
  }
  return fromConfig ?? (fromSpec === 'joined' ? 'pod' : fromSpec) ?? ''
}

async function list(ctx: Ctx, s: Session): Promise<ContainerInfo[]> {
  const sandboxes = new Map((await listSandboxes(ctx, s, 'list pods')).map((x) => [x.id, x]))
  const containers = await listContainers(ctx, s, 'list containers')
  const out: ContainerInfo[] = []
  for (const c of containers) {
    try {
      out.push(await status(ctx, s, c, sandboxes.get(c.sandboxId) ?? null))
    } catch (error) {
      // Removed between the list and its status: not listed.
      if ((error as NslocateError).code === 'NOT_RUNNING') continue
      throw error
    }
  }
  return out
}
