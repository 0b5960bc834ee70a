/**
 * The library side of issue 12 items 5 and 7 and issue 11 item 1: acquire() resolves relative
 * paths against the working directory, leaves nothing behind when the pid cannot be written (a real
 * full tmpfs), and refuses a pidfile with a second link.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {acquire} from '../../src/acquire/acquire'
import {NslocateError} from '../../src/errors'
import {stopAll, tempDir} from '../helpers/tracked'
import {unmount} from './run-helpers'

afterAll(() => stopAll())

test('a relative pidfile and a relative dir are taken from the working directory', async () => {
  const dir = tempDir('nslocate-rel-')
  const cwd = process.cwd()
  process.chdir(dir)
  try {
    const a = await acquire({name: 'a', pidfile: 'sub/a.pid'})
    const b = await acquire({name: 'b', dir: 'other'})
    expect([a.path, b.path]).toEqual([path.join(dir, 'sub', 'a.pid'), path.join(dir, 'other', 'b.pid')])
    process.chdir('/')
    expect(fs.readFileSync(a.path, 'utf8')).toBe(String(process.pid))
    a.release()
    b.release()
    expect([fs.existsSync(a.path), fs.existsSync(b.path)]).toEqual([false, false])
  } finally {
    process.chdir(cwd)
  }
})

test('a full tmpfs: acquire() throws IO naming the file and ENOSPC, and leaves no pidfile', async () => {
  const mnt = path.join(tempDir('nslocate-libfull-'), 'mnt')
  fs.mkdirSync(mnt)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', mnt])
  try {
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'fill')}`, 'bs=4096'], {stdio: 'ignore'})
    const error = await acquire({name: 'full', dir: mnt}).then(
      () => null,
      (e) => e,
    )
    expect(error).toBeInstanceOf(NslocateError)
    expect([error.code, error.message]).toEqual([
      'IO',
      `cannot write the pid into ${path.join(mnt, 'full.pid')}: no space left on the device (ENOSPC); free space there or choose another option dir`,
    ])
    expect(fs.readdirSync(mnt)).toEqual(['fill'])
  } finally {
    unmount(mnt)
  }
})

test('a pidfile with a second link is refused (UNSAFE_PIDFILE) and neither name is touched', async () => {
  const dir = tempDir('nslocate-liblink-')
  const other = path.join(dir, 'other')
  fs.writeFileSync(other, 'keep')
  fs.linkSync(other, path.join(dir, 'x.pid'))
  const error = await acquire({name: 'x', dir}).then(
    () => null,
    (e) => e,
  )
  expect(error?.code).toBe('UNSAFE_PIDFILE')
  expect(fs.readFileSync(other, 'utf8')).toBe('keep')
  expect(fs.statSync(path.join(dir, 'x.pid')).nlink).toBe(2)
})
