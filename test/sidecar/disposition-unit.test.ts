/** The pure parts: Sig* masks from a real /proc/PID/status, the kernel's decision order, wait statuses. */
import {decide, defaultAction, parseSigMasks} from '../../src/signal/disposition'
import {decodeWaitStatus} from '../../src/signal/exit-status'

// Captured from `python3 -c 'import signal; signal.signal(15, lambda *a: 0); signal.pause()'` (Linux 6.18).
const STATUS = `Name:\tpython3\nPid:\t4242\nNSpid:\t4242\t1\nSigQ:\t0/63457\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000001001000\nSigCgt:\t0000000100004002\n`

test('parseSigMasks reads the three masks; a text without them is null', () => {
  expect(parseSigMasks(STATUS)).toEqual({blocked: 0n, ignored: 0x1001000n, caught: 0x100004002n})
  expect(parseSigMasks('Name:\tx\nPid:\t1\n')).toBeNull()
  expect(parseSigMasks('SigBlk:\tzz\nSigIgn:\t0\nSigCgt:\t0\n')).toBeNull()
})

const m = parseSigMasks(STATUS)!
const d = (sig: number, init = false, sender: 'ancestor' | 'same_namespace' | null = null, blockedEverywhere = false, masks = m) =>
  decide(sig, masks, blockedEverywhere, init, sender, 4242, String(sig))

test.each([
  // sig, init, sender, all threads block, disposition, default action, no effect
  [15, false, null, false, 'handled', null, false], // SigCgt bit 15
  [2, false, null, false, 'handled', null, false], // INT caught (python's KeyboardInterrupt)
  [13, false, null, false, 'ignored', null, true], // PIPE in SigIgn (python)
  [1, false, null, false, 'default', 'terminate', false],
  [3, false, null, false, 'default', 'core', false],
  [28, false, null, false, 'default', 'ignore', true], // WINCH
  [18, false, null, false, 'default', 'continue', false],
  [20, false, null, false, 'default', 'stop', false],
  [1, true, 'ancestor', false, 'dropped', 'terminate', true],
  [15, true, 'ancestor', false, 'handled', null, false],
  [9, true, 'ancestor', false, 'default', 'terminate', false], // forced from an ancestor
  [19, true, 'ancestor', false, 'default', 'stop', false],
  [9, true, 'same_namespace', false, 'dropped', 'terminate', true],
  [9, false, null, true, 'default', 'terminate', false], // KILL cannot be blocked
  [15, false, null, true, 'blocked', null, false], // pending, the handler runs later
  [1, true, 'ancestor', true, 'blocked', 'terminate', false], // queued: sigwaitinfo/signalfd can take it (dropped only if unblocked)
  [13, false, null, true, 'blocked', null, false], // blocked wins over SIG_IGN: queued, sigwaitinfo/signalfd can take it
] as const)('signal %i (init %s, sender %s, blocked %s) -> %s', (sig, init, sender, blocked, disposition, action, noEffect) => {
  expect(d(sig, init, sender, blocked)).toMatchObject({disposition, defaultAction: action, noEffect})
})

test('real-time signals terminate by default', () => {
  expect(defaultAction(34)).toBe('terminate')
  expect(defaultAction(64)).toBe('terminate')
})

test.each([
  [0, {code: 0}],
  [3 << 8, {code: 3}],
  [255 << 8, {code: 255}],
  [15, {signal: 'TERM', core: false}],
  [9, {signal: 'KILL', core: false}],
  [0x80 | 11, {signal: 'SEGV', core: true}],
])('wait status %i -> %j', (status, expected) => {
  expect(decodeWaitStatus(status)).toEqual(expected)
})
