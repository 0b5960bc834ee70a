/**
 * acquire(): take NAME's pidfile for as long as this process lives, the way every reader can see.
 * The algorithm and why (docs/architecture.md, "Writing a pidfile"):
 *  1. open O_CREAT|O_RDWR|O_NOFOLLOW|O_CLOEXEC, mode 0644; refuse a symlink or a non-regular file;
 *  2. flock(LOCK_SH|LOCK_NB): fails only if a running instance holds it exclusively -> conflict;
 *     a POSIX lock (F_GETLK) held by anyone is a running instance of a POSIX-locking writer -> conflict;
 *  3. upgrade to LOCK_EX|LOCK_NB, retried with jitter until --lock-timeout. Linux drops the shared
 *     lock when a non-blocking upgrade fails, so racing starters cannot deadlock, and retrying means
 *     preemption cannot make every racer give up;
 *  4. fstat(fd) vs stat(path): if the file was unlinked or replaced meanwhile, start over (bounded);
 *  5. take the POSIX write lock too (F_GETLK readers, translated into their namespace), then
 *     truncate, write the pid in decimal with no newline, fsync;
 *  6. release(): unlink only if the path still names our inode, while still holding the locks.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NslocateError, isErrno} from '../errors'
import {flock, probePosixLock, setPosixLock} from '../native/binding'
import {locate} from '../locate/locate'
import {validateName} from '../locate/name'
import {registerHeld, unregisterHeld} from '../locate/pidfile'

export interface AcquireOptions {
  name: string
  pidfile?: string
  dir?: string
  /** how long to contend with other starters (ms); default 10 s */
  lockTimeoutMs?: number
  /** the pid to write; default process.pid. null: write nothing yet (call handle.write later) */
  pid?: number | null
  env?: NodeJS.ProcessEnv
}

export interface PidfileHandle {
  readonly path: string
  readonly fd: number
  /** the pid written in the file (null until written) */
  pid: number | null
  write(pid: number): void
  /** unlink (if still ours) and drop the locks; idempotent */
  release(): void
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000
const MAX_REOPENS = 20

export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.NSLOCATE_RUNTIME_DIR) return env.NSLOCATE_RUNTIME_DIR
  if (uid === 0) return '/run/nslocate'
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'nslocate')
  throw new NslocateError('USAGE', 'no runtime directory for a non-root user: set NSLOCATE_RUNTIME_DIR or XDG_RUNTIME_DIR, or pass --dir/--pidfile')
}

export function pidfilePathFor(opts: Pick<AcquireOptions, 'name' | 'pidfile' | 'dir' | 'env'>): string {
  if (opts.pidfile) return opts.pidfile
  return path.join(opts.dir ?? defaultRuntimeDir(opts.env), `${opts.name}.pid`)
}

const OPEN_FLAGS = fs.constants.O_CREAT | fs.constants.O_RDWR | fs.constants.O_NOFOLLOW | (fs.constants as Record<string, number>).O_CLOEXEC

export async function acquire(nameOrOptions: string | AcquireOptions): Promise<PidfileHandle> {
  const opts: AcquireOptions = typeof nameOrOptions === 'string' ? {name: nameOrOptions} : nameOrOptions
  if (!opts.pidfile) validateName(opts.name)
  const file = pidfilePathFor(opts)
  const deadline = Date.now() + (opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS)
  fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o755})
  for (let attempt = 0; attempt < MAX_REOPENS; attempt++) {
    const fd = openForWriting(file)
    let keep = false
    try {
      if (!(await lockExclusive(fd, file, deadline, opts.name))) continue
      // 4. the path must still name the inode we locked (a stopping instance may have unlinked it)
      const st = fs.fstatSync(fd)
      let cur: fs.Stats | null = null
      try {
        cur = fs.statSync(file)
      } catch {}
      if (!cur || cur.ino !== st.ino || cur.dev !== st.dev) continue
      // 5. the POSIX lock, for F_GETLK readers; held by this process for its whole life
      if (!setPosixLock(fd, 'write')) throw conflict(opts.name, file)
      keep = true
      registerHeld(st, fd)
      const handle = makeHandle(file, fd)
      const pid = opts.pid === undefined ? process.pid : opts.pid
      if (pid !== null) handle.write(pid)
      return handle
    } finally {
      if (!keep) fs.closeSync(fd)
    }
  }
  throw new NslocateError('TIMEOUT', `${file} was replaced or unlinked ${MAX_REOPENS} times while locking it; is something deleting it in a loop?`)
}

