/**
 * The CHASE_SAFE walk, the way systemd's chase() does it, written once for every caller (a few
 * lines over the ~250 files keep to: the walk, its one error type and its steps are one unit):
 * src/locate/path-safety.ts (reading a pidfile), src/acquire/safe-dir.ts (the directory a pidfile
 * is written in) and src/path-trust.ts (Docker sockets, NSLOCATE_ADDON).
 *
 * The path is walked one component at a time from its root, each directory opened O_PATH|O_NOFOLLOW
 * relative to the one before and fstat'ed (native/nslocate.c walkDirs: one call for every run of
 * plain names), so what is judged is what was opened, and the kernel follows no symbolic link.
 * Links are read and followed here (at most 40), their target walked the same way; an absolute
 * target restarts at the walk's root, so under /proc/PID/root the walk stays in the container;
 * ".." returns to the directory the walk came through, never above the root.
 *
 * The rules are the callers' own: `dir` is shown each directory entered (the root first) and
 * `link` each symbolic link before it is followed, in path order, and either may throw to refuse
 * it; nothing after a refused entry is created, and no error met beyond it is reported. This
 * module only says what is there, and throws a WalkError (`kind`) when the walk cannot go on.
 */
import fs = require('node:fs')
import path = require('node:path')
import util = require('node:util')

import {at, procWalkDirs} from './reopen'

/** The answer of native/nslocate.c walkDirs(start, names); see the comment there. */
export interface RawWalk {
  fds: number[]
  /** uid, gid, st_mode per entry, flat */
  ids: number[]
  next: number
  stop: 0 | 1 | 2 | 3
  errno: number
  target?: string
}

/** The kernel half of a walk: enters `names` one by one from `start` (a path or a directory fd). */
export type WalkDirs = (start: string | number, names: string[]) => RawWalk

/** What the rules look at: a directory's or link's owner, group and mode (an fs.Stats will do). */
export interface Owner {
  uid: number
  gid: number
  mode: number
}

/** How walk() goes: where it starts, what it does with the last component, and the caller's checks on the way. */
export interface WalkOptions {
  /** the directory to walk in, and restart from on an absolute link (default "/"); messages name paths under it */
  root?: string
  /** 'stat': the last component is lstat'ed, not entered; 'enter': every component is a directory to enter */
  leaf: 'stat' | 'enter'
  /** 'stat': a symbolic link as the last component is the answer, not followed */
  stopAtLink?: boolean
  /** each directory entered, the root first (depth 0): throw to refuse it */
  dir?: (where: string, ids: Owner, depth: number) => void
  /** each symbolic link, before it is followed (`last`: it is the path's last component) */
  link?: (where: string, ids: Owner, target: string, last: boolean) => void
  /** 'enter': a missing directory NAME in `dirFd` is made by this, then entered */
  create?: (dirFd: number, name: string, where: string) => void
  /** the kernel half: the addon's walkDirs (default: the same steps through /proc/self/fd) */
  kernel?: WalkDirs
  /** 'stat': open the last component with this (O_PATH|O_NOFOLLOW) and fstat it, not lstat: WalkEnd.leafFd */
  look?: (dirFd: number, name: string) => number
}

/** Where a walk ended. */
export interface WalkEnd {
  /** the directory reached ('enter') or holding the last component ('stat'); the caller closes it */
  dirFd: number
  /** where dirFd is, for messages */
  dirWhere: string
  /** the last component ('stat'); '' when the path ended on a directory ("/", "..", a link to "/") */
  base: string
  /** where the last component is ('stat') */
  where: string
  /** lstat of the last component ('stat') */
  stat?: fs.Stats
  /** the path ended by following this link, with nothing left to look up */
  lastLink?: {where: string; target: string}
  /** the O_PATH descriptor `stat` is of (WalkOptions.look); the caller closes it */
  leafFd?: number
}

/** The most symbolic links one walk follows before ELOOP, as the kernel's path lookup. */
export const MAX_SYMLINKS = 40

/**
 * Why the walk stopped: 'lookup' (a component cannot be reached: `code` ENOENT, EACCES, ...),
 * 'notdir' (a component on the way is not a directory), 'loop' (more than 40 links), 'root' (the
 * root cannot be opened). `parent` and `parentIds`: the directory the lookup failed in. Shaped as a
 * Node system error (code, errno, syscall, path, "CODE: text, syscall 'path'").
 */
export class WalkError extends Error {
  readonly errno: number
  readonly path: string
  constructor(
    readonly kind: 'lookup' | 'notdir' | 'loop' | 'root',
    readonly code: string,
    readonly where: string,
    readonly parent: string,
    readonly parentIds: Owner | null,
    readonly syscall = 'openat',
    cause?: unknown,
  ) {
    const errno = util.getSystemErrorMap() as Map<number, [string, string]>
    const entry = [...errno.entries()].find(([, [name]]) => name === code)
    super(`${code}: ${entry?.[1][1] ?? 'error'}, ${syscall} '${where}'`, {cause})
    this.errno = entry?.[0] ?? 0
    this.path = where
  }
}

function errnoName(errno: number): string {
  try {
    return util.getSystemErrorName(-errno)
  } catch {
    return 'EIO'
  }
}

