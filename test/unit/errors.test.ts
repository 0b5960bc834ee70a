import {NslocateError, OptionNamer, isErrno} from '../../src/errors'

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
