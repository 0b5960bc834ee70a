/**
 * Look before opening: the pidfile is first opened with O_PATH|O_NOFOLLOW (which reads nothing,
 * and opens no device, FIFO or socket), fstat'ed, and reopened for reading through
 * /proc/self/fd/N only when it is a regular file, and not a refused symlink. So a symlink a
 * service user plants (NAME.pid -> /dev/watchdog, /dev/ptmx, a FIFO, /root/secret) never makes
 * root open its target, and nothing of what such a target holds reaches the evidence.
 */
import fs = require('node:fs')

import {O_PATH, at, reopen} from '../kernel/reopen'
import {BrokenLink, ChasedPath} from './path-safety'
import type {LocateResult} from './types'

const LOOK_FLAGS = O_PATH | fs.constants.O_NOFOLLOW
// No O_NOFOLLOW: /proc/self/fd/N is itself a (magic) link; fstat below checks the inode is the one looked at.
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK

/** The pidfile was looked at and refused before being opened for reading; locate() reports `reason`. */
export class PidfileRefused extends Error {
  readonly code = 'EREFUSED'
  constructor(
    readonly reason: 'symlink' | 'not_regular',
    message: string,
  ) {
    super(message)
  }
}

/** What a non-regular file is, for messages. */
export function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isSocket()) return 'a unix socket'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSymbolicLink()) return 'a symbolic link'
  return 'not a regular file'
}

function errnoError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, {cause}), {code})
}

/** A clear message for an open(2) failure on `file`, without the internal /proc/self/fd path. */
export function openFailure(file: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO'
  const why: Record<string, string> = {
    EAGAIN: 'another process holds a lease on it (EAGAIN: a write lease keeps readers out); run again once it is released',
    EWOULDBLOCK: 'another process holds a lease on it (EAGAIN: a write lease keeps readers out); run again once it is released',
    ENXIO: 'it is a socket or a device with nothing behind it (ENXIO), not a pidfile',
    ELOOP: 'it was replaced by a symbolic link while being opened (ELOOP); run again',
    EACCES: 'permission denied (EACCES); run as root or as a user who may read it',
    EPERM: 'operation not permitted (EPERM); run as root or as a user who may read it',
    ENOENT: 'it disappeared while being opened (ENOENT)',
  }
  return errnoError(code, why[code] ?? `${code} while opening it`, error)
}

/** How openLooked() may open the looked-at file. */
export interface LookOptions {
  allowUnsafe?: boolean
  /** a descriptor this process already holds on the file (acquire()), to read through instead */
  borrow?: (st: fs.Stats) => number | undefined
}

/**
 * The descriptor to read `file` through, after the walk `chased`: refuses (PidfileRefused) the
 * pidfile's own symlink unless allowUnsafe, and anything that is not a regular file.
 */
export function openLooked(file: string, chased: ChasedPath, opts: LookOptions): {fd: number; borrowed: boolean; stat?: fs.Stats} {
  const link = chased.problems.find((p) => p.reason === 'symlink')
  if (link && !opts.allowUnsafe) {
    if (chased.lookFd !== undefined) fs.closeSync(chased.lookFd)
    throw new PidfileRefused('symlink', `${link.detail}; not opened (its target is never read; pass --allow-unsafe-pidfile to follow it)`)
  }
  // The walk's own look at the file (chasePath's `look`), or a look now.
  let look: number
  try {
    look = chased.lookFd ?? fs.openSync(at(chased.dirFd, chased.base), LOOK_FLAGS)
  } catch (error) {
    throw openFailure(file, error)
  }
  try {
    const st = chased.lookFd !== undefined ? chased.stat : fs.fstatSync(look)
    if (!st.isFile()) {
      const target = chased.symlinks.length > 0 ? ` (reached through ${chased.symlinks.join(', ')})` : ''
      throw new PidfileRefused('not_regular', `${chased.resolved}${target} is ${kindOf(st)}, not a regular file: not opened, not a pidfile`)
    }
    const borrowed = opts.borrow?.(st)
    if (borrowed !== undefined) return {fd: borrowed, borrowed: true}
    let fd: number
    try {
      // The magic link /proc/self/fd/N reopens exactly the inode looked at (src/kernel/reopen.ts).
      fd = reopen(look, READ_FLAGS)
    } catch (error) {
      throw openFailure(file, error)
    }
    const rst = fs.fstatSync(fd)
    if (rst.ino !== st.ino || rst.dev !== st.dev || !rst.isFile()) {
      fs.closeSync(fd)
      throw errnoError('EAGAIN', 'it changed while being opened; run again')
    }
    return {fd, borrowed: false, stat: rst}
  } finally {
    fs.closeSync(look)
  }
}

/**
 * locate()'s hook: a refused pidfile makes the answer unknown with the refusal's reason, and no
 * process; false for any other error.
 *
 * A pidfile that is itself a symbolic link which leads to no file (dangling, looping, to a
 * directory, through a directory that may not be entered: a BrokenLink from the walk) is refused
 * the same way: without `allowUnsafe` exactly as any symlinked pidfile (`symlink`, whatever its
 * target), with it as what following the link found: a directory is `not_regular`, anything else
 * still `symlink` (plus `permission_denied` for EACCES/EPERM). The name exists, so it is never
 * `no_pidfile`, and `wait --for stopped` never succeeds on it.
 */
export function refusedResult(error: unknown, result: LocateResult, allowUnsafe = false): boolean {
  if (error instanceof BrokenLink) {
    result.state = 'unknown'
    if (!allowUnsafe) {
      result.reasons.push('symlink')
      result.evidence.push(`REFUSED: ${error.detail}; not opened (its target is never read; pass --allow-unsafe-pidfile to follow it)`)
    } else if (error.failure === 'EISDIR') {
      result.reasons.push('not_regular')
      result.evidence.push(`REFUSED: ${error.link} is a symbolic link to ${error.target}, a directory, not a regular file: not opened, not a pidfile`)
    } else {
      result.reasons.push('symlink')
      if (error.failure === 'EACCES' || error.failure === 'EPERM') result.reasons.push('permission_denied')
      result.evidence.push(`REFUSED: ${error.message}; a link that leads to no file is not a missing pidfile (it cannot be called stopped)`)
    }
    return true
  }
  if (!(error instanceof PidfileRefused)) return false
  result.state = 'unknown'
  result.reasons.push(error.reason)
  result.evidence.push(`REFUSED: ${error.message}`)
  return true
}
