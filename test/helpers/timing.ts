/** Waiting with a bound: every wait in the helpers has a timeout. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Reject with "timed out after N ms waiting for WHAT" unless `p` settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/**
 * What `read()` returns once `ready` accepts it, read again `settleMs` later: for "X has happened,
 * and nothing more". A process that was signalled, or told to write, runs when the scheduler lets
 * it: on a loaded machine that can take far longer than a fixed sleep, so the first part polls
 * (every 10 ms, up to `timeoutMs`). The settle keeps the other part, that nothing else came (a
 * second signal, one to the wrong process), as strict as the fixed sleep it replaces. After
 * `timeoutMs` the last value is returned as it is, for the caller's assertion to show.
 */
export async function settled<T>(read: () => T, ready: (value: T) => boolean, opts: {settleMs?: number; timeoutMs?: number} = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
  while (!ready(read()) && Date.now() < deadline) await sleep(10)
  await sleep(opts.settleMs ?? 200)
  return read()
}
