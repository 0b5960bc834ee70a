/**
 * Issue 11 items 1 and 7, issue 12 item 11: relative and empty paths; list and find share one
 * search path (search-path.ts). Real directories under a temporary root standing for /.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {listPidfiles} from '../../src/locate/list-pidfiles'
import {pidfileSearchPath, resolvePidfile, searchEntries, withAbsolutePaths} from '../../src/locate/search-path'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

describe('paths given by the caller', () => {
  test('relative --pidfile and --dir are made absolute against the working directory', () => {
    expect(withAbsolutePaths({pidfile: 'run/a.pid'}, '/srv/app')).toEqual({pidfile: '/srv/app/run/a.pid'})
    expect(withAbsolutePaths({dir: '../run'}, '/srv/app')).toEqual({dir: '/srv/run'})
    expect(pidfileSearchPath('web', {pidfile: 'x.pid'})).toEqual([path.join(process.cwd(), 'x.pid')])
    expect(pidfileSearchPath('web', {dir: 'rt', env: {}, uid: 0})[0]).toBe(path.join(process.cwd(), 'rt', 'web.pid'))
  })

  test.each([[{pidfile: ''}], [{dir: ''}]])('empty %j is a usage error naming the option, never the default search', (opts) => {
    const key = Object.keys(opts)[0]
    expect(() => withAbsolutePaths(opts)).toThrow(
      expect.objectContaining({code: 'USAGE', message: expect.stringMatching(new RegExp(`^option ${key} is empty`))}),
    )
    expect(() => pidfileSearchPath('web', opts)).toThrow(expect.objectContaining({code: 'USAGE'}))
    expect(() => listPidfiles(opts)).toThrow(expect.objectContaining({code: 'USAGE'}))
  })
})

describe('list and find share the search path', () => {
  function tree(): string {
    const root = tempDir()
    const mk = (p: string, text = '1\n') => {
      fs.mkdirSync(path.dirname(path.join(root, p)), {recursive: true})
      fs.writeFileSync(path.join(root, p), text)
    }
    mk('run/flat.pid')
    mk('run/redis/redis.pid')
    mk('run/mysqld/mysqld.pid')
    mk('run/both.pid')
    mk('run/both/both.pid') // find takes /run/both.pid: list must show that one only
    mk('run/nslocate/app.pid')
    mk('run/other/notmine.pid') // not NAME/NAME.pid: find never looks there
    mk('var/run/old/old.pid')
    mk('var/run/flat.pid') // shadowed by /run/flat.pid
    mk('run/bad name.pid')
    return root
  }

  test('every NAME in the search path is listed with the path find resolves, and only those', () => {
    const root = tree()
    const opts = {root, env: {}, uid: 0}
    const listed = listPidfiles(opts)
    const rel = (p: string) => path.relative(root, p)
    expect(listed.files.map((f) => rel(f.path))).toEqual([
      'run/bad name.pid',
      'run/both.pid',
      'run/flat.pid',
      'run/mysqld/mysqld.pid',
      'run/nslocate/app.pid',
      'run/redis/redis.pid',
      'var/run/old/old.pid',
    ])
    for (const f of listed.files.filter((x) => x.validName)) expect(resolvePidfile(f.name, opts).path).toBe(f.path)
    expect(listed.files.find((f) => f.name === 'bad name')?.validName).toBe(false)
  })

  test('the nested places are part of the one search path', () => {
    expect(searchEntries({env: {}, uid: 0})).toEqual([
      {dir: '/run/nslocate', nested: false},
      {dir: '/run', nested: false},
      {dir: '/run', nested: true},
      {dir: '/var/run', nested: false},
      {dir: '/var/run', nested: true},
    ])
  })

  test('--dir lists that directory only', () => {
    const root = tree()
    const listed = listPidfiles({dir: path.join(root, 'run', 'redis'), env: {}, uid: 0})
    expect(listed.files.map((f) => f.path)).toEqual([path.join(root, 'run', 'redis', 'redis.pid')])
  })
})
