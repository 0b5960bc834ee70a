/**
 * The read-only HTTP endpoint of `serve` (and `reload --listen`), on node:http:
 *   GET /healthz/NAME  200 when NAME runs, 503 otherwise; the body is find's JSON result (snake_case keys, pidfd_id too)
 *   GET /healthz       200 when every served NAME runs, else 503; {NAME: state}
 *   GET /metrics       Prometheus text (metrics.ts)
 * Nothing here ever signals: there is no route that could. Loopback unless another address is asked for.
 *
 * Anyone who can connect can hold connections open, and each one is a file descriptor: at
 * RLIMIT_NOFILE every new connection, a health check too, would be refused. So (LIMITS below):
 *   - at most connectionCap() connections are open; a new one closes the least recently active
 *     connection with no request being answered (or, when every one is, the least recently active
 *     one). http.Server's maxConnections is not used: it refuses the NEWEST connection, which is the
 *     health check, and keeps the idle ones;
 *   - a connection that has not sent a complete request head within 5 s (nothing at all, or a byte
 *     at a time) gets 408 and is closed; so is a request not received within 10 s (checked every
 *     second); an idle keep-alive connection is closed after 5 s, and any connection with no
 *     traffic for 30 s;
 *   - a URL that cannot be decoded (a malformed percent-escape) is a 400, never a 500.
 */
import fs = require('node:fs')
import http = require('node:http')
import type {AddressInfo, Socket} from 'node:net'

import {snakeKeys} from '../cli/json'
import {NslocateError, OptionNamer} from '../errors'
import type {ServiceRef} from '../reload/service-ref'
import {Metrics} from './metrics'
import {Observer} from './observe'

/** 9090 -> 127.0.0.1:9090; HOST:PORT and [V6]:PORT as given. */
export function parseListen(input: string): {host: string; port: number} {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(input.trim())
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535)
    throw new NslocateError('USAGE', (n) => `invalid ${n('listen')} ${JSON.stringify(input)}: use PORT (loopback), HOST:PORT or [V6]:PORT, e.g. 127.0.0.1:9090`)
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '')
  return {host, port}
}

/** The connection limits and timeouts of the endpoint (documented in docs/nslocate.1.md, serve). */
export const LIMITS = {
  /** the most connections held open, lowered to a quarter of RLIMIT_NOFILE when that is smaller (at least 8) */
  maxConnections: 256,
  /** a request head (request line and headers) must be complete within this long of its first byte or the connection's start */
  headersTimeoutMs: 5000,
  /** the whole request must be received within this long */
  requestTimeoutMs: 10_000,
  /** an idle keep-alive connection is closed after this long */
  keepAliveTimeoutMs: 5000,
  /** any connection with no traffic either way for this long is closed (e.g. one that does not read its answer) */
  idleTimeoutMs: 30_000,
  /** how often the header and request timeouts are checked */
  checkIntervalMs: 1000,
}

/** The soft RLIMIT_NOFILE of this process (/proc/self/limits), or null when it cannot be read or is unlimited. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** LIMITS.maxConnections, or a quarter of the descriptors this process may open if that is fewer (at least 8). */
export function connectionCap(nofile: number | null = openFileLimit()): number {
  return nofile === null ? LIMITS.maxConnections : Math.max(8, Math.min(LIMITS.maxConnections, Math.floor(nofile / 4)))
}

/**
 * Holds at most `cap` connections: a new one closes the least recently active idle connection (no
 * request being answered on it), or the least recently active one when none is idle, so that a new
 * connection (a health check) is always taken.
 */
function capConnections(server: http.Server, cap: number): void {
  const open = new Set<Socket>() // least recently active first
  const answering = new Map<Socket, number>()
  const touch = (sock: Socket) => {
    if (open.delete(sock)) open.add(sock)
  }
  server.on('connection', (sock: Socket) => {
    if (open.size >= cap) {
      let victim: Socket | undefined
      for (const c of open) {
        if (!answering.has(c)) {
          victim = c
          break
        }
      }
      victim ??= open.values().next().value as Socket
      open.delete(victim)
      answering.delete(victim)
      victim.destroy()
    }
    open.add(sock)
    sock.once('close', () => {
      open.delete(sock)
      answering.delete(sock)
    })
  })
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const sock = req.socket
    answering.set(sock, (answering.get(sock) ?? 0) + 1)
    touch(sock)
    res.once('close', () => {
      const n = (answering.get(sock) ?? 1) - 1
      if (n > 0) answering.set(sock, n)
      else answering.delete(sock)
      touch(sock)
    })
  })
}

/** The health and metrics server, built but not listening: listen() starts it, close() stops it. */
export interface PreparedServer {
  metrics: Metrics
  observer: Observer
  /** starts listening; resolves with the address (host:port) */
  listen(): Promise<string>
  close(): Promise<void>
}

