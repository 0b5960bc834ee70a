/**
 * The writer rule (src/locate/writer.ts), table-driven: who could have written a pidfile, by the
 * credentials /proc/PID/status shows (Uid: real effective saved fs; Gid:; Groups:).
 */
import {couldWrite} from '../../src/locate/writer'

const ROOT_FILE = {uid: 0, gid: 0, mode: 0o100644}
const REDIS_FILE = {uid: 105, gid: 107, mode: 0o100660}
const ids = (uid: number[], gid: number[] = [uid[0], uid[0], uid[0], uid[0]], groups: number[] = []) => ({uid, gid, groups})

const CASES: Array<[string, ReturnType<typeof ids>, {uid: number; gid: number; mode: number}, boolean, RegExp]> = [
  ['root', ids([0, 0, 0, 0]), ROOT_FILE, true, /real uid is 0/],
  ['privilege-separated: real 0, effective the service user', ids([0, 33, 33, 33]), ROOT_FILE, true, /real uid is 0/],
  [
    'set-user-ID program started by a user: real 1000, effective and saved 0',
    ids([1000, 0, 0, 0]),
    ROOT_FILE,
    false,
    /only its effective or saved uid is, as in a set-user-ID program/,
  ],
  ['a user with saved uid 0 only', ids([1000, 1000, 0, 1000]), ROOT_FILE, false, /real uid 1000 is neither root nor the file's owner uid 0/],
  ['an unprivileged user', ids([1000, 1000, 1000, 1000]), ROOT_FILE, false, /real uid 1000 is neither/],
  ['the owner of a user-owned file', ids([105, 105, 105, 105]), REDIS_FILE, true, /real uid 105 owns the file/],
  [
    'a member of the group of a group-writable file',
    ids([1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000], [107]),
    REDIS_FILE,
    true,
    /in the file's group 107/,
  ],
  [
    'a group member, but the file is not group-writable',
    ids([1000, 1000, 1000, 1000], [107, 107, 107, 107]),
    {...REDIS_FILE, mode: 0o100640},
    false,
    /neither root nor the file's owner uid 105/,
  ],
  [
    'the overflow uid never owns anything (an unmapped owner inside a user namespace)',
    ids([65534, 65534, 65534, 65534]),
    {uid: 65534, gid: 65534, mode: 0o100644},
    false,
    /real uid 65534/,
  ],
]

describe('couldWrite of a program that gained ids at exec (AT_SECURE)', () => {
  test.each([
    ['root running a set-group-ID program (ssh-agent): still root', ids([0, 0, 0, 0]), ROOT_FILE, true],
    ['at(1) run by a user: real uid daemon (the owner), effective the user', ids([1, 1004, 1004, 1004]), {uid: 1, gid: 1, mode: 0o100644}, false],
    ['a carrier that set its real uid to root: 0/U/U/U', ids([0, 1004, 1004, 1004]), ROOT_FILE, false],
    ['a set-user-ID root program run by a user: U/0/0/0', ids([1004, 0, 0, 0]), ROOT_FILE, false],
  ] as const)('%s', (_what, status, file, ok) => {
    expect(couldWrite(status, file, true).ok).toBe(ok)
  })
})

describe('couldWrite', () => {
  test.each(CASES)('%s', (_what, status, file, ok, why) => {
    const r = couldWrite(status, file)
    expect(r.ok).toBe(ok)
    expect(r.why).toMatch(why)
  })
})
