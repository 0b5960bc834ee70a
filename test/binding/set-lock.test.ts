/**
 * The writer side: setPosixLock and flock never block by default, return false on contention,
 * true otherwise, and a release really lets another process in.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {flock, probePosixLock, setPosixLock} from '../../src/native/binding'
import {HolderStartError, spawnHolder} from '../helpers/lock-holders'
import {procLocks} from '../helpers/proc'
import {LockProbeResult, lockProbeArgv, parseJsonResult, run} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

let dir: string
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => stopAll())

function openRw(file: string): number {
  return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
}

/** Resolves to the HolderStartError when a holder cannot take its lock, null if it could (then stopped). */
async function holderOutcome(kind: 'posix' | 'flock' | 'ofd', file: string): Promise<HolderStartError | null> {
  try {
    const h = await spawnHolder({kind, file})
    await h.stop()
    return null
  } catch (error) {
    if (error instanceof HolderStartError) return error
    throw error
  }
}

describe('setPosixLock', () => {
  test('false (at once) while another process holds a POSIX lock, true once it is gone', async () => {
    const file = path.join(dir, 'posix.lock')
    const h = await spawnHolder({kind: 'posix', file})
    const fd = openRw(file)
    try {
      const t0 = performance.now()
      expect(setPosixLock(fd, 'write')).toBe(false)
      expect(setPosixLock(fd, 'read')).toBe(false)
      expect(setPosixLock(fd, 'write', {ofd: true})).toBe(false)
      expect(performance.now() - t0).toBeLessThan(100) // non-blocking: no wait for the holder
      await h.stop()
      expect(setPosixLock(fd, 'write')).toBe(true)
      // Now we hold it: a holder cannot get it, another process sees us.
      expect(await holderOutcome('posix', file)).toMatchObject({status: 3})
      expect(parseJsonResult<LockProbeResult>(await run(lockProbeArgv(file))).posix).toEqual({type: 'write', pid: process.pid})
      // Release, and a holder can take it again.
      expect(setPosixLock(fd, 'unlocked')).toBe(true)
      expect(procLocks(file)).toEqual([])
      expect(await holderOutcome('posix', file)).toBeNull()
    } finally {
      fs.closeSync(fd)
      await h.stop()
    }
  })

  test('OFD lock (ofd: true): false while an OFD holder has it, true and visible as pid -1 once taken', async () => {
    const file = path.join(dir, 'ofd.lock')
    const h = await spawnHolder({kind: 'ofd', file})
    const fd = openRw(file)
    const probeFd = fs.openSync(file, 'r')
    try {
      expect(setPosixLock(fd, 'write', {ofd: true})).toBe(false)
      expect(setPosixLock(fd, 'write')).toBe(false) // POSIX and OFD locks conflict with each other
      await h.stop()
      expect(setPosixLock(fd, 'write', {ofd: true})).toBe(true)
      // Unlike a POSIX lock, our own OFD lock conflicts with a probe through another open file description.
      expect(probePosixLock(probeFd)).toEqual({type: 'write', pid: -1})
      expect(await holderOutcome('ofd', file)).toMatchObject({status: 3})
      expect(setPosixLock(fd, 'unlocked', {ofd: true})).toBe(true)
      expect(probePosixLock(probeFd)).toEqual({type: 'unlocked', pid: 0})
      expect(await holderOutcome('ofd', file)).toBeNull()
    } finally {
      fs.closeSync(probeFd)
      fs.closeSync(fd)
      await h.stop()
    }
  })
})

describe('flock', () => {
  test('false (at once) while another process holds it, true once it is gone; unlock lets others in', async () => {
    const file = path.join(dir, 'flock.lock')
    const h = await spawnHolder({kind: 'flock', file})
    const fd = openRw(file)
    try {
      const t0 = performance.now()
      expect(flock(fd, 'exclusive')).toBe(false)
      expect(flock(fd, 'shared')).toBe(false)
      expect(performance.now() - t0).toBeLessThan(100)
      // flock and POSIX locks are independent on Linux: the POSIX lock is free.
      expect(setPosixLock(fd, 'write')).toBe(true)
      expect(setPosixLock(fd, 'unlocked')).toBe(true)
      await h.stop()
      expect(flock(fd, 'exclusive')).toBe(true)
      expect(await holderOutcome('flock', file)).toMatchObject({status: 3})
      expect(procLocks(file).map((l) => [l.kind, l.type, l.pid])).toEqual([['FLOCK', 'WRITE', process.pid]])
      expect(flock(fd, 'unlock')).toBe(true)
      expect(procLocks(file)).toEqual([])
      expect(await holderOutcome('flock', file)).toBeNull()
    } finally {
      fs.closeSync(fd)
      await h.stop()
    }
  })

  test('shared locks coexist, exclusive does not', () => {
    const file = path.join(dir, 'shared.lock')
    const a = openRw(file)
    const b = openRw(file) // a second open file description: flock treats it as another owner
    try {
      expect(flock(a, 'shared')).toBe(true)
      expect(flock(b, 'shared')).toBe(true)
      expect(flock(b, 'exclusive')).toBe(false) // a still holds a shared lock
      expect(flock(a, 'unlock')).toBe(true)
      expect(flock(b, 'exclusive')).toBe(true) // conversion once b is alone
      expect(flock(a, 'shared')).toBe(false)
    } finally {
      fs.closeSync(a)
      fs.closeSync(b)
    }
  })
})
