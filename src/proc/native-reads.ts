/**
 * The addon's batched /proc reads (native/nslocate.c holderFds, readProcMany), for a ProcFs that
 * reads this process's own /proc with its own readers. The same syscalls, in one call each instead
 * of one JS call per syscall (locate() of a locked pidfile made ~40 of them); the texts come back
 * to the same parsers, and every judgment stays with the callers.
 *
 * Any other ProcFs (a fixture tree, a pass view that answers some reads itself, another root)
 * returns null here: its callers read through its own readers, file by file, as before, so the
 * ProcFs seam is never bypassed.
 */
import {procBatch} from '../native/binding'
import {CgroupLine, parseCgroup} from './parse-cgroup'
import {LockLine, parseFdinfoLocks} from './parse-locks'
import {ProcFs} from './proc-fs'

type Reader = 'listFds' | 'readLink' | 'statUnder' | 'readFdinfoLocks' | 'readCmdline' | 'readCgroup' | 'readPidnsLink'

/** The addon, when `procfs` is the real /proc read by ProcFs's own `readers` (none overridden). */
function batchFor(procfs: ProcFs, readers: Reader[]) {
  if (procfs.root !== '/proc') return null
  for (const r of readers) if (procfs[r] !== ProcFs.prototype[r]) return null
  return procBatch()
}

/** What holdsLock() finds in one process's fds: every fdinfo of an fd on the file, in directory order. */
export interface FdsOnFile {
  /** the code of the error that stopped listing /proc/PID/fd (as fs.readdirSync would throw it); null: listed */
  listError: string | null
  denied: boolean
  /** the lock lines of each fd on the file */
  locks: LockLine[][]
  /** the fd of each */
  fds: number[]
}

const ERRNO_CODES: Record<number, string> = {1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 13: 'EACCES', 20: 'ENOTDIR'}

/**
 * The fds of `pid` whose link ends in one of `names` and that are on dev:ino, with their fdinfo
 * lock lines (ProcFs.listFds, readLink, statUnder and readFdinfoLocks in one native call); null:
 * read them one by one through `procfs`. `hint`: look at that fd only (the directory is not listed).
 */
export function fdsOnFile(procfs: ProcFs, pid: number, names: string[], dev: number, ino: number, hint = -1): FdsOnFile | null {
  const batch = batchFor(procfs, ['listFds', 'readLink', 'statUnder', 'readFdinfoLocks'])
  if (!batch) return null
  const r = batch.holderFds(pid, dev, ino, names, hint)
  return {
    listError: r.errno === 0 ? null : (ERRNO_CODES[r.errno] ?? `E${r.errno}`),
    denied: r.denied,
    locks: r.fdinfo.map(parseFdinfoLocks),
    fds: r.fds,
  }
}

/** What a result says of its process beyond status and stat: each null when it could not be read. */
export interface OutputFacts {
  pidns: string | null
  cmdline: string[] | null
  cgroup: CgroupLine[] | null
}

/**
 * /proc/PID/ns/pid, cmdline and cgroup in one native call (ProcFs.readPidnsLink, readCmdline and
 * readCgroup); null: read them one by one through `procfs`.
 */
export function outputFacts(procfs: ProcFs, pid: number): OutputFacts | null {
  const batch = batchFor(procfs, ['readPidnsLink', 'readCmdline', 'readCgroup'])
  if (!batch) return null
  const [pidns, cmdline, cgroup] = batch.readProcMany(procfs.file(pid), ['@ns/pid', 'cmdline', 'cgroup'])
  let cgroupLines: CgroupLine[] | null = null
  try {
    if (typeof cgroup === 'string') cgroupLines = parseCgroup(cgroup)
  } catch {}
  return {
    pidns: typeof pidns === 'string' ? pidns : null,
    cmdline: typeof cmdline === 'string' ? splitCmdline(cmdline) : null,
    cgroup: cgroupLines,
  }
}

/** NUL-separated arguments (ProcFs.readCmdline's split). */
export function splitCmdline(raw: string): string[] {
  const parts = raw.split('\0')
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  return parts
}
