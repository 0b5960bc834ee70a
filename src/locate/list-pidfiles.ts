/**
 * What `list` shows: exactly the pidfiles `find NAME` would find, for every NAME that has one in
 * the search path (search-path.ts), flat (DIR/NAME.pid) and nested (DIR/NAME/NAME.pid) alike. Each
 * NAME seen anywhere in the search path is resolved the way find resolves it, so the two agree by
 * construction. Files whose names are not valid NAMEs (find reaches them only with --pidfile) are
 * listed as they are.
 */
import fs = require('node:fs')
import path = require('node:path')

import {ProcFs, proc} from '../proc/proc-fs'
import {IdentityOptions} from './identity-options'
import {locate} from './locate'
import type {LocateResult} from './types'
import {isValidName} from './name'
import {ChaseCache, lstatIn, readdirIn} from './path-safety'
import {SearchEntry, SearchOptions, pidfileSearchEntries, resolveIn, searchEntries, withAbsolutePaths} from './search-path'

/** A pidfile list found, and the NAME it stands for. */
export interface ListedPidfile {
  name: string
  path: string
  /** false: not a valid NAME, so `find` can reach it only with --pidfile */
  validName: boolean
}

/** What list found in the search path, and what it could not look into. */
export interface PidfileListing {
  files: ListedPidfile[]
  /** search-path directories that exist but could not be read */
  unreadable: Array<{dir: string; message: string}>
  /** DIR/NAME directories that could not be looked into (a NAME.pid there is not listed) */
  denied: string[]
}

/** What the directories of the search path hold: valid NAMEs, and *.pid files whose names are not NAMEs. */
interface Found {
  names: Set<string>
  odd: ListedPidfile[]
}

/** With `dir`, only that directory's *.pid files (as `list --dir`); otherwise the whole search path. */
export function listPidfiles(options: SearchOptions = {}): PidfileListing {
  const opts = withAbsolutePaths(options)
  const entries = opts.dir ? [{dir: opts.dir, nested: false}] : searchEntries(opts)
  const out: PidfileListing = {files: [], unreadable: [], denied: []}
  const found: Found = {names: new Set(), odd: []}
  const visited = new Set<string>()
  for (const entry of entries) {
    // A directory reached twice (/var/run when it links to /run) is read once per kind of entry.
    const id = dirId(entry.dir, opts.root)
    if (id !== null) {
      if (visited.has(`${id}:${entry.nested}`)) continue
      visited.add(`${id}:${entry.nested}`)
    }
    readEntry(entry, opts.root, found, out, Boolean(opts.dir))
  }
  resolveFound(found, opts, out)
  // By path, in code point order (as `LC_ALL=C sort`): the same on every machine and locale, and
  // without Intl.Collator, whose first use loads ICU's collation tables (about 6 ms, a quarter of
  // Node's own start-up, on every `list`).
  out.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return out
}

/** The pidfiles of one search-path entry: DIR/NAME.pid, or DIR/NAME/NAME.pid for a nested entry. */
function readEntry(entry: SearchEntry, root: string | undefined, found: Found, out: PidfileListing, explicit: boolean): void {
  let dirents: fs.Dirent[]
  try {
    dirents = readdirIn(entry.dir, root)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // A directory of the search path that is not there is nothing to list; a --dir that is a file is
    // a directory that could not be read (`list --dir FILE` must not say "no pidfiles", 0).
    if (code === 'ENOENT' || (code === 'ENOTDIR' && !explicit)) return
    if (!out.unreadable.some((u) => u.dir === entry.dir)) out.unreadable.push({dir: entry.dir, message: (error as Error).message})
    return
  }
  for (const d of dirents) {
    if (!entry.nested) {
      // A directory named NAME.pid is listed too: find reports it (not_regular), and list must agree.
      if (!d.name.endsWith('.pid')) continue
      const name = d.name.slice(0, -4)
      if (isValidName(name)) found.names.add(name)
      else found.odd.push({name, path: path.join(entry.dir, d.name), validName: false})
      continue
    }
    // DIR/NAME/NAME.pid: NAME is a directory (or a symlink to one, which the safety rules judge).
    if (!(d.isDirectory() || d.isSymbolicLink()) || !isValidName(d.name)) continue
    const p = path.join(entry.dir, d.name, `${d.name}.pid`)
    try {
      lstatIn(p, root, true) // a NAME.pid link that leads nowhere is listed too (find answers unknown)
      found.names.add(d.name)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM') out.denied.push(path.join(entry.dir, d.name))
    }
  }
}

/** Each NAME as find would resolve it (the first place of its search path that exists), then the odd files, each path once. */
function resolveFound(found: Found, opts: SearchOptions, out: PidfileListing): void {
  const seen = new Set<string>()
  // find's search path, as resolvePidfile() builds it for each NAME: built once for all of them.
  const places = pidfileSearchEntries(opts)
  for (const name of [...found.names].sort()) {
    const r = resolveIn(name, places, opts.root)
    if (r.path && !seen.has(r.path)) {
      seen.add(r.path)
      out.files.push({name, path: r.path, validName: true})
    }
  }
  for (const f of found.odd) {
    if (!seen.has(f.path)) {
      seen.add(f.path)
      out.files.push(f)
    }
  }
}

/** The options of a list pass that apply to every file (identity, allowUnsafe, the /proc to read). */
export interface ListLocateOptions extends IdentityOptions {
  allowUnsafe?: boolean
  /** /proc mount to read (tests count its reads) */
  procfs?: ProcFs
}

/**
 * Every listed pidfile as `find` reports it: locate() on each, with the pidfile given, through one
 * ProcFs.forPass() view for the whole pass, so what costs a read per process (the process table's
 * walk by PID namespace, for an unlocked pidfile) or a read of the whole lock table is not paid
 * again for every file (proc-fs.ts). Each file is still opened, probed, read and reconciled on its
 * own (its lock, its holder, its candidates), so the answers are those of one `find` per file.
 * One row at a time, as each file is located (the caller need not keep them all).
 */
export function* eachListed(listing: PidfileListing, opts: ListLocateOptions = {}): Generator<LocateResult, void, undefined> {
  const procfs = (opts.procfs ?? proc).forPass()
  const chaseCache = new ChaseCache()
  try {
    // locate() looks again by itself when a process exits while being inspected (GONE): one
    // service stopping meanwhile does not fail the whole listing, nor leave it half printed.
    for (const f of listing.files) yield locate({...opts, name: f.name, pidfile: f.path, skipNameCheck: !f.validName, procfs, chaseCache})
  } finally {
    chaseCache.release()
    procfs.release()
  }
}

/** eachListed(), as an array. */
export function locateListed(listing: PidfileListing, opts: ListLocateOptions = {}): LocateResult[] {
  return [...eachListed(listing, opts)]
}

function dirId(dir: string, root?: string): string | null {
  try {
    const st = root ? lstatIn(dir, root) : fs.statSync(dir)
    return `${st.dev}:${st.ino}`
  } catch {
    return null
  }
}
