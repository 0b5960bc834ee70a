/**
 * Where the pidfile lives, as a place: inside another process's mount namespace (rootPid, or a
 * path through /proc/P/root), or in this process's own. locate() uses it to restrict candidates to
 * the target's PID namespace and to ask which processes see the very file (visibility.ts).
 */
import path = require('node:path')

import {NslocateError, isErrno} from '../errors'
import {ProcFs} from '../proc/proc-fs'
import {ptraceRefusal} from './denial'
import {MountRef} from './visibility'
import type {SearchOptions} from './search-path'

/** locate() under rootPid: the root directory, the search options under it, and its PID namespace. */
export interface InRoot {
  root: string
  search: SearchOptions
  pidns: string
  mountRef: MountRef
}

/** /proc/ROOTPID/root, the search options under it, and ROOTPID's PID namespace. */
export function rootOf(pid: number, opts: {pidfile?: string; dir?: string}, procfs: ProcFs): InRoot {
  const root = procfs.file(pid, 'root')
  let pidns: string
  try {
    pidns = procfs.readPidnsLink(pid)
    procfs.statUnder(pid, 'root')
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH'))
      throw new NslocateError('NOT_RUNNING', `pid ${pid} (whose mount namespace holds the pidfile) has exited`, {cause: error})
    const {why, advice} = isErrno(error, 'EACCES', 'EPERM') ? ptraceRefusal(procfs, pid) : {why: null, advice: 'run as root'}
    const fact = `cannot enter the files of pid ${pid} through ${root}: ${(error as Error).message}${why === null ? '' : `; ${why}`}`
    throw new NslocateError('PERMISSION', advice === null ? fact : `${fact}; ${advice}`, {cause: error, ...(advice === null ? {} : {advice})})
  }
  const under = (p?: string) => (p ? path.join(root, p) : undefined)
  let mnt: string | null = null
  try {
    mnt = procfs.readLink(pid, 'ns', 'mnt')
  } catch {}
  // The caller's NSLOCATE_RUNTIME_DIR and XDG_RUNTIME_DIR describe the caller, not the target: not used.
  return {root, pidns, search: {pidfile: under(opts.pidfile), dir: under(opts.dir), root, env: {}, uid: 0}, mountRef: {mnt, who: `pid ${pid} (--root-pid)`}}
}

/** This process's mount namespace, in which a pidfile given by its path was opened. */
export function selfMountRef(procfs: ProcFs): MountRef {
  return {mnt: procfs.selfMountNs(), who: 'this process'}
}

/** Where an unlocked pidfile reached through another process's root lives (throughRoot()). */
export interface ThroughRoot {
  inner: string
  mountRef: MountRef
  placedNs?: {pidns: string; why: string}
}

/**
 * A path through another process's root (/proc/P/root/run/app.pid, given without --root-pid): the
 * file lives in P's mount namespace, where only P's PID namespace is sure to see it.
 */
export function throughRoot(file: string, procfs: ProcFs): ThroughRoot | null {
  const prefix = `${procfs.root}/`
  if (!file.startsWith(prefix)) return null
  const m = /^([0-9]+)\/root(\/.*)?$/.exec(file.slice(prefix.length))
  if (!m) return null
  const pid = Number(m[1])
  let mnt: string | null = null
  let pidns: string | null = null
  try {
    mnt = procfs.readLink(pid, 'ns', 'mnt')
    pidns = procfs.readPidnsLink(pid)
  } catch {}
  return {
    inner: m[2] ?? '/',
    mountRef: {mnt, who: `pid ${pid} (whose root the path goes through)`},
    placedNs: pidns ? {pidns, why: `the file was reached through /proc/${pid}/root, and it is in that process's PID namespace (${pidns})`} : undefined,
  }
}
