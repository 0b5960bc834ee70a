/**
 * Red-team F8: a --pidfile that names a directory ("/", "x/", "x/.", "x/..", ".") is a usage error
 * (2) saying so, never "not a regular file ... (remove it)" (123), and a trailing slash is never
 * silently dropped so that "x" is written instead.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

test.each(['/', 'DIR/', 'DIR/x/.', 'DIR/x/..', 'DIR/new/', '.'])('--pidfile %s: usage error 2, "names a directory", nothing created', async (raw) => {
  const dir = tempDir('nslocate-dirname-')
  fs.mkdirSync(path.join(dir, 'x'))
  const pidfile = raw.replace('DIR', dir)
  const r = await cli(['run', 'svc', '--pidfile', pidfile, '--', 'true'], {cwd: dir})
  expect(r.stderr.replace(/\s*\n\s*›\s*/g, ' ')).toContain(`--pidfile ${pidfile} names a directory, not a file`)
  expect(r.status).toBe(2)
  expect(fs.readdirSync(dir)).toEqual(['x'])
  expect(fs.readdirSync(path.join(dir, 'x'))).toEqual([])
})
