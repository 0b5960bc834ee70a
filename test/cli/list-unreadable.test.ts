/**
 * `list` of a directory it cannot read says so and exits 4 (incomplete), on both front ends and
 * with --json too, whose warnings go to stderr (nslocate(1), OUTPUT): a `--dir` that is a file, or
 * a directory the caller may not read, was "no pidfiles found", 0, or `[]`, 4 with nothing saying why.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

const FRONT_ENDS = [{}, {NSLOCATE_NO_FAST_PATH: '1'}]

test('list --dir FILE: exit 4, the warning names the file, text and --json alike', async () => {
  const dir = tempDir('nslocate-list-unreadable-')
  const file = path.join(dir, 'not-a-dir')
  fs.writeFileSync(file, '')
  const warning = `nslocate: warning: cannot read ${file}: ENOTDIR: not a directory, scandir '${file}'\n`
  for (const env of FRONT_ENDS) {
    const text = await cli(['list', '--dir', file], {env})
    expect({env, status: text.status, stderr: text.stderr}).toEqual({env, status: 4, stderr: warning})
    const json = await cli(['list', '--dir', file, '--json'], {env})
    expect({env, status: json.status, stdout: JSON.parse(json.stdout), stderr: json.stderr}).toEqual({env, status: 4, stdout: [], stderr: warning})
    const quiet = await cli(['list', '--dir', file, '--quiet'], {env})
    expect({env, status: quiet.status, stdout: quiet.stdout, stderr: quiet.stderr}).toEqual({env, status: 4, stdout: '', stderr: ''})
  }
})

test('list --dir of a directory that does not exist: nothing to list, 0 (as find says "no pidfile")', async () => {
  const dir = path.join(tempDir('nslocate-list-unreadable-'), 'nothere')
  for (const env of FRONT_ENDS) {
    const r = await cli(['list', '--dir', dir, '--json'], {env})
    expect({status: r.status, stdout: JSON.parse(r.stdout), stderr: r.stderr}).toEqual({status: 0, stdout: [], stderr: ''})
  }
})
