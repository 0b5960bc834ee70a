/**
 * Waits of any length. Node's timers hold a signed 32-bit delay: setTimeout(fn, 2 ** 31) fires after
 * 1 ms (with a TimeoutOverflowWarning), which made `--retry TERM/1000h/KILL/5` send KILL at once and
 * `wait --timeout 1000h` spin. Every wait here is cut into chunks below that limit.
 */
import {waitPidfdFor} from '../native/binding'

/** The longest single timer Node honours (2^31 - 1 ms, about 24.8 days). */
export const TIMER_MAX_MS = 2 ** 31 - 1

/** Sleep ms (any size), in chunks Node's timers honour. */
export async function sleep(ms: number, chunkMs = TIMER_MAX_MS): Promise<void> {
  const end = Date.now() + ms
  for (let left = ms; left > 0; left = end - Date.now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, chunkMs)))
  }
}

/** Resolves true when the process behind the pidfd exits within ms (any size), false on timeout. */
export async function waitPidfdUpTo(fd: number, ms: number, chunkMs = TIMER_MAX_MS): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    const left = end - Date.now()
    if (await waitPidfdFor(fd, Math.max(0, Math.min(left, chunkMs)))) return true
    if (end - Date.now() <= 0) return false
  }
}
