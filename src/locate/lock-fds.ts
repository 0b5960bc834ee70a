/**
 * holdsLock()'s question (lock-scan.ts) answered by the addon's fd scan of one process
 * (src/proc/native-reads.ts): the same reads, in one call, for the real /proc only.
 *
 * The fd that showed the lock last time is looked at first, alone: a daemon keeps its pidfile open
 * on the same fd, so most answers need neither the listing of /proc/PID/fd nor a readlink per fd.
 * A hint is no evidence: the fd must still be on the file's dev:inode with a matching lock line in
 * its fdinfo, read now; when it is not (closed, reused, another process at that pid), every fd is
 * looked at, as without a hint. The fd scan of every process (lock-scan.ts scanEvery) does not use
 * hints: it accounts for lock lines with those of the first fd in directory order, as always.
 */
import fs = require('node:fs')

import {FdsOnFile, fdsOnFile} from '../proc/native-reads'
import {LockLine, LockLineKind, sameFile} from '../proc/parse-locks'
import {ProcFs} from '../proc/proc-fs'

/** Whether the process holds the lock: holds, denied (its fds could not all be read), and the lock lines that show it. */
export interface Held {
  holds: boolean
  denied: boolean
  lines: LockLine[]
}

/** pid:dev:ino:kind -> the fd that showed the lock last; a few hundred at most. */
const lastFd = new Map<string, number>()
const LAST_FD_MAX = 256

/**
 * holdsLock() through the addon; null: `procfs` is not the real /proc read by its own readers.
 * `useHint`: the last fd may be tried first (its lines are then that fd's, not the first fd's).
 */
export function holdsLockNative(procfs: ProcFs, pid: number, kind: LockLineKind, names: string[], stat: fs.Stats, useHint: boolean): Held | null {
  const dev = Number(stat.dev)
  const ino = Number(stat.ino)
  const key = `${pid}:${dev}:${ino}:${kind}`
  const hint = useHint ? lastFd.get(key) : undefined
  if (hint !== undefined) {
    const quick = fdsOnFile(procfs, pid, names, dev, ino, hint)
    if (!quick) return null
    const r = judged(quick, kind, stat)
    if (r.held.holds) return r.held
    lastFd.delete(key)
  }
  const all = fdsOnFile(procfs, pid, names, dev, ino)
  if (!all) return null
  const r = judged(all, kind, stat)
  if (r.fd !== undefined) remember(key, r.fd)
  return r.held
}

/** The first fd (in directory order) whose fdinfo shows a `kind` lock on the file, as holdsLock() decides. */
function judged(batch: FdsOnFile, kind: LockLineKind, stat: fs.Stats): {held: Held; fd?: number} {
  if (batch.listError !== null) return {held: {holds: false, denied: batch.listError === 'EACCES', lines: []}}
  for (let i = 0; i < batch.locks.length; i++) {
    const mine = batch.locks[i].filter((l) => l.kind === kind && sameFile(l, stat.dev, stat.ino))
    if (mine.length > 0) return {held: {holds: true, denied: false, lines: mine}, fd: batch.fds[i]}
  }
  return {held: {holds: false, denied: batch.denied, lines: []}}
}

function remember(key: string, fd: number): void {
  lastFd.delete(key)
  lastFd.set(key, fd)
  if (lastFd.size > LAST_FD_MAX) lastFd.delete(lastFd.keys().next().value as string)
}
