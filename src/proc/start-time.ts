/**
 * A process's start time as nslocate reports it (`process.started`): the kernel's boot instant
 * from /proc/stat `btime` plus the process's start tick, /proc/PID/stat field 22 (`starttime`,
 * clock ticks since boot). procps computes `ps -o lstart` the same way. Both numbers are integers
 * the kernel keeps, so the result is the same on every call and in every process, until the wall
 * clock is stepped (the kernel's boot instant moves with it). btime is whole seconds, truncated
 * (fs/proc/stat.c: `boottime.tv_sec`), so the result is up to 1 s earlier than the true start.
 *
 * The comparisons with a pidfile's mtime (identity, pid reuse) need the boot instant to the 10 ms
 * and use ProcFs.bootTimeMs() (from /proc/uptime) instead; it is sampled, so it varies by a few ms
 * from call to call, which is why it is never what is printed.
 */

/** USER_HZ: fixed at 100 on every Linux architecture nslocate runs on (x86, arm64): proc(5) starttime unit. */
export const CLOCK_TICKS = 100

/**
 * `btime` of /proc/stat's text, in seconds since the epoch; null when there is no such line.
 * proc(5): "btime 1769999999   boot time, in seconds since the Epoch".
 */
export function parseBtime(text: string): number | null {
  const m = /^btime[ \t]+(\d+)[ \t]*$/m.exec(text)
  if (!m) return null
  const n = Number(m[1])
  return Number.isSafeInteger(n) ? n : null
}

/** The start instant, ms since the epoch, of a process started `starttime` clock ticks after a boot at `bootMs`. */
export function startedMs(bootMs: number, starttime: number, hz: number = CLOCK_TICKS): number {
  // Whole ticks (10 ms at USER_HZ 100) in integer ms: no floating-point residue in the printed time.
  return bootMs + Math.round((starttime * 1000) / hz)
}

/** startedMs() as printed: an ISO 8601 instant in UTC, with ms (`2026-12-01T10:00:12.340Z`). */
export function startedIso(bootMs: number, starttime: number, hz: number = CLOCK_TICKS): string {
  return new Date(startedMs(bootMs, starttime, hz)).toISOString()
}
