/**
 * The read-only HTTP endpoint of `serve` (and `reload --listen`), on node:http:
 *   GET /healthz/NAME  200 when NAME runs, 503 otherwise; the body is find's JSON result
 *   GET /healthz       200 when every served NAME runs, else 503; {NAME: state}
 *   GET /metrics       Prometheus text (metrics.ts)
 * Nothing here ever signals: there is no route that could. Loopback unless another address is asked for.
 */
import http = require('node:http')
import type {AddressInfo} from 'node:net'

import {NslocateError} from '../errors'
import type {ServiceRef} from '../reload/service-ref'
import {Metrics} from './metrics'
import {Observer} from './observe'

/** 9090 -> 127.0.0.1:9090; HOST:PORT and [V6]:PORT as given. */
export function parseListen(input: string): {host: string; port: number} {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(input.trim())
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535) throw new NslocateError('USAGE', `invalid --listen ${JSON.stringify(input)}: use PORT (loopback), HOST:PORT or [V6]:PORT, e.g. 127.0.0.1:9090`)
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '')
  return {host, port}
}

export interface PreparedServer {
  metrics: Metrics
  observer: Observer
  /** starts listening; resolves with the address (host:port) */
  listen(): Promise<string>
  close(): Promise<void>
}

export async function prepareServer(listen: string, services: ServiceRef[], opts: {withReloads?: boolean; intervalMs?: number} = {}): Promise<PreparedServer> {
  const {host, port} = parseListen(listen)
  const observer = new Observer(services)
  const metrics = new Metrics(services.map((s) => s.name), opts.withReloads ?? true)
  const server = http.createServer((req, res) => void handle(req, res, observer, metrics))
  let tick: NodeJS.Timeout | null = null
  const observeAll = async () => (await observer.observeAll()).forEach((o) => metrics.update(o))
  return {
    metrics, observer,
    listen: () => new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new NslocateError('IO', `cannot listen on ${host}:${port}: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ' (another process listens there; choose another --listen port)' : ''}`, {exitCode: 1, cause: error})))
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
    close: () => new Promise((resolve) => {
      if (tick) clearTimeout(tick)
      server.closeAllConnections?.()
      server.close(() => resolve())
    }),
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, observer: Observer, metrics: Metrics): Promise<void> {
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, {'content-type': type, 'cache-control': 'no-store'})
    res.end(req.method === 'HEAD' ? undefined : body)
  }
  const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body, null, 2) + '\n')
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, {error: {code: 'METHOD', message: `${req.method} is not served: this endpoint is read-only (GET /healthz/NAME, GET /metrics)`}})
    const url = new URL(req.url ?? '/', 'http://localhost')
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
      const ref = observer.find(decodeURIComponent(m[1]))
      if (!ref) return json(404, {error: {code: 'UNKNOWN_NAME', message: `${m[1]} is not served here; served: ${observer.services.map((s) => s.name).join(', ')}`}})
      const o = await observer.observe(ref)
      metrics.update(o)
      return json(o.result.state === 'running' ? 200 : 503, o.result)
    }
    return json(404, {error: {code: 'NOT_FOUND', message: `no route ${url.pathname}: GET /healthz/NAME, /healthz or /metrics`}})
  } catch (error) {
    json(500, {error: {code: 'INTERNAL', message: (error as Error).message}})
  }
}
