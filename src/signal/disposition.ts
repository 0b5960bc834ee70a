/**
 * What a signal will do to its target, read before sending: whether the target catches it, ignores
 * it, blocks it, leaves it at the default action, or is the init of a PID namespace for which the
 * kernel drops it (pid_namespaces(7); kernel/signal.c sig_task_ignored(): SIGNAL_UNKILLABLE with
 * SIG_DFL, unless KILL/STOP forced from an ancestor namespace). `pidfd_send_signal` returns 0 in
 * every one of these cases, so without this a caller hears "sent" for a signal that never acts.
 *
 * /proc/PID/status (proc(5)), hex masks, bit N-1 = signal N:
 *   SigBlk: 0000000000000000    (the thread's blocked set; per thread, in task/TID/status)
 *   SigIgn: 0000000000001000    (SIG_IGN; process-wide)
 *   SigCgt: 0000000180004002    (a handler is installed; process-wide)
 */
import fs = require('node:fs')

import {ProcFs, readProcText} from '../proc/proc-fs'

/** What a signal does to a target: caught by a handler, its default action, ignored, blocked (queued), or dropped by the kernel. */
export type Disposition = 'handled' | 'default' | 'ignored' | 'blocked' | 'dropped'
/** signal(7)'s default actions; CONT's is to continue a stopped process. */
export type DefaultAction = 'terminate' | 'core' | 'stop' | 'ignore' | 'continue'

/** One target's disposition of one signal, read from /proc/PID/status before sending. */
export interface TargetDisposition {
  pid: number
  signal: string
  disposition: Disposition
  /** with `default` (and `dropped`/`blocked` with no handler): what SIG_DFL does */
  defaultAction: DefaultAction | null
  /** the target catches this signal (SigCgt) */
  handler: boolean
  /** pid 1 of its own PID namespace */
  namespaceInit: boolean
  /** where nslocate sends from, relative to the target's PID namespace */
  sender: 'ancestor' | 'same_namespace' | null
  /** true when the signal will do nothing (dropped, ignored, or a default action of ignore) */
  noEffect: boolean
  /** one sentence for people */
  note: string
}

/** The signal masks of /proc/PID/status: SigBlk, SigIgn and SigCgt, bit N-1 for signal N. */
export interface SigMasks {
  blocked: bigint
  ignored: bigint
  caught: bigint
}

/** The Sig* masks of a /proc/PID/status text; null when a line is missing (not a status file). */
export function parseSigMasks(text: string): SigMasks | null {
  const hex = (key: string) => {
    const m = new RegExp(`^${key}:\\s*([0-9a-fA-F]+)\\s*$`, 'm').exec(text)
    return m ? BigInt(`0x${m[1]}`) : null
  }
  const blocked = hex('SigBlk')
  const ignored = hex('SigIgn')
  const caught = hex('SigCgt')
  if (blocked === null || ignored === null || caught === null) return null
  return {blocked, ignored, caught}
}

const has = (mask: bigint, sig: number) => ((mask >> BigInt(sig - 1)) & 1n) === 1n

/** signal(7) "Standard signals"; real-time signals (32+) terminate by default. */
export function defaultAction(sig: number): DefaultAction {
  if ([3, 4, 5, 6, 7, 8, 11, 24, 25, 31].includes(sig)) return 'core' // QUIT ILL TRAP ABRT BUS FPE SEGV XCPU XFSZ SYS
  if ([19, 20, 21, 22].includes(sig)) return 'stop' // STOP TSTP TTIN TTOU
  if ([17, 23, 28].includes(sig)) return 'ignore' // CHLD URG WINCH
  if (sig === 18) return 'continue'
  return 'terminate'
}

/**
 * The pure decision, in the kernel's order: KILL/STOP cannot be caught, blocked or ignored, and are
 * dropped only for an init signalled from inside its namespace; a signal blocked in every thread
 * stays pending; SIG_IGN discards it; an init without a handler drops it; else handler or default.
 */
