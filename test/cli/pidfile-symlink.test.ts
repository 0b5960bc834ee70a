/**
 * Issue 17, hole 8: a pidfile that is itself a symbolic link is `unknown` (reason `symlink`, exit
 * status 4) whatever its target: a file, nothing (dangling), another link in a loop, a directory.
 * Never "no pidfile" (exit 3), so `wait --for stopped` never succeeds on one. The same through
 * --pidfile, --dir, the search path ($NSLOCATE_RUNTIME_DIR), --root-pid, list, and the library.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, cli, cliJson} from '../helpers/cli'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

const PATHS = [{}, {NSLOCATE_NO_FAST_PATH: '1'}]
const via = (env: object) => ('NSLOCATE_NO_FAST_PATH' in env ? 'oclif' : 'fast path')

/** A pid below pid_max that no process has now. */
function deadPid(): number {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  for (let p = max - 1; ; p--) if (!fs.existsSync(`/proc/${p}`)) return p
}

const DEAD = deadPid()

/** One directory holding every kind of pidfile symlink that leads nowhere usable, and a regular file for contrast. */
function links(): {dir: string; names: Record<string, string>} {
  const dir = tempDir('nslocate-symlink-')
  fs.mkdirSync(path.join(dir, 'd'))
  fs.mkdirSync(path.join(dir, 'sub'))
  const names: Record<string, string> = {
    dangling: '/nonexistent-nslocate/dangling.pid', // absolute, nothing there
    danglingrel: 'missing.pid', // relative, nothing there
    danglingdir: 'nodir/x.pid', // through a directory that does not exist
    chain: 'dangling.pid', // a link to the dangling link
    loop: 'loop.pid', // itself
    loopa: 'loopb.pid', // a two-link cycle
    loopb: 'loopa.pid',
    todir: 'd', // a directory (relative)
    todirslash: `${dir}/d/`, // a directory (absolute, trailing slash)
    toroot: '/', // the root directory
    todot: '.', // its own directory
    toparent: '..',
    throughfile: 'sub/../plain.pid/x', // a regular file used as a directory (ENOTDIR)
  }
  fs.writeFileSync(path.join(dir, 'plain.pid'), `${DEAD}\n`)
  for (const [name, target] of Object.entries(names)) fs.symlinkSync(target, path.join(dir, `${name}.pid`))
  return {dir, names}
}

