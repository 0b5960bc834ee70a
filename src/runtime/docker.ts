/**
 * All Docker Engine API access, through dockerode, loaded lazily (it costs ~100 ms to require) and
 * only when a command needs more than `inspect` (`containers`, the helper container); `inspect` is
 * one GET with node:http where DOCKER_HOST allows it (leanGet). Nothing outside src/docker/
 * imports dockerode, and no dockerode type leaves this file. Where the engine is: endpoint.ts.
 */
import {NslocateError} from '../errors'
import {DOCKER_WORDS, EngineWords, dockerError} from './docker-error'
import {EngineEndpoint, engineEndpoint} from './endpoint'
import {DockerLimits, Endpoint, dockerLimits, guardedAgent, leanGet} from './http'
import {checkSocket} from './socket-trust'
import {FULL_ID, answersRef} from './asked'
import {statusWord} from './status'
import type {ContainerInfo, ContainerRuntime, HelperOptions, HelperRun} from './types'

export {dockerError, engineEndpoint}
export type {EngineEndpoint, HelperOptions, HelperRun}

/** The Docker Engine API as a ContainerRuntime: inspect, list and the helper container. */
export type DockerApi = ContainerRuntime & Required<Pick<ContainerRuntime, 'runToCompletion'>>

type DockerodeClient = import('dockerode')
/** Every option docker-modem's own reading of DOCKER_HOST (tcp://, ssh://, TLS) may set, unset: a unix socket, plain HTTP. */
const UNIX_ONLY = {
  host: undefined,
  port: undefined,
  protocol: 'http',
  pathPrefix: undefined,
  username: undefined,
  ca: undefined,
  cert: undefined,
  key: undefined,
  timeout: undefined,
} as const
type Dockerode = (deadlineMs?: number) => Promise<DockerodeClient>
type RawContainer = {
  Id: string
  Name?: string
  Names?: string[]
  Config?: {Image?: string; Labels?: Record<string, string> | null}
  Image?: string
  Labels?: Record<string, string> | null
  State?: {Running?: boolean; Pid?: number; Status?: string} | string
  HostConfig?: {PidMode?: string}
}

/** What the methods of one DockerApi share. */
interface Engine {
  where: string
  limits: DockerLimits
  lean: Endpoint | null
  dockerode: Dockerode
  /** the engine's name, error code and hints in messages (Podman's, for its Docker-compatible API) */
  words: EngineWords
}

/** A DockerApi for the engine `env` names (DOCKER_HOST, ...), its socket checked first; throws USAGE on a bad NSLOCATE_DOCKER_* value. */
export async function dockerApi(env: NodeJS.ProcessEnv = process.env): Promise<DockerApi> {
  const {socket} = engineEndpoint(env)
  return dockerRuntime(env, socket ? checkSocket(socket.path, socket.source, env).path : null)
}

/**
 * The Docker engine `env` names (endpoint.ts), reached through `pinned`, the socket the caller
 * checked and pinned (socket-trust.ts: /proc/self/fd/N), or null for an engine with no socket
 * file (tcp://, ssh://); throws USAGE on a bad NSLOCATE_DOCKER_* value. `where` names the engine
 * in messages (default: DOCKER_HOST's value, or the socket's path).
 */
export async function dockerRuntime(env: NodeJS.ProcessEnv, pinned: string | null, where?: string, words: EngineWords = DOCKER_WORDS): Promise<DockerApi> {
  const endpoint = engineEndpoint(env)
  where ??= endpoint.where
  const lean: Endpoint | null = pinned === null ? endpoint.lean : endpoint.lean && 'socketPath' in endpoint.lean ? {socketPath: pinned} : null
  const limits = dockerLimits(env)
  // The very socket that was checked is the one used: dockerode is given it, and never looks again.
  const e: Engine = {where, limits, lean, words, dockerode: dockerodeClients(env, pinned, limits)}
  if (!lean) await e.dockerode() // a DOCKER_HOST only dockerode understands: parse it now, as before
  return {
    kind: 'docker',
    where,
    inspect: (sel) => {
      if (!('ref' in sel)) throw new NslocateError('USAGE', (n) => `${n('pod')} names a Kubernetes pod (CRI) or a Podman pod; Docker has no pods`)
      return inspect(e, sel.ref)
    },
    list: () => list(e),
    runToCompletion: (opts) => runToCompletion(e, opts),
  }
}

/**
 * dockerode clients, loaded lazily: keeps dockerode off the start-up path of every command that does
 * not need more than inspect. One client per deadline: the helper's `wait` may take as long as the helper runs.
 */
