/**
 * The inventory of errors (issue 21, deliverable 3; review finding 6): as many distinct error paths
 * of the built CLI as can be driven here, on the fast path and on oclif's, each one `nslocate: `
 * line and at most one hint line, at most 100 columns apart from the values it quotes (a path, a
 * socket address, the value given), no control character. The commonest failures of signal (the
 * target ignores the signal, still running after --wait, no handler) against a real service that
 * ignores TERM and USR1.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, killTracked, tmpdir, track, until} from '../helpers/cli'
import {expectOneError} from '../helpers/one-error'
import {stopAll} from '../helpers/tracked'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

const PATHS = [
  ['fast path', {}],
  ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
] as const

let svc: string
let pid: number
beforeAll(async () => {
  svc = tmpdir()
  track(spawn(process.execPath, [BIN, 'run', 'x', '--dir', svc, '--', 'sh', '-c', 'trap "" TERM USR1; exec sleep 600'], {stdio: 'ignore', detached: true}), {
    group: true,
  })
  await until(
    () => {
      try {
        pid = Number(fs.readFileSync(path.join(svc, 'x.pid'), 'utf8'))
        const ign = /^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
        return ign !== null && ((BigInt(`0x${ign[1]}`) >> 14n) & 1n) === 1n
      } catch {
        return false
      }
    },
    'the service to ignore TERM',
    30_000,
  )
})
afterAll(() => killTracked())

/** [argv, exit status, values the lines may quote, env]: DIR stands for the service's directory. */
const CASES: Array<[string[], number, string[]?, Record<string, string>?]> = [
  [['fnd', 'x'], 2],
  [['find'], 2],
  [['signal', 'web'], 2],
  [['signal'], 2],
  [['find', 'web', '--pidfil', '/run/web.pid'], 2],
  [['find', 'web', 'extra'], 2],
  [['list', 'extra', 'more'], 2],
  [['containers', 'x'], 2],
  [['help', 'list', 'extra'], 2],
  [['-q', 'find', 'x'], 2],
  [['--json', 'find', 'x'], 2],
  [['find', 'a/b'], 2],
  [['find', 'web', '--root-pid', '0'], 2],
  [['find', 'web', '--root-pid', '99999999'], 2, ['99999999']],
  [['find', 'web', '--pidfile', '/run/web.pid', '--dir', '/run'], 2],
  [['find', 'web', '--pidfile', ''], 2],
  [['find', 'web', '--container', ''], 2],
  [['wait', 'web', '--for', 'bogus'], 2],
  [['wait', 'web', '--pid', '1:2', '--for', 'running'], 2],
  [['signal', 'web', 'BOGUS'], 2],
  [['signal', 'web', 'TREM'], 2],
  [['signal', 'web', '0', '--wait'], 2],
  [['signal', 'web', '0', '--retry', 'TERM/5/KILL/5'], 2],
  [['signal', 'web', 'TERM', '--scope', 'bogus'], 2],
  [['signal', 'web', 'TERM', '--retry', 'TERM/abc'], 2, ['"TERM/abc"']],
  [['signal', 'web', 'TERM', '--retry', 'abc/4'], 2, ['"abc/4"']],
  [['signal', 'web', 'TERM', '--retry', 'TERM/5/KILL'], 2, ['"TERM/5/KILL"']],
  [['signal', 'web', 'TERM', '--retry', 'TERM/999999999h'], 2, ['"TERM/999999999h"', '"999999999h"']],
  [['signal', 'web', 'TERM', '--retry', 'TERM'], 2],
  [['signal', 'web', 'TERM', '--retry', 'TERM//5'], 2],
  [['signal', 'web', 'TERM', '--retry', 'TERM/5/BOGUS/5'], 2, ['"TERM/5/BOGUS/5"', '"BOGUS"']],
  [['signal', 'web', 'TERM', '--wait', '--timeout', '999999999h'], 2, ['999999999h']],
  [['signal', 'web', 'TERM', '--pid', 'abc'], 2],
  [['signal', 'web', 'TERM', '--pid', '1'], 2],
  [['signal', 'web', 'TERM', '--pid', '1:1'], 4],
  [['signal', 'web', 'TERM', '--pid', '1:1', '--dir', '/run'], 2],
  [['run', 'web'], 2],
  [['run', '--dir', '/nonexistent-b3', '--', 'sleep', '1'], 2],
  [['run', 'web', '--pidfile', '/', '--', 'true'], 2],
  [['run', 'web', '--dir', '/etc/passwd', '--', 'true'], 125, ['/etc/passwd']],
  [['serve', 'web', '--listen', '1.2.3.4:99999'], 2, ['"1.2.3.4:99999"']],
  [['serve', 'a', 'b', '--pidfile', '/x'], 2],
  [['reload', 'web'], 2],
  [['completion', 'fish'], 2],
  [['completion', 'bash', 'x'], 2],
  // the engine's socket: its address is a value quoted as given
  [['containers'], 4, ['unix:///nonexistent-b3/docker.sock'], {DOCKER_HOST: 'unix:///nonexistent-b3/docker.sock'}],
  [['find', 'web', '--container', 'app'], 4, ['tcp://127.0.0.1:1'], {DOCKER_HOST: 'tcp://127.0.0.1:1'}],
  // a real service that ignores TERM and USR1
  [['signal', 'x', 'TERM', '--dir', 'DIR'], 1, ['DIR']],
  [['signal', 'x', 'TERM', '--wait', '--timeout', '1s', '--dir', 'DIR'], 1, ['DIR']],
  [['signal', 'x', 'USR1', '--require-handler', '--dir', 'DIR'], 1, ['DIR']],
  [['wait', 'x', '--timeout', '1s', '--dir', 'DIR'], 1, ['DIR']],
  [['signal', 'absent', 'TERM', '--dir', 'DIR'], 7, ['DIR']],
  [['run', 'x', '--dir', 'DIR', '--', 'true'], 122, ['DIR']],
]

