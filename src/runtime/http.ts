/**
 * Every request to the Docker engine has a total deadline and a size cap (docs/nslocate.1.md,
 * NOTES, "Docker API limits"): an engine that drips a byte every few seconds, never sends its
 * headers, or floods 100 MB gives DOCKER instead of hanging nslocate or filling its memory.
 *   NSLOCATE_DOCKER_TIMEOUT    total time per request, a duration (default 10s)
 *   NSLOCATE_DOCKER_MAX_BYTES  bytes read per request, headers included (default 16M; K, M, G suffixes)
 * leanGet() is the node:http GET of `inspect`; guardedAgent() gives dockerode's requests the same
 * limits, at the socket, so they hold whatever docker-modem does with the answer.
 */
import http = require('node:http')
import type {Duplex} from 'node:stream'

import {NslocateError} from '../errors'
import {parseDuration} from '../signal/parse'

/** Bounds on one engine answer: deadlineMs (ms) and maxBytes (bytes). */
export interface DockerLimits {
  deadlineMs: number
  maxBytes: number
}

/** How long one engine answer may take when NSLOCATE_DOCKER_TIMEOUT is unset, in ms. */
export const DEFAULT_DEADLINE_MS = 10_000
/** The largest engine answer accepted when NSLOCATE_DOCKER_MAX_BYTES is unset, in bytes (16 MiB). */
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024
/** Above this a timer would overflow (Node's timers are 32-bit). */
const MAX_DEADLINE_MS = 2_147_483_647

/** The error code of an engine answer that missed the deadline (dockerError() reads it). */
export const DEADLINE = 'NSLOCATE_DOCKER_DEADLINE'
/** The error code of an engine answer larger than maxBytes. */
export const TOO_BIG = 'NSLOCATE_DOCKER_TOO_BIG'
/** The error code of an engine answer cut short by the engine. */
export const TRUNCATED = 'NSLOCATE_DOCKER_TRUNCATED'

/** The limits from NSLOCATE_DOCKER_TIMEOUT (a duration, 1ms to 24d) and NSLOCATE_DOCKER_MAX_BYTES (at least 1K); throws USAGE on a bad value. */
export function dockerLimits(env: NodeJS.ProcessEnv = process.env): DockerLimits {
  let deadlineMs = DEFAULT_DEADLINE_MS
  const t = env.NSLOCATE_DOCKER_TIMEOUT
  if (t !== undefined) {
    try {
      deadlineMs = parseDuration(t)
    } catch {
      deadlineMs = NaN
    }
    if (!(deadlineMs >= 1 && deadlineMs <= MAX_DEADLINE_MS)) {
      throw new NslocateError('USAGE', `NSLOCATE_DOCKER_TIMEOUT=${JSON.stringify(t)} is not a duration from 1ms to 24d: use e.g. 500ms, 10s, 2m`, {
        advice: 'use e.g. 500ms, 10s, 2m',
      })
    }
  }
  let maxBytes = DEFAULT_MAX_BYTES
  const b = env.NSLOCATE_DOCKER_MAX_BYTES
  if (b !== undefined) {
    const m = /^\s*([0-9]+)\s*([KMG]?)i?B?\s*$/i.exec(b)
    maxBytes = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : NaN
    if (!(maxBytes >= 1024 && Number.isSafeInteger(maxBytes))) {
      const advice = 'use e.g. 16M, 512K or a number of bytes'
      throw new NslocateError('USAGE', `NSLOCATE_DOCKER_MAX_BYTES=${JSON.stringify(b)} is not a size of at least 1K: ${advice}`, {advice})
    }
  }
  return {deadlineMs, maxBytes}
}

/** A duration in ms for messages: "10 s" for whole seconds, else "1500 ms". */
export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

/** A size in bytes for messages: in GiB, MiB or KiB when a whole number of them, else "N bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const)
    if (n >= size && n % size === 0) return `${n / size} ${unit}`
  return `${n} bytes`
}

const fail = (code: string, message: string) => Object.assign(new Error(message), {code})
const deadlineError = (l: DockerLimits) => fail(DEADLINE, `no complete answer within ${formatMs(l.deadlineMs)}`)
const tooBigError = (l: DockerLimits) => fail(TOO_BIG, `the answer is larger than ${formatBytes(l.maxBytes)}`)

/** Destroys `socket` with a DEADLINE error at the deadline and a TOO_BIG error once it has read more than the cap. */
function guard(socket: Duplex, limits: DockerLimits): Duplex {
  const timer = setTimeout(() => socket.destroy(deadlineError(limits)), limits.deadlineMs)
  let read = 0
  socket.on('data', (chunk: Buffer) => {
    read += chunk.length
    if (read > limits.maxBytes) socket.destroy(tooBigError(limits))
  })
  socket.once('close', () => clearTimeout(timer))
  return socket
}

