/**
 * Podman, through its libpod REST API on a unix socket (`podman system service`): rootful
 * (/run/podman/podman.sock), rootless ($XDG_RUNTIME_DIR/podman/podman.sock) and pods. Modelled on
 * Inspektor Gadget's `pkg/container-utils/podman` (GET /v4.0.0/libpod/containers/{id}/json,
 * State.Pid). Every request is one bounded GET (leanGet, dockerLimits); only the helper container
 * goes through Podman's Docker-compatible API, with the Docker backend's dockerode code.
 *
 * The socket given here was chosen and checked by the selection layer (select.ts, socket-trust.ts);
 * this backend never looks for one. Podman's answers are checked field by field: an answer of the
 * wrong shape is a RUNTIME error, never a pid taken on trust.
 *
 * What Podman 4.3.1 reports, and what nslocate makes of it:
 *   State.Pid       the container's init in the service's PID namespace (the host's, for rootless
 *                   Podman too: its user namespace shares the host's PID namespace)
 *   HostConfig.PidMode  'private', 'host', 'container:<id>', 'ns:<path>'. A container of a pod created
 *                   with `--share +pid` (or `--share pid,...`) reports 'container:<the pod's infra id>';
 *                   nslocate reports that as 'pod' (the pod's SharedNamespaces holds "pid"), whose init
 *                   is not pid 1 (catatonit in the infra container is).
 *   Pod             the pod's id ('' when none): GET /v4.0.0/libpod/pods/{id}/json gives its Name,
 *                   InfraContainerID, SharedNamespaces and Containers.
 */
import {NslocateError, OptionNamer} from '../errors'
import type {ContainerInfo, ContainerRuntime, ContainerSelector, HelperOptions, HelperRun, PodRef} from './types'
import {EngineWords, dockerError} from './docker-error'
import {DockerLimits, dockerLimits, leanGet} from './http'
import {FULL_ID, answersRef} from './asked'
import {statusWord} from './status'

/** The libpod API version nslocate asks for: 4.0.0 is served by every Podman 4 and 5. */
const API = '/v4.0.0/libpod'
/** The largest pid Linux hands out (PID_MAX_LIMIT on 64-bit). */
const PID_MAX = 4_194_304

/** Where the Podman service is: its socket (already checked), its address for messages, the environment (limits, the helper). */
export interface PodmanOptions {
  socketPath: string
  /** the service's address as messages name it, e.g. unix:///run/podman/podman.sock */
  where: string
  env?: NodeJS.ProcessEnv
}

/** A ContainerRuntime over Podman's libpod API at `socketPath`; throws USAGE on a bad NSLOCATE_DOCKER_* value. */
export function podmanRuntime(o: PodmanOptions): ContainerRuntime {
  const env = o.env ?? process.env
  const p: Podman = {socketPath: o.socketPath, where: o.where, limits: dockerLimits(env), env}
  return {
    kind: 'podman',
    where: o.where,
    inspect: (sel) => inspect(p, sel),
    list: () => list(p),
    runToCompletion: (opts) => runToCompletion(p, opts),
  }
}

interface Podman {
  socketPath: string
  where: string
  limits: DockerLimits
  env: NodeJS.ProcessEnv
}

type Failure = {statusCode?: number}

/** Podman's words in the shared engine messages (docker-error.ts): RUNTIME, its socket, its service. */
function podmanWords(socketPath: string): EngineWords {
  return {
    code: 'RUNTIME',
    name: 'Podman',
    at: (where) => `Podman at ${where}`,
    // (rootless Podman: systemctl --user)
    unreachable: 'start `podman system service` (systemctl enable --now podman.socket), or set CONTAINER_HOST',
    permission: (_where, what) => `permission denied on the Podman socket ${socketPath} while trying to ${what}`,
    permissionAdvice: "run nslocate as the socket's owner (rootless Podman) or as root",
    truncated: 'is the service restarting?',
    showStatus: true,
  }
}

