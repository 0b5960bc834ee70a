/** Messages name a capability only when the caller lacks it (issue 11 item 8, the signal side). */
import {CAP_KILL, CAP_SYS_PTRACE, hasCap, killDenied, ptraceDenied} from '../../src/signal/caps'

const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`

test('hasCap reads CapEff bit by bit', () => {
  expect(hasCap(CAP_KILL, status('000001fffeffffff'))).toBe(true)
  expect(hasCap(CAP_SYS_PTRACE, status('000001fffeffffff'))).toBe(true)
  expect(hasCap(CAP_KILL, status('0000000000000000'))).toBe(false)
  expect(hasCap(CAP_KILL, status('0000000000000020'))).toBe(true)
  expect(hasCap(CAP_SYS_PTRACE, status('0000000000000020'))).toBe(false)
  expect(hasCap(CAP_KILL, 'no such line')).toBe(false)
})

test('a caller without the capability is told which one; one with it is told the process is protected', () => {
  expect(killDenied(false)).toContain('CAP_KILL')
  expect(killDenied(true)).not.toMatch(/needs .*CAP_KILL/)
  expect(killDenied(true)).toContain('protected')
  expect(ptraceDenied(false)).toContain('CAP_SYS_PTRACE')
  expect(ptraceDenied(true)).toContain('protected')
})
