/**
 * The real cause of a ptrace-access denial (/proc/PID/root, ns links, mountinfo, fd links), for
 * messages: a capability is named only when the caller lacks it. Root with CAP_SYS_PTRACE that is
 * still refused faces a protected process (a sandbox's init, a Yama or LSM policy), and is told so.
 */
import {ProcFs} from '../proc/proc-fs'

/** capability(7): CAP_SYS_PTRACE is bit 19. */
const CAP_SYS_PTRACE = 19n

export function hasPtraceCap(procfs: ProcFs): boolean | null {
  const eff = procfs.selfCapEff()
  return eff === null ? null : ((eff >> CAP_SYS_PTRACE) & 1n) === 1n
}

/** What to say after "not allowed to look into pid P's ...". */
export function ptraceDenial(procfs: ProcFs, pid: number): string {
  const cap = hasPtraceCap(procfs)
  if (cap === false) {
    return procfs.selfUid() === 0
      ? 'this process runs as root without CAP_SYS_PTRACE (e.g. in a container: --cap-add SYS_PTRACE)'
      : 'another user\'s process: run as its user, or as root (with CAP_SYS_PTRACE)'
  }
  const who = procfs.selfUid() === 0 ? 'root with CAP_SYS_PTRACE' : 'this process, which has CAP_SYS_PTRACE,'
  return `denied to ${who}: pid ${pid} is protected (a sandbox's or container runtime's init, or a Yama/AppArmor/SELinux policy forbids access)`
}
