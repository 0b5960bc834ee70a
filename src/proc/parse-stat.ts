/**
 * /proc/PID/stat (proc(5)): `PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS ... STARTTIME ...`.
 * COMM may contain spaces and parentheses, so fields are counted from the LAST ')'.
 * Sample: `18745 (nginx) S 18720 18745 18745 0 -1 4194560 ... 1234567 ...`
 */
export interface ProcStat {
  pid: number
  comm: string
  state: string
  ppid: number
  pgrp: number
  session: number
  flags: number
  /** clock ticks after boot (field 22) */
  starttime: number
}

/** PF_KTHREAD (include/linux/sched.h): the process is a kernel thread. */
export const PF_KTHREAD = 0x00200000

/** /proc/PID/stat, parsed (the comm may hold spaces and parentheses). */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) throw new Error('not a /proc/PID/stat text: no (comm)')
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ')
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const f = (n: number) => Number(rest[n - 3])
  const stat = {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: f(4),
    pgrp: f(5),
    session: f(6),
    flags: f(9),
    starttime: f(22),
  }
  if (!Number.isInteger(stat.pid) || !Number.isFinite(stat.starttime)) throw new Error('not a /proc/PID/stat text: short line')
  return stat
}

/** Whether the process is a kernel thread (PF_KTHREAD). */
export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0
}
