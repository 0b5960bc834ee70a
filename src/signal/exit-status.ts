/**
 * How a process that is not our child ended: ioctl(PIDFD_GET_INFO) with PIDFD_INFO_EXIT (Linux
 * 6.15+) on a pidfd opened while it ran gives its wait(2) status once its parent has reaped it.
 * Older kernels (no PIDFD_GET_INFO, or no EXIT bit in the answer) give `unknown`.
 */
import {pidfdExited, pidfdInfo} from '../native/binding'
import {constants} from 'node:os'

/** How a process ended: its exit code, or the signal that killed it; `unknown` where the kernel keeps no status. */
export type ExitStatus = {code: number} | {signal: string; core: boolean} | 'unknown'

const NAMES = new Map(Object.entries(constants.signals).map(([k, v]) => [v as number, k.slice(3)]))

/** wait(2) status -> {code} or {signal, core} (WIFEXITED/WTERMSIG/WCOREDUMP). */
export function decodeWaitStatus(status: number): ExitStatus {
  const sig = status & 0x7f
  if (sig === 0) return {code: (status >> 8) & 0xff}
  return {signal: NAMES.get(sig) ?? String(sig), core: (status & 0x80) !== 0}
}

/**
 * null while the process runs. Between exit and reap the kernel has no status yet: wait up to
 * `graceMs` for the parent to reap it, then `unknown` (a parent that never reaps leaves a zombie).
 */
export async function exitStatusOf(pidfd: number, graceMs = 250): Promise<ExitStatus | null> {
  try {
    if (!pidfdExited(pidfd)) return null
  } catch {
    return 'unknown'
  }
  const until = Date.now() + graceMs
  for (;;) {
    let code: number | null
    try {
      const info = pidfdInfo(pidfd)
      if (info === null) return 'unknown' // before Linux 6.13: no PIDFD_GET_INFO at all
      code = info.exitCode
    } catch {
      return 'unknown' // ESRCH: reaped, and this kernel (before 6.15) keeps no exit status
    }
    if (code !== null) return decodeWaitStatus(code)
    if (Date.now() >= until) return 'unknown'
    await new Promise((r) => setTimeout(r, 5))
  }
}
