/**
 * --quiet on the commands that run until stopped (serve, reload) and on run, as a user sees them:
 * nothing on success, an error still its one line on stderr; and a reload that fails is never
 * silent under --quiet (one line on stderr per failed reload), while a reload that works, or a
 * service that is not running (it reads its new configuration when it starts), prints nothing.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'

import {BIN, cli, killTracked, tmpdir, track, until} from '../helpers/cli'
import {stopAll} from '../helpers/tracked'

// Temp dirs (tmpdir) are removed here: a jest worker may be ended without an exit event.
afterAll(() => stopAll())

afterEach(() => killTracked())

/** `nslocate ARGV` in the background, its stdout and stderr collected as they come. */
function background(argv: string[]): {child: ChildProcess; out: () => string; err: () => string} {
  const child = track(spawn(process.execPath, [BIN, ...argv], {stdio: ['ignore', 'pipe', 'pipe'], detached: true}), {group: true})
  let [out, err] = ['', '']
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()))
  return {child, out: () => out, err: () => err}
}

/**
 * Changes `file` until `done()` (a reloader's start line is not printed under -q, so when it
 * watches is not known): once every 3 s, as a change every few ms would keep the debounce waiting.
 */
async function changeUntil(file: string, done: () => boolean): Promise<void> {
  const end = Date.now() + 60_000
  for (;;) {
    fs.writeFileSync(file, `${Date.now()}\n`)
    try {
      return await until(done, `a line on stderr after ${file} changed`, 3000)
    } catch (error) {
      if (Date.now() > end) throw error
    }
  }
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))))

/** `nslocate run x --dir DIR -- sh` that ignores HUP (SIG_IGN), once its pid is written and SigIgn says so. */
async function ignoresHup(dir: string): Promise<number> {
  track(spawn(process.execPath, [BIN, 'run', 'x', '--dir', dir, '--', 'sh', '-c', 'trap "" HUP; exec sleep 600'], {stdio: 'ignore', detached: true}), {
    group: true,
  })
  let pid = 0
  await until(
    () => {
      try {
        pid = Number(fs.readFileSync(path.join(dir, 'x.pid'), 'utf8'))
        const ign = /^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
        return ign !== null && (BigInt(`0x${ign[1]}`) & 1n) === 1n
      } catch {
        return false
      }
    },
    'the service to ignore HUP',
    30_000,
  )
  return pid
}

test('run -q: nothing on success; a failure is still its one line', async () => {
  const dir = tmpdir()
  const ok = await cli(['run', 'web', '--dir', dir, '-q', '--', 'true'])
  expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, '', ''])
  const bad = await cli(['run', 'web', '--dir', dir, '--quiet', '--', '/nonexistent/prog'])
  expect([bad.status, bad.stdout, bad.stderr.split('\n').length]).toEqual([127, '', 2])
  expect(bad.stderr).toMatch(/^nslocate: \S.*\n$/)
})

test('serve -q: no listen or stop line, it serves all the same; a bad --listen is one line', async () => {
  const dir = tmpdir()
  const port = 20000 + (process.pid % 20000)
  const s = background(['serve', 'web', '--dir', dir, '--listen', `127.0.0.1:${port}`, '-q'])
  const get = () =>
    new Promise<number>((resolve) => {
      http
        .get({host: '127.0.0.1', port, path: '/healthz/web'}, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        .on('error', () => resolve(0))
    })
  let status = 0
  await until(async () => (status = await get()) !== 0, 'serve to answer', 30_000)
  expect(status).toBe(503) // web is not running
  s.child.kill('SIGTERM')
  expect(await exited(s.child)).toBe(0)
  expect([s.out(), s.err()]).toEqual(['', ''])
  const bad = await cli(['serve', 'web', '--listen', '1.2.3.4:99999', '-q'])
  expect([bad.status, bad.stdout]).toEqual([2, ''])
  expect(bad.stderr.split('\n')[0]).toMatch(/^nslocate: \S/)
})

test('reload -q: a reload that does not land (HUP ignored, --validate fails) is one line on stderr each; nothing on stdout', async () => {
  const dir = tmpdir()
  const pid = await ignoresHup(dir)
  const conf = path.join(dir, 'app.conf')
  fs.writeFileSync(conf, 'a\n')
  const r = background(['reload', 'x', '--dir', dir, '--watch', conf, '--debounce', '100ms', '-q'])
  await changeUntil(conf, () => r.err().endsWith('\n'))
  const first = r.err().split('\n')[0]
  expect(first).toBe(`nslocate: reload: x: sent HUP to pid ${pid}:${/:([0-9]+),/.exec(first)?.[1]}, but it will not act: it ignores HUP (SIG_IGN)`)
  r.child.kill('SIGTERM')
  expect(await exited(r.child)).toBe(0)
  expect(r.out()).toBe('')

  const v = background(['reload', 'x', '--dir', dir, '--watch', conf, '--debounce', '100ms', '--validate', 'exit 3', '-q'])
  await changeUntil(conf, () => v.err().endsWith('\n'))
  expect(v.err().split('\n')[0]).toBe('nslocate: reload: --validate failed (exit status 3); nothing was signalled')
  v.child.kill('SIGTERM')
  expect(await exited(v.child)).toBe(0)
  expect(v.out()).toBe('')
})
