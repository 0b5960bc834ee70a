/**
 * The /proc/self/fd tricks: the one place that names a file through a descriptor this process
 * holds, by way of the magic links in /proc/self/fd.
 *
 * Node.js has no openat(2), fstatat(2) or readlinkat(2), and cannot turn an O_PATH descriptor into
 * a readable one. The kernel can: /proc/self/fd/N is a "magic" link that leads to the very inode
 * open as N (not to a path that may have been renamed or replaced since), so
 *   - `/proc/self/fd/N/NAME` is NAME looked up inside the directory open as N (openat(N, NAME));
 *   - opening `/proc/self/fd/N` itself opens that inode again, with new flags (an O_PATH descriptor,
 *     which can neither read nor write, becomes a readable one after it was judged);
 *   - readlink(`/proc/self/fd/N`) says where the open file now is.
 * None of this can be faked by the ProcFs seam (src/proc/proc-fs.ts): it is the kernel resolving a
 * descriptor of this very process, not text read from /proc, so there is nothing to capture in a
 * fixture tree. Code that decides things reads /proc through ProcFs; code that must reach an open
 * inode comes here. (native/nslocate.c walkDirs does the same with openat(2), for the walk's speed.)
 *
 * O_NOFOLLOW cannot be used when opening `/proc/self/fd/N` itself (the magic link is a link); the
 * caller compares dev and ino after reopening when it must be sure (pidfile-look.ts does).
 */
import fs = require('node:fs')

import type {RawWalk} from './walk'

/** open(2)'s O_PATH (Linux; the same value on x86-64, arm64, arm, riscv, s390x, ppc64le). */
export const O_PATH = 0o10000000
/** open(2)'s O_CLOEXEC, which Node's fs.constants does not always list. */
export const O_CLOEXEC = (fs.constants as Record<string, number>).O_CLOEXEC ?? 0o2000000

/** NAME inside the directory open as `dirFd`, for fs calls that take a path (openat(dirFd, NAME) and kin). */
export function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`
}

/** The open inode of `fd` opened again with `flags` (never O_NOFOLLOW: see the header). */
export function reopen(fd: number, flags: number): number {
  return fs.openSync(`/proc/self/fd/${fd}`, flags)
}

/** Where the file open as `fd` is now (its path, with " (deleted)" once unlinked). */
export function fdTarget(fd: number): string {
  return fs.readlinkSync(`/proc/self/fd/${fd}`)
}

/** statfs(2) of the file system holding the file open as `fd` (fstatfs). */
export function statfsOf(fd: number): fs.StatsFs {
  return fs.statfsSync(`/proc/self/fd/${fd}`)
}

/** The directory listing of the directory open as `fd` (an O_PATH descriptor will do). */
export function readdirOf(fd: number): fs.Dirent[] {
  return fs.readdirSync(`/proc/self/fd/${fd}`, {withFileTypes: true})
}

const STEP_FLAGS = O_PATH | fs.constants.O_NOFOLLOW | O_CLOEXEC

/** errno (positive) of a Node fs error. */
function errnoOf(error: unknown): number {
  return -((error as NodeJS.ErrnoException).errno ?? -5)
}

/**
 * The walk's kernel half (the contract of native/nslocate.c walkDirs, see RawWalk in walk.ts)
 * made from JS: openat(cur, NAME, O_PATH|O_NOFOLLOW) as an open of /proc/self/fd/CUR/NAME. Used
 * where the addon cannot be: deciding whether NSLOCATE_ADDON may be loaded, before any addon is.
 */
export function procWalkDirs(start: string | number, names: string[]): RawWalk {
  // Without /proc every lookup would say ENOENT, which callers take for "not there": fail instead.
  if (!fs.existsSync('/proc/self/fd')) {
    throw Object.assign(new Error('/proc is not mounted: a path cannot be walked safely without /proc/self/fd'), {code: 'ENOPROC'})
  }
  const r: RawWalk = {fds: [], ids: [], next: -1, stop: 3, errno: 0}
  let cur = typeof start === 'number' ? start : -1
  if (typeof start === 'string') {
    try {
      cur = fs.openSync(start, O_PATH | fs.constants.O_DIRECTORY | O_CLOEXEC)
    } catch (error) {
      return {...r, errno: errnoOf(error)}
    }
    const st = fs.fstatSync(cur)
    r.fds.push(cur)
    r.ids.push(st.uid, st.gid, st.mode)
  }
  for (r.next = 0; r.next < names.length; r.next++) {
    const fd = procStep(cur, names[r.next], r)
    if (fd < 0) return r
    r.fds.push((cur = fd))
  }
  return {...r, stop: 0}
}

/** One name of procWalkDirs: the directory's O_PATH fd, or -1 with `r` saying why the walk stops there. */
function procStep(cur: number, name: string, r: RawWalk): number {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) return ((r.errno = 22), -1)
  let fd: number
  try {
    fd = fs.openSync(at(cur, name), STEP_FLAGS)
  } catch (error) {
    return ((r.errno = errnoOf(error)), -1)
  }
  const st = fs.fstatSync(fd)
  if (st.isDirectory()) {
    r.ids.push(st.uid, st.gid, st.mode)
    return fd
  }
  try {
    if (!st.isSymbolicLink()) return (r.ids.push(st.uid, st.gid, st.mode), (r.stop = 2), -1)
    // readlink(2) of the magic link would give the link's path, not its text: read it by name,
    // then make sure the name still is the link judged.
    const target = fs.readlinkSync(at(cur, name))
    if (fs.lstatSync(at(cur, name)).ino !== st.ino) return ((r.errno = 11), -1)
    r.ids.push(st.uid, st.gid, st.mode)
    return ((r.stop = 1), (r.target = target), -1)
  } catch (error) {
    return ((r.errno = errnoOf(error)), -1)
  } finally {
    fs.closeSync(fd)
  }
}
