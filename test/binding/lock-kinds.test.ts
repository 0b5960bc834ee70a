/**
 * What each kind of lock looks like to the probes (fcntl(2), fs/locks.c), and that the holder
 * fixtures do what they promise (they are reused by the ns and container tiers):
 *   POSIX   F_GETLK names the owner (covered per namespace in posix-pid-translation.test.ts)
 *   OFD     l_pid -1 from F_GETLK and F_OFD_GETLK, in every namespace
 *   flock   invisible to F_GETLK; /proc/locks names whoever *called* flock(), dead or not
 *   none    unlocked: type 'unlocked', pid 0
 *   own     a process never sees its own POSIX lock through F_GETLK
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {probeOfdLock, probePosixLock, setPosixLock} from '../../src/native/binding'
import {evidence, withEvidence} from '../helpers/evidence'
import {HolderStartError, spawnHolder} from '../helpers/lock-holders'
import {procLocks, readNSpid} from '../helpers/proc'
import {LockProbeResult, lockProbeArgv, parseJsonResult, run, runIn, runInSiblingNs} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

let dir: string
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => stopAll())

function probeHere(file: string): Pick<LockProbeResult, 'posix' | 'ofd'> {
  const fd = fs.openSync(file, 'r')
  try {
    return {posix: probePosixLock(fd), ofd: probeOfdLock(fd)}
  } finally {
    fs.closeSync(fd)
  }
}

const WRITE_OFD = {type: 'write', pid: -1}
const UNLOCKED = {type: 'unlocked', pid: 0}

describe('OFD locks', () => {
  test('F_GETLK and F_OFD_GETLK report pid -1 on the host, inside the namespace and from a sibling', async () => {
    const file = path.join(dir, 'ofd.lock')
    const h = await spawnHolder({kind: 'ofd', file, levels: 1})
    try {
      const [inside, sibling] = await Promise.all([runIn(h, lockProbeArgv(file)), runInSiblingNs(lockProbeArgv(file))]).then((rs) =>
        rs.map((r) => parseJsonResult<LockProbeResult>(r)),
      )
      const host = probeHere(file)
      await withEvidence(
        () => {
          expect(host).toEqual({posix: WRITE_OFD, ofd: WRITE_OFD})
          expect([inside.posix, inside.ofd, sibling.posix, sibling.ofd]).toEqual([WRITE_OFD, WRITE_OFD, WRITE_OFD, WRITE_OFD])
          expect(procLocks(file).map((l) => [l.kind, l.type, l.pid])).toEqual([['OFDLCK', 'WRITE', -1]])
        },
        () => evidence({holder: h}),
      )
    } finally {
      await h.stop()
    }
  })

  test('an OFD lock survives fork-after-lock: it belongs to the open file description', async () => {
    const file = path.join(dir, 'ofd-fork.lock')
    const h = await spawnHolder({kind: 'ofd', file, forkAfterLock: true, writePid: true})
    try {
      await withEvidence(
        () => {
          expect(probeHere(file)).toEqual({posix: WRITE_OFD, ofd: WRITE_OFD})
          expect(fs.readFileSync(file, 'utf8')).toBe(String(h.hostPid))
        },
        () => evidence({holder: h}),
      )
    } finally {
      await h.stop()
    }
  })
})

describe('flock(2) locks', () => {
  test('invisible to F_GETLK and F_OFD_GETLK; /proc/locks and the holder fdinfo show the holder', async () => {
    const file = path.join(dir, 'flock.lock')
    const h = await spawnHolder({kind: 'flock', file})
    try {
      await withEvidence(
        () => {
          expect(probeHere(file)).toEqual({posix: UNLOCKED, ofd: UNLOCKED})
          expect(procLocks(file).map((l) => [l.kind, l.type, l.pid])).toEqual([['FLOCK', 'WRITE', h.hostPid]])
          expect(evidence({holder: h})).toMatch(new RegExp(`lock:\\s+1: FLOCK\\s+ADVISORY\\s+WRITE ${h.hostPid} `))
        },
        () => evidence({holder: h}),
      )
    } finally {
      await h.stop()
    }
  })

  test('fork-after-lock: still held, but /proc/locks names the dead parent, not the holder', async () => {
    const file = path.join(dir, 'flock-fork.pid')
    const h = await spawnHolder({kind: 'flock', file, forkAfterLock: true, writePid: true})
    try {
      const locks = procLocks(file)
      await withEvidence(
        () => {
          expect(locks).toHaveLength(1)
          expect(locks[0].kind).toBe('FLOCK')
          expect(locks[0].pid).not.toBe(h.hostPid)
          // The pid that called flock() exited before "ready": no such process any more (or not ours).
          expect(readNSpid(locks[0].pid)).toEqual([])
          // The lock is really held: a second holder cannot take it.
          expect(fs.readFileSync(file, 'utf8')).toBe(String(h.hostPid))
        },
        () => evidence({holder: h, pids: [locks[0]?.pid ?? 0]}),
      )
      await expect(spawnHolder({kind: 'flock', file})).rejects.toMatchObject({name: 'HolderStartError', status: 3})
    } finally {
      await h.stop()
    }
  })
})

describe('POSIX locks', () => {
  test('fork-after-lock loses the lock: fork(2) does not inherit POSIX locks', async () => {
    const file = path.join(dir, 'posix-fork.pid')
    const h = await spawnHolder({kind: 'posix', file, forkAfterLock: true, writePid: true})
    try {
      await withEvidence(
        () => {
          expect(probeHere(file)).toEqual({posix: UNLOCKED, ofd: UNLOCKED})
          expect(procLocks(file)).toEqual([])
          expect(fs.readFileSync(file, 'utf8')).toBe(String(h.hostPid))
        },
        () => evidence({holder: h}),
      )
    } finally {
      await h.stop()
    }
  })
})

describe('unlocked and self-held files', () => {
  test('a file nobody locks: type unlocked, pid 0, from both probes', async () => {
    const file = path.join(dir, 'none.pid')
    const h = await spawnHolder({kind: 'none', file, writePid: true})
    try {
      expect(probeHere(file)).toEqual({posix: UNLOCKED, ofd: UNLOCKED})
      expect(procLocks(file)).toEqual([])
    } finally {
      await h.stop()
    }
  })

  test("the holder's own F_GETLK sees its POSIX lock as unlocked; another process sees the holder", async () => {
    const file = path.join(dir, 'self.lock')
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
    try {
      expect(setPosixLock(fd, 'write')).toBe(true)
      // Another fd of the same file, in this process: still our own lock, still "unlocked".
      const fd2 = fs.openSync(file, 'r')
      const ownViaSecondFd = probePosixLock(fd2)
      // Closing any fd of the file drops the process's POSIX locks (fcntl(2)): keep fd2 open until the end.
      expect(probePosixLock(fd)).toEqual(UNLOCKED)
      expect(probeOfdLock(fd)).toEqual({type: 'write', pid: process.pid}) // F_OFD_GETLK has no "own" exemption
      expect(ownViaSecondFd).toEqual(UNLOCKED)
      const other = parseJsonResult<LockProbeResult>(await run(lockProbeArgv(file)))
      expect(other.posix).toEqual({type: 'write', pid: process.pid})
      expect(procLocks(file).map((l) => [l.kind, l.pid])).toEqual([['POSIX', process.pid]])

      expect(setPosixLock(fd, 'unlocked')).toBe(true)
      const after = parseJsonResult<LockProbeResult>(await run(lockProbeArgv(file)))
      expect(after.posix).toEqual(UNLOCKED)
      fs.closeSync(fd2)
    } finally {
      fs.closeSync(fd)
    }
  })
})

describe('libbsd pidfile(3) holder', () => {
  test('writes its pid without a newline under a flock lock; a second instance reports "held <pid>" and exits 3', async () => {
    const file = path.join(dir, 'bsd.pid')
    const h = await spawnHolder({kind: 'flock', file, libbsd: true})
    try {
      expect(fs.readFileSync(file, 'utf8')).toBe(String(h.hostPid))
      expect(probeHere(file)).toEqual({posix: UNLOCKED, ofd: UNLOCKED})
      expect(procLocks(file).map((l) => [l.kind, l.pid])).toEqual([['FLOCK', h.hostPid]])
      const second = await spawnHolder({kind: 'flock', file, libbsd: true}).then(
        () => null,
        (e: unknown) => e,
      )
      expect(second).toBeInstanceOf(HolderStartError)
      expect(second).toMatchObject({status: 3, stdout: `held ${h.hostPid}\n`})
    } finally {
      await h.stop()
    }
  })

  test('inside a namespace it writes the inner pid, which the host then reads back as "held 2"', async () => {
    const file = path.join(dir, 'bsd-ns.pid')
    const h = await spawnHolder({kind: 'flock', file, libbsd: true, levels: 1, forkAfterLock: true})
    try {
      expect(h.innerPid).toBe(2 + 1) // mini-init is 1, the parent that forked 2, the holding child 3
      expect(fs.readFileSync(file, 'utf8')).toBe(String(h.innerPid))
      const second = await spawnHolder({kind: 'flock', file, libbsd: true}).then(
        () => null,
        (e: unknown) => e,
      )
      // The pid in the file means nothing here: 3 is not the holder on the host.
      expect(second).toMatchObject({status: 3, stdout: `held ${h.innerPid}\n`})
      expect(h.hostPid).not.toBe(h.innerPid)
    } finally {
      await h.stop()
    }
  })
})
