/**
 * A cgroup of its own for each service `run` starts (issue 22; docs/nslocate.1.md, NOTES, "The
 * service's cgroup"; docs/architecture.md, "A cgroup per service"). A process can leave its
 * process group and its session (setsid, a double fork, nohup ... &), but not its cgroup: only a
 * writer of the cgroup tree can move it. So every process the service ever starts is found
 * (cgroup.procs), signalled (cgroup.kill), and waited for (cgroup.events), escapes included.
 *
 * Where: in the cgroup v2 hierarchy (the unified one, or the v2 part of a hybrid), under the
 * caller's own v2 cgroup:   <caller's cgroup>/nslocate/<NAME>-<8 hex>
 * The 8 hex digits are the start of the SHA-256 of the pidfile's absolute path, so two services of
 * one NAME with different pidfiles (--dir) never share a cgroup, and the same service always gets
 * the same one (a later `run` finds what an earlier one left). Making it needs write access to the
 * caller's cgroup directory: root, or a subtree delegated to the caller (systemd's Delegate=yes).
 *
 * Recorded beside the pidfile's content, on the same inode, in one extended attribute:
 *   user.nslocate.cgroup = "v1 path=PATH ino=INO boot_id=UUID"      (PATH in run's cgroup namespace)
 *   user.nslocate.cgroup = "v1 none why=TEXT"                        (run made none, and why)
 * Only a writer of the file can set it, and readers use it only on a file that passes the pidfile
 * safety rules; the directory's inode binds it to the very cgroup run made.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError} from '../errors'
import {bootId} from '../kernel/pidfs'
import {xattrGet, xattrRemove, xattrSet} from '../native/binding'
import type {ProcFs} from '../proc/proc-fs'
import {V2Mount, dirOfV2Path, inodeOf, isPopulated, procsBelow, v2Mounts, v2PathOf} from './v2'

/** The attribute's name. */
export const CGROUP_XATTR = 'user.nslocate.cgroup'
/** The directory, under the caller's cgroup, that holds the services' cgroups. */
export const SERVICES_DIR = 'nslocate'
/** run's --cgroup: make one when possible (auto), insist (required), or never (none). */
export const CGROUP_MODES = ['auto', 'required', 'none'] as const
export type CgroupMode = (typeof CGROUP_MODES)[number]

const RECORD_MAX = 512

/** A service cgroup run made (or found recorded). */
export interface ServiceCgroup {
  /** its path as /proc/PID/cgroup shows it to run (relative to run's cgroup namespace) */
  path: string
  /** its directory */
  dir: string
  /** the directory's inode: another cgroup made later under the same name has another */
  ino: number
}

/** What the record says: the cgroup run made, or why it made none. */
export type CgroupRecord = {kind: 'made'; path: string; ino: number; bootId: string} | {kind: 'none'; why: string}

/** The leaf's name: NAME (characters outside [A-Za-z0-9_.@-] made "_"), "-", 8 hex digits of the pidfile's path. */
export function leafName(name: string, pidfile: string): string {
  // loaded here only: node:crypto pulls in stream, a few ms of every find's start-up
  const crypto = require('node:crypto') as typeof import('node:crypto')
  const hash = crypto.createHash('sha256').update(path.resolve(pidfile)).digest('hex').slice(0, 8)
  const safe =
    name
      .replace(/[^A-Za-z0-9_.@-]/g, '_')
      .replace(/^\.+/, '_')
      .slice(0, 64) || '_'
  return `${safe}-${hash}`
}

/** The stored text of a record. */
export function formatCgroupRecord(r: CgroupRecord): string {
  if (r.kind === 'made') return `v1 path=${encodePath(r.path)} ino=${r.ino} boot_id=${r.bootId}`
  // eslint-disable-next-line no-control-regex
  const why = r.why.replace(/[\x00-\x1f\x7f]/g, ' ')
  return `v1 none why=${why.length > WHY_MAX ? `${why.slice(0, WHY_MAX - 3)}...` : why}`
}

/** The longest reason stored (the record must fit RECORD_MAX with its prefix). */
const WHY_MAX = 400

