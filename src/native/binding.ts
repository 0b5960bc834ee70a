/**
 * The only module that loads the native addon (native/nslocate.c). Everything that Node.js lacks
 * goes through here: fcntl lock probes and locks, flock(2), pidfds, PIDFD_GET_INFO, the nsfs
 * ioctls, the path walk's openat(2) steps and the batched /proc reads of locate(). The addon is loaded on first use, so commands that never need it never pay for it.
 *
 * Errors thrown here are Node-style (`code`, `errno`, `syscall`). A kernel that lacks a feature
 * gives `code: 'ENOTSUP'` with `unsupported: true`; the wrappers below turn that into `null` where
 * the caller has a fallback.
 *
 * (Over 250 lines: one thin wrapper per addon function, each documented, and the loader; they stay
 * together because this is the one module that may load the addon.)
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, SystemError, isErrno} from '../errors'
import {O_CLOEXEC, O_PATH, at, procWalkDirs} from '../kernel/reopen'
import type {RawWalk} from '../kernel/walk'
import {pinnedOnPath} from '../path-trust'

interface Addon {
  getlk(fd: number, ofd: boolean): {type: 0 | 1 | 2; pid: number; start: number; len: number}
  setlk(fd: number, type: 0 | 1 | 2, wait: boolean, ofd: boolean): boolean
  flock(fd: number, op: 0 | 1 | 2, nonblock: boolean): boolean
  pidfdOpen(pid: number): number
  pidfdSendSignal(pidfd: number, sig: number): void
  pidfdExited(pidfd: number): boolean
  waitPidfd(pidfd: number): Promise<boolean> & {waitId: number}
  cancelWait(waitId: number): boolean
  pidfdGetInfo(pidfd: number): RawPidfdInfo
  nsTranslate(nsfd: number, which: 0 | 1 | 2 | 3, pid: number): number
  nsGetId(nsfd: number): bigint
  nsOwner(nsfd: number): {uid: number; ino: number} | null
  renameExchange(dirfd: number, a: string, b: string): void
  spawnGated(file: string, argv: string[], envp: string[], keepFd: number, cgroupFd: number): GatedChild
  reapChild(pid: number): {code: number; signal: number} | null
  walkDirs(start: string | number, names: string[]): RawWalk
  lookAt(dirfd: number, name: string): number
  holderFds(pid: number, dev: number, ino: number, names: string[], hint: number): HolderFds
  readProcMany(dir: string, names: string[]): Array<string | number>
  pidfdOpenById(id: number): number | null
  xattrGet(fd: number, name: string, max: number): Buffer | null
  xattrSet(fd: number, name: string, value: Buffer): void
  xattrRemove(fd: number, name: string): void
  setChildSubreaper(): void
}

/** One process's fd scan (native/nslocate.c holderFds): the fdinfo texts of its fds on a dev:inode. */
export interface HolderFds {
  /** why /proc/PID/fd could not be listed; 0: it was */
  errno: number
  /** a link, stat or fdinfo was refused (EACCES/EPERM) */
  denied: boolean
  fdinfo: string[]
  /** the fd of each fdinfo */
  fds: number[]
}

interface RawPidfdInfo {
  pid?: number
  tgid?: number
  ppid?: number
  ruid?: number
  euid?: number
  cgroupid: bigint | null
  exitCode: number | null
  mask: number
}

let addon: Addon | undefined

/**
 * The prebuilt addon the package ships for a platform and CPU, in prebuildify's layout, which
 * node-gyp-build also reads: prebuilds/PLATFORM-ARCH/NAME.TAGS.node. The tags say what it needs:
 * `napi` (Node-API, any Node.js >= 20), `uv1` (it uses libuv's uv_poll directly; libuv's major is 1
 * in every Node.js since 0.12), `glibc` (built on Debian 12: glibc >= 2.36; not musl). Relative to
 * the package root. scripts/build-native.js writes them here, under these names.
 */
export function prebuildFile(platform: string = process.platform, arch: string = process.arch): string {
  return path.join('prebuilds', `${platform}-${arch}`, 'nslocate.napi.uv1.glibc.node')
}

/**
 * Where the addon may be, in order: $NSLOCATE_ADDON (made absolute against the current directory:
 * loadOverride()); build/ at the package root (an addon built here from source: `npm install` built
 * it because no prebuild fits, or a checkout's `npm run build`); the package's prebuild for this
 * platform and CPU (prebuildFile()).
 */