/** An agent (one connection per request, no keep-alive) whose connections carry the limits. For dockerode's http and https protocols. */
export function guardedAgent(protocol: 'http' | 'https', limits: DockerLimits): http.Agent {
  const Base = protocol === 'https' ? (require('node:https') as typeof import('node:https')).Agent : http.Agent
  const agent = new Base({keepAlive: false}) as http.Agent & {createConnection: (...a: unknown[]) => Duplex}
  const create = agent.createConnection.bind(agent)
  agent.createConnection = (...args: unknown[]) => guard(create(...args), limits)
  return agent
}

/** Where a plain HTTP request reaches the engine: a unix socket's path, or a host and port. */
export type Endpoint = {socketPath: string} | {host: string; port: number}

/**
 * GET PATH from the engine with node:http and parse the JSON answer, within the limits. Errors have
 * the shape dockerode's have (socket errors with `code`; HTTP errors with `statusCode` and `json`),
 * so dockerError() treats both alike; the limits give DEADLINE and TOO_BIG, an answer cut short
 * TRUNCATED, one that is not JSON a statusCode with a short excerpt.
 */
/** A complete answer: its JSON (2xx), else the error it stands for (statusCode, and the engine's message). */
function parseAnswer(status: number, text: string): unknown {
  let json: unknown = null
  try {
    json = JSON.parse(text)
  } catch {}
  if (status >= 200 && status < 300 && json !== null) return json
  const excerpt = text.trim().length > 200 ? `${text.trim().slice(0, 200)}...` : text.trim()
  const message =
    typeof (json as {message?: unknown} | null)?.message === 'string'
      ? (json as {message: string}).message
      : status >= 200 && status < 300
        ? `an answer that is not JSON (HTTP ${status}): ${JSON.stringify(excerpt)}`
        : excerpt || `HTTP ${status}`
  return Object.assign(new Error(message), {statusCode: status, json: {message}})
}

/** GET `urlPath` from the engine with node:http, within `limits`: the parsed JSON answer, or an error (DEADLINE, TOO_BIG, TRUNCATED, HTTP status). */
export function leanGet(endpoint: Endpoint, urlPath: string, limits: DockerLimits): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false
    const done = (error: Error | null, value?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) {
        req.destroy()
        reject(error)
      } else resolve(value)
    }
    const req = http.request({...endpoint, path: urlPath, method: 'GET', headers: {Accept: 'application/json'}, agent: false}, (res) => {
      const declared = Number(res.headers['content-length'])
      if (declared > limits.maxBytes) return done(tooBigError(limits))
      const chunks: Buffer[] = []
      let read = 0
      res.on('data', (c: Buffer) => {
        read += c.length
        if (read > limits.maxBytes) done(tooBigError(limits))
        else chunks.push(c)
      })
      res.on('aborted', () => done(fail(TRUNCATED, `the engine closed the connection after ${read} bytes of the answer`)))
      res.on('error', (e) => done(fail(TRUNCATED, `the answer was cut short after ${read} bytes (${e.message})`)))
      res.on('end', () => {
        if (!res.complete) return done(fail(TRUNCATED, `the engine closed the connection after ${read} bytes of the answer`))
        const answer = parseAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))
        done(answer instanceof Error ? answer : null, answer)
      })
    })
    const timer = setTimeout(() => done(deadlineError(limits)), limits.deadlineMs)
    let connected = false
    req.on('socket', (s) => s.once('connect', () => (connected = true)))
    // A hang-up after the connection was made is an answer cut short, not an engine that is not there.
    req.on('error', (e: Error & {code?: string}) =>
      done(connected && e.code === 'ECONNRESET' ? fail(TRUNCATED, `the engine closed the connection before a complete answer (${e.message})`) : e),
    )
    req.end()
  })
}

/**
 * The message of an answer that missed the deadline ('deadline') or passed the size cap
 * ('too_big'), for every runtime (`at`: "the Docker engine at X", "Podman at X", "the CRI runtime at
 * X), and its advice, which the message ends with (the hint line: which variable sets the limit).
 */
export function limitMessage(kind: 'deadline' | 'too_big', at: string, what: string, limits: DockerLimits): {message: string; advice: string} {
  if (kind === 'deadline') {
    const advice = "it is hung or overloaded; NSLOCATE_DOCKER_TIMEOUT sets each request's deadline (default 10s)"
    return {message: `${at} did not answer within ${formatMs(limits.deadlineMs)} while trying to ${what}: ${advice}`, advice}
  }
  const advice = 'nslocate stopped reading: NSLOCATE_DOCKER_MAX_BYTES sets the cap of each answer (default 16M)'
  return {message: `${at} sent more than ${formatBytes(limits.maxBytes)} while trying to ${what}; ${advice}`, advice}
}
