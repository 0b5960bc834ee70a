/**
 * The component-by-component walk of path-safety.ts on real directories: symlinks resolve inside a
 * given root (as /proc/PID/root must), loops end, "..", and the permission message names the directory.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {openPidfile} from '../../src/locate/pidfile'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

function opened(file: string, opts: Parameters<typeof openPidfile>[1] = {}) {
  const o = openPidfile(file, opts)
  fs.closeSync(o.fd)
  return o
}

test("an absolute symlink under a root resolves inside that root, not the caller's (/var/run -> /run in a container)", () => {
  const root = tempDir()
  fs.mkdirSync(path.join(root, 'run'))
  fs.mkdirSync(path.join(root, 'var'))
  fs.symlinkSync('/run', path.join(root, 'var', 'run'))
  fs.writeFileSync(path.join(root, 'run', 'nsl-walk-test.pid'), '4242\n')
  const o = opened(path.join(root, 'var', 'run', 'nsl-walk-test.pid'), {root})
  expect(o.content.pid).toBe(4242)
  expect(o.symlinks).toEqual([`${path.join(root, 'var', 'run')} -> /run`])
  expect(o.unsafe).toEqual([])
})

test('"..", "." and repeated slashes walk as the kernel would', () => {
  const root = tempDir()
  fs.mkdirSync(path.join(root, 'a', 'b'), {recursive: true})
  fs.writeFileSync(path.join(root, 'a', 'x.pid'), '77\n')
  expect(opened(`${root}/a/b/.././/x.pid`).content.pid).toBe(77)
})

test('a symlink loop ends with ELOOP, a missing component with ENOENT naming it', () => {
  const root = tempDir()
  fs.symlinkSync(path.join(root, 'b'), path.join(root, 'a'))
  fs.symlinkSync(path.join(root, 'a'), path.join(root, 'b'))
  expect(() => openPidfile(path.join(root, 'a', 'x.pid'))).toThrow(expect.objectContaining({code: 'ELOOP'}))
  expect(() => openPidfile(path.join(root, 'nope', 'x.pid'))).toThrow(
    expect.objectContaining({code: 'ENOENT', message: `${path.join(root, 'nope')} does not exist`}),
  )
})

test("the pidfile's own symlink is refused before its target is opened; followed only when unsafe pidfiles are allowed", () => {
  const root = tempDir()
  fs.writeFileSync(path.join(root, 'real.pid'), '99\n')
  fs.symlinkSync('real.pid', path.join(root, 'x.pid'))
  expect(() => openPidfile(path.join(root, 'x.pid'))).toThrow(expect.objectContaining({code: 'EREFUSED', reason: 'symlink'}))
  const o = opened(path.join(root, 'x.pid'), {allowUnsafe: true})
  expect(o.content.pid).toBe(99)
  expect(o.unsafe.map((u) => u.reason)).toEqual(['symlink'])
})

test('a world-writable directory without the sticky bit is unsafe_directory, naming it', () => {
  const root = tempDir()
  const dir = path.join(root, 'open')
  fs.mkdirSync(dir)
  fs.chmodSync(dir, 0o777)
  fs.writeFileSync(path.join(dir, 'x.pid'), '5\n')
  expect(opened(path.join(dir, 'x.pid')).unsafe).toEqual([
    {reason: 'unsafe_directory', detail: `${dir} is world-writable without the sticky bit (mode 0777): anyone could replace the pidfile`},
  ])
})
