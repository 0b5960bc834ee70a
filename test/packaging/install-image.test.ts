/**
 * The README's Install command for the container image, as written (`bash scripts/build-image.sh`:
 * nslocate:local, offline, cached by its inputs), then the example that follows it: a sidecar in the
 * PID namespace of a container started from the same image finds its service. Containers carry the
 * label nslocate.test=1 (.ci/run removes any left) and are removed here by id.
 */
import * as crypto from 'node:crypto'

import {ok, readmeImageExample, readmeInstallCommands, run} from './exec'

const APP = `nslocate-install-image-${crypto.randomBytes(4).toString('hex')}`
const LABEL = ['--label', 'nslocate.test=1']
let started = false

afterAll(async () => {
  if (started) await run('docker', ['rm', '-f', APP])
})

test('the README\'s image command builds nslocate:local; the example after it finds a service from a sidecar (exit 0)', async () => {
  const build = readmeInstallCommands().image
  expect(build).toBe('bash scripts/build-image.sh')
  await ok('sh', ['-c', build], {timeoutMs: 540_000})
  expect((await ok('docker', ['run', '--rm', ...LABEL, '--network', 'none', 'nslocate:local', '--version'])).trim()).toMatch(/^nslocate\/\d+\.\d+\.\d+ linux-/)
  // docs/sidecar.md's first lines, the README's example: `app` is this test's container.
  await ok('docker', ['run', '-d', ...LABEL, '--name', APP, '--network', 'none', 'nslocate:local', 'run', 'app', '--', 'sleep', '1000'])
  started = true
  const example = readmeImageExample().replace('--pid container:app', `--pid container:${APP}`)
  expect(example).toBe(`docker run --rm --network none --pid container:${APP} nslocate:local find app --root-pid 1`)
  let r = await run('sh', ['-c', example.replace('docker run --rm', `docker run --rm ${LABEL.join(' ')}`)], {timeoutMs: 60_000})
  for (let i = 0; i < 40 && r.status !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    r = await run('sh', ['-c', example.replace('docker run --rm', `docker run --rm ${LABEL.join(' ')}`)], {timeoutMs: 60_000})
  }
  expect({status: r.status, first: r.stdout.split('\n')[0]}).toEqual({status: 0, first: expect.stringMatching(/^app: running, pid \d+$/)})
}, 600_000)
