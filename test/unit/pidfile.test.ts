import {parsePidfileContent} from '../../src/locate/pidfile'
import {NAME_PATTERN, pidfileSearchPath, validateName} from '../../src/locate/name'
import {NslocateError} from '../../src/errors'

describe('parsePidfileContent', () => {
  test.each([
    ['1234', 1234, null],
    ['1234\n', 1234, null],
    [' 42 \n', 42, null],
    ['1', 1, null],
    ['', null, 'empty_pidfile'],
    ['\n\n', null, 'empty_pidfile'],
    ['0', null, 'invalid_pid'],
    ['-5', null, 'invalid_pid'],
    ['+5', null, 'invalid_pid'],
    ['4194304', null, 'invalid_pid'],
    ['99999999999999999999999', null, 'invalid_pid'],
    ['12 34', null, 'garbage_pidfile'],
    ['0x10', null, 'garbage_pidfile'],
    ['1234abc', null, 'garbage_pidfile'],
    ['\u0000\u0001', null, 'garbage_pidfile'],
    ['1e3', null, 'garbage_pidfile'],
  ])('%j -> pid %p (%p)', (text, pid, problem) => {
    const r = parsePidfileContent(text)
    expect(r.pid).toBe(pid)
    expect(r.problem).toBe(problem)
  })
  test('pid_max bounds', () => {
    expect(parsePidfileContent('32767', 32768).pid).toBe(32767)
    expect(parsePidfileContent('32768', 32768).problem).toBe('invalid_pid')
  })
  test('random bytes never throw and never yield a pid <= 0', () => {
    let seed = 7
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({length: Math.floor(rnd() * 12)}, () => String.fromCharCode(Math.floor(rnd() * 128))).join('')
      const r = parsePidfileContent(text)
      if (r.pid !== null) {
        expect(r.pid).toBeGreaterThan(0)
        expect(text.split('\n')[0].trim()).toMatch(/^[0-9]+$/)
      } else {
        expect(r.problem).not.toBeNull()
      }
    }
  })
})

describe('service names', () => {
  test.each(['nginx', 'a', 'my-app_1.2@host:blue', 'X'.repeat(128), '0day'])('valid %j', (n) => {
    expect(validateName(n)).toBe(n)
  })
  test.each(['', '.', '..', '-x', '.hidden', 'a/b', 'a b', 'x'.repeat(129), 'ü', 'a\nb', '_x'])(
    'invalid %j is a usage error naming the pidfile option',
    (n) => {
      expect(() => validateName(n)).toThrow(expect.objectContaining({code: 'USAGE'}))
      expect(() => validateName(n)).toThrow(/use option pidfile PATH/)
      // The CLI renders the same error with its flags (src/cli): today's message, byte for byte.
      let error: unknown
      try {
        validateName(n)
      } catch (e) {
        error = e
      }
      expect((error as NslocateError).render((o) => `--${o}`)).toMatch(/; use --pidfile PATH to name a file$/)
    },
  )
  test('pattern is the documented one', () => {
    expect(NAME_PATTERN.source).toBe('^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$')
  })
})

describe('pidfile search path', () => {
  test('root, no env', () => {
    expect(pidfileSearchPath('web', {env: {}, uid: 0})).toEqual([
      '/run/nslocate/web.pid',
      '/run/web.pid',
      '/run/web/web.pid',
      '/var/run/web.pid',
      '/var/run/web/web.pid',
    ])
  })
  test('non-root with XDG_RUNTIME_DIR and NSLOCATE_RUNTIME_DIR and --dir, in that order', () => {
    const list = pidfileSearchPath('web', {env: {NSLOCATE_RUNTIME_DIR: '/srv/rt', XDG_RUNTIME_DIR: '/run/user/1000'}, uid: 1000, dir: '/d'})
    expect(list.slice(0, 4)).toEqual(['/d/web.pid', '/srv/rt/web.pid', '/run/user/1000/nslocate/web.pid', '/run/nslocate/web.pid'])
  })
  test('root ignores XDG_RUNTIME_DIR', () => {
    expect(pidfileSearchPath('web', {env: {XDG_RUNTIME_DIR: '/run/user/0'}, uid: 0})[0]).toBe('/run/nslocate/web.pid')
  })
  test('--pidfile is the only place', () => {
    expect(pidfileSearchPath('web', {pidfile: '/x/y.pid', dir: '/d'})).toEqual(['/x/y.pid'])
  })
})
