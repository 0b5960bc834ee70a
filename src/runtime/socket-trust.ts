/**
 * Which runtime socket nslocate talks to, and whether it may. A runtime's answer decides which pid
 * root signals, so a socket another user controls is refused (docs/nslocate.1.md, "Trusted sockets
 * and addons"): the socket must be owned by root or the caller, in directories that pass
 * src/path-trust.ts. A socket's own write bit only says who may connect, not who answers, so a
 * root:docker 0660 socket passes. The rule is the same for every runtime (Docker, Podman, the CRI).
 *
 * One exception, for rootless runtimes (Podman's, rootless Docker's): a socket that an environment
 * variable names explicitly (DOCKER_HOST, CONTAINER_HOST, CONTAINER_RUNTIME_ENDPOINT) and that is
 * owned, with every directory on its path, by ONE other user U (and root) is used as U's: its
 * answers are accepted only for containers whose PID namespace belongs to a user namespace U
 * created (container-target.ts checks it before anything is read or signalled), never for the
 * helper-container route. U can then steer nslocate only to processes U could signal itself. A
 * socket found implicitly (another user's HOME or XDG_RUNTIME_DIR in root's environment, as
 * `sudo -E` leaves them) is refused outright: that is an accident, not an intent.
 */
import fs = require('node:fs')
import os = require('node:os')
import path = require('node:path')

import {NslocateError, isErrno} from '../errors'
import {pinnedOnPath} from '../path-trust'

/**
 * Where a socket's path came from: an environment variable naming it (DOCKER_HOST, CONTAINER_HOST,
 * CONTAINER_RUNTIME_ENDPOINT), Docker Desktop's socket under HOME, the caller's
 * $XDG_RUNTIME_DIR/podman/podman.sock, or the runtime's default path.
 */
export type SocketSource = 'DOCKER_HOST' | 'CONTAINER_HOST' | 'CONTAINER_RUNTIME_ENDPOINT' | 'desktop' | 'XDG_RUNTIME_DIR' | 'default'

/** The sources that name a socket explicitly: only these may name another user's socket (used as that user's). */
const EXPLICIT: ReadonlySet<SocketSource> = new Set(['DOCKER_HOST', 'CONTAINER_HOST', 'CONTAINER_RUNTIME_ENDPOINT'])

/** The environment variable that names each runtime's socket (as docker, podman-remote and crictl read it). */
const VARIABLE: Record<string, string> = {Docker: 'DOCKER_HOST', Podman: 'CONTAINER_HOST', CRI: 'CONTAINER_RUNTIME_ENDPOINT'}

/** dockerd's default socket. */
export const SYSTEM_SOCKET = '/var/run/docker.sock'

/** Docker Desktop's socket, which docker-modem prefers to /var/run/docker.sock when it exists. */
export function desktopSocket(env: NodeJS.ProcessEnv): string | null {
  const p = path.join(env.HOME || os.homedir(), '.docker', 'run', 'docker.sock')
  return fs.existsSync(p) ? p : null
}

/** The verdict on a usable socket, and the socket itself. */
export interface SocketTrust {
  /** uid U when the socket is U's (an explicitly named rootless runtime's socket), else null */
  delegate: number | null
  /**
   * Where to connect: `/proc/self/fd/N`, an O_PATH descriptor of the very inode that was judged
   * (so a socket planted or swapped at the path after the check is never reached), or NO_SOCKET
   * when there was nothing to judge (the connection then fails with ENOENT, "cannot reach").
   */
  path: string
}

/**
 * A path that names no socket, ever (no process has descriptor 2^31-1): where a socket that did
 * not exist when it was checked is "connected to". Connecting to the path itself would reach
 * whatever another user creates there after the check (a missing name in /tmp is anyone's).
 */
export const NO_SOCKET = '/proc/self/fd/2147483647'

/**
 * The descriptors pinned so far: one per inode for the life of the process (a long-running `serve`
 * checks its socket again every round). Never closed: a closed descriptor's number could be reused
 * for another file while a runtime client still names it. So that a socket re-created over and over
 * (by the other user whose socket it is) cannot exhaust the descriptors of a long-running process,
 * one path pins at most MAX_PINS_PER_PATH inodes; a runtime restarts far less often than that in
 * one process's life.
 */
const pins = new Map<string, number>()
const inodesOf = new Map<string, Set<string>>()
/** The most distinct inodes one socket path is pinned for in one process. */
export const MAX_PINS_PER_PATH = 64

