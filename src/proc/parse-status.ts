/**
 * /proc/PID/status (proc(5)). The lines we use:
 *   Name:   nginx
 *   Tgid:   18745          PPid:   18720
 *   Uid:    0       0       0       0        (real, effective, saved, filesystem)
 *   Groups: 4 27                              (supplementary groups)
 *   NStgid: 18745   1      NSpid:  18745   1      NSpgid: 18745   1      NSsid:  18745   1
 * The NS* lines list the id from the pid namespace of the /proc mount down to the process's own
 * namespace: the LAST column is what getpid() returns inside (what a pidfile contains). A 0 in
 * NSpgid/NSsid means the leader is not visible at that level.
 */
export interface ProcStatus {
  name: string
  tgid: number
  pid: number
  ppid: number
  uid: number[]
  gid: number[]
  /** supplementary groups (Groups:) */
  groups: number[]
  nstgid: number[]
  nspid: number[]
  nspgid: number[]
  nssid: number[]
}

function ints(value: string | undefined): number[] {
  if (!value) return []
  return value
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n))
}

/** The lines parseStatus uses; they all come near the top, so parsing stops once they are seen. */
const WANTED = new Set(['Name', 'Tgid', 'Pid', 'PPid', 'Uid', 'Gid', 'Groups', 'NStgid', 'NSpid', 'NSpgid', 'NSsid'])

/** /proc/PID/status, parsed (the fields locate() reads). */
export function parseStatus(text: string): ProcStatus {
  const fields = new Map<string, string>()
  let at = 0
  while (at < text.length && fields.size < WANTED.size) {
    let end = text.indexOf('\n', at)
    if (end < 0) end = text.length
    const colon = text.indexOf(':', at)
    if (colon > at && colon < end) {
      const key = text.slice(at, colon)
      if (WANTED.has(key)) fields.set(key, text.slice(colon + 1, end))
    }
    at = end + 1
  }
  const one = (k: string) => {
    const v = ints(fields.get(k))[0]
    return v === undefined ? -1 : v
  }
  const pid = one('Pid')
  const tgid = one('Tgid')
  if (pid < 0 || tgid < 0) throw new Error('not a /proc/PID/status text: no Pid/Tgid line')
  // Name is tab-separated and may contain spaces; the kernel escapes \n as "\\n".
  const name = (fields.get('Name') ?? '').replace(/^\t/, '').replace(/\\n/g, '\n')
  return {
    name,
    tgid,
    pid,
    ppid: one('PPid'),
    uid: ints(fields.get('Uid')),
    gid: ints(fields.get('Gid')),
    groups: ints(fields.get('Groups')),
    // Kernels before 4.1 have no NS* lines: then the process is seen only at our level.
    nstgid: fields.has('NStgid') ? ints(fields.get('NStgid')) : [tgid],
    nspid: fields.has('NSpid') ? ints(fields.get('NSpid')) : [pid],
    nspgid: ints(fields.get('NSpgid')),
    nssid: ints(fields.get('NSsid')),
  }
}
