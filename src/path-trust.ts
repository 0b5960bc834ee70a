/**
 * May a file named by the environment (a Docker socket, NSLOCATE_ADDON) be trusted by the caller?
 * The rule is systemd's CHASE_SAFE, applied to every step of the path's resolution: each directory
 * entered (and each directory a symbolic link is read from) must be owned by root or the caller and
 * must not be writable by group or others, unless it is sticky and owned by root (/tmp); the file
 * itself must be owned by root or the caller and, unless `writableLeaf`, not be writable by group or
 * others. Then no other user can have put the file there or swapped it since.
 *
 * Only this module does the walk; callers turn an Untrusted answer into their own error. System
 * errors on the way (ENOENT, EACCES, ENOTDIR, ELOOP) are thrown as they are: callers map them.
 */
import fs = require('node:fs')
import path = require('node:path')

export interface Untrusted {
  /** the entry that fails the rule (a directory on the way, or the file) */
  path: string
  uid: number
  /** its owner's login name, when /etc/passwd names it */
  owner: string
  mode: number
  /** e.g. "owned by uid 1001 (mallory)" or "writable by group and others (mode 0777)" */
  why: string
}

const MAX_LINKS = 40

export function userName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':')
      if (f.length > 3 && Number(f[2]) === uid && f[2] !== '') return f[0]
    }
  } catch {}
  return ''
}

function judge(p: string, st: fs.Stats, caller: number, isDir: boolean, writableOk: boolean): Untrusted | null {
  const mode = st.mode & 0o7777
  const owner = () => userName(st.uid)
  const who = () => `uid ${st.uid}${owner() ? ` (${owner()})` : ''}`
  if (st.uid !== 0 && st.uid !== caller) {
    return {path: p, uid: st.uid, owner: owner(), mode, why: `owned by ${who()}, not by root or the caller (uid ${caller})`}
  }
  if (writableOk || (mode & 0o022) === 0) return null
  if (isDir && (mode & 0o1000) !== 0 && st.uid === 0) return null // sticky and root's: /tmp
  const by = (mode & 0o020 ? ['group'] : []).concat(mode & 0o002 ? ['others'] : []).join(' and ')
  return {path: p, uid: st.uid, owner: owner(), mode, why: `writable by ${by} (mode ${mode.toString(8).padStart(4, '0')}${isDir ? ', not sticky and root-owned' : ''}), owned by ${who()}`}
}

/** null when `file` passes the rule for `caller` (default: the effective uid), else the first entry that fails it. */
export function untrustedOnPath(file: string, opts: {caller?: number; writableLeaf?: boolean} = {}): Untrusted | null {
  const caller = opts.caller ?? process.geteuid?.() ?? 0
  const start = path.resolve(file)
  let todo = start.split('/').filter(Boolean)
  let cur = '/'
  let bad = judge('/', fs.statSync('/'), caller, true, false)
  if (bad) return bad
  let links = 0
  while (todo.length > 0) {
    const part = todo.shift()!
    if (part === '.') continue
    if (part === '..') {
      cur = path.dirname(cur) // already judged on the way down
      continue
    }
    const next = path.join(cur, part)
    const st = fs.lstatSync(next)
    if (st.isSymbolicLink()) {
      // The link sits in `cur`, which passed: only root or the caller chose its target.
      if (++links > MAX_LINKS) throw Object.assign(new Error(`too many levels of symbolic links resolving ${file}`), {code: 'ELOOP', path: file})
      const target = fs.readlinkSync(next)
      if (target.startsWith('/')) cur = '/'
      todo = [...target.split('/').filter(Boolean), ...todo]
      continue
    }
    if (todo.length === 0) return judge(next, st, caller, st.isDirectory(), Boolean(opts.writableLeaf))
    if (!st.isDirectory()) throw Object.assign(new Error(`${next} is not a directory (resolving ${file})`), {code: 'ENOTDIR', path: next})
    bad = judge(next, st, caller, true, false)
    if (bad) return bad
    cur = next
  }
  return null
}
