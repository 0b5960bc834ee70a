/** The library's acquire() as a Node service uses it: the lock lives as long as the handle. */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, cliJson, killTracked, tmpdir as newTmpdir, track} from '../helpers/cli'

const dirs: string[] = []
afterEach(async () => {
  await killTracked()
  // tmpdir() does not remove what it made: every run left two directories behind.
  for (const d of dirs.splice(0)) fs.rmSync(d, {recursive: true, force: true})
})
const tmpdir = () => {
  const d = newTmpdir()
  dirs.push(d)
  return d
}

function service(script: string) {
  const lib = JSON.stringify(path.join(ROOT, 'dist/src'))
  return track(spawn(process.execPath, ['-e', `const ns = require(${lib});\n${script}`], {stdio: ['ignore', 'pipe', 'inherit']}))
}

async function line(child: ReturnType<typeof service>): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (d) => {
      buf += d
      if (buf.includes('\n')) resolve(buf.split('\n')[0])
    })
    child.once('exit', (c) => reject(new Error(`service exited (${c}) before printing: ${buf}`)))
  })
}

test('acquire() holds the pidfile; a second acquire() throws CONFLICT with the holder pid; release() removes it', async () => {
  const dir = tmpdir()
  // setInterval keeps the service alive (the handle alone does not keep Node's event loop running).
  const first = service(
    `ns.acquire({name: 'lib', dir: ${JSON.stringify(dir)}}).then((h) => { console.log(JSON.stringify({pid: h.pid, path: h.path})); setInterval(() => {}, 1000) })`,
  )
  const info = JSON.parse(await line(first))
  expect(info).toEqual({pid: first.pid, path: path.join(dir, 'lib.pid')})
  expect(fs.readFileSync(info.path, 'utf8')).toBe(String(first.pid))
  const second = service(
    `ns.acquire({name: 'lib', dir: ${JSON.stringify(dir)}, lockTimeoutMs: 500}).then(() => console.log('acquired'), (e) => console.log(JSON.stringify({code: e.code, pid: e.details.pid, msg: e.message})))`,
  )
  const err = JSON.parse(await line(second))
  expect(err).toMatchObject({code: 'CONFLICT', pid: first.pid})
  expect(err.msg).toMatch(/already running \(pid \d+\)/)
  const released = service(`ns.acquire({name: 'rel', dir: ${JSON.stringify(dir)}}).then((h) => { h.release(); console.log(require('fs').existsSync(h.path)) })`)
  expect(await line(released)).toBe('false')
})

test('locate() on its own pidfile does not drop the POSIX lock it holds', async () => {
  const dir = tmpdir()
  const svc = service(`ns.acquire({name: 'self', dir: ${JSON.stringify(dir)}}).then(async () => {
    const r = await ns.locate('self', {dir: ${JSON.stringify(dir)}})
    console.log(JSON.stringify({state: r.state, holder: r.holder}))
    setInterval(() => {}, 1000)
  })`)
  const own = JSON.parse(await line(svc))
  expect(own).toEqual({state: 'running', holder: svc.pid})
  // From outside, the POSIX lock is still there (F_GETLK names the service).
  const {status, json} = await cliJson(['find', 'self', '--dir', dir])
  expect([status, json.pidfile.lock, json.holder]).toEqual([0, 'posix', svc.pid])
})
