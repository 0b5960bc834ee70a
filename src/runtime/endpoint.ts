/**
 * Where the container engine is, read once from the environment as docker(1) and docker-modem read
 * it (DOCKER_HOST=unix://PATH or tcp://HOST:PORT; else Docker Desktop's $HOME/.docker/run/docker.sock
 * when it exists; else /var/run/docker.sock). Everything that needs the engine's address (messages,
 * the socket-trust check, the lean node:http GET, dockerode) takes it from engineEndpoint(), so
 * DOCKER_HOST is parsed in one place; another runtime's client (Podman, CRI) can reuse the shape.
 */
import type {Endpoint} from './http'
import {SYSTEM_SOCKET, SocketSource, desktopSocket} from './socket-trust'

/** Where the Docker engine is, as docker-modem would reach it. */
export interface EngineEndpoint {
  /** the engine's address as messages name it: DOCKER_HOST, else the socket docker-modem picks */
  where: string
  /** the unix socket docker-modem would use, and why; null for tcp://, ssh:// and the like */
  socket: {path: string; source: SocketSource} | null
  /**
   * where a plain HTTP GET reaches the engine exactly as docker-modem would: the default socket
   * (when there is no Desktop socket, which docker-modem prefers), unix://PATH, or tcp://HOST:PORT
   * that docker-modem would not switch to TLS (DOCKER_TLS_VERIFY=1 or port 2376). null for anything
   * else (TLS, ssh://, a path prefix, a client timeout, ...): dockerode only.
   */
  lean: Endpoint | null
}

const UNIX = 'unix://'

/** The engine's endpoint from DOCKER_HOST, else the Desktop socket, else /var/run/docker.sock. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): EngineEndpoint {
  const h = env.DOCKER_HOST
  // Unset, or unix:// without a path, which docker-modem reads as unset: the Desktop socket, if any.
  const desktop = !h || h === UNIX ? desktopSocket(env) : null
  const socket: EngineEndpoint['socket'] =
    h && h !== UNIX
      ? h.startsWith(UNIX)
        ? {path: h.slice(UNIX.length), source: 'DOCKER_HOST'}
        : null
      : desktop
        ? {path: desktop, source: 'desktop'}
        : {path: SYSTEM_SOCKET, source: 'default'}
  const where = h || `${UNIX}${desktop ?? SYSTEM_SOCKET}`
  return {where, socket, lean: leanOf(env, desktop)}
}

function leanOf(env: NodeJS.ProcessEnv, desktop: string | null): Endpoint | null {
  if (env.DOCKER_PATH_PREFIX || env.DOCKER_CLIENT_TIMEOUT || env.DOCKER_CERT_PATH || env.DOCKER_TLS_VERIFY) return null
  const h = env.DOCKER_HOST
  if (!h) return desktop ? null : {socketPath: SYSTEM_SOCKET}
  if (h.startsWith(UNIX) && h.length > UNIX.length) return {socketPath: h.slice(UNIX.length)}
  const m = /^tcp:\/\/([A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(h)
  if (!m) return null
  const port = Number(m[2])
  return port > 0 && port <= 65535 && port !== 2376 ? {host: m[1], port} : null
}
