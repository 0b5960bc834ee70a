/**
 * An engine that drips, floods or lies never hangs nslocate nor fills its memory: each request to
 * the Docker API has a total deadline (NSLOCATE_DOCKER_TIMEOUT, default 10 s) and a size cap
 * (NSLOCATE_DOCKER_MAX_BYTES, default 16M), and every failure is DOCKER (exit 4) with a message.
 * The built CLI as users run it, against test/helpers/fake-engine.ts on a unix socket (DOCKER_HOST),
 * for the node:http path (find/signal --container: inspect; containers: list, then inspect).
 * The flood tests measure what the client actually read: the bytes the server managed to write
 * before the client hung up. The deadline tests measure, at the server, how long the connection
 * stayed open (so a slow start of node on a busy machine does not count), and bound the whole run.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, tmpdir} from '../helpers/cli'
import {Behaviour, FakeEngine, startFakeEngine} from '../helpers/fake-engine'

const MB = 1024 * 1024
let dir: string
const engines: FakeEngine[] = []

beforeAll(() => {
  dir = tmpdir('nslocate-limits-')
})
afterAll(async () => {
  for (const e of engines) await e.close()
  fs.rmSync(dir, {recursive: true, force: true})
})

let n = 0
async function engine(route: (method: string, url: string) => Behaviour): Promise<FakeEngine> {
  const e = await startFakeEngine(path.join(dir, `e${n++}.sock`), route)
  engines.push(e)
  return e
}

async function timed(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000) {
  const t0 = Date.now()
  const r = await cli(args, {env, timeoutMs})
  return {
    ...r,
    ms: Date.now() - t0,
    json: (() => {
      try {
        return JSON.parse(r.stdout)
      } catch {
        return null
      }
    })(),
  }
}

describe('a total deadline per request', () => {
  test.each(['headers', 'body'] as const)('an engine that drips its %s a byte every 100 ms: find --container exits 4 at the deadline (1 s)', async (phase) => {
    const e = await engine(() => ({kind: 'drip', phase, everyMs: 100}))
    const r = await timed(['find', 'app', '--container', 'web', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_TIMEOUT: '1s'})
    expect(r.status).toBe(4)
    expect(r.json).toEqual({
      error: {
        code: 'DOCKER',
        message: `the Docker engine at unix://${e.socket} did not answer within 1 s while trying to inspect container web: it is hung or overloaded; NSLOCATE_DOCKER_TIMEOUT sets each request's deadline (default 10s)`,
        hint: "it is hung or overloaded; NSLOCATE_DOCKER_TIMEOUT sets each request's deadline (default 10s)",
      },
    })
    await e.idle() // the client hung up: the connection is closed, not left dripping
    expect(e.requests).toEqual(['GET /containers/web/json'])
    expect(e.connectionMs).toHaveLength(1)
    expect(e.connectionMs[0]).toBeGreaterThanOrEqual(950)
    expect(e.connectionMs[0]).toBeLessThan(1000 + 1500)
    expect(r.ms).toBeLessThan(1000 + 15_000) // the whole run, node's start-up on a busy machine included
  })

  test('the documented default is 10 s (signal --container, text output on stderr, no stack trace)', async () => {
    const e = await engine(() => ({kind: 'drip', phase: 'headers', everyMs: 500}))
    const r = await timed(['signal', 'app', 'TERM', '--container', 'web'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_TIMEOUT: undefined})
    expect(r.status).toBe(4)
    expect(r.stderr.replace(/\s*\n\s*›?\s*/g, ' ')).toContain(`did not answer within 10 s while trying to inspect container web`)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    await e.idle()
    expect(e.connectionMs[0]).toBeGreaterThanOrEqual(9950)
    expect(e.connectionMs[0]).toBeLessThan(10_000 + 1500)
  })

  test('the list (containers: list then inspect) has the same deadline', async () => {
    const e = await engine(() => ({kind: 'drip', phase: 'body', everyMs: 100}))
    const r = await timed(['containers', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_TIMEOUT: '1500ms'})
    expect(r.status).toBe(4)
    expect(r.json.error.code).toBe('DOCKER')
    expect(r.json.error.message).toContain('did not answer within 1500 ms while trying to list containers')
    await e.idle()
    expect(e.requests).toEqual(['GET /containers/json'])
    expect(e.connectionMs[0]).toBeGreaterThanOrEqual(1450)
    expect(e.connectionMs[0]).toBeLessThan(1500 + 1500)
  })

  test.each(['0', 'abc', '-1s', '30d'])('NSLOCATE_DOCKER_TIMEOUT=%s is a usage error (2), and the engine is not asked', async (value) => {
    const e = await engine(() => ({kind: 'json', body: {}}))
    const r = await timed(['find', 'app', '--container', 'web', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_TIMEOUT: value})
    expect(r.status).toBe(2)
    expect(r.json.error).toEqual({
      code: 'USAGE',
      message: `NSLOCATE_DOCKER_TIMEOUT=${JSON.stringify(value)} is not a duration from 1ms to 24d: use e.g. 500ms, 10s, 2m`,
    })
    expect(e.connections).toBe(0)
  })
})