function openForWriting(file: string): number {
  let fd: number
  try {
    fd = fs.openSync(file, OPEN_FLAGS, 0o644)
  } catch (error) {
    if (isErrno(error, 'ELOOP')) throw new NslocateError('UNSAFE_PIDFILE', `${file} is a symbolic link; refusing to write a pidfile through it (remove it)`, {cause: error})
    if (isErrno(error, 'EACCES', 'EPERM', 'EROFS')) throw new NslocateError('PERMISSION', `cannot create ${file}: ${(error as Error).message}; choose a writable --dir`, {cause: error})
    throw new NslocateError('IO', `cannot open ${file}: ${(error as Error).message}`, {cause: error})
  }
  const st = fs.fstatSync(fd)
  if (!st.isFile()) {
    fs.closeSync(fd)
    throw new NslocateError('UNSAFE_PIDFILE', `${file} is not a regular file; refusing to use it as a pidfile`)
  }
  return fd
}

/** Steps 2 and 3. Returns true with LOCK_EX held; throws CONFLICT when an instance runs; TIMEOUT at the deadline. */
async function lockExclusive(fd: number, file: string, deadline: number, name: string): Promise<boolean> {
  for (let i = 0; ; i++) {
    if (!flock(fd, 'shared')) throw conflict(name, file)
    if (probePosixLock(fd).type !== 'unlocked') throw conflict(name, file)
    if (flock(fd, 'exclusive')) return true
    // Another starter holds LOCK_SH too (our own was dropped by the failed upgrade). Back off with jitter.
    if (Date.now() >= deadline) {
      throw new NslocateError('TIMEOUT', `could not lock ${file} before the lock timeout: other starters kept contending for it`, {exitCode: 1})
    }
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * Math.min(20, 2 + i)))
  }
}

function conflict(name: string, file: string): NslocateError {
  let pid: number | null = null
  try {
    const r = locate({name, pidfile: file, skipNameCheck: true})
    pid = r.pid ?? r.holder
  } catch {}
  return new NslocateError('CONFLICT', `${name} is already running${pid !== null ? ` (pid ${pid})` : ''}: ${file} is locked`, {exitCode: 1, details: {pid, pidfile: file}})
}

function makeHandle(file: string, fd: number): PidfileHandle {
  let released = false
  const handle: PidfileHandle = {
    path: file,
    fd,
    pid: null,
    write(pid: number) {
      if (released) throw new NslocateError('IO', `${file} was released`)
      if (!Number.isInteger(pid) || pid <= 0) throw new NslocateError('USAGE', `refusing to write pid ${pid} into ${file}`)
      fs.ftruncateSync(fd, 0)
      // No trailing newline: libbsd's pidfile(3) reader rejects "PID\n"; kill $(cat) and pgrep -F accept both.
      fs.writeSync(fd, String(pid), 0)
      fs.fsyncSync(fd)
      handle.pid = pid
    },
    release() {
      if (released) return
      released = true
      try {
        const st = fs.fstatSync(fd)
        unregisterHeld(st)
        const cur = fs.statSync(file)
        if (cur.ino === st.ino && cur.dev === st.dev) fs.unlinkSync(file)
      } catch {}
      fs.closeSync(fd)
    },
  }
  return handle
}
