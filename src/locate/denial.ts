/**
 * The real cause of a ptrace-access denial (/proc/PID/root, ns links, mountinfo, fd links), for
 * messages: a capability is named only when the caller lacks it. Root with CAP_SYS_PTRACE that is
 * still refused faces a protected process (a sandbox's init, a Yama or LSM policy), and is told so.
 */
import {ProcFs} from '../proc/proc-fs'

/** capability(7): CAP_SYS_PTRACE is bit 19. */
const CAP_SYS_PTRACE = 19n

/** Whether this process has CAP_SYS_PTRACE in effect (null: its status is unreadable). */
export function hasPtraceCap(procfs: ProcFs): boolean | null {
  const eff = procfs.selfCapEff()
  return eff === null ? null : ((eff >> CAP_SYS_PTRACE) & 1n) === 1n
}

/**
 * The same denial as an error line has it (ptraceDenial's words are evidence): the cause, short,
 * and what to do; null when nothing can be done from here (the process is protected).
 */
export function ptraceRefusal(procfs: ProcFs, pid: number): {why: string; advice: string | null} {
  if (hasPtraceCap(procfs) !== false) return {why: `pid ${pid} is protected even from CAP_SYS_PTRACE`, advice: null}
  return procfs.selfUid() === 0
    ? {why: 'this process is root without CAP_SYS_PTRACE', advice: 'give it CAP_SYS_PTRACE (in a container: --cap-add SYS_PTRACE)'}
    : {why: "another user's process", advice: 'run as its user, or as root with CAP_SYS_PTRACE'}
}

/** What to say after "not allowed to look into pid P's ...". */
export function ptraceDenial(procfs: ProcFs, pid: number): string {
  const cap = hasPtraceCap(procfs)
  if (cap === false) {
    return procfs.selfUid() === 0
      ? 'this process runs as root without CAP_SYS_PTRACE (e.g. in a container: --cap-add SYS_PTRACE)'
      : "another user's process: run as its user, or as root (with CAP_SYS_PTRACE)"
  }
  const who = procfs.selfUid() === 0 ? 'root with CAP_SYS_PTRACE' : 'this process, which has CAP_SYS_PTRACE,'
  return `denied to ${who}: pid ${pid} is protected (a sandbox's or container runtime's init, or a Yama/AppArmor/SELinux policy forbids access)`
}

/** proc(5)'s PROC_PID_INIT_INO: the inode of the initial PID namespace, the same on every boot. */
const INIT_PIDNS = 'pid:[4026531836]'
/** PROC_USER_INIT_INO: the initial user namespace (root in a user namespace of its own sees less). */
const INIT_USERNS = 'user:[4026531837]'

/**
 * Root with CAP_SYS_PTRACE in the initial PID and user namespaces: every process that could hold a lock is
 * visible, and its fds readable, except those the kernel protects even from root (a sandbox's init).
 * Then a lock no visible process accounts for is held through something /proc/PID/fd does not show
 * (a memory mapping, a descriptor in flight over a unix socket, a thread's private fd table, a
 * zombie leader): anyone can make one, so it is no evidence (docs/nslocate.1.md, "Who counts").
 */
export function seesEveryHolder(procfs: ProcFs): boolean {
  try {
    return (
      procfs.selfUid() === 0 &&
      hasPtraceCap(procfs) === true &&
      procfs.readPidnsLink('self') === INIT_PIDNS &&
      procfs.readLink('self', 'ns', 'user') === INIT_USERNS
    )
  } catch {
    return false
  }
}
