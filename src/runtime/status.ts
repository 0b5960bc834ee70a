/**
 * A container's state word as Docker and Podman report it (State.Status). It is shown in messages
 * root reads ("container app (2980d2e6154c) is not running (exited)"), and an engine's text is not
 * nslocate's: only the words the engines use are taken; anything else (other words, punctuation,
 * control characters, advice) is UNKNOWN_STATUS, so no other text of an engine's reaches a message
 * through it. One definition, used by docker.ts, podman.ts and down.ts.
 */

/** The state words of Docker (created, running, paused, restarting, removing, exited, dead) and Podman (those, and configured, initialized, stopping, stopped, unknown). */
const WORDS: ReadonlySet<string> = new Set([
  'configured',
  'created',
  'dead',
  'exited',
  'initialized',
  'paused',
  'removing',
  'restarting',
  'running',
  'stopped',
  'stopping',
  'unknown',
])

/** What a status that is not one of the engines' words is shown as. */
export const UNKNOWN_STATUS = 'unknown status'

/** `raw` when it is one of the engines' state words (lowercase letters only), '' when absent or empty, else UNKNOWN_STATUS. */
export function statusWord(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return ''
  return typeof raw === 'string' && /^[a-z]+$/.test(raw) && WORDS.has(raw) ? raw : UNKNOWN_STATUS
}
