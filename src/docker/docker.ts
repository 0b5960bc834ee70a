/**
 * All Docker Engine API access, through dockerode, loaded lazily (it costs ~100 ms to require) and
 * only when a command needs more than `inspect` (`containers`, the helper container); `inspect` is
 * one GET with node:http where DOCKER_HOST allows it (leanGet). Nothing outside src/docker/
 * imports dockerode, and no dockerode type leaves this file. DOCKER_HOST is honoured as docker(1)
 * does (unix:// or tcp://); the default is /var/run/docker.sock.
 */
import {NslocateError} from '../errors'
import {DEADLINE, DockerLimits, Endpoint, TOO_BIG, TRUNCATED, dockerLimits, formatBytes, formatMs, guardedAgent, leanGet} from './http'
import {SYSTEM_SOCKET, SocketSource, checkSocket, desktopSocket} from './socket-trust'

export interface ContainerSummary {
  id: string
  name: string
  image: string
  running: boolean
  /** State.Pid: the container's init, as a pid in the ENGINE's PID namespace (0 when not running) */
  pid: number
  /** HostConfig.PidMode ('' when the engine does not say: the container has a PID namespace of its own) */
  pidMode?: string
}

export interface HelperRun {
  exitCode: number
  stdout: string
  stderr: string
}

export interface DockerApi {
  readonly where: string
  inspect(ref: string): Promise<ContainerSummary>
  list(): Promise<ContainerSummary[]>
  /** Run a short-lived container to completion and remove it, whatever happens. */
  runToCompletion(opts: {image: string; cmd: string[]; pidMode: string; capAdd?: string[]; timeoutMs: number; labels?: Record<string, string>}): Promise<HelperRun>
}

/** The engine's address as messages name it: DOCKER_HOST, else the socket docker-modem picks. */
export function dockerWhere(env: NodeJS.ProcessEnv = process.env, desktop = env.DOCKER_HOST ? null : desktopSocket(env)): string {
  if (env.DOCKER_HOST) return env.DOCKER_HOST
  return desktop ? `unix://${desktop}` : `unix://${SYSTEM_SOCKET}`
}

/** The unix socket docker-modem would use, and why; null for tcp://, ssh:// and the like. */
export function dockerSocket(env: NodeJS.ProcessEnv = process.env, desktop = env.DOCKER_HOST ? null : desktopSocket(env)): {path: string; source: SocketSource} | null {
  const h = env.DOCKER_HOST
  if (h && h !== 'unix://') return h.startsWith('unix://') ? {path: h.slice('unix://'.length), source: 'DOCKER_HOST'} : null
  // Unset, or unix:// without a path, which docker-modem reads as unset.
  const d = h ? desktopSocket(env) : desktop
  return d ? {path: d, source: 'desktop'} : {path: SYSTEM_SOCKET, source: 'default'}
}

