/** Service names, and (re-exported) where their pidfiles are looked for (search-path.ts). */
import fs = require('node:fs')

import {NslocateError} from '../errors'
import {SearchOptions, searchEntries} from './search-path'

export {SearchOptions, pidfileSearchPath, resolvePidfile, withAbsolutePaths} from './search-path'

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/

export function isValidName(name: string): boolean {
  return typeof name === 'string' && NAME_PATTERN.test(name) && name !== '.' && name !== '..'
}

export function validateName(name: string): string {
  if (!isValidName(name)) {
    const shown = JSON.stringify(String(name)).slice(0, 80)
    throw new NslocateError('USAGE',
      `invalid service name ${shown}: a NAME is 1-128 characters from A-Z a-z 0-9 _ . @ : -, starting with a letter or digit ` +
      '(it becomes a file name: no "/", no leading "." or "-"). To name a file directly, use --pidfile PATH.')
  }
  return name
}

/**
 * The directories of the search path that hold NAME.pid directly, each once (by dev:inode: /var/run
 * is a symlink to /run on most systems; realpath would resolve /proc/PID/root itself and leave the
 * container). `list` enumerates the whole search path (list-pidfiles.ts); this is for callers that
 * only want the flat directories.
 */
export function runtimeDirs(opts: SearchOptions = {}): string[] {
  const dirs = opts.dir ? [opts.dir] : searchEntries(opts).filter((e) => !e.nested).map((e) => e.dir)
  const seen = new Set<string>()
  return dirs.filter((d) => {
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