export function decide(
  sig: number,
  masks: SigMasks,
  allThreadsBlock: boolean,
  init: boolean,
  sender: 'ancestor' | 'same_namespace' | null,
  pid: number,
  name: string,
): TargetDisposition {
  const base = {pid, signal: name, handler: has(masks.caught, sig), namespaceInit: init, sender, defaultAction: null as DefaultAction | null}
  const make = (disposition: Disposition, note: string, noEffect: boolean, action: DefaultAction | null = null): TargetDisposition => ({
    ...base,
    disposition,
    defaultAction: action,
    noEffect,
    note,
  })
  const action = defaultAction(sig)
  if (sig === 9 || sig === 19) {
    if (init && sender !== 'ancestor')
      return make('dropped', `${name} is dropped by the kernel for pid 1 of its namespace when sent from inside that namespace`, true, action)
    return make('default', `${name} cannot be caught: it will ${action}`, false, action)
  }
  if (allThreadsBlock) {
    const ignored = has(masks.ignored, sig)
    // A blocked signal is never discarded on sending, even under SIG_IGN (kernel/signal.c sig_ignored()):
    // it stays pending, and sigwaitinfo(2)/signalfd(2) take it as it is. Only unblocking it later
    // under SIG_IGN (or as an init without a handler) would drop it, so it is not called ineffective.
    const later = base.handler
      ? 'its handler runs once it is unblocked'
      : ignored
        ? 'sigwaitinfo(2) or signalfd(2) can take it; unblocked under SIG_IGN it would be discarded'
        : init
          ? 'sigwaitinfo(2) or signalfd(2) can take it; unblocked it would be dropped (pid 1 of its namespace without a handler)'
          : `then ${action}`
    return make('blocked', `${name} is blocked by pid ${pid}: it stays pending; ${later}`, false, base.handler || ignored ? null : action)
  }
  if (has(masks.ignored, sig)) return make('ignored', `${name} is ignored by pid ${pid} (SIG_IGN): the kernel discards it`, true)
  if (base.handler) return make('handled', `pid ${pid} has a ${name} handler`, false)
  if (init) return make('dropped', `${name} is dropped by the kernel for pid 1 of its namespace without a handler`, true, action)
  return make('default', `pid ${pid} has no ${name} handler: the default action is to ${action}`, action === 'ignore', action)
}

/** Reads the target's masks and namespace position; null when it cannot be read (gone, no permission). */
export function readDisposition(pid: number, nspid: number[], sig: {name: string; number: number}, procfs: ProcFs): TargetDisposition | null {
  if (sig.number === 0) return null
  let text: string
  try {
    text = readProcText(procfs.file(pid, 'status'), true)
  } catch {
    return null
  }
  const masks = parseSigMasks(text)
  if (!masks) return null
  const init = nspid.length > 0 && nspid[nspid.length - 1] === 1
  // A thread inside sigwaitinfo()/sigtimedwait() has its wait set unblocked in SigBlk but kept in
  // real_blocked, which sig_ignored() honours: the signal is taken there, as if blocked.
  const blocked = (has(masks.blocked, sig.number) && everyThreadBlocks(pid, sig.number, procfs)) || inSigwait(pid, procfs)
  return decide(sig.number, masks, blocked, init, init ? senderOf(pid, nspid, procfs) : null, pid, sig.name)
}

/**
 * Whether some thread of pid satisfies `test` (a thread that cannot be read is skipped); `unreadable`
 * when the thread list itself cannot be read.
 */
function someThread(pid: number, procfs: ProcFs, test: (tid: string) => boolean, unreadable: boolean): boolean {
  let tids: string[]
  try {
    tids = fs.readdirSync(procfs.file(pid, 'task'))
  } catch {
    return unreadable
  }
  return tids.some((tid) => {
    try {
      return test(tid)
    } catch {
      return false
    }
  })
}

/** Some thread of pid sleeps in rt_sigtimedwait(2) (its wchan is do_sigtimedwait). */
function inSigwait(pid: number, procfs: ProcFs): boolean {
  return someThread(pid, procfs, (tid) => fs.readFileSync(procfs.file(pid, 'task', tid, 'wchan'), 'latin1').startsWith('do_sigtimedwait'), false)
}

/** A process-directed signal goes to any thread that does not block it. */
function everyThreadBlocks(pid: number, sig: number, procfs: ProcFs): boolean {
  return !someThread(
    pid,
    procfs,
    (tid) => {
      const m = parseSigMasks(readProcText(procfs.file(pid, 'task', tid, 'status'), true))
      return m !== null && !has(m.blocked, sig)
    },
    false,
  )
}

/**
 * Is nslocate in an ancestor of the target's namespace, or in that namespace itself? The ns links
 * answer when readable; else NSpid does: more than one column means we see it from above.
 */
function senderOf(pid: number, nspid: number[], procfs: ProcFs): 'ancestor' | 'same_namespace' {
  try {
    return procfs.readPidnsLink(pid) === fs.readlinkSync('/proc/self/ns/pid') ? 'same_namespace' : 'ancestor'
  } catch {
    return nspid.length > 1 ? 'ancestor' : 'same_namespace'
  }
}
