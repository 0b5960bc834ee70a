/**
 * Does a candidate see the pidfile? Decided on its MOUNT NAMESPACE, not on its root directory: a
 * daemon that chroot()ed itself (named, postfix, sshd's privsep child) has a /proc/PID/root of its
 * chroot, yet lives in the mount namespace that holds the file (it wrote it before the chroot).
 *
 * 1. Its /proc/PID/ns/mnt is the reference one (this process's, or --root-pid's, in which the
 *    pidfile was opened): it holds the file.
 * 2. Else (another mount namespace, e.g. a container) the same dev:inode at the same path under
 *    /proc/PID/root, or directly under one of its mount points (a volume mounted at another path:
 *    host /srv/app/run is the container's /run).
 */
import path = require('node:path')

import {isErrno} from '../errors'
import {ProcFs} from '../proc/proc-fs'
import {ptraceDenial} from './denial'

/** Whether a process sees the pidfile, and why. */
export interface Sight {
  sees: boolean | 'denied'
  /** one sentence for the evidence, naming the namespaces compared */
  why: string
}

/** The mount namespace a pidfile was opened in, and whose it is. */
export interface MountRef {
  /** `mnt:[4026531841]`, or null when it could not be read */
  mnt: string | null
  /** whose namespace it is: "this process" or "pid 812 (--root-pid)" */
  who: string
}

/** Whether process `pid` sees this very file (dev:inode) in its mount namespace. */
export function seesFile(procfs: ProcFs, pid: number, file: string, stat: {dev: number | bigint; ino: number | bigint}, ref: MountRef): Sight {
  let mnt: string | null = null
  try {
    mnt = procfs.readLink(pid, 'ns', 'mnt')
  } catch {}
  if (mnt !== null && ref.mnt !== null && mnt === ref.mnt) {
    return {sees: true, why: `pid ${pid} is in mount namespace ${mnt}, the one of ${ref.who}, which holds ${file}`}
  }
  const other = mnt === null ? 'its mount namespace (ns/mnt not readable)' : `mount namespace ${mnt}`
  const versus = `not ${ref.who}'s ${ref.mnt ?? '(unreadable)'}`
  // Whether we may look into its mount namespace at all: /proc/PID/root itself needs ptrace access.
  // (EACCES on one path further down, such as a 0710 directory, only means "not there".)
  try {
    procfs.statUnder(pid, 'root')
  } catch (error) {
    if (isErrno(error, 'EACCES', 'EPERM'))
      return {
        sees: 'denied',
        why: `pid ${pid}: not allowed to look into its mount namespace (/proc/${pid}/root; it is in ${other}, ${versus}): ${ptraceDenial(procfs, pid)}`,
      }
    return {sees: false, why: `pid ${pid}: /proc/${pid}/root cannot be read (${(error as Error).message})`}
  }
  const same = (p: string) => {
    try {
      const s = procfs.statUnder(pid, 'root', p)
      return s.dev === Number(stat.dev) && s.ino === Number(stat.ino)
    } catch {
      return false
    }
  }
  if (same(file)) return {sees: true, why: `pid ${pid} is in ${other}, ${versus}; ${file} under /proc/${pid}/root is this file (dev:inode)`}
  let mountinfo: string
  try {
    mountinfo = procfs.readMountinfo(pid)
  } catch (error) {
    if (isErrno(error, 'EACCES', 'EPERM'))
      return {
        sees: 'denied',
        why: `pid ${pid}: not allowed to look into its mount namespace (/proc/${pid}/mountinfo; it is in ${other}, ${versus}): ${ptraceDenial(procfs, pid)}`,
      }
    return {sees: false, why: `pid ${pid}: /proc/${pid}/mountinfo cannot be read (${(error as Error).message})`}
  }
  const base = path.basename(file)
  const mp = mountPoints(mountinfo).find((m) => same(path.join(m, base)))
  if (mp !== undefined)
    return {sees: true, why: `pid ${pid} is in ${other}, ${versus}; ${path.join(mp, base)} in it is this file (dev:inode; a volume mounted at ${mp})`}
  return {sees: false, why: `pid ${pid} is in ${other}, ${versus}; neither ${file} nor ${base} under any of its mount points is this file (dev:inode)`}
}

/** The mount points of a mountinfo(5) text (ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; octal escapes for spaces), in order. */
function mountPoints(mountinfo: string): string[] {
  const out: string[] = []
  for (const line of mountinfo.split('\n')) {
    const cols = line.split(' ')
    if (cols.length >= 5) out.push(cols[4].replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(Number.parseInt(o, 8))))
  }
  return out
}
