/**
 * With --container, a bad NAME or SIGNAL is a usage error (2) before any runtime is asked: it was
 * DOCKER (4) for signal when the engine could not be reached, since signal checked its request only
 * after the runtime answered (find already checked first). The engine here is a socket that does not
 * exist, so any status but 2 means a runtime was asked first.
 */
import {cliJson} from '../helpers/cli'

const env = {DOCKER_HOST: 'unix:///nonexistent/nslocate-test/docker.sock', CONTAINER_HOST: '', CONTAINER_RUNTIME_ENDPOINT: ''}

test.each([
  ['signal, a bad SIGNAL', ['signal', 'app', 'BOGUS', '--container', 'web'], 'invalid signal "BOGUS"'],
  ['signal, a bad NAME', ['signal', 'bad/name', 'TERM', '--container', 'web'], 'invalid service name "bad/name"'],
  ['wait, a bad NAME', ['wait', 'bad/name', '--container', 'web', '--timeout', '1s'], 'invalid service name "bad/name"'],
  ['find, a bad NAME', ['find', 'bad/name', '--container', 'web'], 'invalid service name "bad/name"'],
])('%s: exit 2, USAGE, the engine never asked', async (_what, args, message) => {
  for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
    const r = await cliJson([...args, '--json'], {env: {...env, ...extra}})
    expect({status: r.status, code: r.json?.error?.code}).toEqual({status: 2, code: 'USAGE'})
    expect(r.json.error.message).toContain(message)
  }
})

test('the library: signal(NAME, BOGUS, {container}) is USAGE before any runtime is asked', async () => {
  const saved = {...process.env}
  Object.assign(process.env, env)
  try {
    const {signal} = await import('../../src/api/library')
    await expect(signal('app', 'BOGUS', {container: 'web'})).rejects.toMatchObject({code: 'USAGE', message: expect.stringContaining('invalid signal "BOGUS"')})
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  }
})
