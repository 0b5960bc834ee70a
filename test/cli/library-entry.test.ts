/**
 * require('nslocate') as a consumer gets it: the BUILT entry (package.json "main" ->
 * dist/src/index.js) in a separate Node process, each export used once for real against a locked
 * siglog victim, which logs what it received and from whom.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, killTracked, track} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {spawnLockedVictim} from '../sidecar/locked-victim'

afterEach(async () => {
  await killTracked()
  await stopAll()
})

const SIG = {HUP: 1, TERM: 15}

function consumer(...args: string[]): Promise<{code: number | null; out: any; stderr: string}> {
  const child = track(spawn(process.execPath, [path.join(__dirname, 'library-consumer.js'), ROOT, ...args], {stdio: ['ignore', 'pipe', 'pipe']}))
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.once('close', (code) => resolve({code, out: stdout ? JSON.parse(stdout) : null, stderr})))
}

test('the package entry exports the library and sidecar API, and each export works from a consumer process', async () => {
  const own = tempDir('nslocate-lib-')
  const web = await spawnLockedVictim({name: 'web', exitOn: ['TERM']})
  const {code, out, stderr} = await consumer(own, web.dir)
  expect({code, fatal: out?.fatal, stderr}).toEqual({code: 0, fatal: undefined, stderr: ''})
  expect(out.entry).toBe(path.join(ROOT, 'dist/src/index.js'))
  expect(out.exports).toEqual(
    expect.arrayContaining(['acquire', 'list', 'listContainers', 'locate', 'locateSync', 'signal', 'waitFor', 'NslocateError', 'Reloader', 'prepareServer']),
  )

  expect(out.acquired).toEqual({pid: out.pid, path: path.join(own, 'svc.pid'), content: String(out.pid)})
  expect(out.self).toEqual({state: 'running', holder: out.pid})
  expect(out.web).toEqual({state: 'running', pid: web.pid})
  expect(out.signal0).toEqual({outcome: 'probed', delivered: [web.pid]})
  expect(out.waitRunning).toBe(true)
  expect(out.healthz).toMatchObject({addr: expect.stringMatching(/^127\.0\.0\.1:\d+$/), status: 200, state: 'running', pid: web.pid})
  expect(out.healthzGone).toBe(503)
  expect(out.metricsUp).toEqual(['nslocate_service_up{name="web"} 1', 'nslocate_service_up{name="gone"} 0'])
  expect(out.reload).toEqual({outcome: 'signalled', events: ['start', 'service', 'change', 'signal', 'stop']})
  expect(out.term).toEqual({outcome: 'signalled', delivered: [web.pid]})
  expect(out.waitStopped).toBe(true)
  expect(out.badName).toEqual({nslocateError: true, code: 'USAGE'})
  expect(out.released).toBe(true)

  // What the victim received, and from whom: HUP from the Reloader, then TERM, both sent by the consumer.
  expect(await web.exited).toEqual({code: 0, signal: null})
  expect(web.received().map((r) => [r.signo, r.from])).toEqual([
    [SIG.HUP, out.pid],
    [SIG.TERM, out.pid],
  ])
  expect(fs.existsSync(path.join(own, 'svc.pid'))).toBe(false)
})
