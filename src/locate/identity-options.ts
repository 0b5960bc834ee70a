/**
 * Explicit identity, as start-stop-daemon's --exec, --name and --user: what the caller states the
 * service is. When given, every answer must satisfy it, locked pidfile or not; a process that does
 * not is never reported (or signalled) as the service (reason identity_mismatch).
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, OptionNamer} from '../errors'
import {ProcFs} from '../proc/proc-fs'
import {ProcessFacts} from './process-info'
import {ProcessNames, describeNames, matchName} from './process-names'

/** Who the caller states the service is (start-stop-daemon's --exec, --name, --user); every answer must satisfy them. */
export interface IdentityOptions {
  /** the service runs this executable (compared with /proc/PID/exe by device and inode) */
  exec?: string
  /** the service is named so (comm, exe, argv[0] or script name; exact) */
  processName?: string
  /** the service's real uid, or a user name looked up in /etc/passwd */
  user?: string | number
}

/** IdentityOptions checked and resolved once (the executable's dev:inode, the user's uid). */
export interface ResolvedIdentity {
  exec?: {path: string; dev: number; ino: number}
  processName?: string
  uid?: number
  /** `--exec /usr/sbin/nginx --user 33`, for messages */
  shown: string
}

/** Checks and resolves the options once, before anything is looked at (USAGE errors name the option). */
export function resolveIdentity(o: IdentityOptions, root?: string): ResolvedIdentity | null {
  const shown: string[] = []
  const out: ResolvedIdentity = {shown: ''}
  if (o.exec !== undefined) {
    if (typeof o.exec !== 'string' || !path.isAbsolute(o.exec))
      throw new NslocateError(
        'USAGE',
        (n) => `${n('exec')} ${JSON.stringify(o.exec)}: give the executable's absolute path, e.g. ${n('exec', '/usr/sbin/nginx')}`,
      )
    const where = root ? path.join(root, o.exec) : o.exec
    let st: fs.Stats
    try {
      st = fs.statSync(where)
    } catch (error) {
      const advice = `give the path of the service's executable${root ? ' as its mount namespace sees it' : ''}`
      throw new NslocateError('USAGE', (n) => `${n('exec')} ${o.exec}: cannot stat ${where}: ${(error as Error).message}; ${advice}`, {cause: error, advice})
    }
    out.exec = {path: o.exec, dev: Number(st.dev), ino: Number(st.ino)}
    shown.push(`--exec ${o.exec}`)
  }
  if (o.processName !== undefined) {
    const advice = (n: OptionNamer) => `use ${n('exec')} for a path`
    if (typeof o.processName !== 'string' || o.processName === '' || o.processName.includes('/'))
      throw new NslocateError(
        'USAGE',
        (n) => `${n('processName')} ${JSON.stringify(o.processName)}: give a process name without "/", e.g. ${n('processName', 'nginx')}; ${advice(n)}`,
        {advice},
      )
    out.processName = o.processName
    shown.push(`--process-name ${o.processName}`)
  }
  if (o.user !== undefined) {
    out.uid = uidOf(o.user)
    shown.push(`--user ${o.user}`)
  }
  if (shown.length === 0) return null
  out.shown = shown.join(' ')
  return out
}

function uidOf(user: string | number): number {
  const s = String(user)
  if (/^[0-9]+$/.test(s)) return Number(s)
  let passwd = ''
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8')
  } catch {}
  // passwd(5): name:password:UID:GID:GECOS:directory:shell
  for (const line of passwd.split('\n')) {
    const f = line.split(':')
    if (f[0] === s && /^[0-9]+$/.test(f[2] ?? '')) return Number(f[2])
  }
  throw new NslocateError('USAGE', (n) => `${n('user')} ${JSON.stringify(s)}: no such user in /etc/passwd; give a user name or a numeric uid`)
}

/** Does this process satisfy every stated option? `detail` gives the values compared. */
/** `strong`: --exec or --user was stated (what another user's process cannot copy, unlike a name). */
export function checkIdentity(procfs: ProcFs, f: ProcessFacts, names: ProcessNames, id: ResolvedIdentity): {ok: boolean; detail: string; strong: boolean} {
  const strong = id.exec !== undefined || id.uid !== undefined
  const failed: string[] = []
  const matched: string[] = []
  if (id.exec) {
    let link: string | null = null
    try {
      link = procfs.readLink(f.pid, 'exe')
    } catch {}
    let same: boolean
    try {
      const s = procfs.statUnder(f.pid, 'exe')
      same = s.dev === id.exec.dev && s.ino === id.exec.ino
    } catch {
      // a deleted or unreadable executable: the link text is all there is
      same = link === id.exec.path
    }
    ;(same ? matched : failed).push(
      `exe ${link === null ? '(not readable: needs ptrace access)' : JSON.stringify(link)} ${same ? 'is' : 'is not'} ${id.exec.path}`,
    )
  }
  if (id.processName !== undefined) {
    const m = matchName(names, [id.processName], false)
    if (m) matched.push(`${m} is --process-name ${id.processName}`)
    else failed.push(`none of ${describeNames(names)} is --process-name ${id.processName}`)
  }
  if (id.uid !== undefined) {
    const uid = f.status.uid[0]
    ;(uid === id.uid ? matched : failed).push(`real uid ${uid ?? '?'} ${uid === id.uid ? 'is' : 'is not'} ${id.uid}`)
  }
  return failed.length > 0
    ? {ok: false, detail: `pid ${f.pid} does not match ${id.shown}: ${failed.join('; ')}`, strong}
    : {ok: true, detail: `pid ${f.pid} matches ${id.shown}: ${matched.join('; ')}`, strong}
}