export function addonCandidates(): string[] {
  const list: string[] = []
  if (process.env.NSLOCATE_ADDON) list.push(path.resolve(process.env.NSLOCATE_ADDON))
  // src/native (ts-jest), dist/src/native (compiled) and dist/fast (the start-up bundles, where
  // this module is inlined) all sit below the package root; never look above it (a build/ or
  // prebuilds/ there is not the package's own).
  const root = path.resolve(__dirname, __dirname.endsWith(path.join('dist', 'src', 'native')) ? '../../..' : '../..')
  list.push(path.join(root, 'build', 'nslocate.node'))
  list.push(path.join(root, prebuildFile()))
  return [...new Set(list)]
}

/**
 * NSLOCATE_ADDON is code nslocate runs as the caller (often root). Its value is made absolute once
 * (a relative one against the current directory, never through Node's module paths: `evil.node`
 * is ./evil.node, not ~/.node_modules/evil.node), and that path is walked and opened once
 * (pinnedOnPath: O_PATH|O_NOFOLLOW per step): the file and every directory on its path must pass
 * src/path-trust.ts (owned by root or the caller, not writable by group or others; sticky
 * root-owned directories such as /tmp excepted), and the file must be a regular file. What is
 * loaded is the inode that was judged, through `/proc/self/fd/N`: a name swapped or linked in after
 * the check is never loaded. A refused override throws NATIVE_LOAD, naming the file, its owner and
 * what to do, and nothing else is tried: it is never silently replaced by another addon. A path
 * that the walk cannot reach (ENOENT, ENOTDIR, EACCES, ELOOP) is not loaded either: returned as
 * why, and the package's own candidates are tried next (they cannot be planted by another user).
 */
function loadOverride(value: string): {addon: Addon} | {file: string; why: string} {
  const file = path.resolve(value)
  const shown = file === value ? file : `${value} (${file})`
  let pinned
  try {
    // No addon is loaded yet (this decides which one may be): the walk's steps go through /proc/self/fd.
    pinned = pinnedOnPath(file)
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return {file, why: 'not found'}
    if (isErrno(error, 'ENOTDIR', 'EACCES', 'EPERM', 'ELOOP')) return {file, why: (error as Error).message}
    throw new NslocateError('NATIVE_LOAD', `cannot check NSLOCATE_ADDON=${shown}: ${(error as Error).message}; not loading it`, {cause: error})
  }
  const {bad, fd} = pinned
  if (bad) {
    const on = bad.path === file ? '' : ` (on its path: ${bad.path})`
    // Another user could run code as you through it.
    const advice = 'Put it where only root or you can write (chown root, chmod go-w), or unset NSLOCATE_ADDON'
    throw new NslocateError('NATIVE_LOAD', `refusing to load NSLOCATE_ADDON=${shown}${on}: ${bad.why}. ${advice}`, {advice})
  }
  if (fd === null) return {file, why: 'not a regular file'} // the path ends on a directory ("/")
  const held = `/proc/self/fd/${fd}`
  try {
    if (!fs.fstatSync(fd).isFile()) return {file, why: 'not a regular file'}
    const loaded = {exports: {}}
    // dlopen(3) opens the magic link: the very inode judged above, whatever the name now points to.
    process.dlopen(loaded, held)
    return {addon: loaded.exports as Addon}
  } catch (error) {
    // dlerror() names the file by the path it was given: say which file it is.
    return {file, why: (error as Error).message.split(held).join(file)}
  } finally {
    fs.closeSync(fd)
  }
}

/** What to do when no addon loads: NATIVE_LOAD's `advice` (the CLI's hint line). */
const BUILD_ADVICE = 'build it from source: NSLOCATE_BUILD_FROM_SOURCE=1 npm rebuild nslocate'

/**
 * The native addon, loaded once (NSLOCATE_ADDON first, if trusted: loadOverride()); throws
 * NATIVE_LOAD when none loads. Its message is one line (what failed, for which platform, and what
 * to do); `details.tried` lists each place tried and why it failed (`{file, error}`), and the
 * error's `advice` is what to do (also the message's part after "; ").
 */
export function native(): Addon {
  if (addon) return addon
  const override = process.env.NSLOCATE_ADDON
  const tried: Array<{file: string; error: string}> = []
  for (const file of addonCandidates()) {
    if (override && file === path.resolve(override)) {
      const r = loadOverride(override)
      if ('addon' in r) return (addon = r.addon)
      tried.push({file: r.file, error: r.why})
      continue
    }
    // The package's own files (build/, prebuilds/): inside the package, owned by whoever installed it.
    if (!fs.existsSync(file)) {
      tried.push({file, error: 'not found'})
      continue
    }
    try {
      addon = require(file) as Addon
      return addon
    } catch (error) {
      tried.push({file, error: (error as Error).message})
    }
  }
  const platform = `${process.platform}-${process.arch}`
  const places = `${tried.length} ${tried.length === 1 ? 'place' : 'places'} tried`
  throw new NslocateError('NATIVE_LOAD', `cannot load the native addon for ${platform} (${places}); ${BUILD_ADVICE}`, {
    details: {platform, tried},
    advice: BUILD_ADVICE,
  })
}