/** Translate a dockerode/HTTP/socket error into a NslocateError that says what to do. */
export function dockerError(error: unknown, what: string, where: string, limits: DockerLimits = {deadlineMs: NaN, maxBytes: NaN}): NslocateError {
  const e = error as {code?: string; statusCode?: number; json?: {message?: string}; message?: string; reason?: string}
  const detail = e?.json?.message ?? e?.message ?? String(error)
  if (e?.code === DEADLINE) {
    return new NslocateError('DOCKER', `the Docker engine at ${where} did not answer within ${formatMs(limits.deadlineMs)} while trying to ${what}: it is hung or overloaded; NSLOCATE_DOCKER_TIMEOUT sets the deadline of each request (default 10s)`, {cause: error, exitCode: 4})
  }
  if (e?.code === TOO_BIG) {
    return new NslocateError('DOCKER', `the Docker engine at ${where} sent more than ${formatBytes(limits.maxBytes)} while trying to ${what}; nslocate stopped reading: NSLOCATE_DOCKER_MAX_BYTES sets the cap of each answer (default 16M)`, {cause: error, exitCode: 4})
  }
  if (e?.code === TRUNCATED) {
    return new NslocateError('DOCKER', `the Docker engine at ${where} cut its answer short while trying to ${what} (${detail}): is dockerd restarting?`, {cause: error, exitCode: 4})
  }
  if (e?.code === 'ENOENT' || e?.code === 'ECONNREFUSED' || e?.code === 'ECONNRESET' || e?.code === 'EHOSTUNREACH' || e?.code === 'ETIMEDOUT') {
    return new NslocateError('DOCKER', `cannot reach the Docker engine at ${where} (${e.code}) while trying to ${what}: is dockerd running? Set DOCKER_HOST to its socket, or mount /var/run/docker.sock into this container`, {cause: error, exitCode: 4})
  }
  if (e?.code === 'EACCES' || e?.code === 'EPERM') {
    return new NslocateError('PERMISSION', `permission denied on the Docker socket ${where} while trying to ${what}: run as root or as a member of the docker group`, {cause: error, exitCode: 4})
  }
  if (e?.statusCode === 404) {
    return new NslocateError('NOT_RUNNING', `no such container while trying to ${what}: ${detail}`, {cause: error, exitCode: 3})
  }
  if (e?.statusCode === 400 && /version/i.test(detail)) {
    return new NslocateError('DOCKER', `the Docker engine at ${where} refused the API version while trying to ${what} (${detail}): the engine is too old; nslocate needs Docker API 1.24 or newer`, {cause: error, exitCode: 4})
  }
  if (e?.statusCode === 409) {
    return new NslocateError('NOT_RUNNING', `the container is not running (${detail}) while trying to ${what}`, {cause: error, exitCode: 3})
  }
  return new NslocateError('DOCKER', `the Docker engine at ${where} failed to ${what}: ${detail}`, {cause: error, exitCode: 4})
}

/**
 * Where a plain HTTP GET reaches the engine exactly as docker-modem (under dockerode) would: the
 * default socket (when there is no ~/.docker/run/docker.sock, which docker-modem prefers),
 * unix://PATH, or tcp://HOST:PORT that docker-modem would not switch to TLS (DOCKER_TLS_VERIFY=1 or
 * port 2376). null for anything else (TLS, ssh://, a path prefix, a client timeout, ...): dockerode.
 */
