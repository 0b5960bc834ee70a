/**
 * PID namespaces through their /proc/PID/ns/pid files, for ProcFs: translating a pid in or out of
 * one (ioctl NS_GET_PID_FROM_PIDNS, NS_GET_PID_IN_PIDNS), and who may choose pid numbers in one
 * (docs/nslocate.1.md, NOTES, "Who counts"): whoever has CAP_SYS_ADMIN over the user namespace that
 * owns it, that is its creator and the uid its root (inner uid 0) maps to.
 */
import fs = require('node:fs')

import {NS_TRANSLATE_UNSUPPORTED, nsOwner, nsPidFromPidns, nsPidInPidns} from '../native/binding'
import type {ProcFs} from './proc-fs'
import {readProcText} from './read-text'

/** Who may choose pid numbers in a PID namespace (ProcFs.pidnsOwner). */
export type PidnsOwner = {kind: 'ours'} | {kind: 'user'; uid: number; root: number | null | undefined}

/**
 * 'ours': `pid`'s PID namespace is owned by this process's own user namespace (or one `above` it:
 * nobody below this process's root made it). null: cannot tell (the ns file may not be opened:
 * another user's process; an old kernel).
 */
export function pidnsOwnerOf(procfs: ProcFs, pid: number | 'self'): PidnsOwner | null {
  let fd: number
  try {
    fd = fs.openSync(procfs.file(pid, 'ns', 'pid'), 'r')
  } catch {
    return null
  }
  let owner: ReturnType<typeof nsOwner>
  try {
    owner = nsOwner(fd)
  } catch {
    return null
  } finally {
    fs.closeSync(fd)
  }
  if (owner === null) return null
  // EPERM from NS_GET_USERNS: the owner is not this process's user namespace nor below it (an
  // ancestor; a sibling only if /proc/PID/ns/pid could be opened, which ptrace access forbids).
  if (owner === 'above') return {kind: 'ours'}
  try {
    if (fs.statSync(procfs.file('self', 'ns', 'user')).ino === owner.ino) return {kind: 'ours'}
  } catch {}
  return {kind: 'user', uid: owner.uid, root: usernsRoot(procfs, owner.ino, pid)}
}

/** The uid (in this process's user namespace) that inner uid 0 of the user namespace with inode `ino` maps to; null if it maps none; undefined if no process in it could be read. */
function usernsRoot(procfs: ProcFs, ino: number, hint: number | 'self'): number | null | undefined {
  const inNs = (p: number | 'self') => {
    try {
      return fs.statSync(procfs.file(p, 'ns', 'user')).ino === ino
    } catch {
      return false
    }
  }
  let member: number | 'self' | null = inNs(hint) ? hint : null
  if (member === null)
    for (const p of procfs.listPids())
      if (inNs(p)) {
        member = p
        break
      }
  if (member === null) return undefined
  try {
    return rootOfUidMap(readProcText(procfs.file(member, 'uid_map')))
  } catch {
    return undefined
  }
}

/** user_namespaces(7) uid_map ("inner outer count" per line): the outer uid of inner uid 0, or null. */
export function rootOfUidMap(text: string): number | null {
  for (const line of text.split('\n')) {
    const [inner, outer, count] = line.trim().split(/\s+/).map(Number)
    if (Number.isSafeInteger(inner) && Number.isSafeInteger(outer) && count > 0 && inner <= 0 && 0 < inner + count) return outer - inner
  }
  return null
}

/**
 * `from`: the pid, in this /proc's namespace, of the process numbered `n` in the namespace of
 * `nsFile` (null: none; UNSUPPORTED: the kernel cannot tell, or the file cannot be opened).
 * `in`: the number of this namespace's process `n` in that namespace (null: not visible there, or
 * the file cannot be opened; UNSUPPORTED: the kernel cannot tell).
 */
export function translateIn(nsFile: string, n: number, way: 'from' | 'in'): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
  const failed = way === 'from' ? NS_TRANSLATE_UNSUPPORTED : null
  let fd: number
  try {
    fd = fs.openSync(nsFile, 'r')
  } catch {
    return failed
  }
  try {
    return way === 'from' ? nsPidFromPidns(fd, n) : nsPidInPidns(fd, n)
  } catch {
    return failed
  } finally {
    fs.closeSync(fd)
  }
}