describe('a size cap per answer', () => {
  test('a 100 MB chunked answer to inspect: exit 4 once the default 16 MiB are read; the client read at most 16 MiB + socket buffers', async () => {
    const e = await engine(() => ({kind: 'flood', bytes: 100 * MB}))
    const r = await timed(['find', 'app', '--container', 'web', '--json'], {DOCKER_HOST: `unix://${e.socket}`})
    expect(r.status).toBe(4)
    expect(r.json.error).toEqual({
      code: 'DOCKER',
      message: `the Docker engine at unix://${e.socket} sent more than 16 MiB while trying to inspect container web; nslocate stopped reading: NSLOCATE_DOCKER_MAX_BYTES sets the cap of each answer (default 16M)`,
      hint: 'nslocate stopped reading: NSLOCATE_DOCKER_MAX_BYTES sets the cap of each answer (default 16M)',
    })
    await e.idle()
    expect(e.bytesSent).toBeGreaterThan(16 * MB)
    expect(e.bytesSent).toBeLessThan(16 * MB + 4 * MB)
  })

  test('a declared Content-Length of 100 MB: refused at the headers, nearly nothing of the body is read', async () => {
    const e = await engine(() => ({kind: 'flood', bytes: 100 * MB, declare: true}))
    const r = await timed(['find', 'app', '--container', 'web', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_MAX_BYTES: '1M'})
    expect(r.status).toBe(4)
    expect(r.json.error.message).toContain('sent more than 1 MiB while trying to inspect container web')
    await e.idle()
    expect(e.bytesSent).toBeLessThan(4 * MB)
  })

  test('the list (containers) is capped at the socket: NSLOCATE_DOCKER_MAX_BYTES=1M against a 100 MB list', async () => {
    const e = await engine(() => ({kind: 'flood', bytes: 100 * MB}))
    const r = await timed(['containers', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_MAX_BYTES: '1M'})
    expect(r.status).toBe(4)
    expect(r.json.error.message).toContain('sent more than 1 MiB while trying to list containers')
    await e.idle()
    expect(e.bytesSent).toBeLessThan(1 * MB + 3 * MB)
  })

  test.each(['12', 'lots', '1T'])('NSLOCATE_DOCKER_MAX_BYTES=%s is a usage error (2)', async (value) => {
    const e = await engine(() => ({kind: 'json', body: {}}))
    const r = await timed(['containers', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_MAX_BYTES: value})
    expect(r.status).toBe(2)
    expect(r.json.error.code).toBe('USAGE')
    expect(r.json.error.message).toContain(`NSLOCATE_DOCKER_MAX_BYTES=${JSON.stringify(value)} is not a size of at least 1K`)
    expect(e.connections).toBe(0)
  })
})