function dockerodeClients(env: NodeJS.ProcessEnv, socketPath: string | null, limits: DockerLimits): Dockerode {
  const clients = new Map<number, Promise<DockerodeClient>>()
  const make = async (deadlineMs: number): Promise<DockerodeClient> => {
    const Docker = (await import('dockerode')).default
    let client: DockerodeClient
    try {
      // docker-modem merges its own reading of process.env (DOCKER_HOST=tcp://, DOCKER_CERT_PATH, ...)
      // under these options: every field that reading sets is overridden, so the pinned socket is
      // what it connects to, whatever this process's own environment says (checked below).
      client = new Docker(socketPath !== null ? {...UNIX_ONLY, socketPath} : undefined)
    } catch (error) {
      throw new NslocateError('USAGE', `DOCKER_HOST=${env.DOCKER_HOST} is not understood: use unix:///path/to/docker.sock or tcp://HOST:PORT`, {cause: error})
    }
    if (socketPath !== null && ((client.modem as {socketPath?: string}).socketPath !== socketPath || (client.modem as {host?: string}).host)) {
      const advice = "unset DOCKER_HOST's tcp:// or ssh:// value in this process's environment"
      throw new NslocateError('DOCKER', `dockerode would not connect to the checked socket ${socketPath}: ${advice}`, {advice})
    }
    const modem = client.modem as {protocol?: string; agent?: unknown}
    // ssh:// brings its own agent (docker-modem replaces any other): the limits do not apply there (NOTES).
    if (modem.protocol !== 'ssh') modem.agent = guardedAgent(modem.protocol === 'https' ? 'https' : 'http', {...limits, deadlineMs})
    return client
  }
  return (deadlineMs = limits.deadlineMs) => {
    let c = clients.get(deadlineMs)
    if (!c) clients.set(deadlineMs, (c = make(deadlineMs)))
    return c
  }
}

/**
 * The ContainerInfo of `c`, the engine's answer to inspect `ref`. It must be about that container
 * (asked.ts: its name, or its id or a prefix of it, the id 64 hex digits): an answer about another
 * container, from a confused or lying engine, settles nothing (DOCKER/RUNTIME, exit 4).
 */
