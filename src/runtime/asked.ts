/**
 * Whether an engine's answer is about the container (or pod) it was asked about. Docker and Podman
 * resolve a reference as a full id, a name, or a unique prefix of an id; an answer naming another
 * container (a confused engine, a proxy in between, or a socket that lies) must never decide that
 * container's state, pid or cgroup. One rule for docker.ts and podman.ts.
 */

/** A full container or pod id as Docker and Podman give it: 64 lowercase hex digits. */
export const FULL_ID = /^[0-9a-f]{64}$/

/**
 * True when an answer with `id` (a full id) and `name` is about `ref`: `ref` is its name, or its
 * id or a prefix of it. A leading `/` counts for nothing on either side (Docker writes names
 * `/app`, and resolves `/app` as `app`).
 */
export function answersRef(ref: string, id: string, name: string): boolean {
  const asked = ref.replace(/^\//, '')
  if (asked === '' || !FULL_ID.test(id)) return false
  return asked === name.replace(/^\//, '') || id.startsWith(asked)
}
