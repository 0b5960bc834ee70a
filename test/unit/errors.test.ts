import {RunFailure} from '../../src/acquire/run-status'
import {NslocateError, OptionNamer, factOf, isErrno} from '../../src/errors'
import {withSelection} from '../../src/cli/hint'

/** A flag namer as the CLI's: option key -> --flag, the value after a space. */
const flags: OptionNamer = (option, value) => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}${value === undefined ? '' : ` ${value}`}`

describe('NslocateError', () => {
  test('carries its code and details; a plain message reads the same whoever renders it', () => {
    const e = new NslocateError('CONFLICT', 'app is already running', {details: {pid: 42}})
    expect(e).toMatchObject({code: 'CONFLICT', message: 'app is already running', details: {pid: 42}, name: 'NslocateError'})
    expect(e.render(flags)).toBe('app is already running')
  })
  test('a message that names an option: the library names the option, render() as the caller names it', () => {
    const e = new NslocateError('PERMISSION', (n) => `refusing ${n('scope', 'group')}: no; use ${n('requireHandler')}`)
    expect(e.message).toBe('refusing option scope "group": no; use option requireHandler')
    expect(e.render(flags)).toBe('refusing --scope group: no; use --require-handler')
  })
  test('keeps the cause', () => {
    const cause = new Error('inner')
    expect(new NslocateError('IO', 'outer', {cause}).cause).toBe(cause)
  })
  test('isErrno matches code or errnoCode', () => {
    expect(isErrno(Object.assign(new Error('x'), {code: 'ESRCH'}), 'ESRCH')).toBe(true)
    expect(isErrno(Object.assign(new Error('x'), {code: 'ENOTSUP', errnoCode: 'ENOTTY'}), 'ENOTTY')).toBe(true)
    expect(isErrno(new Error('x'), 'ESRCH')).toBe(false)
    expect(isErrno(undefined, 'ESRCH')).toBe(false)
  })
})

describe('factOf: the message without the advice it ends with, as the command line cuts it', () => {
  test.each([
    ['refusing to overwrite /x: it holds 3 bytes that are not a pid; remove it', 'remove it', 'refusing to overwrite /x: it holds 3 bytes that are not a pid'],
    ['/x is not a regular file; refusing it (remove it)', 'remove it', '/x is not a regular file; refusing it'],
    ['web: nothing was signalled. See where it looked: nslocate find web', 'See where it looked: nslocate find web', 'web: nothing was signalled'],
    ['a message that does not end with it', 'remove it', 'a message that does not end with it'],
    ['remove it', 'remove it', 'remove it'],
  ])('%j', (message, advice, fact) => {
    expect(factOf(message, advice)).toBe(fact)
  })
})

describe("RunFailure: run's own failure carries its advice as NslocateError does", () => {
  test('a plain message and advice', () => {
    const e = new RunFailure('timeout', 'cannot replace web: it is stuck; wait for it', 'wait for it')
    expect([e.outcome, e.message, e.advice, e.render(flags), e.renderAdvice(flags)]).toEqual([
      'timeout',
      'cannot replace web: it is stuck; wait for it',
      'wait for it',
      'cannot replace web: it is stuck; wait for it',
      'wait for it',
    ])
  })
  test('options named by the namer, in the message and the advice; no advice is null', () => {
    const e = new RunFailure(
      'failed',
      (n) => `cannot write the pid; choose another ${n('dir')}`,
      (n) => `choose another ${n('dir')}`,
    )
    expect([e.message, e.advice, e.render(flags), e.renderAdvice(flags)]).toEqual([
      'cannot write the pid; choose another option dir',
      'choose another option dir',
      'cannot write the pid; choose another --dir',
      'choose another --dir',
    ])
    expect(new RunFailure('not_found', 'cannot start x: not found').renderAdvice(flags)).toBeNull()
  })
})

describe("withSelection: a suggested nslocate command gets the user's selecting flags, and nothing else does", () => {
  const sel = (name: string) => ({name, argv: ['--pidfile', '/srv/priv/x.pid']})

  test('a command of nslocate naming the service gets the flags', () => {
    expect(withSelection('see the evidence with: nslocate find web', sel('web'))).toBe('see the evidence with: nslocate find web --pidfile /srv/priv/x.pid')
    expect(withSelection('nslocate wait web --for running, then retry', sel('web'))).toBe(
      'nslocate wait web --for running --pidfile /srv/priv/x.pid, then retry',
    )
  })

  test('prose that reads like one is left alone, whatever the service is named', () => {
    expect(withSelection('run nslocate as root', sel('root'))).toBe('run nslocate as root')
    expect(withSelection('restart nslocate once the runtime is stable', sel('once'))).toBe('restart nslocate once the runtime is stable')
    expect(withSelection('run nslocate as uid 1000 to take its answer', sel('uid'))).toBe('run nslocate as uid 1000 to take its answer')
  })
})
