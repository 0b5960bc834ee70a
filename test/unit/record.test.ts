/**
 * The identity record's text (src/locate/record.ts): `v1 pid=PID pidfd_id=ID boot_id=UUID mtime=NS`,
 * parsed strictly, table-driven, each malformed form with the reason it is refused. What the kernel
 * stores and readRecord()'s judgement are tested with real files in test/binding/pidfs-record.test.ts
 * and test/safety/record-attacks.test.ts.
 */
import {IdentityRecord, formatRecord, parseRecord} from '../../src/locate/record'

const BOOT = '16d14482-77c8-41c2-a0d5-c797c32168dd'
const GOOD: IdentityRecord = {pid: 1234, pidfdId: 1974307, bootId: BOOT, mtimeNs: '1767225600123456789'}
const TEXT = `v1 pid=1234 pidfd_id=1974307 boot_id=${BOOT} mtime=1767225600123456789`

test('formatRecord writes the documented form, and parseRecord reads it back', () => {
  expect(formatRecord(GOOD)).toBe(TEXT)
  expect(parseRecord(TEXT)).toEqual(GOOD)
})

test.each([
  [
    'the largest pid and a 16-digit id',
    `v1 pid=2147483647 pidfd_id=9007199254740991 boot_id=${BOOT} mtime=0`,
    {pid: 2147483647, pidfdId: 9007199254740991, mtimeNs: '0'},
  ],
  [
    'a 20-digit mtime, kept as text (not rounded)',
    `v1 pid=1 pidfd_id=2 boot_id=${BOOT} mtime=18446744073709551615`,
    {pid: 1, pidfdId: 2, mtimeNs: '18446744073709551615'},
  ],
])('accepted: %s', (_what, text, want) => {
  expect(parseRecord(text)).toMatchObject({...want, bootId: BOOT})
})

test.each([
  ['empty', ''],
  ['another version', TEXT.replace('v1', 'v2')],
  ['fields out of order', `v1 pidfd_id=1974307 pid=1234 boot_id=${BOOT} mtime=1`],
  ['a field missing', `v1 pid=1234 pidfd_id=1974307 boot_id=${BOOT}`],
  ['a field more', `${TEXT} extra=1`],
  ['a trailing newline', `${TEXT}\n`],
  ['two spaces', TEXT.replace(' pid=', '  pid=')],
  ['pid 0', TEXT.replace('pid=1234', 'pid=0')],
  ['a negative pid', TEXT.replace('pid=1234', 'pid=-1234')],
  ['a leading zero', TEXT.replace('pid=1234', 'pid=01234')],
  ['pidfd_id 0', TEXT.replace('pidfd_id=1974307', 'pidfd_id=0')],
  ['pidfd_id in hex', TEXT.replace('pidfd_id=1974307', 'pidfd_id=0x1e2023')],
  ['a 17-digit id', TEXT.replace('pidfd_id=1974307', 'pidfd_id=12345678901234567')],
  ['an upper-case boot id', TEXT.replace(BOOT, BOOT.toUpperCase())],
  ['a boot id without dashes', TEXT.replace(BOOT, BOOT.replace(/-/g, ''))],
  ['a 21-digit mtime', TEXT.replace('mtime=1767225600123456789', 'mtime=123456789012345678901')],
  ['a fractional mtime', TEXT.replace('mtime=1767225600123456789', 'mtime=1767225600.123')],
  ['a NUL inside', TEXT.replace(' mtime', '\0mtime')],
])('refused, with a reason: %s', (_what, text) => {
  const r = parseRecord(text)
  expect(typeof r).toBe('string')
  expect(r).toMatch(/not a version 1 record/)
})

test.each([
  ['a pid above 2^31-1', TEXT.replace('pid=1234', 'pid=2147483648')],
  ['an id above 2^53-1', TEXT.replace('pidfd_id=1974307', 'pidfd_id=9007199254740993')],
])('refused, numbers out of range: %s', (_what, text) => {
  expect(parseRecord(text)).toBe('its numbers are out of range')
})

test('what a refusal quotes is cut at 60 characters and escaped (control characters never reach a terminal raw)', () => {
  const r = parseRecord(`\x1b[31m${'x'.repeat(200)}`) as string
  expect(r).not.toContain('\x1b')
  expect(r).toContain('\\u001b[31m')
  expect(r.length).toBeLessThan(120)
})