describe('find: a symlinked pidfile that leads nowhere is unknown (symlink), never "no pidfile"', () => {
  test.each(PATHS)(
    '--pidfile and --dir, through %j',
    async (env) => {
      const {dir, names} = links()
      for (const name of Object.keys(names)) {
        for (const where of [
          ['--pidfile', path.join(dir, `${name}.pid`)],
          ['--dir', dir],
        ]) {
          const r = await cliJson(['find', name, ...where], {env})
          expect({via: via(env), name, where: where[0], status: r.status, state: r.json.state, reasons: r.json.reasons, pid: r.json.pid}).toEqual({
            via: via(env),
            name,
            where: where[0],
            status: 4,
            state: 'unknown',
            reasons: ['symlink'],
            pid: null,
          })
          expect(r.json.evidence.join('\n')).toContain(`${path.join(dir, `${name}.pid`)} is a symbolic link to ${names[name]}`)
          const q = await cli(['find', name, ...where, '--quiet'], {env})
          expect({name, quiet: q.status}).toEqual({name, quiet: 4})
        }
      }
    },
    120_000,
  )

  test('found through the search path ($NSLOCATE_RUNTIME_DIR)', async () => {
    const {dir} = links()
    for (const name of ['dangling', 'loop', 'todir', 'toroot']) {
      const r = await cliJson(['find', name], {env: {NSLOCATE_RUNTIME_DIR: dir}})
      expect({name, status: r.status, state: r.json.state, reasons: r.json.reasons, path: r.json.pidfile}).toEqual({
        name,
        status: 4,
        state: 'unknown',
        reasons: ['symlink'],
        path: null,
      })
    }
  })

  test("--root-pid: found inside the target's root, the same answer", async () => {
    const {dir} = links()
    const sleeper = spawnTracked(['sleep', '60'])
    for (const name of ['dangling', 'danglingrel', 'loop', 'todir']) {
      const r = await cliJson(['find', name, '--dir', dir, '--root-pid', String(sleeper.pid)])
      expect({name, status: r.status, state: r.json.state, reasons: r.json.reasons}).toEqual({name, status: 4, state: 'unknown', reasons: ['symlink']})
    }
  })

  test('--allow-unsafe-pidfile follows the link: a directory is not_regular; nothing, or a loop, is still unknown (symlink), not "no pidfile"', async () => {
    const {dir} = links()
    const expected: Record<string, string[]> = {
      dangling: ['symlink'],
      danglingrel: ['symlink'],
      danglingdir: ['symlink'],
      chain: ['symlink'],
      loop: ['symlink'],
      loopa: ['symlink'],
      throughfile: ['symlink'],
      todir: ['not_regular'],
      todirslash: ['not_regular'],
      toroot: ['not_regular'],
      todot: ['not_regular'],
      toparent: ['not_regular'],
    }
    for (const [name, reasons] of Object.entries(expected)) {
      const r = await cliJson(['find', name, '--dir', dir, '--allow-unsafe-pidfile'])
      expect({name, status: r.status, state: r.json.state, reasons: r.json.reasons}).toEqual({name, status: 4, state: 'unknown', reasons})
    }
  })

  test('a symlink to a regular file is refused as before, and followed when allowed', async () => {
    const {dir} = links()
    fs.symlinkSync('plain.pid', path.join(dir, 'good.pid'))
    const refused = await cliJson(['find', 'good', '--dir', dir])
    expect({status: refused.status, reasons: refused.json.reasons}).toEqual({status: 4, reasons: ['symlink']})
    const allowed = await cliJson(['find', 'good', '--dir', dir, '--allow-unsafe-pidfile'])
    expect({status: allowed.status, state: allowed.json.state, pid: allowed.json.pidfile?.pid}).toEqual({status: 1, state: 'stale', pid: DEAD})
  })
})

describe('wait --for stopped does not succeed on a symlinked pidfile', () => {
  test.each(PATHS)(
    'exit 4 (cannot tell), at once, through %j',
    async (env) => {
      const {dir} = links()
      for (const name of ['dangling', 'loop', 'todir', 'throughfile']) {
        for (const where of [
          ['--pidfile', path.join(dir, `${name}.pid`)],
          ['--dir', dir],
        ]) {
          const t0 = Date.now()
          const r = await cliJson(['wait', name, ...where, '--for', 'stopped', '--timeout', '5s'], {env})
          expect({via: via(env), name, where: where[0], status: r.status, reached: r.json.reached, reasons: r.json.target?.reasons}).toEqual({
            via: via(env),
            name,
            where: where[0],
            status: 4,
            reached: false,
            reasons: ['symlink'],
          })
          expect(Date.now() - t0).toBeLessThan(4000)
        }
      }
    },
    60_000,
  )

  test('signal sends nothing: exit 4 (cannot tell), not 7 (not running)', async () => {
    const {dir} = links()
    for (const name of ['dangling', 'loop']) {
      const r = await cliJson(['signal', name, 'TERM', '--dir', dir])
      expect({name, status: r.status, delivered: r.json.delivered}).toEqual({name, status: 4, delivered: []})
    }
  })
})

test('list shows each such link as find does', async () => {
  const {dir, names} = links()
  const r = await cliJson(['list', '--dir', dir])
  expect(r.status).toBe(0)
  const rows = Object.fromEntries(r.json.map((x: {name: string; state: string; reasons: string[]}) => [x.name, `${x.state} ${x.reasons.join(',')}`]))
  for (const name of Object.keys(names)) expect({name, row: rows[name]}).toEqual({name, row: 'unknown symlink'})
})

test('the library: locate() says unknown (symlink) for a dangling link', () => {
  const {dir} = links()
  const script =
    `const {locateSync: locate} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))}); ` +
    `const r = locate({name: 'dangling', dir: ${JSON.stringify(dir)}}); process.stdout.write(JSON.stringify([r.state, r.reasons]))`
  const out = execFileSync(process.execPath, ['-e', script], {encoding: 'utf8'})
  expect(JSON.parse(out)).toEqual(['unknown', ['symlink']])
})
