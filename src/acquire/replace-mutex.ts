/**
 * The replacement mutex of replace.ts (see there: "The mutex is what keeps two replacers from
 * swapping NAME around between themselves"), and the hidden names a replacer uses.
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {flock} from '../native/binding'
import {CREATE_MODE} from './open-pidfile'
import {at, callerUid, ioError} from './safe-dir'

const C = fs.constants as Record<string, number>
/** open(2) flags for a new file of our own: read-write, exclusive create, no symlink, close-on-exec. */
export const CREATE = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW | C.O_CLOEXEC
const NAME_MAX = 255

/** A descriptor holding NAME's replacement mutex (flock LOCK_EX), or null when another replacer holds it. */
export function takeMutex(dirFd: number, name: string, file: string): number | null {
  const mutex = mutexName(name)
  for (let attempt = 0; attempt < 3; attempt++) {
    const unique = uniqueName(name, 'lock')
    let fd: number
    try {
      fd = fs.openSync(at(dirFd, unique), CREATE, CREATE_MODE)
    } catch (error) {
      throw ioError(file, error, 'create a lock file next to')
    }
    let linked = false
    try {
      flock(fd, 'exclusive')
      fs.linkSync(at(dirFd, unique), at(dirFd, mutex))
      linked = true
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) {
        fs.closeSync(fd)
        fs.unlinkSync(at(dirFd, unique))
        throw ioError(file, error, 'create a lock file next to')
      }
    }
    fs.unlinkSync(at(dirFd, unique))
    if (linked) return fd
    fs.closeSync(fd)
    // Held by a live replacer, or left by one that died (its lock went with it).
    let held: number
    try {
      held = fs.openSync(at(dirFd, mutex), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | C.O_CLOEXEC)
    } catch (error) {
      if (isErrno(error, 'ENOENT')) continue
      throw ioError(`${file}'s lock file ${mutex}`, error, 'open')
    }
    try {
      const st = fs.fstatSync(held)
      if (!st.isFile() || (st.uid !== 0 && st.uid !== callerUid())) {
        const what = st.isFile() ? `is not root's or yours (uid ${st.uid})` : 'is not a regular file'
        throw new NslocateError('UNSAFE_PIDFILE', `${mutex} next to ${file} ${what}; refusing to replace ${file} (remove ${mutex})`, {
          details: {pidfile: file},
          advice: `remove ${mutex}`,
        })
      }
      if (!flock(held, 'exclusive')) return null
      if (same(lstatOrNull(dirFd, mutex), st)) fs.unlinkSync(at(dirFd, mutex))
    } finally {
      fs.closeSync(held)
    }
  }
  return null
}

/** Unlinks the mutex if it is still the file `fd` holds, then closes `fd` (which drops the lock). */
export function releaseMutex(dirFd: number, name: string, fd: number): void {
  try {
    const mutex = mutexName(name)
    if (same(lstatOrNull(dirFd, mutex), fs.fstatSync(fd))) fs.unlinkSync(at(dirFd, mutex))
  } catch {}
  fs.closeSync(fd)
}

function mutexName(name: string): string {
  const base = `.${name}.nslocate-replacing`
  return Buffer.byteLength(base) <= NAME_MAX ? base : `.nslocate-replacing-${digest(name)}`
}

/** A hidden name of this process's own (never NAME.pid-like: `list` and find do not see it). */
export function uniqueName(name: string, what: string): string {
  const tag = `${process.pid}-${nodeCrypto().randomBytes(6).toString('hex')}`
  const base = `.${name}.nslocate-${what}-${tag}`
  return Buffer.byteLength(base) <= NAME_MAX ? base : `.nslocate-${what}-${digest(name)}-${tag}`
}

function digest(name: string): string {
  return nodeCrypto().createHash('sha256').update(name).digest('hex').slice(0, 16)
}

/** node:crypto, loaded only by a replacement (run's start-up does not pay for it). */
function nodeCrypto(): typeof import('node:crypto') {
  return require('node:crypto') as typeof import('node:crypto')
}

/** lstat of `name` in `dirFd`, or null when it cannot be looked up (e.g. gone). */
export function lstatOrNull(dirFd: number, name: string): fs.Stats | null {
  try {
    return fs.lstatSync(at(dirFd, name))
  } catch {
    return null
  }
}

/** Whether `a` is the same inode (dev and ino) as `b`; false when `a` is null. */
export function same(a: fs.Stats | null, b: fs.Stats): boolean {
  return a !== null && a.ino === b.ino && a.dev === b.dev
}
