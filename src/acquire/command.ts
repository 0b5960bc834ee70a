/**
 * Find COMMAND the way execvp(3) would, before anything is created or started, so that a missing
 * or unusable program is run's own failure (not_found or cannot_execute, as env(1) has them) with a message, not a
 * crash after the pidfile was taken.
 */
import fs = require('node:fs')
import path = require('node:path')

import {RunFailure} from './run-status'

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

/** The absolute path that execve(2) will run for `command`, or a RunFailure (not_found, cannot_execute). */
export function resolveCommand(command: string, env: NodeJS.ProcessEnv = process.env): string {
  if (command === '') throw new RunFailure('not_found', 'cannot start the command: its name is empty')
  if (command.includes('/')) {
    const file = path.resolve(command)
    const why = unusable(file)
    if (why === null) return file
    throw new RunFailure(why === 'not found' ? 'not_found' : 'cannot_execute', `cannot start ${command}: ${why}`)
  }
  let denied: string | null = null
  const dirs = (env.PATH ?? DEFAULT_PATH).split(':')
  for (const dir of dirs) {
    const file = path.resolve(dir || '.', command)
    const why = unusable(file)
    if (why === null) return file
    if (why !== 'not found' && why !== 'is a directory' && denied === null) denied = `${file}: ${why}`
  }
  if (denied) throw new RunFailure('cannot_execute', `cannot start ${command}: ${denied}`)
  throw new RunFailure('not_found', `cannot start ${command}: not found in PATH (${dirs.join(':')})`)
}

function unusable(file: string): string | null {
  let st: fs.Stats
  try {
    st = fs.statSync(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'not found' : `cannot be looked up (${code})`
  }
  if (st.isDirectory()) return 'is a directory'
  if (!st.isFile()) return 'is not a regular file'
  try {
    fs.accessSync(file, fs.constants.X_OK)
  } catch {
    return 'permission denied (not executable)'
  }
  return null
}
