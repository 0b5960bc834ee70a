/**
 * The pure parts of the Docker request limits and of the socket choice: which socket docker-modem
 * would use (the one nslocate checks and then hands to it), and how NSLOCATE_DOCKER_TIMEOUT and
 * NSLOCATE_DOCKER_MAX_BYTES read. The behaviour against a misbehaving engine is in
 * test/cli/docker-limits.test.ts; planted sockets in test/cli/env-trust.test.ts.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {engineEndpoint} from '../../src/runtime/docker'
import {DEFAULT_DEADLINE_MS, DEFAULT_MAX_BYTES, dockerLimits} from '../../src/runtime/http'
import {NslocateError} from '../../src/errors'

const dockerSocket = (env: NodeJS.ProcessEnv) => engineEndpoint(env).socket

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-home-'))
afterAll(() => fs.rmSync(home, {recursive: true, force: true}))

test('engineEndpoint().socket: DOCKER_HOST=unix://PATH, else (also for a bare unix://) the Desktop socket when it exists, else the system socket; none for tcp://', () => {
  expect(dockerSocket({HOME: home})).toEqual({path: '/var/run/docker.sock', source: 'default'})
  expect(dockerSocket({HOME: home, DOCKER_HOST: 'unix:///run/x.sock'})).toEqual({path: '/run/x.sock', source: 'DOCKER_HOST'})
  expect(dockerSocket({HOME: home, DOCKER_HOST: 'tcp://127.0.0.1:2375'})).toBeNull()
  const desktop = path.join(home, '.docker', 'run', 'docker.sock')
  fs.mkdirSync(path.dirname(desktop), {recursive: true})
  fs.writeFileSync(desktop, '')
  expect(dockerSocket({HOME: home})).toEqual({path: desktop, source: 'desktop'})
  expect(dockerSocket({HOME: home, DOCKER_HOST: 'unix://'})).toEqual({path: desktop, source: 'desktop'})
})

test('dockerLimits(): documented defaults, durations and sizes, anything else a usage error', () => {
  expect(dockerLimits({})).toEqual({deadlineMs: DEFAULT_DEADLINE_MS, maxBytes: DEFAULT_MAX_BYTES})
  expect(DEFAULT_DEADLINE_MS).toBe(10_000)
  expect(DEFAULT_MAX_BYTES).toBe(16 * 1024 * 1024)
  expect(dockerLimits({NSLOCATE_DOCKER_TIMEOUT: '500ms', NSLOCATE_DOCKER_MAX_BYTES: '512K'})).toEqual({deadlineMs: 500, maxBytes: 512 * 1024})
  expect(dockerLimits({NSLOCATE_DOCKER_TIMEOUT: '2m', NSLOCATE_DOCKER_MAX_BYTES: '1G'})).toEqual({deadlineMs: 120_000, maxBytes: 1024 ** 3})
  expect(dockerLimits({NSLOCATE_DOCKER_TIMEOUT: '3', NSLOCATE_DOCKER_MAX_BYTES: '4096'})).toEqual({deadlineMs: 3000, maxBytes: 4096})
  for (const env of [
    {NSLOCATE_DOCKER_TIMEOUT: ''},
    {NSLOCATE_DOCKER_TIMEOUT: '0s'},
    {NSLOCATE_DOCKER_TIMEOUT: '1000h'},
    {NSLOCATE_DOCKER_MAX_BYTES: ''},
    {NSLOCATE_DOCKER_MAX_BYTES: '100'},
    {NSLOCATE_DOCKER_MAX_BYTES: '1.5M'},
  ]) {
    let error: unknown
    try {
      dockerLimits(env)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(NslocateError)
    expect(error).toMatchObject({code: 'USAGE'})
  }
})
