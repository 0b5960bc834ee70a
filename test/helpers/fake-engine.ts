/**
 * A fake Docker engine on a unix socket, started by the test: a raw net server (so it can also
 * misbehave below HTTP) that answers each request as `route(method, url)` says:
 *   json   a well-formed answer (status, JSON body)
 *   drip   one byte every `everyMs` ms, in the status line and headers (`phase: 'headers'`) or in the body
 *   flood  200 and a body of `bytes` bytes (Content-Length declared or chunked), written as fast as the
 *          client reads; `bytesSent` then says how much the client actually took before it hung up
 *   raw    these bytes, then close the connection (`end: 'close'`) or keep it open (`'hold'`):
 *          not JSON, a truncated body, a lie about Content-Length
 * It counts connections (a refused socket must receive none), requests, and bytes written.
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'

export type Behaviour =
  | {kind: 'json'; status?: number; body: unknown}
  | {kind: 'drip'; phase: 'headers' | 'body'; everyMs: number}
  | {kind: 'flood'; bytes: number; declare?: boolean}
  | {kind: 'raw'; data: string | Buffer; end: 'close' | 'hold'}

export interface FakeEngine {
  socket: string
  /** connections accepted so far */
  connections: number
  /** "METHOD URL" of each request read */
  requests: string[]
  /** bytes the server managed to write, over all connections (counted as each closes) */
  bytesSent: number
  /** how long each closed connection was open, in ms: from accept to the client hanging up (start-up of the client excluded) */
  connectionMs: number[]
  /** resolves once every connection accepted so far has closed */
  idle(): Promise<void>
  close(): Promise<void>
}

const CHUNK = Buffer.alloc(64 * 1024, 'x')

export async function startFakeEngine(socket: string, route: (method: string, url: string) => Behaviour): Promise<FakeEngine> {
  fs.mkdirSync(path.dirname(socket), {recursive: true})
  const open = new Set<net.Socket>()
  const closing: Promise<void>[] = []
  const timers = new Set<NodeJS.Timeout>()
  const engine: FakeEngine = {
    socket,
    connections: 0,
    requests: [],
    bytesSent: 0,
    connectionMs: [],
    idle: async () => {
      await Promise.all(closing)
    },
    close: () =>
      new Promise((resolve) => {
        for (const t of timers) clearInterval(t)
        for (const s of open) s.destroy()
        server.close(() => resolve())
      }),
  }

  const serve = (conn: net.Socket, b: Behaviour) => {
    if (b.kind === 'json') {
      const body = Buffer.from(JSON.stringify(b.body))
      conn.end(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 ${b.status ?? 200} X\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
          body,
        ]),
      )
    } else if (b.kind === 'raw') {
      if (b.end === 'close') conn.end(b.data)
      else conn.write(b.data)
    } else if (b.kind === 'drip') {
      const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n'
      let text = b.phase === 'headers' ? head : '{"Id": "' + 'a'.repeat(999_990)
      if (b.phase === 'body') conn.write(head)
      const t = setInterval(() => {
        if (conn.destroyed || text.length === 0) return clearInterval(t)
        conn.write(text[0])
        text = text.slice(1)
      }, b.everyMs)
      timers.add(t)
      conn.once('close', () => clearInterval(t))
    } else {
      let left = b.bytes
      conn.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${b.declare ? `Content-Length: ${b.bytes}` : 'Transfer-Encoding: chunked'}\r\n\r\n`)
      const pump = () => {
        while (left > 0 && !conn.destroyed) {
          const n = Math.min(left, CHUNK.length)
          left -= n
          const piece = b.declare ? CHUNK.subarray(0, n) : Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), CHUNK.subarray(0, n), Buffer.from('\r\n')])
          if (!conn.write(piece)) return void conn.once('drain', pump)
        }
        if (left === 0 && !conn.destroyed) conn.end(b.declare ? '' : '0\r\n\r\n')
      }
      pump()
    }
  }

  const server = net.createServer((conn) => {
    engine.connections++
    open.add(conn)
    const opened = Date.now()
    closing.push(
      new Promise((resolve) =>
        conn.once('close', () => {
          engine.connectionMs.push(Date.now() - opened)
          engine.bytesSent += conn.bytesWritten
          open.delete(conn)
          resolve()
        }),
      ),
    )
    conn.on('error', () => undefined) // the client hanging up mid-answer is what several tests expect
    let buf = ''
    const onData = (d: Buffer) => {
      buf += d.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      conn.off('data', onData)
      const [method, url] = buf.slice(0, buf.indexOf('\r\n')).split(' ')
      engine.requests.push(`${method} ${url}`)
      conn.resume() // discard any request body
      serve(conn, route(method, url))
    }
    conn.on('data', onData)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socket, () => resolve())
  })
  return engine
}
