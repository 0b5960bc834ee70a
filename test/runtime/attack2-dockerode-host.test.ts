/**
 * ATTACK 2 (review of the socket-pinning fix): the pinned socket is given to dockerode as
 * `new Docker({socketPath: '/proc/self/fd/N'})`, but docker-modem builds its options as
 * Object.assign(defaultOpts(), options), and defaultOpts() reads process.env.DOCKER_HOST itself.
 * When process.env.DOCKER_HOST is tcp:// (or ssh://), defaultOpts() sets `host`, which the
 * caller's {socketPath} does not override, and Modem uses `host` whenever it is set: the pinned
 * socket is ignored and every dockerode call (list, the helper container) goes to that engine.
 *
 * The CLI reaches this through Podman's helper container (podman.ts runToCompletion ->
 * dockerRuntime({...env, DOCKER_HOST: unix://PINNED}, PINNED)) whenever DOCKER_HOST=tcp://...
 * and CONTAINER_HOST are both set; the library reaches it whenever its `env` option names a unix
 * socket and the process's own DOCKER_HOST is tcp://. The engine that was judged (and whose
 * State.Pid is the helper's --root-pid) is not the one that runs the helper or lists containers.
 *
 * Fixed: docker.ts overrides every option docker-modem reads from process.env (UNIX_ONLY) and checks
 * that the client names the pinned socket. The judged socket receives the request, the TCP engine none.
 */
import * as fs from 'node:fs'
import * as http from 'node:http'
import type {AddressInfo} from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'

import {dockerRuntime} from '../../src/runtime/docker'
import {checkSocket} from '../../src/runtime/socket-trust'
import {startFakeEngine} from '../helpers/fake-engine'

test("dockerode reaches the pinned socket even when the process's DOCKER_HOST is tcp://", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsl-attack2-'))
  const sock = path.join(dir, 'docker.sock')
  const judged = await startFakeEngine(sock, () => ({kind: 'json', body: []}))
  const tcpRequests: string[] = []
  const tcp = http.createServer((req, res) => {
    tcpRequests.push(`${req.method} ${req.url}`)
    res.setHeader('content-type', 'application/json')
    res.end('[]')
  })
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  const saved = process.env.DOCKER_HOST
  process.env.DOCKER_HOST = `tcp://127.0.0.1:${(tcp.address() as AddressInfo).port}`
  try {
    const env = {...process.env, DOCKER_HOST: `unix://${sock}`}
    const pinned = checkSocket(sock, 'DOCKER_HOST', env).path
    const api = await dockerRuntime(env, pinned)
    await api.list()
    expect(tcpRequests).toEqual([])
    expect(judged.requests.some((r) => r.includes('/containers/json'))).toBe(true)
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved
    await judged.close()
    await new Promise((resolve) => tcp.close(resolve))
    fs.rmSync(dir, {recursive: true, force: true})
  }
})
