/**
 * Process identity that is never reused (docs/nslocate.1.md, NOTES, "Process ids"): since Linux 6.9
 * every pidfd is a file on pidfs, and its inode number (`fstat(pidfd).st_ino`) names the process
 * for the life of the boot. It is the number util-linux 2.42 prints (`getino --pidfs -p PID`) and
 * accepts as `PID:INODE`, and systemd passes as `$MAINPIDFDID`. Since Linux 6.13, ioctl(PIDFD_GET_INFO)
 * reads the pinned process's pid, parent and credentials, translated into our namespaces.
 *
 * Since Linux 6.17 a process can be reopened from its id alone (a pidfs file handle: openById).
 *
 * All are feature-detected. NSLOCATE_FORCE_FALLBACK=pidfs,pidfd-info,pidfs-handle turns them off, so
 * the older paths (start-time checks, candidates by pid) are tested on this kernel too.
 */
import fs = require('node:fs')

import {isErrno} from '../errors'
import {PidfdInfo, pidfdExited, pidfdInfo, pidfdOpen, pidfdOpenById} from '../native/binding'
import type {ProcFs} from '../proc/proc-fs'

/** statfs(2) f_type of pidfs (include/uapi/linux/magic.h PID_FS_MAGIC). */
export const PIDFS_MAGIC = 0x50494446

/** The newer kernel interfaces that NSLOCATE_FORCE_FALLBACK can turn off. */
export type KernelFeature = 'pidfs' | 'pidfd-info' | 'pidfs-handle' | 'clone-into-cgroup'

let forced: Set<string> | undefined
/** True when NSLOCATE_FORCE_FALLBACK names `feature` (read once per process). */
export function forcedOff(feature: KernelFeature): boolean {
  forced ??= new Set((process.env.NSLOCATE_FORCE_FALLBACK ?? '').split(',').map((s) => s.trim()))
  return forced.has(feature)
}

let pidfs: boolean | undefined
/** st_dev of pidfs files (every pidfd shares it), set with `pidfs` */
let pidfsDev: bigint | undefined
/**
 * Whether pidfds are pidfs files here (Linux 6.9+), so their inode numbers are process ids. Before
 * 6.9 every pidfd is the one anonymous inode: its number says nothing.
 */
export function pidfsAvailable(): boolean {
  if (forcedOff('pidfs')) return false
  if (pidfs !== undefined) return pidfs
  let fd = -1
  try {
    fd = pidfdOpen(process.pid)
    pidfs = fs.statfsSync(`/proc/self/fd/${fd}`).type === PIDFS_MAGIC
    pidfsDev = fs.fstatSync(fd, {bigint: true}).dev
  } catch {
    pidfs = false
  } finally {
    if (fd >= 0) fs.closeSync(fd)
  }
  return pidfs
}

/** The pidfs id of the process behind an open pidfd; null before Linux 6.9 (or forced off), or when `pidfd` is no pidfd. */
export function pidfsId(pidfd: number): number | null {
  if (!pidfsAvailable()) return null
  const st = fs.fstatSync(pidfd, {bigint: true})
  if (st.dev !== pidfsDev) return null // another file at this fd number: its inode is no process's id
  const ino = st.ino
  // A 64-bit counter from 2 up: below 2^53 for any boot that can exist; refuse rather than round.
  return ino > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(ino)
}

/**
 * ioctl(PIDFD_GET_INFO) on a pinned process (Linux 6.13+); null where the kernel lacks it (or forced
 * off), and for a live process it will not describe (some kernels answer ESRCH for a process whose
 * parent is outside the caller's PID namespace): then /proc gives the facts. Throws ESRCH once the
 * process has exited.
 */
export function pinnedInfo(pidfd: number): PidfdInfo | null {
  if (forcedOff('pidfd-info')) return null
  try {
    return pidfdInfo(pidfd)
  } catch (error) {
    if (isErrno(error, 'ESRCH') && !pidfdExited(pidfd)) return null
    throw error
  }
}

let live: boolean | undefined
/**
 * Whether `procfs` is the live /proc of this process's own PID namespace, so its pid numbers are the
 * ones pidfd_open(2) takes (a /proc mounted for another PID namespace numbers other processes).
 */
export function liveProc(procfs: Pick<ProcFs, 'root'>): boolean {
  if (procfs.root !== '/proc') return false
  if (live === undefined) {
    try {
      // /proc/self is us, and numbers us with one level only: our own PID namespace's /proc (an
      // ancestor's /proc could name us by the same number by chance, but would show more levels)
      const nspid = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'))?.[1].trim().split(/\s+/)
      live = fs.readlinkSync('/proc/self') === String(process.pid) && (nspid === undefined || (nspid.length === 1 && nspid[0] === String(process.pid)))
    } catch {
      live = false
    }
  }
  return live
}

/** The inode of the initial PID namespace (include/linux/proc_ns.h PROC_PID_INIT_INO). */
const PROC_PID_INIT_INO = 0xeffffffc
let initialNs: boolean | null | undefined
/**
 * Whether this process runs in the initial PID namespace, where every process (and every level of
 * its NSpid) is visible: true, false, or null when that cannot be read (callers take the cautious side).
 */
