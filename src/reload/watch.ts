/**
 * Watching config files and directories for `reload`, inotify through fs.watch on DIRECTORIES: a
 * watch on a file follows its inode, which an editor's rename-over or Kubernetes' ConfigMap update
 * replaces. A ConfigMap/Secret volume looks like
 *   /etc/config/nginx.conf -> ..data/nginx.conf
 *   /etc/config/..data -> ..2026_12_01_10_00_00.123456789
 * and an update writes a new ..TIMESTAMP dir, a ..data_tmp symlink, and rename(2)s it over ..data
 * (atomic), so the watched directory sees `..data_tmp`/`..data` events, never one for nginx.conf.
 * After every event the set of directories is computed again (a symlink may point elsewhere now) and
 * watches are re-armed; a directory that is gone is looked for again every second.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError} from '../errors'

/** A watched path, and whether it is a file or a directory. */
export interface WatchTarget {
  path: string
  kind: 'file' | 'dir'
}

/** At start: each path must exist and be readable (file) or listable (dir); else a usage error. */
export function checkWatchPath(input: string): WatchTarget {
  const p = path.resolve(input)
  let st: fs.Stats
  try {
    st = fs.statSync(p)
  } catch (error) {
    const advice = "give an existing file or directory (a ConfigMap volume's mount point works)"
    throw new NslocateError(
      'USAGE',
      (n) => `${n('watch', input)}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}; ${advice}`,
      {advice},
    )
  }
  try {
    if (st.isDirectory()) fs.readdirSync(p)
    else fs.accessSync(p, fs.constants.R_OK)
  } catch (error) {
    throw new NslocateError('USAGE', (n) => `${n('watch', input)}: cannot be read (${(error as NodeJS.ErrnoException).code}); run as a user that may read it`)
  }
  if (!st.isDirectory() && !st.isFile()) throw new NslocateError('USAGE', (n) => `${n('watch', input)}: not a regular file or directory`)
  return {path: p, kind: st.isDirectory() ? 'dir' : 'file'}
}

function inodeOf(dir: string): number {
  try {
    return fs.statSync(dir).ino
  } catch {
    return -1
  }
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p)
  } catch {
    return p
  }
}

/** The directories whose events matter for a target, and which names in each. null = every name. */
export function dirsFor(t: WatchTarget): Map<string, Set<string> | null> {
  const out = new Map<string, Set<string> | null>()
  const add = (dir: string, name: string | null) => {
    if (out.has(dir) && out.get(dir) === null) return
    if (name === null) return void out.set(dir, null)
    const set = (out.get(dir) as Set<string> | undefined) ?? new Set<string>()
    set.add(name)
    out.set(dir, set)
  }
  if (t.kind === 'dir') {
    add(t.path, null)
    add(realpathOr(t.path), null)
  } else {
    add(path.dirname(t.path), path.basename(t.path))
    const real = realpathOr(t.path)
    add(path.dirname(real), path.basename(real))
  }
  return out
}

/** Watches the directories of the targets, calling onEvent(dir, name) for a change; re-armed after each event. */
export class PathWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>()
  /** the inode each watch was set on: a directory renamed away or replaced needs a new watch */
  private readonly inodes = new Map<string, number>()
  private wanted = new Map<string, Set<string> | null>()
  private retry: NodeJS.Timeout | null = null
  private closed = false

  constructor(
    private readonly targets: WatchTarget[],
    private readonly onEvent: (dir: string, name: string) => void,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  arm(): void {
    if (this.closed) return
    const wanted = new Map<string, Set<string> | null>()
    for (const t of this.targets) {
      for (const [dir, names] of dirsFor(t)) {
        const had = wanted.get(dir)
        wanted.set(dir, had === null || names === null ? null : new Set([...(had ?? []), ...names]))
      }
    }
    this.wanted = wanted
    for (const [dir, w] of this.watchers) {
      if (wanted.has(dir) && inodeOf(dir) === this.inodes.get(dir)) continue
      w.close()
      this.watchers.delete(dir)
    }
    let missing = false
    for (const dir of wanted.keys()) {
      if (this.watchers.has(dir)) continue
      try {
        const w = fs.watch(dir, {persistent: true}, (_type, filename) => this.event(dir, filename === null ? '' : String(filename)))
        w.on('error', (error) => {
          w.close()
          this.watchers.delete(dir)
          this.onError(`watch on ${dir} failed (${(error as NodeJS.ErrnoException).code ?? error.message}); looking for it again`)
          this.scheduleRetry()
        })
        this.watchers.set(dir, w)
        this.inodes.set(dir, inodeOf(dir))
      } catch (error) {
        missing = true
        this.onError(`cannot watch ${dir} (${(error as NodeJS.ErrnoException).code}); looking for it again every second`)
      }
    }
    if (missing) this.scheduleRetry()
  }

  /** The directories watched now (for tests and the start event). */
  dirs(): string[] {
    return [...this.watchers.keys()]
  }

  close(): void {
    this.closed = true
    if (this.retry) clearTimeout(this.retry)
    for (const w of this.watchers.values()) w.close()
    this.watchers.clear()
  }

  private event(dir: string, name: string): void {
    const names = this.wanted.get(dir)
    // '..data', '..data_tmp', '..2026_...': the ConfigMap swap. '' : inotify did not name the file.
    const relevant = names === null || names === undefined || name === '' || name.startsWith('..') || names.has(name)
    // The directory itself may have been replaced (rename or rmdir): re-arm on every event.
    this.arm()
    if (relevant) this.onEvent(dir, name)
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return
    this.retry = setTimeout(() => {
      this.retry = null
      this.arm()
    }, 1000)
  }
}
