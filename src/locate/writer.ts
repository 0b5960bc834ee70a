/**
 * Who could have written a pidfile: the one rule every lock and every candidate is weighed by
 * (docs/nslocate.1.md, NOTES, "Who counts").
 *
 * A pidfile's content and its lock are evidence only from someone who could have written the file.
 * Anyone who can read a file can take a shared lock on it (flock(LOCK_SH), F_RDLCK, an OFD read
 * lock, all on an O_RDONLY descriptor; flock(LOCK_EX) too), and any user can make a PID namespace
 * of their own (inside a user namespace) and put a process of any name at any pid number there.
 *
 * - A PROCESS could have written the file when its REAL uid (/proc/PID/status Uid:, first column,
 *   as seen from the caller's user namespace) is root or the file's owner, or when the file is
 *   group-writable and its real gid or a supplementary group is the file's group (a world-writable
 *   file is refused before this is asked). The real uid, not the effective or saved one: a
 *   set-user-ID program that an unprivileged user runs (passwd waiting at its prompt) has euid and
 *   saved uid 0, but it is the user's process, carrying the user's descriptors and locks across
 *   execve; a privilege-separated daemon keeps real uid 0 and runs as its service user. A daemon
 *   that dropped every uid is still found through its pid number (next rule).
 *   A process inside a user namespace shows the uids its ids map to out here: what an unprivileged
 *   user's namespace holds writes only what that user could write, whatever it is called inside.
 * - A PID NUMBER could have been chosen only by whoever owns the PID namespace it is numbered in:
 *   forcing a pid (ns_last_pid, clone3 set_tid) needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over
 *   the user namespace that owns that PID namespace. One made by root (the host's, Docker's,
 *   containerd's) hands out numbers the kernel chose; one made by user U hands out whatever U
 *   asked for. So a process that could not write the file itself may still be the one the file
 *   names (a daemon whose root launcher wrote the file, then dropped every uid) when its PID
 *   namespace's owner could have written the file; never when that owner is someone else.
 */
import fs = require('node:fs')

import {ProcStatus} from '../proc/parse-status'
import {ProcFs} from '../proc/proc-fs'
import {overflowIds} from '../kernel/ids'

/** The pidfile's owner, group and mode, as the writer rule reads them. */
export interface FileIds {
  uid: number
  gid: number
  mode: number
}

/** Whether a process could have written the file, and why. */
export interface WriterCheck {
  ok: boolean
  /** "uid 0" / "uid 1001 (the file's owner)" / "none of uids 1001 ... is root or the owner (uid 0)" */
  why: string
}

/** FileIds of a stat. */
export function fileIds(stat: fs.Stats | {uid: number; gid: number; mode: number}): FileIds {
  return {uid: Number(stat.uid), gid: Number(stat.gid), mode: Number(stat.mode)}
}

/**
 * Could a process with these credentials have written the file (DAC only; a world-writable file is
 * refused elsewhere)? `secureExec`: AT_SECURE of its program (ProcFs.readSecureExec): a program
 * that gained its ids at execve(2) (set-user-ID or set-group-ID: passwd, at) is whoever started it,
 * whatever ids it now shows; null when it could not be read.
 */