/** The lock a probe found on a file. */
export type LockType = 'unlocked' | 'read' | 'write'
const LOCK_TYPES: LockType[] = ['unlocked', 'read', 'write']

/** What F_GETLK (or F_OFD_GETLK) reports for a file: the lock type that would conflict, and its holder. */
export interface LockProbe {
  type: LockType
  /** As the kernel reports it: POSIX holder's pid in the caller's namespace (0: not visible), OFD -1; 0 when unlocked. */
  pid: number
}

/** fcntl(F_GETLK) with a whole-file write probe. Takes no lock. Works on an O_RDONLY fd. */
export function probePosixLock(fd: number): LockProbe {
  const r = native().getlk(fd, false)
  return {type: LOCK_TYPES[r.type], pid: r.pid}
}

/** fcntl(F_OFD_GETLK): sees OFD and POSIX locks alike; an OFD holder is reported with pid -1 (it has no owning process). */
export function probeOfdLock(fd: number): LockProbe {
  const r = native().getlk(fd, true)
  return {type: LOCK_TYPES[r.type], pid: r.pid}
}

/** F_SETLK(W) on the whole file; false when another process holds a conflicting lock (non-blocking only). */
export function setPosixLock(fd: number, type: LockType, opts: {wait?: boolean; ofd?: boolean} = {}): boolean {
  return native().setlk(fd, LOCK_TYPES.indexOf(type) as 0 | 1 | 2, Boolean(opts.wait), Boolean(opts.ofd))
}

/** flock(2); false on EWOULDBLOCK when non-blocking (the default). */
export function flock(fd: number, op: 'unlock' | 'shared' | 'exclusive', opts: {nonblock?: boolean} = {}): boolean {
  const code = op === 'unlock' ? 0 : op === 'shared' ? 1 : 2
  return native().flock(fd, code, opts.nonblock ?? true)
}

/** pidfd_open(2). Throws ESRCH when no such process is visible here. */
export function pidfdOpen(pid: number): number {
  return native().pidfdOpen(pid)
}

/** pidfd_send_signal(2). Signal 0 only checks that the process is there and may be signalled. */
export function pidfdSendSignal(pidfd: number, signal: number): void {
  native().pidfdSendSignal(pidfd, signal)
}

/** True once the process has exited (zombie or reaped). */
export function pidfdExited(pidfd: number): boolean {
  return native().pidfdExited(pidfd)
}

/**
 * How often a wait also asks pidfdExited() itself. On Node 26 (its libuv) uv_poll never reports a
 * pidfd readable, so a wait relying on it alone would last until its timeout, or forever; on Node
 * 22/24 the poll fires first and this check never decides.
 */
const EXIT_CHECK_MS = 50

/**
 * The addon's poll of the pidfd, also settled by a periodic pidfdExited() check; true once exited.
 * A wake-up is believed only when pidfdExited() confirms it: on Node 26 the poll can also report
 * readable while the process runs (seen as `run` taking its live child for exited), so a wake-up
 * that is not an exit waits EXIT_CHECK_MS and polls again.
 */
async function watchExit(pidfd: number, ms?: number): Promise<boolean> {
  const addon = native()
  const deadline = ms === undefined ? Infinity : Date.now() + ms
  // (async: a bad fd rejects, as the addon's own wait does, instead of throwing synchronously)
  const exitedNow = addon.pidfdExited(pidfd)
  // The caller may close its pidfd while waiting (the addon polls its own dup), and the number may
  // then name another process's pidfd: our own checks apply only while it is the same pidfd (inode).
  const ino = fs.fstatSync(pidfd).ino
  const same = () => {
    try {
      return fs.fstatSync(pidfd).ino === ino
    } catch {
      return false
    }
  }
  if (exitedNow) return true
  for (let first = true; ; first = false) {
    if (addon.pidfdExited(pidfd)) return true
    const left = deadline - Date.now()
    if (left <= 0) return false
    if (!first) await new Promise((resolve) => setTimeout(resolve, Math.min(EXIT_CHECK_MS, left)))
    if (addon.pidfdExited(pidfd)) return true
    const pending = addon.waitPidfd(pidfd)
    const cancel = () => addon.cancelWait(pending.waitId)
    const timer = Number.isFinite(deadline) ? setTimeout(cancel, Math.max(0, Math.min(deadline - Date.now(), 2 ** 31 - 1))) : null
    const tick = setInterval(() => {
      if (!same())
        clearInterval(tick) // the caller closed its pidfd: the addon's own dup decides
      else if (addon.pidfdExited(pidfd)) cancel()
    }, EXIT_CHECK_MS)
    let woke: boolean
    try {
      woke = await pending
    } finally {
      if (timer) clearTimeout(timer)
      clearInterval(tick)
    }
    if (!same()) return woke // the caller's pidfd was closed meanwhile: the addon's own wait is the answer
    if (addon.pidfdExited(pidfd)) return true
  }
}