export function leanEndpoint(env: NodeJS.ProcessEnv = process.env, desktop = env.DOCKER_HOST ? null : desktopSocket(env)): Endpoint | null {
  if (env.DOCKER_PATH_PREFIX || env.DOCKER_CLIENT_TIMEOUT || env.DOCKER_CERT_PATH || env.DOCKER_TLS_VERIFY) return null
  const h = env.DOCKER_HOST
  if (!h) return desktop ? null : {socketPath: '/var/run/docker.sock'}
  if (h.startsWith('unix://') && h.length > 'unix://'.length) return {socketPath: h.slice('unix://'.length)}
  const m = /^tcp:\/\/([A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(h)
  if (!m) return null
  const port = Number(m[2])
  return port > 0 && port <= 65535 && port !== 2376 ? {host: m[1], port} : null
}

type DockerodeClient = import('dockerode')

export async function dockerApi(env: NodeJS.ProcessEnv = process.env): Promise<DockerApi> {
  const desktop = env.DOCKER_HOST ? null : desktopSocket(env)
  const where = dockerWhere(env, desktop)
  const limits = dockerLimits(env)
  // The very socket that was checked is the one used: dockerode is given it, and never looks again.
  const socket = dockerSocket(env, desktop)
  if (socket) checkSocket(socket.path, socket.source, env)
  const lean = leanEndpoint(env, desktop)
  // Lazy: keeps dockerode off the start-up path of every command that does not need more than inspect.
  // One client per deadline: the helper's `wait` may take as long as the helper runs.
  const clients = new Map<number, Promise<DockerodeClient>>()
  const dockerode = (deadlineMs = limits.deadlineMs): Promise<DockerodeClient> => {
    let c = clients.get(deadlineMs)
    if (!c) {
      c = (async () => {
        const Docker = (await import('dockerode')).default
        let client: DockerodeClient
        try {
          client = new Docker(socket ? {socketPath: socket.path} : undefined)
        } catch (error) {
          throw new NslocateError('USAGE', `DOCKER_HOST=${env.DOCKER_HOST} is not understood: use unix:///path/to/docker.sock or tcp://HOST:PORT`, {cause: error})
        }
        const modem = client.modem as {protocol?: string; agent?: unknown}
        // ssh:// brings its own agent (docker-modem replaces any other): the limits do not apply there (NOTES).
        if (modem.protocol !== 'ssh') modem.agent = guardedAgent(modem.protocol === 'https' ? 'https' : 'http', {...limits, deadlineMs})
        return client
      })()
      clients.set(deadlineMs, c)
    }
    return c
  }
  if (!lean) await dockerode() // a DOCKER_HOST only dockerode understands: parse it now, as before
  const summarize = (c: {Id: string; Name?: string; Names?: string[]; Config?: {Image?: string}; Image?: string; State?: {Running?: boolean; Pid?: number} | string; HostConfig?: {PidMode?: string}}): ContainerSummary => {
    if (!c || typeof c !== 'object' || typeof c.Id !== 'string' || c.State === undefined) {
      throw new NslocateError('DOCKER', `the Docker engine at ${where} answered without a container's Id and State: ${JSON.stringify(c).slice(0, 200)}`, {exitCode: 4})
    }
    return {
      id: c.Id,
      name: (c.Name ?? c.Names?.[0] ?? '').replace(/^\//, ''),
      image: c.Config?.Image ?? c.Image ?? '',
      running: typeof c.State === 'object' ? Boolean(c.State.Running) : c.State === 'running',
      pid: typeof c.State === 'object' ? c.State.Pid ?? 0 : 0,
      pidMode: typeof c.HostConfig?.PidMode === 'string' ? c.HostConfig.PidMode : '',
    }
  }
  return {
    where,
    async inspect(ref) {
      try {
        const body = lean ? await leanGet(lean, `/containers/${encodeURIComponent(ref)}/json`, limits) : await (await dockerode()).getContainer(ref).inspect()
        return summarize(body as Parameters<typeof summarize>[0])
      } catch (error) {
        if (error instanceof NslocateError) throw error
        throw dockerError(error, `inspect container ${ref}`, where, limits)
      }
    },
    async list() {
      const client = await dockerode()
      try {
        const rows = await client.listContainers() as unknown
        if (!Array.isArray(rows) || rows.some((r) => typeof r?.Id !== 'string')) {
          throw new NslocateError('DOCKER', `the Docker engine at ${where} answered the container list with something else than a list of containers: ${JSON.stringify(rows)?.slice(0, 200)}`, {exitCode: 4})
        }
        const out: ContainerSummary[] = []
        for (const r of rows as {Id: string}[]) {
          try {
            out.push(summarize(await client.getContainer(r.Id).inspect()))
          } catch (error) {
            // Gone between list and inspect: not running any more, so not listed.
            if ((error as {statusCode?: number}).statusCode !== 404) throw error
          }
        }
        return out
      } catch (error) {
        if (error instanceof NslocateError) throw error
        throw dockerError(error, 'list containers', where, limits)
      }
    },
    async runToCompletion(opts) {
      const client = await dockerode()
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
        const waiting = (await dockerode(Math.min(opts.timeoutMs + limits.deadlineMs, 2_147_483_647))).getContainer(container.id)
        const waited = await Promise.race([
          waiting.wait() as Promise<{StatusCode: number}>,
          new Promise<null>((resolve) => setTimeout(() => resolve(null), opts.timeoutMs).unref()),
        ])
        if (waited === null) throw new NslocateError('TIMEOUT', `the helper container ${container.id.slice(0, 12)} did not finish within ${opts.timeoutMs} ms`, {exitCode: 1})
        const logs = (await container.logs({stdout: true, stderr: true, follow: false})) as unknown as Buffer
        const {stdout, stderr} = demux(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs)))
        return {exitCode: waited.StatusCode, stdout, stderr}
      } catch (error) {
        if (error instanceof NslocateError) throw error
        if (!container && (error as {statusCode?: number}).statusCode === 404) {
          // Not "no such container": creating one answers 404 when the image does not exist.
          const e = error as {json?: {message?: string}; message?: string}
          throw new NslocateError('DOCKER', `cannot create the helper container: ${e.json?.message ?? e.message} (image ${opts.image}); build or load the nslocate image there, or set NSLOCATE_HELPER_IMAGE to it`, {cause: error, exitCode: 4})
        }
        throw dockerError(error, `run the helper container (image ${opts.image})`, where, limits)
      } finally {
        if (container) await container.remove({force: true}).catch(() => undefined)
      }
    },
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
