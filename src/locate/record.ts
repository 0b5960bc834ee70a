/**
 * The identity record: what a pidfile nslocate writes says beside its content, on the same inode
 * (docs/nslocate.1.md, NOTES, "The identity record"). The content stays the bare decimal pid that
 * every reader expects; the record is one extended attribute in the `user.` namespace:
 *
 *   user.nslocate.identity = "v1 pid=PID pidfd_id=ID boot_id=UUID mtime=NS"
 *
 * - pid: the number written in the content;
 * - pidfd_id: that process's pidfs id (never reused during a boot, Linux 6.9+);
 * - boot_id: /proc/sys/kernel/random/boot_id when it was written;
 * - mtime: the file's modification time just after the content was written, in nanoseconds since
 *   the epoch. It binds the record to that very content: whoever rewrites the content (another
 *   program writing into the same inode, an editor, `echo > file`) changes the mtime, and the record
 *   then describes nothing and is ignored.
 *
 * Only a writer of the file can set a user xattr (write permission, and the file system's support:
 * tmpfs since 6.6, ext4, xfs, btrfs); the pidfile trust rules already require that writer to be
 * root or the caller. Where the file system refuses, nothing is recorded and answers are as before.
 */
import fs = require('node:fs')

import {bootId, pidfsAvailable} from '../kernel/pidfs'
import {xattrGet, xattrRemove, xattrSet} from '../native/binding'

/** The attribute's name. */
export const RECORD_XATTR = 'user.nslocate.identity'

/** The longest value read; a longer one is not a record. */
const RECORD_MAX = 256

/** What the record says (library: `pidfile.recorded`). */
export interface IdentityRecord {
  /** the pid written in the content, as numbered in the writer's PID namespace */
  pid: number
  /** that process's pidfs id */
  pidfdId: number
  /** the boot it was written in */
  bootId: string
  /** the file's mtime just after the content was written, nanoseconds since the epoch (decimal) */
  mtimeNs: string
}

/** The record as stored. */
export function formatRecord(r: IdentityRecord): string {
  return `v1 pid=${r.pid} pidfd_id=${r.pidfdId} boot_id=${r.bootId} mtime=${r.mtimeNs}`
}

/** A stored value parsed strictly; a string saying why it is not a record otherwise. */
export function parseRecord(text: string): IdentityRecord | string {
  const m =
    /^v1 pid=([1-9][0-9]{0,9}) pidfd_id=([1-9][0-9]{0,15}) boot_id=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) mtime=([0-9]{1,20})$/.exec(
      text,
    )
  if (!m) return `"${JSON.stringify(text.slice(0, 60)).slice(1, -1)}" is not a version 1 record`
  const pid = Number(m[1])
  const pidfdId = Number(m[2])
  if (pid > 0x7fffffff || !Number.isSafeInteger(pidfdId)) return 'its numbers are out of range'
  return {pid, pidfdId, bootId: m[3], mtimeNs: m[4]}
}

/** What a pidfile's record means for its content (see readRecord). */
export type RecordJudgement =
  /** no record: none written, the file system has no user xattrs, or it could not be read */
  | {kind: 'none'; why: string}
  /** a record that does not describe the current content (rewritten since, or malformed) */
  | {kind: 'ignored'; why: string; record: IdentityRecord | null}
  /** the content was written in another boot and not rewritten since: it names no process of this boot */
  | {kind: 'previous_boot'; record: IdentityRecord; bootId: string}
  /** written in this boot, content unchanged since: pidfdId is the service */
  | {kind: 'current'; record: IdentityRecord}

/**
 * The record on the open pidfile `fd`, judged against `contentPid` (the pid read from its content):
 * `current` only when the record's pid is the content's and the file's mtime is the one recorded.
 */
export function readRecord(fd: number, contentPid: number | null): RecordJudgement {
  let raw: Buffer | null
  try {
    raw = xattrGet(fd, RECORD_XATTR, RECORD_MAX)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') return {kind: 'none', why: 'its file system keeps no user extended attributes'}
    if (code === 'ERANGE') return {kind: 'ignored', why: `${RECORD_XATTR} is longer than ${RECORD_MAX} bytes: not a record`, record: null}
    return {kind: 'none', why: `${RECORD_XATTR} could not be read (${code ?? (error as Error).message})`}
  }
  if (raw === null) return {kind: 'none', why: 'no identity recorded'}
  const record = parseRecord(raw.toString('latin1'))
  if (typeof record === 'string') return {kind: 'ignored', why: `${RECORD_XATTR}: ${record}`, record: null}
  const mtime = fs.fstatSync(fd, {bigint: true}).mtimeNs.toString()
  if (mtime !== record.mtimeNs) return {kind: 'ignored', why: 'the content was rewritten after the identity was recorded (its mtime differs)', record}
  if (contentPid !== record.pid)
    return {kind: 'ignored', why: `the identity recorded is for pid ${record.pid}, the file says ${contentPid ?? 'nothing'}`, record}
  const now = bootId()
  if (now === null) return {kind: 'none', why: 'this boot id cannot be read (/proc/sys/kernel/random/boot_id)'}
  if (record.bootId !== now) return {kind: 'previous_boot', record, bootId: now}
  return {kind: 'current', record}
}

/**
 * Records, on the pidfile open for writing as `fd`, that its content (just written: `pid`) names
 * the process with pidfs id `pidfdId`. Call it right after writing the content. Returns why nothing
 * was recorded (pidfs or the boot id unavailable, the file system refuses user xattrs); any
 * earlier record is then removed, best effort (a stale one would be ignored anyway: see mtime).
 */
export function writeRecord(fd: number, pid: number, pidfdId: number | null): {recorded: IdentityRecord} | {why: string} {
  const boot = bootId()
  const why =
    pidfdId === null ? (pidfsAvailable() ? 'the process is gone' : 'pidfds have no ids before Linux 6.9') : boot === null ? 'the boot id cannot be read' : null
  if (why !== null || pidfdId === null || boot === null) {
    clearRecord(fd)
    return {why: why ?? 'no id'}
  }
  const record: IdentityRecord = {pid, pidfdId, bootId: boot, mtimeNs: fs.fstatSync(fd, {bigint: true}).mtimeNs.toString()}
  try {
    xattrSet(fd, RECORD_XATTR, Buffer.from(formatRecord(record), 'latin1'))
    return {recorded: record}
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return {
      why: code === 'EOPNOTSUPP' || code === 'ENOTSUP' ? 'the file system keeps no user extended attributes' : `${RECORD_XATTR} could not be set (${code})`,
    }
  }
}

/** Removes the record (an absent one, or a file system without xattrs, is not an error). */
export function clearRecord(fd: number): void {
  try {
    xattrRemove(fd, RECORD_XATTR)
  } catch {}
}