/** GET `path` from the service; a 404 resolves to null (the caller says what does not exist). */
async function get(p: Podman, path: string, what: string): Promise<unknown> {
  try {
    return await leanGet({socketPath: p.socketPath}, `${API}${path}`, p.limits)
  } catch (error) {
    if ((error as Failure)?.statusCode === 404) return null
    throw dockerError(error, what, p.where, p.limits, podmanWords(p.socketPath))
  }
}

/** A RUNTIME error for an answer of the wrong shape, naming the field and showing an excerpt. */
function garbage(p: Podman, what: string, field: string, answer: unknown): NslocateError {
  let excerpt: string
  try {
    excerpt = JSON.stringify(answer) ?? String(answer)
  } catch {
    excerpt = String(answer)
  }
  if (excerpt.length > 200) excerpt = `${excerpt.slice(0, 200)}...`
  // (nothing was signalled)
  const advice = 'is CONTAINER_HOST a Podman service?'
  return new NslocateError('RUNTIME', `Podman at ${p.where} answered ${what} with an invalid ${field}: ${excerpt}; ${advice}`, {advice})
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A checked reader of one answer: each accessor throws RUNTIME naming the field when its type is wrong. */
function fields(p: Podman, what: string, answer: unknown) {
  if (!isObject(answer)) throw garbage(p, what, 'answer (no JSON object)', answer)
  const at = (dotted: string): unknown => {
    let v: unknown = answer
    for (const k of dotted.split('.')) v = isObject(v) ? v[k] : undefined
    return v
  }
  const check = <T>(dotted: string, ok: (v: unknown) => boolean, fallback?: T): T => {
    const v = at(dotted)
    if (v === undefined && fallback !== undefined) return fallback
    if (!ok(v)) throw garbage(p, what, dotted, v)
    return v as T
  }
  return {
    /** a string (fallback when absent, if given) */
    str: (k: string, fallback?: string) => check<string>(k, (v) => typeof v === 'string', fallback),
    bool: (k: string, fallback?: boolean) => check<boolean>(k, (v) => typeof v === 'boolean', fallback),
    /** a full 64-hex id */
    id: (k: string) => check<string>(k, (v) => typeof v === 'string' && FULL_ID.test(v)),
    /** a pid or 0: a safe integer in [0, PID_MAX] */
    pid: (k: string) => check<number>(k, (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= PID_MAX),
    /** string -> string (null or absent: {}) */
    labels: (k: string): Record<string, string> => {
      const v = at(k)
      if (v === undefined || v === null) return {}
      if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw garbage(p, what, k, v)
      return {...(v as Record<string, string>)}
    },
    /** an array of strings (null or absent: []) */
    strings: (k: string): string[] => {
      const v = at(k)
      if (v === undefined || v === null) return []
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw garbage(p, what, k, v)
      return v as string[]
    },
    raw: at,
  }
}

/** What nslocate uses of a pod, as GET /libpod/pods/{id}/json reports it. */
interface PodInfo {
  id: string
  name: string
  /** '' when the pod has no infra container (--infra=false): its containers share nothing through it */
  infraId: string
  sharesPid: boolean
  containers: Array<{id: string; name: string}>
}

async function inspectPod(p: Podman, ref: string, what: string): Promise<PodInfo | null> {
  const answer = await get(p, `/pods/${encodeURIComponent(ref)}/json`, what)
  if (answer === null) return null
  const f = fields(p, what, answer)
  const id = f.id('Id')
  const name = f.str('Name')
  if (name === '') throw garbage(p, what, 'Name', name)
  const infraId = f.str('InfraContainerID', '')
  if (infraId !== '' && !FULL_ID.test(infraId)) throw garbage(p, what, 'InfraContainerID', infraId)
  const rows = f.raw('Containers')
  if (rows !== undefined && rows !== null && !Array.isArray(rows)) throw garbage(p, what, 'Containers', rows)
  const containers = ((rows ?? []) as unknown[]).map((r) => {
    const c = fields(p, what, r)
    return {id: c.id('Id'), name: c.str('Name')}
  })
  // The answer must be about the pod asked for (its name, or its id or a prefix of it).
  if (!answersRef(ref, id, name)) throw garbage(p, what, `pod (asked ${JSON.stringify(ref)}, answered ${name} ${id.slice(0, 12)})`, {Id: id, Name: name})
  return {id, name, infraId, sharesPid: f.strings('SharedNamespaces').includes('pid'), containers}
}

/**
 * One container: GET /libpod/containers/{ref}/json, checked, and its pod when it is in one. `pods`
 * caches pod answers within one list(). Resolves null on a 404 (no such container).
 */
async function inspectRef(p: Podman, ref: string, pods = new Map<string, Promise<PodInfo | null>>()): Promise<ContainerInfo | null> {
  const what = `inspect container ${ref}`
  const answer = await get(p, `/containers/${encodeURIComponent(ref)}/json`, what)
  if (answer === null) return null
  const f = fields(p, what, answer)
  const id = f.id('Id')
  const name = f.str('Name')
  // The answer must be about the container asked for: its name, or its id (or a prefix of it).
  if (!answersRef(ref, id, name)) throw garbage(p, what, `container (asked ${JSON.stringify(ref)}, answered ${name} ${id.slice(0, 12)})`, {Id: id, Name: name})
  const state = f.raw('State')
  if (!isObject(state)) throw garbage(p, what, 'State', state)
  const raw = f.str('State.Status', '')
  // Only Podman's own words (status.ts): anything else is "unknown status", never echoed.
  const status = statusWord(raw)
  // Podman says Running false for a paused container; its processes are there (frozen), as Docker
  // says with Running true and Paused true: one answer for both runtimes, running.
  const running = f.bool('State.Running') || status === 'paused'
  const pid = f.pid('State.Pid')
  if (running && pid === 0) throw garbage(p, what, 'State.Pid (0, and running)', state)
  if (running && status !== '' && status !== 'running' && status !== 'paused')
    throw garbage(p, what, `State (Running, but Status ${JSON.stringify(raw)})`, state)
  const image = f.str('ImageName', '')
  const labels = f.labels('Config.Labels')
  const hostConfig = f.raw('HostConfig')
  if (hostConfig !== undefined && !isObject(hostConfig)) throw garbage(p, what, 'HostConfig', hostConfig)
  let pidMode = f.str('HostConfig.PidMode', '')
  const podId = f.str('Pod', '')
  let pod: PodRef | undefined
  if (podId !== '') {
    if (!FULL_ID.test(podId)) throw garbage(p, what, 'Pod', podId)
    let cached = pods.get(podId)
    if (!cached) pods.set(podId, (cached = inspectPod(p, podId, `inspect pod ${podId.slice(0, 12)} of container ${ref}`)))
    const info = await cached
    // Removed with its pod between the two requests.
    if (!info) return null
    if (info.id !== podId) throw garbage(p, `inspect pod ${podId.slice(0, 12)}`, 'Id', info.id)
    pod = {namespace: '', name: info.name, id: info.id}
    // Podman says 'container:<infra id>' for a member of a pod that shares its PID namespace.
    if (info.sharesPid && info.infraId !== '' && pidMode === `container:${info.infraId}`) pidMode = 'pod'
  }
  return {id, name, runtime: 'podman', image, running, status, hostPid: running ? pid : 0, pidMode, labels, ...(pod ? {pod} : {})}
}

function notFound(p: Podman, ref: string): NslocateError {
  const advice = 'check the name with `podman ps -a` for that service, or name another runtime'
  return new NslocateError('NOT_RUNNING', `container ${ref} does not exist (Podman at ${p.where}): ${advice}`, {advice})
}

async function inspect(p: Podman, sel: ContainerSelector): Promise<ContainerInfo> {
  if ('ref' in sel) {
    const ref = sel.ref.replace(/^\//, '')
    if (ref.trim() === '') throw new NslocateError('USAGE', `a Podman container needs a name or id; it was given ${JSON.stringify(sel.ref)}`)
    const info = await inspectRef(p, ref)
    if (!info) throw notFound(p, ref)
    return info
  }
  return inspectInPod(p, sel.pod, sel.containerName)
}

/** The container of Podman pod `pod` named `containerName`, or its one container other than the infra container. */
async function inspectInPod(p: Podman, ref: PodRef, containerName?: string): Promise<ContainerInfo> {
  if (ref.namespace !== '') {
    throw new NslocateError('USAGE', `Podman pods have no namespace: name the pod alone (--pod ${ref.name} --runtime podman), not ${ref.namespace}/${ref.name}`)
  }
  if (ref.name.trim() === '' && !ref.id) throw new NslocateError('USAGE', 'a Podman pod needs a name or id; it was given an empty one')
  const podRef = ref.id ?? ref.name
  const pod = await inspectPod(p, podRef, `inspect pod ${podRef}`)
  if (!pod) {
    const advice = 'check the name with `podman pod ps` for that service'
    throw new NslocateError('NOT_RUNNING', `pod ${podRef} does not exist (Podman at ${p.where}): ${advice}`, {advice})
  }
  if (ref.id && pod.id !== ref.id) throw garbage(p, `inspect pod ${podRef}`, `pod (asked for id ${ref.id})`, pod.id)
  const members = pod.containers.filter((c) => c.id !== pod.infraId)
  const names = members.map((c) => c.name).sort()
  const list = names.length ? names.join(', ') : 'none'
  let chosen: {id: string; name: string} | undefined
  if (containerName !== undefined) {
    chosen = members.find((c) => c.name === containerName) ?? members.find((c) => c.id === containerName)
    if (!chosen) {
      throw new NslocateError('NOT_RUNNING', `pod ${pod.name} (Podman at ${p.where}) has no container ${containerName}: its containers are ${list}`)
    }
  } else if (members.length !== 1) {
    const advice = (n: OptionNamer) => `name one with ${n('containerName')}`
    throw new NslocateError(
      'USAGE',
      (n) =>
        `pod ${pod.name} (Podman at ${p.where}) has ${members.length === 0 ? 'no container but its infra container' : `${members.length} containers (${list})`}: ${advice(n)}`,
      {advice},
    )
  } else chosen = members[0]
  const info = await inspectRef(p, chosen.id)
  if (!info) throw notFound(p, `${chosen.name} (${chosen.id.slice(0, 12)}) of pod ${pod.name}`)
  if (info.pod?.id !== pod.id) {
    throw garbage(p, `inspect container ${chosen.id.slice(0, 12)}`, `Pod (not ${pod.name}, which lists it)`, info.pod ?? null)
  }
  return info
}

async function list(p: Podman): Promise<ContainerInfo[]> {
  const what = 'list containers'
  const rows = await get(p, '/containers/json?all=true', what)
  if (!Array.isArray(rows)) throw garbage(p, what, 'answer (not a list)', rows)
  const ids = rows.map((r) => fields(p, what, r).id('Id'))
  const pods = new Map<string, Promise<PodInfo | null>>()
  const out: ContainerInfo[] = []
  for (const id of ids) {
    // Gone between the list and the inspection: not listed.
    const info = await inspectRef(p, id, pods)
    if (info) out.push(info)
  }
  return out
}

/**
 * The helper container, through Podman's Docker-compatible API on the same socket: the Docker
 * backend's code (create, start, wait, logs, remove), in Podman's words.
 */
async function runToCompletion(p: Podman, opts: HelperOptions): Promise<HelperRun> {
  const {dockerRuntime} = await import('./docker')
  // The socket was checked and pinned by the selection layer (select.ts): not again as a DOCKER_HOST.
  const api = await dockerRuntime({...p.env, DOCKER_HOST: `unix://${p.socketPath}`}, p.socketPath, p.where, podmanWords(p.socketPath))
  return api.runToCompletion(opts)
}
