/**
 * Which Docker socket nslocate talks to, and whether it may. An engine's answer decides which pid
 * root signals, so a socket another user controls is refused (docs/nslocate.1.md, NOTES, "Trusted
 * sockets and addons"): the socket must be owned by root or the caller, in directories that pass
 * src/path-trust.ts. A socket's own write bit only says who may connect, not who answers, so a
 * root:docker 0660 socket passes.
 *
 * The socket is, as docker(1) and docker-modem choose it: DOCKER_HOST=unix://PATH; else Docker
 * Desktop's $HOME/.docker/run/docker.sock when it exists; else /var/run/docker.sock.
 */
import fs = require('node:fs')
import os = require('node:os')
import path = require('node:path')

import {NslocateError, isErrno} from '../errors'
import {untrustedOnPath} from '../path-trust'

/** Where the engine's socket path came from: DOCKER_HOST, the Docker Desktop socket, or the default. */
export type SocketSource = 'DOCKER_HOST' | 'desktop' | 'default'

/** dockerd's default socket. */
export const SYSTEM_SOCKET = '/var/run/docker.sock'

/** Docker Desktop's socket, which docker-modem prefers to /var/run/docker.sock when it exists. */
export function desktopSocket(env: NodeJS.ProcessEnv): string | null {
  const p = path.join(env.HOME || os.homedir(), '.docker', 'run', 'docker.sock')
  return fs.existsSync(p) ? p : null
}

/**
 * Throws DOCKER naming the socket, the entry that fails, its owner and what to do, when
 * the socket may not be trusted. A socket that does not exist, or that the caller may not reach,
 * is left to the connection, which then reports "cannot reach" or "permission denied" as before.
 */
export function checkSocket(socketPath: string, source: SocketSource, env: NodeJS.ProcessEnv = process.env): void {
  let bad
  try {
    bad = untrustedOnPath(socketPath, {writableLeaf: true})
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'EACCES', 'EPERM', 'ENOTDIR')) return
    throw new NslocateError('DOCKER', `cannot check the Docker socket ${socketPath}: ${(error as Error).message}`, {cause: error})
  }
  if (!bad) return
  const which = bad.path === path.resolve(socketPath) ? '' : ` (on its path: ${bad.path})`
  const chosen =
    source === 'DOCKER_HOST'
      ? `DOCKER_HOST=${env.DOCKER_HOST} names it`
      : source === 'desktop'
        ? `it is Docker Desktop's socket under HOME=${env.HOME || os.homedir()}`
        : 'it is the system socket'
  const todo =
    source === 'DOCKER_HOST'
      ? `point DOCKER_HOST at a socket owned by root or by you (e.g. unix://${SYSTEM_SOCKET})${bad.uid ? `, or run nslocate as uid ${bad.uid}` : ''}`
      : source === 'desktop'
        ? `set DOCKER_HOST=unix://${SYSTEM_SOCKET} to use the system engine, or keep another user's HOME out of root's environment (sudo without -E)${bad.uid ? `, or run nslocate as uid ${bad.uid}` : ''}`
        : `make it and its directories owned by root and not writable by others, or set DOCKER_HOST to the engine's socket`
  throw new NslocateError(
    'DOCKER',
    `refusing the Docker socket ${socketPath}${which}: ${bad.why}; another user could answer as the engine and choose the pid nslocate acts on. ${chosen}: ${todo}`,
  )
}
