/**
 * The one definition of where NAME's pidfile may be (docs/nslocate.1.md, FILES). `find` takes the
 * first of these that exists; `list` enumerates the same places, so the two cannot drift apart.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError} from '../errors'
import {lstatIn} from './path-safety'

/** Where NAME's pidfile is looked for: a file, a directory, or the search path. */
export interface SearchOptions {
  pidfile?: string
  dir?: string
  /** defaults to process.env */
  env?: NodeJS.ProcessEnv
  /** defaults to process.getuid() */
  uid?: number
  /** prefix every system path with this root (e.g. /proc/<pid>/root for a container) */
  root?: string
}

/** A place in the search path: NAME.pid directly in `dir`, or NAME/NAME.pid under it (`nested`). */
export interface SearchEntry {
  dir: string
  nested: boolean
}

/**
 * --pidfile and --dir as the caller meant them: an empty value is a usage error (it must never
 * fall back to the default directories), and a relative one is made absolute against the caller's
 * working directory before anything else (a later join with /proc/PID/root would otherwise read it
 * relative to another process's root). Returns a copy of `opts` with the absolute paths.
 */
export function withAbsolutePaths<T extends {pidfile?: string; dir?: string}>(opts: T, cwd = process.cwd()): T {
  const out = {...opts}
  for (const key of ['pidfile', 'dir'] as const) {
    const v = opts[key]
    if (v === undefined || v === null) continue
    if (typeof v !== 'string' || v === '') {
      throw new NslocateError(
        'USAGE',
        (n) => `${n(key)} is empty: give a ${key === 'dir' ? 'directory' : 'file'} path, or leave it out to search the default directories`,
      )
    }
    if (v.includes('\0')) throw new NslocateError('USAGE', (n) => `${n(key)} ${JSON.stringify(v)} contains a NUL byte`)
    out[key] = path.resolve(cwd, v) as T[typeof key]
  }
  return out
}

/** The directories searched, in order, without --pidfile (which replaces the whole search). */
export function searchEntries(opts: SearchOptions = {}): SearchEntry[] {
  const env = opts.env ?? process.env
  const uid = opts.uid ?? process.getuid?.() ?? 0
  const under = (p: string) => (opts.root ? path.join(opts.root, p) : p)
  const list: SearchEntry[] = []
  const flat = (dir: string) => list.push({dir, nested: false})
  if (opts.dir) flat(opts.dir)
  if (env.NSLOCATE_RUNTIME_DIR) flat(env.NSLOCATE_RUNTIME_DIR)
  if (uid !== 0 && env.XDG_RUNTIME_DIR) flat(path.join(env.XDG_RUNTIME_DIR, 'nslocate'))
  flat(under('/run/nslocate'))
  flat(under('/run'))
  list.push({dir: under('/run'), nested: true})
  flat(under('/var/run'))
  list.push({dir: under('/var/run'), nested: true})
  return list
}

/** NAME's pidfile in one place of the search path. */
export function entryPath(entry: SearchEntry, name: string): string {
  return entry.nested ? path.join(entry.dir, name, `${name}.pid`) : path.join(entry.dir, `${name}.pid`)
}

/** Every place NAME's pidfile may be, in order. The first that exists wins. */
export function pidfileSearchPath(name: string, opts: SearchOptions = {}): string[] {
  return pidfileSearchEntries(opts).map((e) => (typeof e === 'string' ? e : entryPath(e, name)))
}

/** pidfileSearchPath() before NAME is known: --pidfile (a path), or the search entries. */
export function pidfileSearchEntries(opts: SearchOptions = {}): Array<SearchEntry | string> {
  if (opts.pidfile !== undefined) return [withAbsolutePaths({pidfile: opts.pidfile}).pidfile!]
  const abs = withAbsolutePaths({dir: opts.dir})
  return searchEntries({...opts, dir: abs.dir})
}

/**
 * The first path of the search list that exists (lstat: a symlink counts, and is refused later;
 * so does one that leads nowhere, dangling, looping or to a directory: found here, it is answered
 * `unknown`, never skipped as if there were no file; under a root too, where the walk stops at the
 * link instead of following it). A place that cannot be looked at (EACCES/EPERM on a directory on
 * the way, say a 0700 directory of another user) ends the search there: the pidfile may be behind
 * it, so "not found" would be a guess. The path is returned without `lstat`; opening it reports the
 * denial (permission_denied).
 */
export function resolvePidfile(name: string, opts: SearchOptions = {}): {path: string | null; searched: string[]; lstat?: fs.Stats} {
  return resolveIn(name, pidfileSearchEntries(opts), opts.root)
}

/** resolvePidfile() over places from pidfileSearchEntries() (list resolves many NAMEs over the same places). */
export function resolveIn(name: string, places: Array<SearchEntry | string>, root?: string): {path: string | null; searched: string[]; lstat?: fs.Stats} {
  const searched = places.map((e) => (typeof e === 'string' ? e : entryPath(e, name)))
  for (const p of searched) {
    try {
      const lstat = lstatIn(p, root, true)
      return {path: p, searched, lstat}
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      return {path: p, searched: searched.slice(0, searched.indexOf(p) + 1)}
    }
  }
  return {path: null, searched}
}
