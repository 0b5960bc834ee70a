/**
 * --root-pid and --container name a target: the answer must be a process of the target's PID
 * namespace or of one nested in it. A lock holder or candidate anywhere else (a host service whose
 * pidfile an unprivileged user's sandbox exposed under its /run, or a lying engine's State.Pid) is
 * refused: state unknown, reason `outside_target_namespace`, nothing signalled.
 *   inside   the process is visible in the target's PID namespace (NS_GET_PID_IN_PIDNS; on kernels
 *            before 6.11: the same namespace, or a deeper one under an ancestor in it), and,
 *            when the target shares the caller's PID namespace and only lends its mount namespace
 *            (a sandbox's unshare process), the process is also in that mount namespace.
 */
import {NS_TRANSLATE_UNSUPPORTED} from '../native/binding'
import {ProcFs} from '../proc/proc-fs'
import {clearIds} from './by-id'
import type {Located} from './types'

function nsLink(procfs: ProcFs, pid: number | 'self', kind: 'pid' | 'mnt'): string | null {
  try {
    return procfs.readLink(pid, 'ns', kind)
  } catch {
    return null
  }
}

/** Why pid is not inside rootPid's PID namespace (or its descendants), or null when it is. */
export function outsideTarget(pid: number, rootPid: number, procfs: ProcFs): string | null {
  const rootNs = nsLink(procfs, rootPid, 'pid')
  const ns = nsLink(procfs, pid, 'pid')
  if (!rootNs || !ns) return `the PID namespace of pid ${ns ? rootPid : pid} cannot be read`
  let visible = ns === rootNs
  if (!visible) {
    const r = procfs.pidInPidns(rootPid, pid)
    visible = r === NS_TRANSLATE_UNSUPPORTED ? underAncestorIn(pid, rootNs, procfs) : r !== null
  }
  if (!visible) return `pid ${pid} (${ns}) is outside the target's PID namespace ${rootNs} (of pid ${rootPid}) and those nested in it`
  // A target in our own PID namespace only lends its mount namespace: the answer must live there too.
  const selfNs = nsLink(procfs, 'self', 'pid')
  const rootMnt = nsLink(procfs, rootPid, 'mnt')
  if (ns === rootNs && rootNs === selfNs && rootMnt !== nsLink(procfs, 'self', 'mnt') && nsLink(procfs, pid, 'mnt') !== rootMnt) {
    return `pid ${pid} shares the PID namespace ${rootNs} with the target pid ${rootPid} (which is also nslocate's), but not its mount namespace ${rootMnt}`
  }
  return null
}

/** Fallback without the nsfs ioctl: some ancestor (by parent pid) of pid is in rootNs. */
function underAncestorIn(pid: number, rootNs: string, procfs: ProcFs): boolean {
  let p = pid
  for (let i = 0; i < 256 && p > 1; i++) {
    try {
      p = procfs.readStat(p).ppid
    } catch {
      return false
    }
    if (nsLink(procfs, p, 'pid') === rootNs) return true
  }
  return false
}

/** The hook of locate: with --root-pid, refuse an answer outside the target's PID namespace. */
export function confine(located: Located, rootPid: number, procfs: ProcFs): void {
  const t = located.result
  const pids = [...new Set([t.pid, t.holder, located.main?.pid, located.holder?.pid].filter((p): p is number => typeof p === 'number' && p > 0))]
  const why = pids.map((p) => outsideTarget(p, rootPid, procfs)).find((w) => w !== null)
  if (!why) return
  t.state = 'unknown'
  t.reasons.push('outside_target_namespace')
  t.evidence.push(`refused: ${why}; nothing outside the target is ever the answer`)
  Object.assign(t, {pid: null, holder: null, nspid: [], process: null, container: null})
  clearIds(t)
  located.main = null
  located.holder = null
}
