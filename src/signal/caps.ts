/**
 * What to tell a caller the kernel refused. A capability is named only when the caller lacks it
 * (CapEff of /proc/self/status); a caller that has it is facing a protected process instead.
 */
import fs = require('node:fs')

/** The capability number of CAP_KILL. */
export const CAP_KILL = 5
/** The capability number of CAP_SYS_PTRACE. */
export const CAP_SYS_PTRACE = 19

/** Whether capability `cap` is in CapEff of /proc/self/status (or of `statusText`); false when it cannot be read. */
export function hasCap(cap: number, statusText?: string): boolean {
  try {
    const text = statusText ?? fs.readFileSync('/proc/self/status', 'utf8')
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)
    return m ? ((BigInt(`0x${m[1]}`) >> BigInt(cap)) & 1n) === 1n : false
  } catch {
    return false
  }
}

/** Why the kernel said no, and what to do about it (null: nothing nslocate's caller can do). */
export interface Denial {
  why: string
  advice: string | null
}

const sentence = (d: Denial) => (d.advice === null ? d.why : `${d.why}: ${d.advice}`)

/** Why signalling was not permitted, and what to do. */
export function killDenial(has = hasCap(CAP_KILL)): Denial {
  return has
    ? {
        // (by a security module such as AppArmor or SELinux, or in a user namespace where nslocate has no privilege: DIAGNOSTICS)
        why: 'protected even from CAP_KILL',
        advice: null,
      }
    : {why: 'needs its uid or CAP_KILL', advice: 'run as that user or as root'}
}

/** The end of "not permitted to signal PIDS (...)", in one sentence. */
export function killDenied(has = hasCap(CAP_KILL)): string {
  return sentence(killDenial(has))
}

/** Why the lock holder could not be named, and what to do. */
export function ptraceDenial(has = hasCap(CAP_SYS_PTRACE)): Denial {
  return has
    ? {
        // (e.g. a sandbox's init, or guarded by a security module: DIAGNOSTICS)
        why: 'protected even from CAP_SYS_PTRACE',
        advice: null,
      }
    : {why: "may not read other processes' fds", advice: 'run as root or with CAP_SYS_PTRACE'}
}

/** The end of "cannot name its lock holder (...)", in one sentence. */
export function ptraceDenied(has = hasCap(CAP_SYS_PTRACE)): string {
  return sentence(ptraceDenial(has))
}
