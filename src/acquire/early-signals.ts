/**
 * `nslocate run`'s signal handling before supervise() takes over: a forwarded signal (TERM, INT,
 * ...) that arrives while the pidfile is being taken is noted instead of killing run with its
 * pidfile left behind (Node's default action). run then releases the file and exits INTERRUPTED.
 */
import {FORWARDED} from './forward'

/** What catchEarlySignals() noted, and how to stop noting. */
export interface EarlySignals {
  /** the first signal noted, e.g. "SIGTERM", or null */
  readonly signal: string | null
  /** remove the handlers (idempotent); call once supervise() has installed its own */
  stop(): void
}

/** Notes the first FORWARDED signal instead of dying of it, until stop() is called. */
export function catchEarlySignals(): EarlySignals {
  const handlers = new Map<string, () => void>()
  const state: {signal: string | null; stop(): void} = {
    signal: null,
    stop() {
      for (const [sig, h] of handlers) process.removeListener(sig, h)
      handlers.clear()
    },
  }
  for (const sig of FORWARDED) {
    const h = () => {
      state.signal ??= sig
    }
    handlers.set(sig, h)
    process.on(sig, h)
  }
  return state
}