function summarize(c: RawContainer, ref: string, where: string, words: EngineWords): ContainerInfo {
  if (!c || typeof c !== 'object' || typeof c.Id !== 'string' || c.State === undefined) {
    throw new NslocateError(words.code, `${words.at(where)} answered without a container's Id and State: ${JSON.stringify(c).slice(0, 200)}`)
  }
  const named: unknown = c.Name ?? c.Names?.[0] ?? ''
  const name = typeof named === 'string' ? named.replace(/^\//, '') : ''
  if (!FULL_ID.test(c.Id)) {
    throw new NslocateError(
      words.code,
      `${words.at(where)} answered inspect container ${ref} with Id ${JSON.stringify(c.Id).slice(0, 80)}, not 64 hex digits: not used`,
    )
  }
  if (!answersRef(ref, c.Id, name)) {
    const other = `${JSON.stringify(typeof named === 'string' ? name : named).slice(0, 80)} ${c.Id.slice(0, 12)}`
    throw new NslocateError(words.code, `${words.at(where)} answered inspect container ${ref} for another container (${other}): not used`)
  }
  const pid = typeof c.State === 'object' ? (c.State.Pid ?? 0) : 0
  if (!Number.isSafeInteger(pid) || pid < 0) {
    throw new NslocateError(words.code, `${words.at(where)} answered container ${c.Id.slice(0, 12)}'s State.Pid with ${JSON.stringify(pid)}, not a pid`)
  }
  const labels = c.Config?.Labels ?? c.Labels ?? {}
  return {
    id: c.Id,
    name,
    runtime: 'docker',
    image: c.Config?.Image ?? c.Image ?? '',
    // A paused container is Running (its processes are there, frozen); a restarting one is Running with Pid 0.
    running: typeof c.State === 'object' ? Boolean(c.State.Running) : c.State === 'running' || c.State === 'paused',
    // Only the engines' own words (status.ts): an engine's text is never echoed into a message.
    status: statusWord(typeof c.State === 'object' ? c.State.Status : c.State),
    hostPid: pid,
    pidMode: typeof c.HostConfig?.PidMode === 'string' ? c.HostConfig.PidMode : '',
    labels: labels && typeof labels === 'object' ? labels : {},
  }
}

async function inspect(e: Engine, ref: string): Promise<ContainerInfo> {
  try {
    const body = e.lean
      ? await leanGet(e.lean, `/containers/${encodeURIComponent(ref)}/json`, e.limits)
      : await (await e.dockerode()).getContainer(ref).inspect()
    return summarize(body as RawContainer, ref, e.where, e.words)
  } catch (error) {
    if (error instanceof NslocateError) throw error
    throw dockerError(error, `inspect container ${ref}`, e.where, e.limits, e.words)
  }
}

async function list(e: Engine): Promise<ContainerInfo[]> {
  // Through the same lean GET as inspect where DOCKER_HOST allows it: its deadline, its size cap,
  // and an answer cut short is an error (dockerode's list never settled on one).
  const client = e.lean ? null : await e.dockerode()
  try {
    const rows = (e.lean ? await leanGet(e.lean, '/containers/json', e.limits) : await client!.listContainers()) as unknown
    if (!Array.isArray(rows) || rows.some((r) => typeof r?.Id !== 'string')) {
      throw new NslocateError(
        e.words.code,
        `${e.words.at(e.where)} answered the container list with no list of containers: ${JSON.stringify(rows)?.slice(0, 200)}`,
      )
    }
    const out: ContainerInfo[] = []
    for (const r of rows as {Id: string}[]) {
      try {
        out.push(await inspect(e, r.Id))
      } catch (error) {
        // Gone between list and inspect: not running any more, so not listed.
        if (error instanceof NslocateError && error.code === 'NOT_RUNNING') continue
        throw error
      }
    }
    return out
  } catch (error) {
    if (error instanceof NslocateError) throw error
    throw dockerError(error, 'list containers', e.where, e.limits, e.words)
  }
}

async function runToCompletion(e: Engine, opts: HelperOptions): Promise<HelperRun> {
  const client = await e.dockerode()
  let container: Awaited<ReturnType<typeof client.createContainer>> | undefined
  try {
    container = await client.createContainer({
      Image: opts.image,
      Cmd: opts.cmd,
      Labels: {'nslocate.helper': '1', ...opts.labels},
      NetworkDisabled: true,
      HostConfig: {PidMode: opts.pidMode, CapAdd: opts.capAdd ?? [], NetworkMode: 'none', AutoRemove: false},
    })
    await container.start()
    // The wait lasts as long as the helper runs: its own client, with the helper's timeout added to the deadline.
    const waiting = (await e.dockerode(Math.min(opts.timeoutMs + e.limits.deadlineMs, 2_147_483_647))).getContainer(container.id)
    const waited = await Promise.race([
      waiting.wait() as Promise<{StatusCode: number}>,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), opts.timeoutMs).unref()),
    ])
    if (waited === null) throw new NslocateError('TIMEOUT', `the helper container ${container.id.slice(0, 12)} did not finish within ${opts.timeoutMs} ms`)
    const logs = (await container.logs({stdout: true, stderr: true, follow: false})) as unknown as Buffer
    const {stdout, stderr} = demux(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs)))
    return {exitCode: waited.StatusCode, stdout, stderr}
  } catch (error) {
    if (error instanceof NslocateError) throw error
    if (!container && (error as {statusCode?: number}).statusCode === 404) {
      // Not "no such container": creating one answers 404 when the image does not exist.
      const x = error as {json?: {message?: string}; message?: string}
      const advice = 'build or load the nslocate image there, or set NSLOCATE_HELPER_IMAGE to it'
      throw new NslocateError(e.words.code, `cannot create the helper container: ${x.json?.message ?? x.message} (image ${opts.image}); ${advice}`, {
        cause: error,
        advice,
      })
    }
    throw dockerError(error, `run the helper (image ${opts.image})`, e.where, e.limits, e.words)
  } finally {
    if (container) await container.remove({force: true}).catch(() => undefined)
  }
}

/**
 * Docker's multiplexed log stream (no TTY): frames of [stream(1) 0 0 0 size(4, big-endian)] + payload,
 * stream 1 = stdout, 2 = stderr.
 */
export function demux(buf: Buffer): {stdout: string; stderr: string} {
  const out: Buffer[] = []
  const err: Buffer[] = []
  let i = 0
  while (i + 8 <= buf.length) {
    const stream = buf[i]
    const size = buf.readUInt32BE(i + 4)
    if (stream > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) return {stdout: buf.toString('utf8'), stderr: ''}
    const payload = buf.subarray(i + 8, i + 8 + size)
    ;(stream === 2 ? err : out).push(payload)
    i += 8 + size
  }
  return {stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')}
}
