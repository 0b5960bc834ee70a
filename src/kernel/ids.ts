/**
 * Constants of the running kernel that nslocate reads once per process.
 *
 * /proc/sys/kernel/overflowuid and overflowgid (65534 by default) are what stat(2) reports, inside
 * a user namespace, for an owner not mapped into it: anyone unmapped looks like this, so it is
 * never trusted as root. Only root may change them (sysctl), and nothing does while nslocate runs.
 */
import fs = require('node:fs')

let overflow: {uid: number; gid: number} | null = null

function readId(file: string): number {
  try {
    const n = Number(fs.readFileSync(`/proc/sys/kernel/${file}`, 'utf8').trim())
    return Number.isInteger(n) ? n : 65534
  } catch {
    return 65534
  }
}

/** The overflow uid and gid, read on first use and kept for the life of the process. */
export function overflowIds(): {uid: number; gid: number} {
  overflow ??= {uid: readId('overflowuid'), gid: readId('overflowgid')}
  return overflow
}
