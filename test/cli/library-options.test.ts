/**
 * Issue 17, hole 9: numbers and types. The library's options are checked, with a USAGE error that
 * names the option and the value; locate(NAME, OPTIONS) and acquire(NAME, OPTIONS) use their second
 * argument; --root-pid out of range is a usage error (exit 2), on the fast path and through oclif.
 * Issue 18: every public function checks its options' types, and refuses an unknown option.
 * (locate here is locateSync, the synchronous sibling; locateAsync is the promise-returning one.)
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError, acquire, list, locate as locateAsync, locateSync as locate, signal, waitFor} from '../../src/index'
import {cli, cliJson} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

const PID_MAX = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))

function deadPid(): number {
  for (let p = PID_MAX - 1; ; p--) if (!fs.existsSync(`/proc/${p}`)) return p
}

function usage(fn: () => unknown): NslocateError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(NslocateError)
    expect((error as NslocateError).code).toBe('USAGE')
    return error as NslocateError
  }
  throw new Error('no error thrown')
}

async function usageAsync(p: Promise<unknown>): Promise<NslocateError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(NslocateError)
  expect((error as NslocateError).code).toBe('USAGE')
  return error as NslocateError
}

describe('rootPid: a safe integer from 1 to pid_max - 1, as a number', () => {
  const bad: Array<[string, unknown]> = [
    ['NaN', NaN],
    ['-1', -1],
    ['0', 0],
    ['1.5', 1.5],
    ['Infinity', Infinity],
    ['2^53', 2 ** 53],
    ['pid_max', PID_MAX],
    ['99999999999', 99999999999],
    ["'self'", 'self'],
    ["'1/root/..'", '1/root/..'],
    ["'1'", '1'],
    ['null', null],
    ['true', true],
    ['{}', {}],
  ]
  test.each(bad)('locate({rootPid: %s}) is a USAGE error naming rootPid and the value', (_shown, value) => {
    const e = usage(() => locate({name: 'svc', rootPid: value as number}))
    expect(e.message).toMatch(/^option rootPid /)
    expect(e.message).toContain(`1 to ${PID_MAX - 1}`)
  })

  test('the message shows the value given', () => {
    expect(usage(() => locate({name: 'svc', rootPid: '1/root/..' as unknown as number})).message).toContain('"1/root/.."')
    expect(usage(() => locate({name: 'svc', rootPid: NaN})).message).toContain('NaN')
    expect(usage(() => locate({name: 'svc', rootPid: 1.5})).message).toContain('1.5')
  })

  test('signal() and waitFor() refuse it before anything else', async () => {
    await usageAsync(signal('svc', 'TERM', {rootPid: -1}))
    await usageAsync(waitFor('svc', 'stopped', {rootPid: 'self' as unknown as number, timeoutMs: 100}))
  })

  test("a valid rootPid still works (this process's own pid)", () => {
    const dir = tempDir('nslocate-rootpid-')
    const r = locate({name: 'nosuchsvc', dir, rootPid: process.pid})
    expect(r.state).toBe('stopped')
  })
})

describe('locate(NAME, OPTIONS) and acquire(NAME, OPTIONS) use the second argument', () => {
  test("locate('svc', {dir}) reads DIR/svc.pid, as locate({name: 'svc', dir})", () => {
    const dir = tempDir('nslocate-args-')
    const dead = deadPid()
    fs.writeFileSync(path.join(dir, 'argsvc.pid'), `${dead}\n`)
    const merged = locate('argsvc', {dir})
    const object = locate({name: 'argsvc', dir})
    expect({state: merged.state, path: merged.pidfile?.path, pid: merged.pidfile?.pid}).toEqual({state: 'stale', path: path.join(dir, 'argsvc.pid'), pid: dead})
    expect(merged).toEqual(object)
    // and pidfile, allowUnsafe, ...
    expect(locate('argsvc', {pidfile: path.join(dir, 'argsvc.pid')}).pidfile?.path).toBe(path.join(dir, 'argsvc.pid'))
  })

  test('conflicting or malformed second arguments are USAGE errors', () => {
    usage(() => locate('svc', {name: 'other'} as never))
    usage(() => locate('svc', 'dir' as never))
    usage(() => locate({name: 'svc'} as never, {dir: '/tmp'} as never))
    usage(() => locate(undefined as never))
  })

  test('a second argument that repeats the same name is fine', () => {
    const dir = tempDir('nslocate-args-')
    expect(locate('argsvc2', {name: 'argsvc2', dir} as never).state).toBe('stopped')
  })

  test("acquire('svc', {dir}) writes DIR/svc.pid", async () => {
    const dir = tempDir('nslocate-args-')
    const h = await acquire('argacq', {dir})
    try {
      expect(h.path).toBe(path.join(dir, 'argacq.pid'))
      expect(fs.readFileSync(path.join(dir, 'argacq.pid'), 'utf8')).toBe(String(process.pid))
    } finally {
      h.release()
    }
  })
})

describe('--root-pid out of range is a usage error (exit 2), not "not running" (3)', () => {
  const PATHS = [{}, {NSLOCATE_NO_FAST_PATH: '1'}]
  const values = ['99999999999', '4194304', '1e3', '0x10', '-1', '0', '1.5', String(PID_MAX)]
  test.each(PATHS)(
    'find, list, signal, wait, through %j',
    async (env) => {
      for (const v of values) {
        for (const args of [['find', 'svc'], ['list'], ['signal', 'svc', 'TERM'], ['wait', 'svc', '--timeout', '1s']]) {
          const r = await cli([...args, '--root-pid', v], {env})
          expect({args, v, status: r.status}).toEqual({args, v, status: 2})
          expect(r.stderr).toMatch(/root-pid|rootPid/)
        }
      }
    },
    120_000,
  )

  test('list --root-pid of a process that has exited is NOT_RUNNING (3), never an empty listing (0), on both paths', async () => {
    const gone = deadPid()
    for (const env of PATHS) {
      const r = await cli(['list', '--root-pid', String(gone)], {env})
      expect({env, status: r.status, stdout: r.stdout}).toEqual({env, status: 3, stdout: ''})
      expect(r.stderr).toContain(`pid ${gone} (whose mount namespace holds the pidfiles) has exited`)
    }
    const e = await list({rootPid: gone}).then(
      () => null,
      (error: unknown) => error as NslocateError,
    )
    expect(e?.code).toBe('NOT_RUNNING')
  })

  test('--json: the error object names --root-pid and the value', async () => {
    const r = await cliJson(['find', 'svc', '--root-pid', String(PID_MAX)])
    expect(r.status).toBe(2)
    expect(r.json.error.code).toBe('USAGE')
    expect(r.json.error.message).toContain(`--root-pid ${PID_MAX} is not a pid`)
  })
})

describe('issue 18: every public function checks its options object', () => {
  test('a wrong type is a USAGE error naming the function, the option and the value', async () => {
    expect((await usageAsync(waitFor('svc', 'stopped', {timeoutMs: 'abc' as never}))).message).toBe(
      'waitFor(): option timeoutMs must be a number of milliseconds (finite, 0 or more), not "abc"',
    )
    expect(usage(() => locate({name: 'svc', pidfile: 42 as never})).message).toBe(
      'locateSync(): option pidfile must be a path (a string without NUL bytes), not 42',
    )
    expect((await usageAsync(locateAsync(42 as never))).message).toBe('locate() takes a service NAME (a string) first, not 42')
    expect((await usageAsync(signal('svc', 'TERM', {scope: 'everything' as never}))).message).toBe(
      'signal(): option scope must be one of main, group, cgroup, tree, not "everything"',
    )
    expect((await usageAsync(list({dir: ['a'] as never}))).message).toBe('list(): option dir must be a path (a string without NUL bytes), not ["a"]')
    expect((await usageAsync(acquire('svc', {lockTimeoutMs: -1}))).message).toBe(
      'acquire(): option lockTimeoutMs must be a number of milliseconds (finite, 0 or more), not -1',
    )
  })

  test('an option given through a prototype or a getter is checked and used as given (never skipped)', async () => {
    expect((await usageAsync(waitFor('svc', 'stopped', Object.create({timeoutMs: 'abc'})))).message).toMatch(/option timeoutMs must be/)
    const getter = {
      get dryRun(): boolean {
        return 'yes' as never
      },
    }
    expect((await usageAsync(signal('svc', 'TERM', getter))).message).toBe('signal(): option dryRun must be true or false, not "yes"')
    // an inherited dir is the dir searched: DIR/inh.pid, stale (a dead pid), not "no pidfile" in the default directories
    const dir = tempDir('nslocate-args-')
    fs.writeFileSync(path.join(dir, 'inh.pid'), `${deadPid()}\n`)
    const r = await locateAsync('inh', Object.create({dir}))
    expect({state: r.state, path: r.pidfile?.path}).toEqual({state: 'stale', path: path.join(dir, 'inh.pid')})
  })

  test('a path with a NUL byte is refused before anything is opened or written', async () => {
    const dir = tempDir('nslocate-args-')
    const e = await usageAsync(acquire('nul', {dir: `${dir}\0`}))
    expect(e.message).toBe(`acquire(): option dir must be a path (a string without NUL bytes), not ${JSON.stringify(`${dir}\0`)}`)
    expect(fs.readdirSync(dir)).toEqual([])
  })

  test('an unknown option is refused, with the closest known one', async () => {
    const e = await usageAsync(waitFor('svc', 'stopped', {timeout: 100} as never))
    expect(e.message).toBe('waitFor(): unknown option "timeout"; did you mean timeoutMs?')
    expect(e.details).toEqual({option: 'timeout', options: expect.arrayContaining(['timeoutMs', 'intervalMs', 'pidfile', 'onProgress'])})
  })

  test('container and rootPid are options of every sibling, and not both at once', async () => {
    for (const p of [
      locateAsync('svc', {container: 'c', rootPid: 1}),
      signal('svc', 'TERM', {container: 'c', rootPid: 1}),
      waitFor('svc', 'running', {container: 'c', rootPid: 1}),
      list({container: 'c', rootPid: 1}),
    ]) {
      expect((await usageAsync(p)).message).toMatch(/give option container or option rootPid, not both$/)
    }
    expect(usage(() => locate('svc', {container: 'c'} as never)).message).toMatch(/^locateSync\(\): options container and pod need the runtime's API/)
  })

  test('locate() answers as locateSync() does, as a promise', async () => {
    const dir = tempDir('nslocate-args-')
    fs.writeFileSync(path.join(dir, 'same.pid'), `${deadPid()}\n`)
    const p = locateAsync('same', {dir})
    expect(p).toBeInstanceOf(Promise)
    expect(await p).toEqual(locate('same', {dir}))
  })
})
