import {NslocateError, isErrno} from '../../src/errors'

describe('NslocateError', () => {
  test('usage errors exit 2, everything else 4 unless told', () => {
    expect(new NslocateError('USAGE', 'bad').exitCode).toBe(2)
    expect(new NslocateError('PERMISSION', 'no').exitCode).toBe(4)
    expect(new NslocateError('NOT_RUNNING', 'x', {exitCode: 7}).exitCode).toBe(7)
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
