/** COMMAND is everything after run's first "--", verbatim: a "--" of its own (setpriv ... -- prog) reaches it unchanged. */
import * as path from 'node:path'

import {cli} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

test('a "--" inside COMMAND is passed to it', async () => {
  const file = path.join(tempDir('nslocate-argv-'), 'svc.pid')
  const r = await cli(['run', 'svc', '--pidfile', file, '--', 'sh', '-c', 'printf "%s|" "$@"', 'sh', 'a', '--', '--b=1'])
  expect([r.status, r.stdout, r.stderr]).toEqual([0, 'a|--|--b=1|', ''])
})