interface Frame {
  fd: number
  name: string
  ids: Owner
  /** where it is, for messages */
  where: string
}

function parts(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.')
}

function owner(ids: number[], k: number): Owner {
  return {uid: ids[k], gid: ids[k + 1], mode: ids[k + 2]}
}

/** Walks `file` (absolute, under opts.root); see the header. */
export function walk(file: string, opts: WalkOptions): WalkEnd {
  return new Walk(file, opts).run()
}

class Walk {
  private readonly stack: Frame[] = []
  private readonly todo: string[]
  private readonly kernel: WalkDirs
  private links = 0
  private creates = 0
  private lastLink: WalkEnd['lastLink']

  constructor(
    private readonly file: string,
    private readonly opts: WalkOptions,
  ) {
    this.todo = parts(file)
    this.kernel = opts.kernel ?? procWalkDirs
  }

  run(): WalkEnd {
    try {
      const root = this.opts.root ?? '/'
      const r0 = this.kernel(root, [])
      if (r0.next < 0) throw new WalkError('root', errnoName(r0.errno), root, '', null, 'open')
      this.enter(r0, [])
      while (this.todo.length > 0) {
        const end = this.step()
        if (end) return end
      }
      const where = this.shown()
      return {dirFd: this.stack.pop()!.fd, dirWhere: where, base: '', where, lastLink: this.lastLink}
    } finally {
      for (const f of this.stack) fs.closeSync(f.fd)
    }
  }

  /** One move: "..", the last component ('stat'), or the run of directories up to the next "..". */
  private step(): WalkEnd | null {
    if (this.todo[0] === '..') {
      this.todo.shift()
      if (this.stack.length > 1) fs.closeSync(this.stack.pop()!.fd)
      this.lastLink = undefined
      return null
    }
    const up = this.todo.indexOf('..')
    let seg = up < 0 ? this.todo.slice() : this.todo.slice(0, up)
    if (this.opts.leaf === 'stat' && seg.length === this.todo.length) seg = seg.slice(0, -1)
    if (seg.length === 0) return this.last()
    const r = this.kernel(this.top().fd, seg)
    this.enter(r, seg)
    this.todo.splice(0, r.fds.length)
    this.lastLink = undefined
    if (r.stop === 0) return null
    const name = this.todo[0]
    const where = this.shown(name)
    if (r.stop === 1) this.follow(where, owner(r.ids, r.ids.length - 3), r.target!)
    else if (r.stop === 2) throw new WalkError('notdir', 'ENOTDIR', where, this.shown(), this.top().ids)
    else if (r.errno === 2 && this.opts.create && ++this.creates <= 1000) this.opts.create(this.top().fd, name, where)
    else throw new WalkError('lookup', errnoName(r.errno), where, this.shown(), this.top().ids)
    return null
  }

  /** The directories a kernel call entered: kept (to be closed), then shown to the rule in order. */
  private enter(r: RawWalk, names: string[]): void {
    const first = this.stack.length
    r.fds.forEach((fd, k) => {
      const where = first > 0 ? this.shown(names[k]) : this.opts.root ? path.join(this.opts.root) : '/'
      this.stack.push({fd, name: first === 0 ? '' : names[k], ids: owner(r.ids, 3 * k), where})
    })
    for (let depth = first; depth < this.stack.length; depth++) this.opts.dir?.(this.stack[depth].where, this.stack[depth].ids, depth)
  }

  /** The last component ('stat'): lstat'ed; a link is followed unless stopAtLink. */
  private last(): WalkEnd | null {
    const name = this.todo[0]
    const where = this.shown(name)
    const dir = this.top()
    let st: fs.Stats
    let leafFd: number | undefined
    try {
      leafFd = this.opts.look?.(dir.fd, name)
      st = leafFd === undefined ? fs.lstatSync(at(dir.fd, name)) : fs.fstatSync(leafFd)
    } catch (error) {
      if (leafFd !== undefined) fs.closeSync(leafFd)
      throw new WalkError('lookup', (error as NodeJS.ErrnoException).code ?? 'EIO', where, this.shown(), dir.ids, 'lstat', error)
    }
    if (!st.isSymbolicLink() || this.opts.stopAtLink) {
      const dirWhere = this.shown()
      this.stack.pop()
      return {dirFd: dir.fd, dirWhere, base: name, where, stat: st, leafFd}
    }
    if (leafFd !== undefined) fs.closeSync(leafFd)
    this.follow(where, st, fs.readlinkSync(at(dir.fd, name)))
    return null
  }

  private follow(where: string, ids: Owner, target: string): void {
    if (++this.links > MAX_SYMLINKS) throw new WalkError('loop', 'ELOOP', where, this.shown(), this.top().ids)
    this.opts.link?.(where, ids, target, this.todo.length === 1)
    if (target.startsWith('/')) {
      while (this.stack.length > 1) fs.closeSync(this.stack.pop()!.fd)
    }
    this.todo.splice(0, 1, ...parts(target))
    if (this.todo.length === 0) this.lastLink = {where, target}
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1]
  }

  /** The walk's current directory, or `name` in it, as a path under the root (for messages). */
  private shown(name?: string): string {
    const here = this.top().where
    return name === undefined ? here : here.endsWith('/') ? here + name : `${here}/${name}`
  }
}
