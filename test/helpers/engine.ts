/**
 * The Docker engine, for the tiers that start containers.
 *
 * - `describeWithEngine(name, fn)`: a describe that runs when an engine answers. Without one it is
 *   skipped locally, but under CI=true it fails with a message: CI never skips the container tier.
 * - `ensureImages()`: builds nslocate-base:local and nslocate:local once (scripts/build-image.sh, which
 *   rebuilds only when what goes into the image changed) and returns their tags.
 * - Labels: every container a test starts carries `nslocate.test=1` (.ci/run removes leftovers by it)
 *   and `nslocate.test.run=<this test file's run id>`; describeWithEngine removes the latter after
 *   its tests, so a crashed start leaves nothing behind and parallel test files don't collide.
 * - `testcontainers()`: the testcontainers module, loaded only after its environment is set. Ryuk (the
 *   reaper) is an image that would be pulled, and there is no `bridge` network here, hence:
 */
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true'
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost'

import {execFile, spawnSync} from 'node:child_process'
import * as http from 'node:http'
import * as path from 'node:path'

import type Dockerode from 'dockerode'

export const ROOT = path.resolve(__dirname, '../..')
export const BASE_IMAGE = 'nslocate-base:local'
export const APP_IMAGE = 'nslocate:local'
export const TEST_LABEL = 'nslocate.test'
export const RUN_LABEL = 'nslocate.test.run'
/** Unique per test file (jest gives each file its own module registry) and per process. */
export const RUN_ID = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

/** Labels for every container a test starts. */
export function testLabels(extra: Record<string, string> = {}): Record<string, string> {
  return {[TEST_LABEL]: '1', [RUN_LABEL]: RUN_ID, ...extra}
}

export interface Endpoint {
  socketPath?: string
  host?: string
  port?: number
  /** as DOCKER_HOST would say it */
  display: string
}

/** Where the engine is: DOCKER_HOST (unix:// or tcp://, no TLS) or /var/run/docker.sock. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): Endpoint {
  const value = env.DOCKER_HOST
  if (!value) return {socketPath: '/var/run/docker.sock', display: 'unix:///var/run/docker.sock'}
  if (value.startsWith('unix://')) return {socketPath: value.slice('unix://'.length), display: value}
  const url = new URL(value.replace(/^tcp:/, 'http:'))
  return {host: url.hostname, port: Number(url.port || 2375), display: value}
}

/** GET /_ping answered "OK" within the timeout. */
export function engineAvailable(timeoutMs = 2000): Promise<boolean> {
  const ep = engineEndpoint()
  return new Promise((resolve) => {
    const req = http.get({socketPath: ep.socketPath, host: ep.host, port: ep.port, path: '/_ping', timeout: timeoutMs}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
  })
}

/**
 * The same check, synchronously: jest collects tests synchronously, so whether a describe is skipped
 * must be known before any hook runs. Asks a child node process (~60 ms).
 */
export function engineAvailableSync(timeoutMs = 2000): boolean {
  const ep = engineEndpoint()
  const code = `
    const req = require('node:http').get(${JSON.stringify({socketPath: ep.socketPath, host: ep.host, port: ep.port, path: '/_ping', timeout: timeoutMs})}, (res) => {
      let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => process.exit(res.statusCode === 200 && b.trim() === 'OK' ? 0 : 1))
    })
    req.on('timeout', () => process.exit(1)); req.on('error', () => process.exit(1))`
  const r = spawnSync(process.execPath, ['-e', code], {timeout: timeoutMs + 3000, stdio: 'ignore'})
  return r.status === 0
}

/**
 * describe() when an engine answers. Without one: skipped, or under CI=true a failing test that says
 * why (a CI run must not pass by skipping the container tier).
 */
export function describeWithEngine(name: string, fn: () => void): void {
  const ep = engineEndpoint()
  if (engineAvailableSync()) {
    describe(name, () => {
      afterAll(() => removeTestContainers(), 60_000)
      fn()
    })
    return
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      test('a Docker engine answers', () => {
        throw new Error(
          `CI=true and no Docker engine answers at ${ep.display} (GET /_ping). ` +
            'The container tier never skips in CI: start one with `sudo bash scripts/setup.sh` ' +
            '(dockerd --bridge=none), or point DOCKER_HOST at one.',
        )
      })
    })
    return
  }
  describe.skip(`${name} (skipped: no Docker engine answers at ${ep.display}; CI=true would fail here)`, fn)
}

let dockerClient: Dockerode | undefined
/** A dockerode client (lazily loaded: it costs ~200 ms). */
export function docker(): Dockerode {
  if (!dockerClient) {
    const Docker = require('dockerode') as typeof Dockerode
    dockerClient = new Docker()
  }
  return dockerClient
}

/** testcontainers, loaded after TESTCONTAINERS_* are set above. Import types with `import type`. */
export function testcontainers(): typeof import('testcontainers') {
  return require('testcontainers')
}

/** Remove (forcibly) the containers this test file started; `all` removes every nslocate.test=1 container. */
export async function removeTestContainers(opts: {all?: boolean} = {}): Promise<string[]> {
  const label = opts.all ? `${TEST_LABEL}=1` : `${RUN_LABEL}=${RUN_ID}`
  const list = await docker().listContainers({all: true, filters: {label: [label]}})
  await Promise.all(
    list.map((c) =>
      docker()
        .getContainer(c.Id)
        .remove({force: true, v: true})
        .catch(() => undefined),
    ),
  )
  return list.map((c) => c.Id)
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, {cwd: ROOT, env: {...process.env, ...env}, timeout: timeoutMs, maxBuffer: 16 << 20}, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} failed (${error.code ?? error.signal}):\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}

export interface Images {
  base: string
  app: string
}

let images: Promise<Images> | undefined
/**
 * nslocate-base:local and nslocate:local, built from the Dockerfile with --network=none. Needs
 * `npm run build` first (npm test does it). Cheap when nothing changed (~1 s: the scripts compare a
 * hash of the inputs with the image's nslocate.inputs label). Serialised across processes by a lock
 * in the scripts.
 */
export function ensureImages(): Promise<Images> {
  images ??= run('bash', [path.join(ROOT, 'scripts', 'build-image.sh'), APP_IMAGE], {BASE_IMAGE}, 10 * 60_000).then(() => ({base: BASE_IMAGE, app: APP_IMAGE}))
  return images
}

/** A readable stream's text (container logs). */
export async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += chunk.toString()
  return text
}