/** Resolves when the process behind the pidfd exits. Uses the event loop, not the threadpool. */
export function waitPidfd(pidfd: number): Promise<void> {
  return watchExit(pidfd).then(() => undefined)
}

/**
 * Waits up to `ms` for the process behind the pidfd to exit: true if it did, false on timeout.
 * On timeout the poll handle is cancelled, so nothing keeps the event loop alive afterwards.
 */
export async function waitPidfdFor(pidfd: number, ms: number): Promise<boolean> {
  return watchExit(pidfd, ms)
}

/** ioctl(PIDFD_GET_INFO) of a process; a field is null when the kernel does not report it. */
export interface PidfdInfo {
  /** the pid in the caller's PID namespace (0: not visible from here) */
  pid: number | null
  tgid: number | null
  ppid: number | null
  ruid: number | null
  euid: number | null
  cgroupid: bigint | null
  /** wait(2) status once reaped, else null */
  exitCode: number | null
}

/** ioctl(PIDFD_GET_INFO) (Linux 6.13+); null on older kernels. Throws ESRCH once the process is reaped and no exit info is kept. */
export function pidfdInfo(pidfd: number): PidfdInfo | null {
  try {
    const r = native().pidfdGetInfo(pidfd)
    return {
      pid: r.pid ?? null,
      tgid: r.tgid ?? null,
      ppid: r.ppid ?? null,
      ruid: r.ruid ?? null,
      euid: r.euid ?? null,
      cgroupid: r.cgroupid,
      exitCode: r.exitCode,
    }
  } catch (error) {
    if ((error as SystemError).unsupported) return null
    throw error
  }
}

/** Returned by a pid translation between PID namespaces the kernel cannot do (unlike null: no such process there). */
export const NS_TRANSLATE_UNSUPPORTED = Symbol('unsupported')

/**
 * NS_GET_PID_FROM_PIDNS: `pid` as numbered inside the namespace of `nsfd` -> the caller's number.
 * Returns null when the process is not visible (ESRCH), NS_TRANSLATE_UNSUPPORTED on kernels before 6.11.
 */
export function nsPidFromPidns(nsfd: number, pid: number): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
  return translate(nsfd, 0, pid)
}

/** NS_GET_PID_IN_PIDNS: the caller's `pid` -> its number inside the namespace of `nsfd`. */
export function nsPidInPidns(nsfd: number, pid: number): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
  return translate(nsfd, 2, pid)
}

function translate(nsfd: number, which: 0 | 2, pid: number): number | null | typeof NS_TRANSLATE_UNSUPPORTED {
  try {
    return native().nsTranslate(nsfd, which, pid)
  } catch (error) {
    const e = error as SystemError
    if (e.unsupported) return NS_TRANSLATE_UNSUPPORTED
    if (e.code === 'ESRCH') return null
    throw error
  }
}

/** NS_GET_ID: a 64-bit namespace id that, unlike the inode number, is never reused. null if unsupported. */
export function nsId(nsfd: number): bigint | null {
  try {
    return native().nsGetId(nsfd)
  } catch (error) {
    if ((error as SystemError).unsupported) return null
    throw error
  }
}

/**
 * Who created the user namespace that owns the namespace open as `nsfd`: its creator's uid (in this
 * process's user namespace; 0 for the initial one) and the user namespace's inode. 'above': the
 * owner is an ancestor of this process's user namespace (more privileged than this process's root).
 * null: unsupported.
 */
export function nsOwner(nsfd: number): {uid: number; ino: number} | 'above' | null {
  try {
    return native().nsOwner(nsfd) ?? 'above'
  } catch (error) {
    if ((error as SystemError).unsupported) return null
    throw error
  }
}