export function inInitialPidns(): boolean | null {
  if (initialNs === undefined) {
    try {
      initialNs = fs.statSync('/proc/self/ns/pid').ino === PROC_PID_INIT_INO
    } catch {
      initialNs = null
    }
  }
  return initialNs
}

/**
 * The pid, in this process's PID namespace, of the process behind a pidfd: from PIDFD_GET_INFO, or
 * from /proc/self/fdinfo (its `Pid:` line) where the ioctl is missing or declines (a process whose
 * parent is outside our namespace, on some kernels). 0: not visible here; -1: it has exited; null:
 * cannot be read. Throws ESRCH once the process has exited (PIDFD_GET_INFO).
 */
export function pidOfPidfd(pidfd: number): number | null {
  const info = pinnedInfo(pidfd)
  if (info?.pid !== null && info?.pid !== undefined) return info.pid
  try {
    const m = /^Pid:\s*(-?[0-9]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${pidfd}`, 'latin1'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

let boot: string | null | undefined
/** This boot's id (/proc/sys/kernel/random/boot_id), null if unreadable. */
export function bootId(): string | null {
  if (boot !== undefined) return boot
  try {
    const text = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim()
    boot = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text) ? text : null
  } catch {
    boot = null
  }
  return boot
}

/** A process named by pid and pidfs id, as util-linux writes it: `PID:ID`. */
export function formatPidRef(pid: number, id: number | null): string {
  return id === null ? String(pid) : `${pid}:${id}`
}

/** `PID` or `PID:ID` (decimal, PID > 0, ID > 0); null when it is neither. */
export function parsePidRef(text: string): {pid: number; id: number | null} | null {
  const m = /^([1-9][0-9]{0,9})(?::([1-9][0-9]{0,15}))?$/.exec(text)
  if (!m) return null
  const pid = Number(m[1])
  const id = m[2] === undefined ? null : Number(m[2])
  if (pid > 0x7fffffff || (id !== null && !Number.isSafeInteger(id))) return null
  return {pid, id}
}

/** A pid held by a pidfd and checked to be the process that was read (see idOfPid). */
export interface PinnedId {
  pid: number
  fd: number
  /** pidfs id, null before 6.9 */
  id: number | null
  /** PIDFD_GET_INFO of the pinned process, null before 6.13 */
  info: PidfdInfo | null
}

/**
 * Opens a pidfd on `pid` and checks it is the process that started at `starttime` (clock ticks;
 * null: not checked) and has not exited: the start time is read from /proc AFTER the pidfd pinned
 * the process, and the pidfd is asked again after that read, so the read was of the pinned process.
 * With PIDFD_GET_INFO the pid the kernel reports for the pinned process must be `pid` here.
 * Only over the live /proc (a captured tree's pids name no process of ours). Null: gone, reused,
 * not allowed, or not the live /proc. The caller closes `fd`.
 */
export function pinPid(pid: number, starttime: number | null, procfs: ProcFs): PinnedId | null {
  if (!liveProc(procfs)) return null
  let fd: number
  try {
    fd = pidfdOpen(pid)
  } catch (error) {
    // ENOENT: a thread that is not its group's leader (Linux 6.9+; EINVAL before)
    if (isErrno(error, 'ESRCH', 'EPERM', 'EACCES', 'EINVAL', 'ENOENT') || (error as {unsupported?: boolean}).unsupported) return null
    throw error
  }
  try {
    const info = pinnedInfo(fd)
    if (info && info.pid !== null && info.pid !== pid) throw new Error('not the pid asked for')
    if (starttime !== null && procfs.readStat(pid).starttime !== starttime) throw new Error('reused')
    if (pidfdExited(fd)) throw new Error('exited')
    return {pid, fd, id: pidfsId(fd), info}
  } catch {
    fs.closeSync(fd)
    return null
  }
}

/** The pidfs id of `pid` if it is still the process that started at `starttime` (see pinPid); null otherwise or before 6.9. */
export function idOfPid(pid: number, starttime: number | null, procfs: ProcFs): number | null {
  if (!pidfsAvailable()) return null
  const p = pinPid(pid, starttime, procfs)
  if (!p) return null
  fs.closeSync(p.fd)
  return p.id
}

/**
 * A pidfd on the live process whose pidfs id is `id`, reopened from the id alone (a pidfs file
 * handle, Linux 6.17): 'gone' when no process has it (exited and reaped, or never was); 'unsupported'
 * when that cannot be told: before 6.17 (or forced off: pidfs-handle), outside the initial PID
 * namespace (the kernel finds only processes that have a pid in the caller's namespace, so a live
 * process elsewhere looks the same as an exited one), or on any other error. The caller closes the pidfd.
 */
export function openById(id: number): {fd: number} | 'gone' | 'unsupported' {
  if (!pidfsAvailable() || forcedOff('pidfs-handle')) return 'unsupported'
  try {
    const fd = pidfdOpenById(id)
    if (fd === null) return inInitialPidns() === true ? 'gone' : 'unsupported'
    let same = false
    try {
      same = pidfsId(fd) === id
    } finally {
      if (!same) fs.closeSync(fd) // a kernel that encodes its handles otherwise (32-bit): not this id
    }
    return same ? {fd} : 'unsupported'
  } catch {
    return 'unsupported' // (EMFILE, ENOMEM...): the callers look by pid instead
  }
}
