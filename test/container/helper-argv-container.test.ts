/**
 * The helper route on a real engine keeps every flag: `signal NAME SIG --container C
 * --require-handler` from a sibling container (own PID namespace, only the Docker socket and the
 * pidfile's volume shared) goes through a helper container, and the helper must apply
 * --require-handler too. The service is a `sleep`, which catches no HUP: with the flag, nothing is
 * sent (exit 1, no_handler) and it lives on; the helper argv written by hand used to drop the flag,
 * and HUP's default action killed it.
 *
 * (A container test: it belongs with test/container/placements.test.ts, which exercises the same
 * placement; it lives here, beside test/cli/helper-argv.test.ts, until the lead moves it.)
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {APP_IMAGE, describeWithEngine, docker, engineEndpoint, ensureImages, testLabels} from '../helpers/engine'

/** stdout and stderr of a container's log stream (8-byte frame headers: stream, 0, 0, 0, size). */
function demux(buf: Buffer): {stdout: string; stderr: string} {
  const out = {stdout: '', stderr: ''}
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4)
    const text = buf.toString('utf8', i + 8, i + 8 + size)
    if (buf[i] === 2) out.stderr += text
    else out.stdout += text
    i += 8 + size
  }
  return out
}

async function until<T>(what: string, ms: number, probe: () => T | null | Promise<T | null>): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== null) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describeWithEngine('the helper route keeps --require-handler (real engine)', () => {
  let dir: string
  let appId = ''
  let appName = ''

  beforeAll(async () => {
    await ensureImages()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-helper-argv-'))
    fs.chmodSync(dir, 0o755)
    const app = await docker().createContainer({
      Image: APP_IMAGE,
      Cmd: ['run', 'app', '--dir', '/shared', '--', 'sleep', '1000'],
      Labels: testLabels({'nslocate.test.helper-argv': 'app'}),
      NetworkDisabled: true,
      HostConfig: {NetworkMode: 'none', Binds: [`${dir}:/shared`]},
    })
    await app.start()
    const info = await app.inspect()
    appId = info.Id
    appName = info.Name.replace(/^\//, '')
    await until("the app's pidfile", 30_000, () =>
      /^\d+$/.test(fs.readFileSync(path.join(dir, 'app.pid'), {encoding: 'utf8', flag: 'a+'}).trim()) ? true : null,
    )
  }, 600_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, {recursive: true, force: true})
  })

  test('signal app HUP --container APP --require-handler from a sibling: nothing is sent (no_handler, exit 1), the service lives on', async () => {
    const socket = engineEndpoint().socketPath ?? '/var/run/docker.sock'
    const args = ['signal', 'app', 'HUP', '--container', appName, '--pidfile', '/shared/app.pid', '--require-handler', '--json']
    const sidecar = await docker().createContainer({
      Image: APP_IMAGE,
      Cmd: args,
      Env: [`NSLOCATE_HELPER_IMAGE=${APP_IMAGE}`],
      Labels: testLabels({'nslocate.test.helper-argv': 'sidecar'}),
      NetworkDisabled: true,
      HostConfig: {NetworkMode: 'none', Binds: [`${dir}:/shared`, `${socket}:/var/run/docker.sock`]},
    })
    try {
      await sidecar.start()
      const {StatusCode} = (await sidecar.wait()) as {StatusCode: number}
      const logs = (await sidecar.logs({stdout: true, stderr: true, follow: false})) as unknown as Buffer
      const {stdout, stderr} = demux(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs)))
      const shown = `exit ${StatusCode}\n${stdout}\n${stderr}`
      const json = JSON.parse(stdout)
      expect({status: StatusCode, helper: json.helper, delivered: json.delivered, exit_code: json.exit_code}).toEqual({
        status: 1,
        helper: APP_IMAGE,
        delivered: [],
        exit_code: 1,
      })
      expect(json.skipped.map((s: {reason: string}) => s.reason)).toContain('no_handler')
      expect(shown).not.toContain('Error')
      // HUP's default action would have ended the sleep, and with it the container's run.
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect((await docker().getContainer(appId).inspect()).State.Running).toBe(true)
    } finally {
      await sidecar.remove({force: true}).catch(() => undefined)
    }
  }, 120_000)
})