/**
 * The kernel half of the CHASE_SAFE walk (src/kernel/walk.ts): enters each directory of `names`
 * from `start` with openat(O_PATH|O_NOFOLLOW) + fstat, in one call (native/nslocate.c walkDirs).
 * Without a loadable addon the same steps go through /proc/self/fd (src/kernel/reopen.ts): a walk
 * never fails for want of the addon, and what needs the addon next (a lock probe) says why it
 * cannot be loaded, as before the walk used it.
 */
export function walkDirs(start: string | number, names: string[]): RawWalk {
  if (!addon) {
    try {
      native()
    } catch {
      return procWalkDirs(start, names)
    }
  }
  return addon!.walkDirs(start, names)
}

/**
 * The addon's batched /proc reads (src/proc/native-reads.ts), or null when it cannot be loaded
 * (the callers then read file by file, as before).
 */
export function procBatch(): Pick<Addon, 'holderFds' | 'readProcMany' | 'lookAt'> | null {
  if (addon) return addon
  try {
    return native()
  } catch {
    return null
  }
}

/** The addon's batched reads if it is loaded already (nothing is loaded for them: src/proc/read-text.ts). */
export function loadedBatch(): Pick<Addon, 'readProcMany'> | null {
  return addon ?? null
}

/**
 * openat(dirfd, name, O_PATH|O_NOFOLLOW|O_CLOEXEC) (native/nslocate.c lookAt); without a loadable
 * addon the same open through /proc/self/fd (src/kernel/reopen.ts), as walkDirs() falls back.
 */
export function lookAt(dirfd: number, name: string): number {
  const a = procBatch()
  return a ? a.lookAt(dirfd, name) : fs.openSync(at(dirfd, name), O_PATH | fs.constants.O_NOFOLLOW | O_CLOEXEC)
}

/** renameat2(RENAME_EXCHANGE) of two names in the directory `dirfd`: each then names the other's inode. */
export function renameExchange(dirfd: number, a: string, b: string): void {
  native().renameExchange(dirfd, a, b)
}

// ---- run's gated start (used only by src/acquire/spawn-gated.ts) ----

/** A child forked and held before execve until its gate is written or closed. */
export interface GatedChild {
  pid: number
  /** write one byte to let the child execve; close it to make the child _exit(125) without running anything */
  gateFd: number
  /** EOF once execve succeeded; else 4 bytes, the errno of the failed execve */
  errFd: number
  /** it was born in the cgroup cgroupFd (clone3 CLONE_INTO_CGROUP); false: not asked, or refused (move it) */
  inCgroup: boolean
}

/**
 * fork a child that waits on a gate pipe before execve(file, argv, envp), inheriting keepFd (-1:
 * none); with cgroupFd (an open directory of the cgroup v2 hierarchy), born in that cgroup when the
 * kernel allows (Linux 5.7+): see inCgroup.
 */
export function spawnGated(file: string, argv: string[], envp: string[], keepFd: number, cgroupFd = -1): GatedChild {
  return native().spawnGated(file, argv, envp, keepFd, cgroupFd)
}

/** waitpid(pid, WNOHANG) on a child from spawnGated(): null while it runs; code -1 when killed by `signal`. */
export function reapChild(pid: number): {code: number; signal: number} | null {
  return native().reapChild(pid)
}

/**
 * fgetxattr(2): the attribute's value (at most `max` bytes; longer: ERANGE), or null when the file
 * has none (ENODATA). A file system without user xattrs throws EOPNOTSUPP.
 */
export function xattrGet(fd: number, name: string, max = 1024): Buffer | null {
  return native().xattrGet(fd, name, max)
}

/** fsetxattr(2) (create or replace). Needs write access to the file; EOPNOTSUPP where the file system has no user xattrs. */
export function xattrSet(fd: number, name: string, value: Buffer): void {
  native().xattrSet(fd, name, value)
}

/** fremovexattr(2); an absent attribute is not an error. */
export function xattrRemove(fd: number, name: string): void {
  native().xattrRemove(fd, name)
}

/**
 * A pidfd on the live process whose pidfs id is `id`, opened from a pidfs file handle
 * (open_by_handle_at, Linux 6.17 unprivileged); null when no process visible here has that id.
 * Throws `unsupported` on kernels without pidfs handles.
 */
export function pidfdOpenById(id: number): number | null {
  return native().pidfdOpenById(id)
}

/**
 * Makes this process the child subreaper of its descendants (prctl PR_SET_CHILD_SUBREAPER): a
 * process they leave orphaned becomes our child, not init's, so `run` can reap a daemon that
 * outlived COMMAND and give its exit status. The caller must then reap what it inherits (reapChild).
 */
export function setChildSubreaper(): void {
  native().setChildSubreaper()
}