function pinned(socketPath: string, fd: number, runtime: string, code: 'DOCKER' | 'RUNTIME'): string {
  const st = fs.fstatSync(fd)
  const key = `${st.dev}:${st.ino}`
  const old = pins.get(key)
  if (old !== undefined) {
    fs.closeSync(fd)
    return `/proc/self/fd/${old}`
  }
  const seen = inodesOf.get(socketPath) ?? new Set<string>()
  if (seen.size >= MAX_PINS_PER_PATH) {
    fs.closeSync(fd)
    const advice = 'restart nslocate once the runtime is stable'
    throw new NslocateError(
      code,
      `the ${runtime} socket ${socketPath} was replaced ${MAX_PINS_PER_PATH} times while nslocate ran; refusing it from now on: ${advice}`,
      {
        advice,
      },
    )
  }
  seen.add(key)
  inodesOf.set(socketPath, seen)
  pins.set(key, fd)
  return `/proc/self/fd/${fd}`
}

/**
 * The socket to connect to, judged and pinned: throws (`code`, DOCKER for Docker's socket, RUNTIME
 * for the others) naming the socket, the entry that fails, its owner and what to do, when the
 * socket may not be trusted, and PERMISSION when its path may not be searched. A socket that does
 * not exist gives NO_SOCKET, whose connection reports "cannot reach" as before. `runtime` names
 * the runtime in messages ("Docker", "Podman", "CRI").
 */
export function checkSocket(
  socketPath: string,
  source: SocketSource,
  env: NodeJS.ProcessEnv = process.env,
  runtime = 'Docker',
  code: 'DOCKER' | 'RUNTIME' = runtime === 'Docker' ? 'DOCKER' : 'RUNTIME',
): SocketTrust {
  let verdict
  try {
    verdict = pinnedOnPath(socketPath, {writableLeaf: true})
  } catch (error) {
    // Nothing there to judge: nothing is connected to (a name that is missing now may be anyone's later).
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return {delegate: null, path: NO_SOCKET}
    if (isErrno(error, 'EACCES', 'EPERM')) {
      throw new NslocateError(
        'PERMISSION',
        `cannot look up the ${runtime} socket ${socketPath} (${(error as NodeJS.ErrnoException).code}): uid ${process.geteuid?.()} may not search a directory on its path; run nslocate as root or as the socket's owner`,
        {cause: error, advice: "run nslocate as root or as the socket's owner"},
      )
    }
    throw new NslocateError(code, `cannot check the ${runtime} socket ${socketPath}: ${(error as Error).message}`, {cause: error})
  }
  const bad = verdict.bad
  if (!bad) return {delegate: null, path: pinned(socketPath, verdict.fd!, runtime, code)}
  // Another user's, and only theirs (with root): usable as theirs when named explicitly.
  if (EXPLICIT.has(source) && bad.uid !== 0 && bad.why.startsWith('owned by')) {
    try {
      const theirs = pinnedOnPath(socketPath, {writableLeaf: true, caller: bad.uid})
      if (!theirs.bad) return {delegate: bad.uid, path: pinned(socketPath, theirs.fd!, runtime, code)}
    } catch {}
  }
  const which = bad.path === path.resolve(socketPath) ? '' : ` (on its path: ${bad.path})`
  const home = env.HOME || os.homedir()
  const asThem = bad.uid ? `, or run as uid ${bad.uid}` : ''
  // Another user could answer as the engine (the runtime) and choose the pid nslocate acts on. What to
  // do depends on where the socket was found: Docker Desktop's under HOME, the runtime's under
  // XDG_RUNTIME_DIR (both another user's when root was given their environment: sudo -E), the
  // system socket, or the variable that names it (`source`). The details say which, and HOME.
  const advice =
    source === 'desktop'
      ? `set DOCKER_HOST=unix://${SYSTEM_SOCKET} or use sudo without -E${asThem}`
      : source === 'XDG_RUNTIME_DIR'
        ? `keep other users' XDG_RUNTIME_DIR out of root's environment (no sudo -E)${asThem}`
        : source === 'default'
          ? `make it and its directories root's, not writable by others, or set ${VARIABLE[runtime] ?? 'DOCKER_HOST'}`
          : `point ${source} at a socket owned by root or by you${source === 'DOCKER_HOST' ? ` (unix://${SYSTEM_SOCKET})` : ''}${asThem}`
  throw new NslocateError(code, `refusing the ${runtime} socket ${socketPath}${which}: ${bad.why}; ${advice}`, {
    details: {
      socket: socketPath,
      untrusted: bad.path,
      source,
      ...(source === 'desktop' ? {home} : {}),
      ...(source === 'XDG_RUNTIME_DIR' ? {xdgRuntimeDir: env.XDG_RUNTIME_DIR} : {}),
    },
    advice,
  })
}
