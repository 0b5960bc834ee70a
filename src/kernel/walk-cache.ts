/**
 * Walks of directories kept for one pass over many files (`list`): the directory's O_PATH
 * descriptor and what the caller's rule found on the way to it (`T`). A file in it is then looked
 * up relative to that descriptor, as the walk itself would do last (src/kernel/walk.ts), so what
 * was checked is still what is opened; only the walk up to it is not repeated. release() closes
 * the descriptors. At most 64 directories are kept.
 */
import fs = require('node:fs')
import path = require('node:path')

import {O_CLOEXEC, O_PATH, at} from './reopen'

const DIR_FLAGS = O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW | O_CLOEXEC

/** Directories walked during one pass, kept open (O_PATH) with what was found on the way to each. */
export class WalkCache<T> {
  private readonly dirs = new Map<string, {fd: number; out: T}>()

  get(key: string): {fd: number; out: T} | undefined {
    return this.dirs.get(key)
  }

  /** Keeps a descriptor of its own of `dirFd` with a copy of `out` (the caller keeps `dirFd`). */
  keep(key: string, dirFd: number, out: T): void {
    if (this.dirs.has(key) || this.dirs.size >= 64) return
    try {
      this.dirs.set(key, {fd: fs.openSync(at(dirFd, '.'), DIR_FLAGS), out: structuredClone(out)})
    } catch {}
  }

  /**
   * `base` in the kept directory `key`: its descriptor, lstat and a copy of what was found on the
   * way; null when nothing is kept, or `base` is a symbolic link or cannot be looked up (the caller
   * then walks the whole path, and gets the same answer, or error, as alone).
   */
  lookup(key: string, base: string): {fd: number; stat: fs.Stats; out: T} | null {
    const hit = base !== '' && base !== '.' && base !== '..' && !base.includes(path.sep) ? this.dirs.get(key) : undefined
    if (!hit) return null
    try {
      const stat = fs.lstatSync(at(hit.fd, base))
      return stat.isSymbolicLink() ? null : {fd: hit.fd, stat, out: structuredClone(hit.out)}
    } catch {
      return null
    }
  }

  release(): void {
    for (const d of this.dirs.values()) fs.closeSync(d.fd)
    this.dirs.clear()
  }
}
