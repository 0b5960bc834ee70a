/**
 * All Docker Engine API access, through dockerode, loaded lazily (it costs ~100 ms to require) and
 * only when a command needs more than `inspect` (`containers`, the helper container); `inspect` is
 * one GET with node:http where DOCKER_HOST allows it (leanGet). Nothing outside src/docker/
 * imports dockerode, and no dockerode type leaves this file. DOCKER_HOST is honoured as docker(1)
 * does (unix:// or tcp://); the default is /var/run/docker.sock.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {NslocateError} from '../errors'

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

/** Docker Desktop's socket, which docker-modem prefers to /var/run/docker.sock when it exists. */
function desktopSocket(env: NodeJS.ProcessEnv): string | null {
  const p = path.join(env.HOME || os.homedir(), '.docker', 'run', 'docker.sock')
  return fs.existsSync(p) ? p : null
}

/** The engine's address as messages name it: DOCKER_HOST, else the socket docker-modem picks. */
export function dockerWhere(env: NodeJS.ProcessEnv = process.env, desktop = env.DOCKER_HOST ? null : desktopSocket(env)): string {
  if (env.DOCKER_HOST) return env.DOCKER_HOST
  return desktop ? `unix://${desktop}` : 'unix:///var/run/docker.sock'
}

/** Translate a dockerode/HTTP/socket error into a NslocateError that says what to do. */
export function dockerError(error: unknown, what: string, where: string): NslocateError {
  const e = error as {code?: string; statusCode?: number; json?: {message?: string}; message?: string; reason?: string}
  const detail = e?.json?.message ?? e?.message ?? String(error)
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
export function leanEndpoint(env: NodeJS.ProcessEnv = process.env, desktop = env.DOCKER_HOST ? null : desktopSocket(env)): {socketPath: string} | {host: string; port: number} | null {
  if (env.DOCKER_PATH_PREFIX || env.DOCKER_CLIENT_TIMEOUT || env.DOCKER_CERT_PATH || env.DOCKER_TLS_VERIFY) return null
  const h = env.DOCKER_HOST
  if (!h) return desktop ? null : {socketPath: '/var/run/docker.sock'}
  if (h.startsWith('unix://') && h.length > 'unix://'.length) return {socketPath: h.slice('unix://'.length)}
  const m = /^tcp:\/\/([A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(h)
  if (!m) return null
  const port = Number(m[2])
  return port > 0 && port <= 65535 && port !== 2376 ? {host: m[1], port} : null
}

/**
 * GET PATH from the engine with node:http and parse the JSON answer. Errors have the shape
 * dockerode's have (socket errors with `code`; HTTP errors with `statusCode` and `json`), so
 * dockerError() treats both alike. Used for `inspect`, the one call on the path of
 * `find/signal/wait --container`: requiring dockerode costs ~100 ms, node:http ~3 ms.
 */
async function leanGet(endpoint: NonNullable<ReturnType<typeof leanEndpoint>>, urlPath: string, timeoutMs = 30_000): Promise<unknown> {
  const http = await import('node:http')
  return new Promise((resolve, reject) => {
    const req = http.request({...endpoint, path: urlPath, method: 'GET', headers: {Accept: 'application/json'}, timeout: timeoutMs}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown = null
        try {
          json = JSON.parse(text)
        } catch {}
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300 && json !== null) return resolve(json)
        const message = (json as {message?: string} | null)?.message ?? (text.trim() || `HTTP ${status}`)
        reject(Object.assign(new Error(message), {statusCode: status, json: json ?? {message}}))
      })
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), {code: 'ETIMEDOUT'})))
    req.on('error', reject)
    req.end()
  })
}

type DockerodeClient = import('dockerode')

export async function dockerApi(env: NodeJS.ProcessEnv = process.env): Promise<DockerApi> {
  const desktop = env.DOCKER_HOST ? null : desktopSocket(env)
  const where = dockerWhere(env, desktop)
  const lean = leanEndpoint(env, desktop)
  // Lazy: keeps dockerode off the start-up path of every command that does not need more than inspect.
  let clientP: Promise<DockerodeClient> | null = null
  const dockerode = (): Promise<DockerodeClient> => (clientP ??= (async () => {
    const Docker = (await import('dockerode')).default
    try {
      return new Docker()
    } catch (error) {
      throw new NslocateError('USAGE', `DOCKER_HOST=${env.DOCKER_HOST} is not understood: use unix:///path/to/docker.sock or tcp://HOST:PORT`, {cause: error})
    }
  })())
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
        const body = lean ? await leanGet(lean, `/containers/${encodeURIComponent(ref)}/json`) : await (await dockerode()).getContainer(ref).inspect()
        return summarize(body as Parameters<typeof summarize>[0])
      } catch (error) {
        if (error instanceof NslocateError) throw error
        throw dockerError(error, `inspect container ${ref}`, where)
      }
    },
    async list() {
      const client = await dockerode()
      try {
        const rows = await client.listContainers()
        const out: ContainerSummary[] = []
        for (const r of rows) {
          try {
            out.push(summarize(await client.getContainer(r.Id).inspect()))
          } catch (error) {
            // Gone between list and inspect: not running any more, so not listed.
            if ((error as {statusCode?: number}).statusCode !== 404) throw error
          }
        }
        return out
      } catch (error) {
        throw dockerError(error, 'list containers', where)
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
        const waited = await Promise.race([
          container.wait() as Promise<{StatusCode: number}>,
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
        throw dockerError(error, `run the helper container (image ${opts.image})`, where)
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
