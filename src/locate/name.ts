/** Service names and where their pidfiles are looked for (docs/nslocate.1.md, FILES). */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError} from '../errors'

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/

export function validateName(name: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name === '.' || name === '..') {
    const shown = JSON.stringify(String(name)).slice(0, 80)
    throw new NslocateError('USAGE',
      `invalid service name ${shown}: a NAME is 1-128 characters from A-Z a-z 0-9 _ . @ : -, starting with a letter or digit ` +
      '(it becomes a file name: no "/", no leading "." or "-"). To name a file directly, use --pidfile PATH.')
  }
  return name
}

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

/** Every place NAME's pidfile may be, in order. The first that exists wins. */
export function pidfileSearchPath(name: string, opts: SearchOptions = {}): string[] {
  if (opts.pidfile) return [opts.pidfile]
  const env = opts.env ?? process.env
  const uid = opts.uid ?? process.getuid?.() ?? 0
  const under = (p: string) => (opts.root ? path.join(opts.root, p) : p)
  const list: string[] = []
  if (opts.dir) list.push(path.join(opts.dir, `${name}.pid`))
  if (env.NSLOCATE_RUNTIME_DIR) list.push(path.join(env.NSLOCATE_RUNTIME_DIR, `${name}.pid`))
  if (uid !== 0 && env.XDG_RUNTIME_DIR) list.push(path.join(env.XDG_RUNTIME_DIR, 'nslocate', `${name}.pid`))
  list.push(
    under(`/run/nslocate/${name}.pid`),
    under(`/run/${name}.pid`),
    under(`/run/${name}/${name}.pid`),
    under(`/var/run/${name}.pid`),
    under(`/var/run/${name}/${name}.pid`),
  )
  return list
}

/** Directories `list` scans for *.pid when no --dir is given. */
export function runtimeDirs(opts: SearchOptions = {}): string[] {
  if (opts.dir) return [opts.dir]
  const env = opts.env ?? process.env
  const uid = opts.uid ?? process.getuid?.() ?? 0
  const under = (p: string) => (opts.root ? path.join(opts.root, p) : p)
  const list: string[] = []
  if (env.NSLOCATE_RUNTIME_DIR) list.push(env.NSLOCATE_RUNTIME_DIR)
  if (uid !== 0 && env.XDG_RUNTIME_DIR) list.push(path.join(env.XDG_RUNTIME_DIR, 'nslocate'))
  list.push(under('/run/nslocate'), under('/run'), under('/var/run'))
  // /var/run is a symlink to /run on most systems: scan each directory once (by dev:inode; realpath
  // would resolve /proc/PID/root itself and leave the container).
  const seen = new Set<string>()
  return list.filter((d) => {
    let st: fs.Stats
    try {
      st = fs.statSync(d)
    } catch {
      return false
    }
    const key = `${st.dev}:${st.ino}`
    if (!st.isDirectory() || seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** The first path of the search list that exists (lstat: a symlink counts, and is refused later). */
export function resolvePidfile(name: string, opts: SearchOptions = {}): {path: string | null; searched: string[]; lstat?: fs.Stats} {
  const searched = pidfileSearchPath(name, opts)
  for (const p of searched) {
    try {
      const lstat = fs.lstatSync(p)
      return {path: p, searched, lstat}
    } catch {}
  }
  return {path: null, searched}
}