/** A path as stored: every byte of its UTF-8 outside the printable ASCII but "%" (a space, "%", a control character, any non-ASCII) as %XX. */
function encodePath(p: string): string {
  let out = ''
  for (const b of Buffer.from(p, 'utf8'))
    out += b > 0x20 && b < 0x7f && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`
  return out
}

function decodePath(p: string): string | null {
  if (/%(?![0-9A-F]{2})/.test(p)) return null
  const bytes: number[] = []
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '%') {
      bytes.push(parseInt(p.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(p.charCodeAt(i))
  }
  const text = Buffer.from(bytes).toString('utf8')
  return text.includes('\ufffd') ? null : text
}

/** Whether a record of a cgroup at `cgPath` fits the attribute (and so can be read back). */
export function recordable(cgPath: string): boolean {
  const text = formatCgroupRecord({kind: 'made', path: cgPath, ino: Number.MAX_SAFE_INTEGER, bootId: '00000000-0000-0000-0000-000000000000'})
  return text.length <= RECORD_MAX && typeof parseCgroupRecord(text) !== 'string'
}

/** A stored value parsed strictly, or a string saying why it is not a record. */
export function parseCgroupRecord(text: string): CgroupRecord | string {
  let m = /^v1 path=(\/[\x21-\x7e]{0,400}) ino=([1-9][0-9]{0,19}) boot_id=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(text)
  if (m) {
    const ino = Number(m[2])
    const decoded = decodePath(m[1])
    if (decoded === null) return `its path ${m[1]} holds a "%" that is not an escape`
    const parts = decoded.split('/').slice(1)
    // The path run makes: .../nslocate/NAME-HASH, every component a plain name (no "", ".", "..").
    if (!Number.isSafeInteger(ino)) return 'its inode is out of range'
    if (
      parts.some((p) => p === '' || p === '.' || p === '..') ||
      parts.length < 2 ||
      parts[parts.length - 2] !== SERVICES_DIR ||
      !/-[0-9a-f]{8}$/.test(parts[parts.length - 1])
    )
      return `its path ${JSON.stringify(decoded).slice(1, -1)} is not a service cgroup nslocate makes (.../${SERVICES_DIR}/NAME-HASH)`
    return {kind: 'made', path: decoded, ino, bootId: m[3]}
  }
  // eslint-disable-next-line no-control-regex
  m = /^v1 none why=([^\x00-\x1f\x7f]{1,400})$/.exec(text)
  if (m) return {kind: 'none', why: m[1]}
  return `"${JSON.stringify(text.slice(0, 60)).slice(1, -1)}" is not a version 1 cgroup record`
}

/** The record on the open pidfile `fd`: null when there is none; a string when it cannot be used. */
export function readCgroupRecord(fd: number): CgroupRecord | null | string {
  let raw: Buffer | null
  try {
    raw = xattrGet(fd, CGROUP_XATTR, RECORD_MAX)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') return null
    return `${CGROUP_XATTR} could not be read (${code ?? (error as Error).message})`
  }
  if (raw === null) return null
  const r = parseCgroupRecord(raw.toString('latin1'))
  return typeof r === 'string' ? `${CGROUP_XATTR}: ${r}` : r
}

/** Records `r` on the pidfile open for writing as `fd`; returns why it could not be, or null. */
export function writeCgroupRecord(fd: number, r: CgroupRecord): string | null {
  try {
    xattrSet(fd, CGROUP_XATTR, Buffer.from(formatCgroupRecord(r), 'latin1'))
    return null
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'EOPNOTSUPP' || code === 'ENOTSUP' ? 'the file system keeps no user extended attributes' : `${CGROUP_XATTR} could not be set (${code})`
  }
}

/** Removes the record (absent, or no xattrs: not an error). */
export function clearCgroupRecord(fd: number): void {
  try {
    xattrRemove(fd, CGROUP_XATTR)
  } catch {}
}

/** Where run would make NAME's cgroup, or why it cannot make one here. */
export type Plan = {kind: 'plan'; parentDir: string; dir: string; path: string} | ({kind: 'none'} & NoCgroup)

/** Where NAME's cgroup goes (nothing is created): under this process's own v2 cgroup. */
export function planServiceCgroup(name: string, pidfile: string, procfs: ProcFs, mounts: V2Mount[] = v2Mounts()): Plan {
  if (mounts.length === 0) return none('no cgroup v2 hierarchy is mounted here', '(/proc/self/mountinfo lists no cgroup2)')
  const own = v2PathOf(procfs, 'self')
  if (own === null) return none('this process is in no cgroup v2 hierarchy', '(/proc/self/cgroup has no 0:: line)')
  const ownDir = dirOfV2Path(own, mounts)
  if (ownDir === null) return none(`its own cgroup ${own} is under no cgroup2 mount here`)
  // A caller's cgroup another user owns (root run from a user's delegated subtree: sudo in a
  // desktop terminal) is one that user may fill, empty or swap: no service cgroup is made in it.
  // (One root owns is trusted: a user without delegation is refused by the kernel, EACCES, below.)
  const owner = ownerOf(ownDir)
  if (owner !== null && owner !== myUid() && owner !== 0)
    return none(`its own cgroup ${ownDir} belongs to uid ${owner}`, ', who may move processes in and out of what is made there')
  const leaf = leafName(name, pidfile)
  const parentPath = path.posix.join(own, SERVICES_DIR)
  const cgPath = path.posix.join(parentPath, leaf)
  // A cgroup that could not be recorded could not be found, signalled or waited for: none then.
  if (!recordable(cgPath)) return none(`its path ${JSON.stringify(cgPath).slice(0, 80)}... is too long to record`, 'beside the pidfile')
  return {kind: 'plan', parentDir: path.join(ownDir, SERVICES_DIR), dir: path.join(ownDir, SERVICES_DIR, leaf), path: cgPath}
}

/** The uid that owns a directory, or null when it cannot be looked at. */
function ownerOf(dir: string): number | null {
  try {
    return fs.statSync(dir).uid
  } catch {
    return null
  }
}

/** The caller's effective uid (the owner of the directories it makes). */
function myUid(): number {
  return process.geteuid?.() ?? 0
}

/** What a write under the cgroup tree that was refused needs: refusal() ends its reason with one, after the errno code. */
export const CGROUP_NEEDS = {
  access: 'making a cgroup needs write access there (root, or a subtree delegated to this user)',
  readOnly: 'the cgroup file system is mounted read-only here',
} as const

/**
 * Why no cgroup could be made or entered: `why`, the reason recorded beside the pidfile and shown
 * by find; and for an error line (--cgroup required), `failure`, the reason without what it would
 * take, and `needs`, that (one of CGROUP_NEEDS), null when there is none.
 */
export interface NoCgroup {
  why: string
  failure: string
  needs: string | null
}

/**
 * A reason: `failure` for the error line, and with `more` (an explanation it goes on with) the
 * reason recorded beside the pidfile, which find shows whole.
 */
export function noCgroupBecause(failure: string, more = ''): NoCgroup {
  return {why: more === '' ? failure : `${failure}${/^[,:]/.test(more) ? '' : ' '}${more}`, failure, needs: null}
}

function none(failure: string, more = ''): Extract<Plan, {kind: 'none'}> {
  return {kind: 'none', ...noCgroupBecause(failure, more)}
}

/** Why a write under the cgroup tree failed, in words a user can act on. */
function refusal(what: string, error: unknown): NoCgroup {
  const code = (error as NodeJS.ErrnoException).code ?? 'error'
  const needs = code === 'EACCES' || code === 'EPERM' ? CGROUP_NEEDS.access : code === 'EROFS' ? CGROUP_NEEDS.readOnly : null
  const failure = `cannot ${what} (${code})`
  return {why: needs === null ? failure : `${failure}: ${needs}`, failure, needs}
}

/**
 * Makes NAME's cgroup (the plan's directory): the services directory if needed, then the leaf. A
 * leaf an earlier run left (SIGKILLed before it could remove it) is removed first when it is empty;
 * when it still holds processes, NAME is still running: CONFLICT, naming them. Returns the cgroup,
 * or why none could be made (the caller degrades, or fails with --cgroup=required).
 */
export function makeServiceCgroup(plan: Extract<Plan, {kind: 'plan'}>, name: string): ServiceCgroup | NoCgroup {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.mkdirSync(plan.parentDir, {mode: 0o755})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return refusal(`create ${plan.parentDir}`, error)
    }
    // Made by this user (here or by an earlier run): anyone else who could write in it could swap the leaf.
    const parentOwner = ownerOf(plan.parentDir)
    if (parentOwner !== null && parentOwner !== myUid() && parentOwner !== 0)
      return noCgroupBecause(`${plan.parentDir} belongs to uid ${parentOwner}, not to this user`)
    if (fs.existsSync(plan.dir)) {
      const leafOwner = ownerOf(plan.dir)
      // Not an earlier run's of this user: neither a conflict nor ours to remove.
      if (leafOwner !== null && leafOwner !== myUid() && leafOwner !== 0)
        return noCgroupBecause(`${plan.dir} exists and belongs to uid ${leafOwner}, not to this user`)
      const pids = procsBelow(plan.dir)
      if (isPopulated(plan.dir) === true || pids.length > 0) throw leftoverConflict(name, plan.dir, plan.path, pids)
      try {
        rmdirTree(plan.dir)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code !== 'ENOENT') return refusal(`remove the leftover empty cgroup ${plan.dir}`, error)
      }
    }
    try {
      fs.mkdirSync(plan.dir, {mode: 0o755})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // The services directory was removed meanwhile by a run that ended (ENOENT), or another run
      // made the leaf (EEXIST: looked at again): try again.
      if (code === 'ENOENT' || code === 'EEXIST') continue
      return refusal(`create ${plan.dir}`, error)
    }
    let st: fs.Stats
    try {
      st = fs.statSync(plan.dir)
    } catch {
      continue
    }
    if (st.uid !== myUid() && st.uid !== 0) return noCgroupBecause(`${plan.dir} was replaced by a directory of uid ${st.uid} as it was made`)
    return {path: plan.path, dir: plan.dir, ino: st.ino}
  }
  return noCgroupBecause(`cannot create ${plan.dir}`, ': it kept being created or removed by others')
}

/**
 * The cgroup an earlier run recorded on this pidfile (`record`, read before the lock's new holder
 * cleared it), when find would take it for the service's (cgroupFactsOf: this boot, its inode,
 * owned by the pidfile's owner `owner`): its directory, and the pids in it. An earlier run may
 * have run in another cgroup than this one (another session, cron), so its service's cgroup is
 * not where this run would make one.
 */
export function earlierCgroup(
  record: CgroupRecord | null | string,
  owner: number,
  procfs: ProcFs,
): {dir: string; path: string; ino: number; pids: number[]; populated: boolean} | null {
  if (record === null || typeof record === 'string' || record.kind !== 'made') return null
  const facts = cgroupFactsOf(record, null, procfs, owner)
  if (facts.dir === null) return null
  return {dir: facts.dir, path: record.path, ino: record.ino, pids: facts.processes, populated: facts.populated === true}
}

/** The CONFLICT of a service whose earlier run's cgroup still holds processes. */
export function leftoverConflict(name: string, dir: string, cgPath: string, pids: number[]): NslocateError {
  const advice = `stop them (echo 1 > ${dir}/cgroup.kill) or wait for them`
  return new NslocateError(
    'CONFLICT',
    `${name} is still running: its cgroup ${dir}, left by an earlier run, holds pid${pids.length === 1 ? '' : 's'} ${pids.slice(0, 10).join(', ') || '(not visible here)'}${pids.length > 10 ? ', ...' : ''}; ${advice}`,
    {details: {cgroup: dir, cgroupPath: cgPath, pids}, advice},
  )
}

/** Moves `pid` into the cgroup (cgroup.procs); returns why it could not be, or null. */
export function moveInto(cg: ServiceCgroup, pid: number): NoCgroup | null {
  // the very directory made (by inode and owner), not one put at its name since
  if (inodeOf(cg.dir) !== cg.ino || ownerOf(cg.dir) !== myUid()) return noCgroupBecause(`${cg.dir} is no longer the cgroup made for the service`)
  try {
    fs.writeFileSync(path.join(cg.dir, 'cgroup.procs'), String(pid))
    return null
  } catch (error) {
    return refusal(`move pid ${pid} into ${cg.dir}`, error)
  }
}

/**
 * Removes the empty cgroups below `dir` (a service may make its own, a nested `run` does), deepest
 * first, then `dir` itself: rmdir(2) refuses a cgroup that holds a process or has a child cgroup,
 * so nothing that holds a process is ever removed. Throws the error of `dir`'s rmdir.
 */
function rmdirTree(dir: string, depth = 0): void {
  if (depth < 32) {
    let entries: fs.Dirent[] = []
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true})
    } catch {}
    for (const e of entries)
      if (e.isDirectory())
        try {
          rmdirTree(path.join(dir, e.name), depth + 1)
        } catch {}
  }
  fs.rmdirSync(dir)
}

/**
 * One try at removing the cgroup `cg` (the very directory: its inode), with the empty cgroups below
 * it, then the services directory when no other service's cgroup is left in it: 'gone' (removed,
 * or gone already, or another cgroup has the name by now: not ours to remove), 'busy' (it holds a
 * process), 'failed'.
 */
function removeOnce(cg: {dir: string; ino: number}): 'gone' | 'busy' | 'failed' {
  if (inodeOf(cg.dir) === cg.ino) {
    try {
      rmdirTree(cg.dir)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') return code === 'EBUSY' ? 'busy' : 'failed'
    }
  }
  try {
    fs.rmdirSync(path.dirname(cg.dir))
  } catch {} // other services' cgroups are in it, or it is not ours to remove
  return 'gone'
}

/**
 * Removes the cgroup once it is empty (removeOnce). A cgroup whose last process has just exited may
 * still read as busy for a moment: tried again for up to `graceMs`. Returns whether it is gone.
 */
export async function removeServiceCgroup(cg: ServiceCgroup, graceMs = 2000): Promise<boolean> {
  const end = Date.now() + graceMs
  for (;;) {
    const r = removeOnce(cg)
    if (r !== 'busy' || Date.now() >= end) return r === 'gone'
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** removeServiceCgroup() without waiting: one try (false when it still holds a process, or cannot be removed). */
export function removeServiceCgroupNow(cg: {dir: string; ino: number}): boolean {
  return removeOnce(cg) === 'gone'
}

/** What find reports of a service's cgroup (result.cgroup; JSON `cgroup`). */
export interface CgroupFacts {
  /** its path as recorded by run (in run's cgroup namespace); null when run made none */
  path: string | null
  /** its directory here; null when it is gone, or not visible from here */
  dir: string | null
  /** whether it holds a live process (cgroup.events); null when unknown */
  populated: boolean | null
  /** every process in it and below it, as pids in the caller's PID namespace */
  processes: number[]
  /** why run made no cgroup, or why the recorded one cannot be used here; null otherwise */
  why: string | null
}

/**
 * The recorded cgroup as seen from here. The directory is looked for where the main process's own
 * v2 cgroup is (when it is the recorded one, or inside a cgroup namespace below it), else at the
 * recorded path under our own mounts. It is used only
 * - in the boot that recorded it, when its inode is the one recorded;
 * - when it belongs to the pidfile's owner (`owner`, the uid of the file: its writer): run makes
 *   it as the user it runs as, so a user's record naming root's (or another user's) cgroup is not
 *   the service's;
 * - when the main process (`mainPid`, if one was found) is in it or below it.
 */
export function cgroupFactsOf(record: CgroupRecord, mainPid: number | null, procfs: ProcFs, owner: number): CgroupFacts {
  if (record.kind === 'none') return {path: null, dir: null, populated: null, processes: [], why: record.why}
  const base = {path: record.path, dir: null, populated: null, processes: []}
  const boot = bootId()
  if (boot !== record.bootId) return {...base, why: `it was made in another boot (${record.bootId})`}
  const mounts = v2Mounts()
  const candidates: string[] = []
  if (mainPid !== null) {
    const seen = v2PathOf(procfs, mainPid)
    // The reader may see the cgroup under a longer path (run was in a cgroup namespace).
    if (seen !== null && (seen === record.path || seen.endsWith(record.path === '/' ? '' : record.path))) {
      const d = dirOfV2Path(seen, mounts)
      if (d) candidates.push(d)
    }
  }
  const direct = dirOfV2Path(record.path, mounts)
  if (direct) candidates.push(direct)
  const dir = candidates.find((d) => inodeOf(d) === record.ino) ?? null
  if (dir === null) return {...base, why: 'the cgroup recorded is gone, or not visible from here'}
  let uid: number
  try {
    uid = fs.statSync(dir).uid
  } catch {
    return {...base, why: 'the cgroup recorded is gone'}
  }
  if (uid !== owner) return {...base, why: `${dir} belongs to uid ${uid}, not to the pidfile's owner (uid ${owner}): not the cgroup its writer made`}
  const processes = procsBelow(dir).sort((a, b) => a - b)
  if (mainPid !== null && !processes.includes(mainPid)) return {...base, why: `pid ${mainPid}, the service's main process, is not in ${dir}`}
  return {path: record.path, dir, populated: isPopulated(dir), processes, why: null}
}