export function couldWrite(status: Pick<ProcStatus, 'uid' | 'gid' | 'groups'>, file: FileIds, secureExec: boolean | null = false): WriterCheck {
  const overflow = overflowIds()
  const real = status.uid[0]
  const all = `uids ${status.uid.join('/')} (real/effective/saved/fs)`
  // A program that gained ids at exec (AT_SECURE) counts only if every one of its uids would: root
  // running a set-group-ID program stays root (0/0/0/0); at(1) run by a user (daemon/U/U/U) or a
  // carrier that set its real uid to root (0/U/U/U) is that user's.
  if (secureExec === true && !status.uid.every((u) => u === 0 || (u === file.uid && file.uid !== overflow.uid))) {
    return {
      ok: false,
      why: `it runs a set-user-ID or set-group-ID program (AT_SECURE) with ids of someone who could not have written the file, and carries the descriptors and locks of whoever started it (${all})`,
    }
  }
  if (real === 0) return {ok: true, why: `its real uid is 0 (${all})`}
  // An owner that is unmapped here (the overflow uid) names nobody: every unmapped user looks like it.
  if (file.uid !== overflow.uid && real === file.uid) return {ok: true, why: `its real uid ${real} owns the file`}
  if (file.mode & 0o002) return {ok: true, why: 'the file is world-writable'}
  if (file.mode & 0o020 && file.gid !== overflow.gid) {
    if (status.gid[0] === file.gid || (status.groups ?? []).includes(file.gid))
      return {ok: true, why: `it is in the file's group ${file.gid}, which may write it`}
  }
  const setuid = status.uid.slice(1).some((u) => u === 0 || u === file.uid)
    ? "; only its effective or saved uid is, as in a set-user-ID program its user started, which carries that user's descriptors"
    : ''
  return {
    ok: false,
    why: `its real uid ${real} is neither root nor the file's owner uid ${file.uid}${file.mode & 0o020 ? `, and it is not in the file's group ${file.gid}` : ''} (${all}${setuid})`,
  }
}

/** The writer rule for process `pid` whose status was read: couldWrite() with its AT_SECURE. */
export function processCouldWrite(procfs: ProcFs, pid: number, status: Pick<ProcStatus, 'uid' | 'gid' | 'groups'>, file: FileIds): WriterCheck {
  const plain = couldWrite(status, file)
  // auxv is read only for a process its ids would admit, and only when AT_SECURE could change the
  // answer: with every uid root or the (mapped) owner, couldWrite() says the same either way.
  if (!plain.ok || secureExecMoot(status, file)) return plain
  return procfs.readSecureExec(pid) === true ? couldWrite(status, file, true) : plain
}

/** couldWrite(status, file, true) is couldWrite(status, file) (its first rule admits every uid). */
function secureExecMoot(status: Pick<ProcStatus, 'uid'>, file: FileIds): boolean {
  const overflow = overflowIds()
  return status.uid.every((u) => u === 0 || (u === file.uid && file.uid !== overflow.uid))
}

/** Whether a pid number could have been chosen by someone who could not write the file. */
export type PidNumberCheck = {ok: true; why: string} | {ok: false; why: string} | {ok: 'unknown'; why: string}

/**
 * Could the number of a process in its own PID namespace have been chosen by someone who could not
 * write the file? Pid numbers are chosen (ns_last_pid, clone3 set_tid) by whoever has CAP_SYS_ADMIN
 * or CAP_CHECKPOINT_RESTORE over the user namespace owning the PID namespace: its creator, and its
 * own root (the uid inner uid 0 maps to). Both must be root or the file's owner. `ownNs`: the
 * process is in the PID namespace of this /proc (the caller's own).
 */
export function pidNumberTrusted(procfs: ProcFs, pid: number, ownNs: boolean, file: FileIds): PidNumberCheck {
  const owner = procfs.pidnsOwner(ownNs ? 'self' : pid)
  const where = ownNs ? 'this PID namespace' : `the PID namespace of pid ${pid}`
  if (owner === null) return {ok: 'unknown', why: `who owns ${where} cannot be read (its /proc/${ownNs ? 'self' : pid}/ns/pid may not be opened by this user)`}
  if (owner.kind === 'ours')
    return {ok: true, why: `${where} belongs to this process's user namespace, so its pid numbers were not chosen by an unprivileged user`}
  const overflow = overflowIds().uid
  if (owner.root === undefined)
    return {ok: 'unknown', why: `${where} belongs to a user namespace made by uid ${owner.uid}, and no process in it is visible to read whom its root maps to`}
  const writer = (u: number | null) => u === null || u === 0 || (u === file.uid && u !== overflow)
  const who = `a user namespace made by uid ${owner.uid}${owner.root !== null ? ` whose root is uid ${owner.root}` : ''}`
  if (writer(owner.uid) && writer(owner.root)) return {ok: true, why: `${where} belongs to ${who}, who could have written the file`}
  return {ok: false, why: `${where} belongs to ${who}, who may put any process at any pid number there and could not have written the file`}
}
