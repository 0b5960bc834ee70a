/**
 * /proc/locks and the `lock:` lines of /proc/PID/fdinfo/FD (fs/locks.c, lock_get_status()).
 *   1: POSIX  ADVISORY  WRITE 18745 fd:01:1835063 0 EOF
 *   2: FLOCK  ADVISORY  WRITE 4242 00:1a:12 0 EOF
 *   3: OFDLCK ADVISORY  READ  -1 00:1a:13 0 EOF
 *   3: -> POSIX  ADVISORY  WRITE 99 00:1a:13 0 EOF      (a waiter blocked on lock 3: skipped)
 * The pid is in the PID namespace of the /proc mount; the kernel omits lines whose pid is not
 * visible there (POSIX) and prints the pid of whoever CALLED flock() (which may be dead). The device
 * is MAJOR:MINOR in hex.
 */
/** The kind column of a lock line (the pidfile's lock as locate() reports it is LockKind of src/locate/types.ts). */
export type LockLineKind = 'POSIX' | 'FLOCK' | 'OFDLCK' | 'LEASE' | 'DELEG' | 'UNKNOWN'

/** One lock line of /proc/locks or of an fdinfo file. */
export interface LockLine {
  id: number
  kind: LockLineKind
  mode: string
  access: string
  pid: number
  major: number
  minor: number
  inode: number
  start: string
  end: string
}

const KINDS = new Set(['POSIX', 'FLOCK', 'OFDLCK', 'LEASE', 'DELEG'])

/** A lock line, or null for a waiter (`->`) or anything else. */
export function parseLockLine(line: string): LockLine | null {
  const m = /^\s*(?:lock:\s*)?(\d+):\s+(?!->)(\S+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s+(\S+)\s+(\S+)/i.exec(line)
  if (!m) return null
  return {
    id: Number(m[1]),
    kind: (KINDS.has(m[2]) ? m[2] : 'UNKNOWN') as LockLineKind,
    mode: m[3],
    access: m[4],
    pid: Number(m[5]),
    major: Number.parseInt(m[6], 16),
    minor: Number.parseInt(m[7], 16),
    inode: Number(m[8]),
    start: m[9],
    end: m[10],
  }
}

/** Every lock line of a /proc/locks text. */
export function parseLocks(text: string): LockLine[] {
  const out: LockLine[] = []
  for (const line of text.split('\n')) {
    const parsed = parseLockLine(line)
    if (parsed) out.push(parsed)
  }
  return out
}

/** The `lock:` lines of an fdinfo file: present only on fds that hold (or share) the lock. */
export function parseFdinfoLocks(text: string): LockLine[] {
  return parseLocks(
    text
      .split('\n')
      .filter((l) => l.startsWith('lock:'))
      .join('\n'),
  )
}

/** glibc's dev_t encoding, as Node's fs.Stats.dev carries it. */
export function devMajor(dev: number | bigint): number {
  const d = BigInt(dev)
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn))
}

/** glibc's dev_t encoding: the minor number. */
export function devMinor(dev: number | bigint): number {
  const d = BigInt(dev)
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn))
}

/** Whether a lock line is about the file with this device and inode. */
export function sameFile(line: LockLine, dev: number | bigint, ino: number | bigint): boolean {
  return line.major === devMajor(dev) && line.minor === devMinor(dev) && BigInt(line.inode) === BigInt(ino)
}