describe('an engine that lies: DOCKER (4), never a raw error, never a pid acted on', () => {
  const http200 = (body: string, extra = '') =>
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
  test.each<[string, Behaviour, string]>([
    [
      'HTML instead of JSON',
      {kind: 'raw', data: http200('<html>\x1b[2Jgotcha</html>'), end: 'close'},
      'failed to inspect container web: an answer that is not JSON (HTTP 200): "<html>\\u001b[2Jgotcha</html>"',
    ],
    ['a JSON array', {kind: 'json', body: [1, 2, 3]}, "answered without a container's Id and State"],
    ['an Id that is a number', {kind: 'json', body: {Id: 5, State: {Running: true, Pid: 1}}}, "answered without a container's Id and State"],
    [
      'a body cut short (Content-Length 1000, 10 bytes, then close)',
      {kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"Id": "ab', end: 'close'},
      'cut its answer short while trying to inspect container web',
    ],
    [
      'headers cut short, then close',
      {kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Le', end: 'close'},
      'cut its answer short while trying to inspect container web',
    ],
    ['nothing at all, then close', {kind: 'raw', data: '', end: 'close'}, 'cut its answer short while trying to inspect container web'],
    [
      'a truncated body held open',
      {kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"Id": "ab', end: 'hold'},
      'did not answer within 1 s while trying to inspect container web',
    ],
  ])('%s', async (_what, behaviour, message) => {
    const e = await engine(() => behaviour)
    for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const r = await timed(['find', 'app', '--container', 'web', '--json'], {DOCKER_HOST: `unix://${e.socket}`, NSLOCATE_DOCKER_TIMEOUT: '1s', ...extra})
      expect({status: r.status, code: r.json?.error?.code}).toEqual({status: 4, code: 'DOCKER'})
      expect(r.json.error.message).toContain(message)
      expect(r.stderr).toBe('')
    }
  })

  // The list went through dockerode, whose promise neither resolved nor rejected on an answer cut
  // short: the event loop emptied and nslocate exited 0 with nothing printed, --json included.
  test.each<[string, Behaviour]>([
    [
      'a body cut short (Content-Length 1000, 8 bytes, then close)',
      {kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n[{"Id":"', end: 'close'},
    ],
    ['headers cut short, then close', {kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Le', end: 'close'}],
    ['nothing at all, then close', {kind: 'raw', data: '', end: 'close'}],
  ])('containers, %s: DOCKER (4) with the error, never a silent 0', async (_what, behaviour) => {
    const e = await engine(() => behaviour)
    for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const env = {DOCKER_HOST: `unix://${e.socket}`, ...extra}
      const r = await timed(['containers', '--json'], env)
      expect({status: r.status, code: r.json?.error?.code, stderr: r.stderr}).toEqual({status: 4, code: 'DOCKER', stderr: ''})
      expect(r.json.error.message).toContain('cut its answer short while trying to list containers')
      const text = await timed(['containers'], env)
      expect({status: text.status, stdout: text.stdout}).toEqual({status: 4, stdout: ''})
      expect(text.stderr).toMatch(/^nslocate: the Docker engine at \S+ cut its answer short while trying to list containers \(.*\)\nhint: .+\n$/)
    }
  })

  test('containers: a list that is not a list of containers is DOCKER (4), not a TypeError', async () => {
    for (const body of [{}, [{Names: ['/x']}], 'text']) {
      const e = await engine(() => ({kind: 'json', body}))
      const r = await timed(['containers', '--json'], {DOCKER_HOST: `unix://${e.socket}`})
      expect({body, status: r.status, code: r.json?.error?.code}).toEqual({body, status: 4, code: 'DOCKER'})
      expect(r.json.error.message).toContain('answered the container list with no list of containers')
    }
  })
})
