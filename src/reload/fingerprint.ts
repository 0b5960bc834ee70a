/**
 * What the watched paths contain, as one sha256: a reload is sent only when it changed (an event
 * that leaves the content as it was, e.g. a touch or a ConfigMap resync, sends nothing).
 * Files are read through symlinks; a directory contributes its entries (not those starting with
 * "..", the ConfigMap machinery) and the content of each regular file in it.
 *
 * Whoever may write in a watched directory chooses what is read there, so reads are bounded
 * whatever st_size says (a link to /proc/self/pagemap has size 0 and reads on for terabytes; a
 * FIFO's read waits for a writer; /dev/zero never ends):
 *   - each path is first opened with O_PATH (through symlinks; nothing is read, and a device's
 *     driver is not called) and fstat'ed: only a regular file is read. A FIFO, socket or device
 *     contributes its type (and device number), never content; a directory "dir";
 *   - a regular file on a kernel pseudo file system (proc, sysfs, cgroup, ...: statfs, the list of
 *     src/acquire/pseudo-fs.ts) is not read either: it contributes its file system and where it is;
 *   - other regular files are read through that very descriptor (reopened as /proc/self/fd/N with
 *     O_NONBLOCK|O_NOCTTY) in 1 MiB chunks, at most MAX_BYTES (64 MiB) whatever st_size says; a file
 *     larger than that (by st_size, or by what a read returned) contributes its size, mtime and inode.
 * So a fingerprint never hangs, holds at most one chunk in memory, and still changes when a file is
 * replaced by another kind of file or a pseudo file by another.
 */
import {createHash} from 'node:crypto'
import fs = require('node:fs')
import path = require('node:path')

import {refusePseudoFs} from '../acquire/pseudo-fs'
import {O_PATH, fdTarget, reopen} from '../kernel/reopen'
import type {WatchTarget} from './watch'

/** The most bytes read of one file (64 MiB); a larger one contributes its size, mtime and inode. */
export const MAX_BYTES = 64 * 1024 * 1024
const CHUNK = 1024 * 1024
const O_READ = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY

type Hash = ReturnType<typeof createHash>

/** The sha256 (hex) of what the watched paths contain, read with bounded reads. */
export function fingerprint(targets: WatchTarget[]): string {
  const h = createHash('sha256')
  for (const t of targets) {
    h.update(`\0${t.path}\0`)
    if (t.kind === 'file') fileInto(h, t.path)
    else {
      let names: string[]
      try {
        names = fs
          .readdirSync(t.path)
          .filter((n) => !n.startsWith('..'))
          .sort()
      } catch (error) {
        h.update(`unreadable:${(error as NodeJS.ErrnoException).code}`)
        continue
      }
      for (const n of names) {
        h.update(`\0${n}\0`)
        fileInto(h, path.join(t.path, n))
      }
    }
  }
  return h.digest('hex')
}

/** One file's part of the fingerprint (see the top of this file). Exported for tests. */
export function fileFingerprint(file: string): string {
  let pfd: number
  try {
    pfd = fs.openSync(file, O_PATH)
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code}`
  }
  try {
    const st = fs.fstatSync(pfd)
    if (st.isDirectory()) return 'dir'
    if (!st.isFile()) return `other:${kindOf(st)}:${st.rdev}`
    const fstype = pseudoFsOf(pfd, file)
    // Not the inode number: procfs numbers its inodes afresh when they drop out of the cache.
    if (fstype !== null) return `pseudo:${fstype}:${linkOf(pfd) ?? `${st.dev}:${st.ino}`}`
    if (st.size > MAX_BYTES) return large(st)
    return readBounded(pfd, file, st)
  } catch (error) {
    return `unreadable:${(error as NodeJS.ErrnoException).code}`
  } finally {
    fs.closeSync(pfd)
  }
}

function fileInto(h: Hash, file: string): void {
  h.update(fileFingerprint(file))
}

function kindOf(st: fs.Stats): string {
  return st.isFile()
    ? 'file'
    : st.isDirectory()
      ? 'dir'
      : st.isFIFO()
        ? 'fifo'
        : st.isSocket()
          ? 'socket'
          : st.isCharacterDevice()
            ? 'char'
            : st.isBlockDevice()
              ? 'block'
              : 'unknown'
}

function large(st: fs.Stats): string {
  return `large:${st.size}:${st.mtimeMs}:${st.ino}`
}

/** The pseudo file system the open file is on (statfs), or null (a real one, or statfs unavailable). */
function pseudoFsOf(fd: number, file: string): string | null {
  try {
    refusePseudoFs(fd, path.dirname(file), file)
    return null
  } catch (error) {
    return String((error as {details?: {fstype?: unknown}}).details?.fstype ?? 'pseudo')
  }
}

/** Where the open file is (/proc/self/fd/N's link), or null without /proc. */
function linkOf(fd: number): string | null {
  try {
    return fdTarget(fd)
  } catch {
    return null
  }
}

let buffer: Buffer | null = null

/**
 * The sha256 of the regular file `st` open as `pfd` (O_PATH), read in chunks up to MAX_BYTES. It is
 * reopened through /proc/self/fd, so the inode read is the one checked; without /proc, by name,
 * and then it must still be the same regular file.
 */
function readBounded(pfd: number, file: string, st: fs.Stats): string {
  let fd: number
  try {
    fd = reopen(pfd, O_READ)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    fd = fs.openSync(file, O_READ)
  }
  try {
    const now = fs.fstatSync(fd)
    if (!now.isFile() || now.dev !== st.dev || now.ino !== st.ino) return `replaced:${kindOf(now)}`
    buffer ??= Buffer.allocUnsafe(CHUNK)
    const h = createHash('sha256')
    let total = 0
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(CHUNK, MAX_BYTES + 1 - total), null)
      if (n === 0) break
      total += n
      if (total > MAX_BYTES) return large(fs.fstatSync(fd))
      h.update(buffer.subarray(0, n))
    }
    return `content:${total}:${h.digest('hex')}`
  } finally {
    fs.closeSync(fd)
  }
}
