/**
 * What `list` shows: exactly the pidfiles `find NAME` would find, for every NAME that has one in
 * the search path (search-path.ts), flat (DIR/NAME.pid) and nested (DIR/NAME/NAME.pid) alike. Each
 * NAME seen anywhere in the search path is resolved the way find resolves it, so the two agree by
 * construction. Files whose names are not valid NAMEs (find reaches them only with --pidfile) are
 * listed as they are.
 */
import fs = require('node:fs')
import path = require('node:path')

import {isValidName} from './name'
import {lstatIn, readdirIn} from './path-safety'
import {SearchOptions, resolvePidfile, searchEntries, withAbsolutePaths} from './search-path'

export interface ListedPidfile {
  name: string
  path: string
  /** false: not a valid NAME, so `find` can reach it only with --pidfile */
  validName: boolean
}

export interface PidfileListing {
  files: ListedPidfile[]
  /** search-path directories that exist but could not be read */
  unreadable: Array<{dir: string; message: string}>
  /** DIR/NAME directories that could not be looked into (a NAME.pid there is not listed) */
  denied: string[]
}

/** With `dir`, only that directory's *.pid files (as `list --dir`); otherwise the whole search path. */
export function listPidfiles(options: SearchOptions = {}): PidfileListing {
  const opts = withAbsolutePaths(options)
  const entries = opts.dir ? [{dir: opts.dir, nested: false}] : searchEntries(opts)
  const out: PidfileListing = {files: [], unreadable: [], denied: []}
  const names = new Set<string>()
  const odd: ListedPidfile[] = []
  const visited = new Set<string>()
  for (const entry of entries) {
    // A directory reached twice (/var/run when it links to /run) is read once per kind of entry.
    const id = dirId(entry.dir, opts.root)
    if (id !== null) {
      if (visited.has(`${id}:${entry.nested}`)) continue
      visited.add(`${id}:${entry.nested}`)
    }
    let dirents: fs.Dirent[]
    try {
      dirents = readdirIn(entry.dir, opts.root)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      if (!out.unreadable.some((u) => u.dir === entry.dir)) out.unreadable.push({dir: entry.dir, message: (error as Error).message})
      continue
    }
    for (const d of dirents) {
      if (!entry.nested) {
        // A directory named NAME.pid is listed too: find reports it (not_regular), and list must agree.
        if (!d.name.endsWith('.pid')) continue
        const name = d.name.slice(0, -4)
        if (isValidName(name)) names.add(name)
        else odd.push({name, path: path.join(entry.dir, d.name), validName: false})
        continue
      }
      // DIR/NAME/NAME.pid: NAME is a directory (or a symlink to one, which the safety rules judge).
      if (!(d.isDirectory() || d.isSymbolicLink()) || !isValidName(d.name)) continue
      const p = path.join(entry.dir, d.name, `${d.name}.pid`)
      try {
        lstatIn(p, opts.root)
        names.add(d.name)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EACCES' || code === 'EPERM') out.denied.push(path.join(entry.dir, d.name))
      }
    }
  }
  const seen = new Set<string>()
  for (const name of [...names].sort()) {
    const found = resolvePidfile(name, opts)
    if (found.path && !seen.has(found.path)) {
      seen.add(found.path)
      out.files.push({name, path: found.path, validName: true})
    }
  }
  for (const f of odd) {
    if (!seen.has(f.path)) {
      seen.add(f.path)
      out.files.push(f)
    }
  }
  out.files.sort((a, b) => a.path.localeCompare(b.path))
  return out
}

function dirId(dir: string, root?: string): string | null {
  try {
    const st = root ? lstatIn(dir, root) : fs.statSync(dir)
    return `${st.dev}:${st.ino}`
  } catch {
    return null
  }
}
