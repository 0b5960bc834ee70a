/**
 * Who can be in a group: its listed members (getent group) and every user whose primary group it
 * is (getent passwd). A group-writable directory hands the pidfile to all of them, so it is "the
 * process's own" only when that set holds nobody but the process's user (postgres:postgres 2775
 * with only postgres in it). getent answers through NSS (files, LDAP, sss); without it, the files.
 */
import fs = require('node:fs')

/** What /etc/group and /etc/passwd say of one group's members. */
export interface GroupFacts {
  /** nobody but `uid` can be in the group */
  only: boolean
  /** "shr (gid 1005) with members alice (uid 1001), bob (uid 1002)", for messages */
  describe: string
}

function getent(db: string, key?: string): string[] {
  try {
    // node:child_process is loaded only here: it pulls in net, stream and dgram, a few ms of every start-up
    const {execFileSync} = require('node:child_process') as typeof import('node:child_process')
    return execFileSync('getent', key === undefined ? [db] : [db, key], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000})
      .split('\n')
      .filter(Boolean)
  } catch (error) {
    // Exit 2: no such key. Any other failure (no getent): read the files.
    if ((error as {status?: number}).status === 2) return []
    try {
      const lines = fs
        .readFileSync(`/etc/${db}`, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
      return key === undefined ? lines : lines.filter((l) => l.split(':')[0] === key || l.split(':')[2] === key)
    } catch {
      return []
    }
  }
}

interface GroupMembers {
  /** the group's name, or its number when getent does not know it */
  name: string
  known: boolean
  /** user name -> uid (null: the listed member has no passwd entry) */
  members: Map<string, number | null>
}

/**
 * getent spawns a process and reads the whole passwd database, and one locate() may ask about the
 * same group for the file and each directory on its path: answers are kept for a second.
 */
const GROUP_TTL_MS = 1000
const cache = new Map<number, {at: number; value: GroupMembers}>()

function membersOf(gid: number): GroupMembers {
  const now = Number(process.hrtime.bigint()) / 1e6
  const hit = cache.get(gid)
  if (hit && now - hit.at < GROUP_TTL_MS) return hit.value
  const entry = getent('group', String(gid))[0]?.split(':')
  const passwd = getent('passwd').map((l) => l.split(':'))
  const uidOf = (user: string) => {
    const p = passwd.find((f) => f[0] === user) ?? getent('passwd', user)[0]?.split(':')
    return p ? Number(p[2]) : null
  }
  const members = new Map<string, number | null>()
  for (const m of (entry?.[3] ?? '').split(',').filter(Boolean)) members.set(m, uidOf(m))
  for (const f of passwd) if (Number(f[3]) === gid) members.set(f[0], Number(f[2]))
  const value = {name: entry?.[0] ?? String(gid), known: entry !== undefined, members}
  cache.set(gid, {at: now, value})
  return value
}

/** Whether group `gid` can hold nobody but user `uid` (its primary group, no other member), and how to describe it. */
export function groupOnlyOf(gid: number, uid: number): GroupFacts {
  const {name, known, members} = membersOf(gid)
  const list = [...members].map(([n, u]) => `${n} (uid ${u ?? '?'})`)
  const only = known && [...members.values()].every((u) => u === uid)
  return {
    only,
    describe: `${name} (gid ${gid}) ${list.length > 0 ? `with members ${list.join(', ')}` : 'with no known members'}${known ? '' : ', unknown to getent'}`,
  }
}
