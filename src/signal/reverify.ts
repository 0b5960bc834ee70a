/**
 * After pinning: a locked pidfile must still be locked by the same holder (the same process: by its
 * pidfs id where locate() read one, and by start time). An unlocked one was pinned already.
 */
import fs = require('node:fs')

import {idOfPid} from '../kernel/pidfs'
import {Located} from '../locate/locate'
import {findLockHolder} from '../locate/lock-holder'
import {ProcFs} from '../proc/proc-fs'

/** null when the lock is still held by the identified holder, else why not. */
export function reverifyLock(located: Located, procfs: ProcFs): string | null {
  const t = located.result
  if (!t.pidfile || t.pidfile.lock === 'none' || t.holder === null) return null
  let fd: number
  try {
    // A symlinked pidfile got this far only with --allow-unsafe-pidfile: follow it again then.
    const nofollow = t.reasons.includes('symlink') ? 0 : fs.constants.O_NOFOLLOW
    fd = fs.openSync(t.pidfile.path, fs.constants.O_RDONLY | nofollow | fs.constants.O_NONBLOCK)
  } catch {
    return `the pidfile ${t.pidfile.path} disappeared`
  }
  try {
    const finding = findLockHolder(t.pidfile.path, fd, fs.fstatSync(fd), procfs, [], {confirm: t.holder})
    if (!finding.holders.includes(t.holder)) return `the lock on ${t.pidfile.path} is no longer held by pid ${t.holder}`
    const now = procfs.readStat(t.holder).starttime
    if (located.holder && now !== located.holder.stat.starttime) return `pid ${t.holder} was reused`
    if (t.holderPidfdId !== null) {
      // A pidfd on the holder now, checked against the start time just read: its id must be the one locate() read.
      const id = idOfPid(t.holder, now, procfs)
      if (id === null) return `pid ${t.holder} exited`
      if (id !== t.holderPidfdId) return `pid ${t.holder} was reused (it is now pidfs id ${id}, not ${t.holderPidfdId})`
    }
    return null
  } catch {
    return `pid ${t.holder} exited`
  } finally {
    fs.closeSync(fd)
  }
}