describe.each(PATHS)('every error: one line of at most 100 columns (but the values it quotes), at most one hint (%s)', (_which, pathEnv) => {
  test.each(CASES)('%j exits %d', async (argv, status, values = [], env = {}) => {
    const real = argv.map((a) => (a === 'DIR' ? svc : a))
    const r = await cli(real, {env: {...pathEnv, ...env}})
    const shown = values.flatMap((v) => (v === 'DIR' ? [svc, path.join(svc, 'x.pid')] : [v]))
    expect({argv, status: r.status, stdout: r.stdout}).toEqual({argv, status, stdout: ''})
    expectOneError(r.stderr, shown)
  })
})

/**
 * Container runtimes (src/runtime), on the machine's own Docker: a container that does not exist
 * is said once ("no container X (Docker)", not the engine's echo of it); with a second runtime
 * whose socket (root's, bound and never listened on) refuses connections, nothing settles it:
 * "cannot tell", the runtimes counted and named on the line, each one's words in --json only.
 */
describe.each(PATHS)('container runtimes: one short line, the runtimes\u2019 words in --json only (%s)', (_which, pathEnv) => {
  const missing = `nsl-b3-nosuch-${process.pid}`
  const clean = {DOCKER_HOST: undefined, CONTAINER_HOST: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined, XDG_RUNTIME_DIR: undefined}
  let refusing: string
  beforeAll(async () => {
    refusing = `unix://${path.join(tmpdir('nslocate-refusing-'), 'podman.sock')}`
    const bind = spawn('/usr/bin/python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', refusing.slice('unix://'.length)])
    expect(await new Promise((resolve) => bind.once('exit', resolve))).toBe(0)
  })

  test('signal: a Docker container that does not exist is "no container X (Docker)", said once (exit 7)', async () => {
    const r = await cli(['signal', 'web', 'TERM', '--container', missing], {env: {...clean, ...pathEnv}})
    expect({status: r.status, stdout: r.stdout}).toEqual({status: 7, stdout: ''})
    expect(expectOneError(r.stderr, [missing])).toEqual([
      `nslocate: web is not running: no container ${missing} (Docker); nothing was signalled`,
      `hint: see where it looked: nslocate find web --container ${missing}`,
    ])
  })

  test('wait --for running: the same fact in its timeout line (exit 1)', async () => {
    const r = await cli(['wait', 'web', '--container', missing, '--for', 'running', '--timeout', '300ms'], {env: {...clean, ...pathEnv}})
    expect({status: r.status, stdout: r.stdout}).toEqual({status: 1, stdout: ''})
    expect(expectOneError(r.stderr, [missing])[0]).toBe(`nslocate: web: timed out after 300 ms waiting for it to be running (no container ${missing} (Docker))`)
  })

  test('find, Podman refusing (CONTAINER_HOST) and Docker not knowing it: cannot tell (exit 4), one line and the hint', async () => {
    const env = {...clean, CONTAINER_HOST: refusing, ...pathEnv}
    const r = await cli(['find', 'web', '--container', missing], {env})
    expect({status: r.status, stdout: r.stdout}).toEqual({status: 4, stdout: ''})
    expect(expectOneError(r.stderr, [missing])).toEqual([
      `nslocate: cannot tell whether container ${missing} runs: 1 runtime could not tell (Podman), 1 did not know it`,
      'hint: fix the runtime that failed, or name the one that has the container (KIND://REF or --runtime)',
    ])
    const j = await cli(['find', 'web', '--container', missing, '--json'], {env})
    expect(JSON.parse(j.stdout).error).toMatchObject({
      code: 'RUNTIME',
      failed: [{runtime: `Podman at ${refusing} (CONTAINER_HOST; a socket owned by root)`, said: 'cannot be reached (ECONNREFUSED)'}],
      unknownTo: ['Docker at unix:///var/run/docker.sock (a socket owned by root)'],
    })
  })
})