/** prepareServer()'s options. */
export interface ServerOptions {
  /** count reloads in /metrics (reload --listen); default true */
  withReloads?: boolean
  /** observe every service this often (ms), so restarts are seen between scrapes; default: only on a request */
  intervalMs?: number
  /** how an error's message in an answer names options (the CLI passes its flag namer); default the library's wording */
  namer?: OptionNamer
}

/** Builds the server of `nslocate serve` for `services` on `listen` (PORT, HOST:PORT or [V6]:PORT), not yet listening. */
export async function prepareServer(listen: string, services: ServiceRef[], opts: ServerOptions = {}): Promise<PreparedServer> {
  const {host, port} = parseListen(listen)
  const observer = new Observer(services, opts.namer)
  const metrics = new Metrics(
    services.map((s) => s.name),
    opts.withReloads ?? true,
  )
  const server = createServer(observer, metrics)
  let tick: NodeJS.Timeout | null = null
  const observeAll = async () => (await observer.observeAll()).forEach((o) => metrics.update(o))
  return {
    metrics,
    observer,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(host, port, error)))
        server.listen(port, host, () => {
          const a = server.address() as AddressInfo
          // Restarts are seen between scrapes too: observe every intervalMs.
          if (opts.intervalMs) {
            const loop = () => void observeAll().finally(() => (tick = setTimeout(loop, opts.intervalMs)))
            loop()
          }
          resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)
        })
      }),
    close: () =>
      new Promise((resolve) => {
        if (tick) clearTimeout(tick)
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}

/** The server with the LIMITS applied; it answers through handle(). */
function createServer(observer: Observer, metrics: Metrics): http.Server {
  const server = http.createServer(
    {
      headersTimeout: LIMITS.headersTimeoutMs,
      requestTimeout: LIMITS.requestTimeoutMs,
      keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: LIMITS.checkIntervalMs,
    },
    (req, res) => void handle(req, res, observer, metrics),
  )
  server.keepAliveTimeout = LIMITS.keepAliveTimeoutMs
  // No 'timeout' listener: a connection silent for this long is destroyed.
  server.setTimeout(LIMITS.idleTimeoutMs)
  capConnections(server, connectionCap())
  return server
}

function listenError(host: string, port: number, error: NodeJS.ErrnoException): NslocateError {
  const busy = error.code === 'EADDRINUSE'
  return new NslocateError(
    'IO',
    (n) =>
      `cannot listen on ${host}:${port}: ${error.code ?? error.message}${busy ? ` (another process listens there; choose another ${n('listen')} port)` : ''}`,
    {cause: error},
  )
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, observer: Observer, metrics: Metrics): Promise<void> {
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, {'content-type': type, 'cache-control': 'no-store'})
    res.end(req.method === 'HEAD' ? undefined : body)
  }
  const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body, null, 2) + '\n')
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return json(405, {error: {code: 'METHOD', message: `${req.method} is not served: this endpoint is read-only (GET /healthz/NAME, GET /metrics)`}})
    const badRequest = (what: string) => json(400, {error: {code: 'BAD_REQUEST', message: `${what}: GET /healthz/NAME, /healthz or /metrics`}})
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://localhost')
    } catch {
      return badRequest(`cannot parse the URL ${JSON.stringify(req.url)}`)
    }
    if (url.pathname === '/metrics') {
      ;(await observer.observeAll()).forEach((o) => metrics.update(o))
      return send(200, metrics.contentType, await metrics.text())
    }
    if (url.pathname === '/healthz') {
      const all = await observer.observeAll()
      all.forEach((o) => metrics.update(o))
      return json(all.every((o) => o.result.state === 'running') ? 200 : 503, Object.fromEntries(all.map((o) => [o.result.name, o.result.state])))
    }
    const m = /^\/healthz\/([^/]+)$/.exec(url.pathname)
    if (m) {
      let name: string
      try {
        name = decodeURIComponent(m[1])
      } catch {
        return badRequest(`malformed percent-escape in ${JSON.stringify(url.pathname)}`)
      }
      const ref = observer.find(name)
      if (!ref)
        return json(404, {error: {code: 'UNKNOWN_NAME', message: `${m[1]} is not served here; served: ${observer.services.map((s) => s.name).join(', ')}`}})
      const o = await observer.observe(ref)
      metrics.update(o)
      return json(o.result.state === 'running' ? 200 : 503, snakeKeys(o.result))
    }
    return json(404, {error: {code: 'NOT_FOUND', message: `no route ${url.pathname}: GET /healthz/NAME, /healthz or /metrics`}})
  } catch (error) {
    if (res.headersSent) return void res.destroy()
    json(500, {error: {code: 'INTERNAL', message: (error as Error).message}})
  }
}
