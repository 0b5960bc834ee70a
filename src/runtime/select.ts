/**
 * Which runtime answers for a container (issue 19): `--runtime KIND`, a `KIND://REF` reference, or
 * auto-detection over the sockets below, in this order (the first that exists, answers, and knows
 * the container wins, except that another user's socket is asked after all others: resolve.ts; the
 * order is documented in nslocate(1), ENVIRONMENT and CONTAINERS):
 *
 *   1. DOCKER_HOST                          docker  (docker-modem's reading: endpoint.ts)
 *   2. CONTAINER_HOST                       podman  (unix:// only, as podman-remote reads it)
 *   3. CONTAINER_RUNTIME_ENDPOINT           cri     (crictl's variable: unix://PATH or PATH)
 *   4. Docker Desktop's ~/.docker/run/docker.sock, else /var/run/docker.sock   (unless DOCKER_HOST)
 *   5. /run/podman/podman.sock                                                 (unless CONTAINER_HOST)
 *   6. $XDG_RUNTIME_DIR/podman/podman.sock (rootless Podman)                   (unless CONTAINER_HOST)
 *   7. /run/containerd/containerd.sock, 8. /run/k3s/containerd/containerd.sock,
 *   9. /run/crio/crio.sock                                       (unless CONTAINER_RUNTIME_ENDPOINT)
 *
 * A socket named by a variable is always asked; a default one only when it exists. Every socket
 * passes the same trust rule before it is connected to (socket-trust.ts). Where a containerd CRI
 * socket cannot be used (missing, permission denied, refusing connections) and its state
 * directory (the socket's directory, as /run/containerd is laid out) exists, containerd's own
 * state is read instead (containerd-state.ts): the daemonless path of a node agent. Which answers
 * count for one container: resolve.ts.
 */
import fs = require('node:fs')
import net = require('node:net')
import path = require('node:path')

import {NslocateError} from '../errors'
import {engineEndpoint} from './endpoint'
import {dockerLimits} from './http'
import {NO_SOCKET, SocketSource, checkSocket} from './socket-trust'
import type {ContainerSpec} from './spec'
import {ContainerRuntime, ContainerSelector, PodRef, RUNTIME_KINDS, RuntimeKind} from './types'

export type {ContainerSpec}

/** A socket nslocate may ask, and why. */
export interface RuntimeSocket {
  kind: RuntimeKind
  /** the unix socket; null for a DOCKER_HOST that is not unix:// (tcp://, ssh://: dockerode's) */
  path: string | null
  source: SocketSource
  /** the address as messages name it (unix:///run/podman/podman.sock) */
  where: string
}

/** A runtime client, opened on a checked socket. */
export interface OpenedRuntime {
  runtime: ContainerRuntime
  /** where the client connects: the checked socket pinned (/proc/self/fd/N, socket-trust.ts), null for tcp:// */
  socketPath: string | null
  /** the other user whose socket this is (its answers hold for that user's containers only), else null */
  delegate: number | null
  source: SocketSource | 'state'
  /** the uid that owns the socket (or containerd's state directory); null for tcp:// or a socket that was not there */
  owner: number | null
}

/** The runtime's name as messages write it. */
export const RUNTIME_NAMES: Record<RuntimeKind, string> = {docker: 'Docker', podman: 'Podman', cri: 'CRI'}

const UNIX = 'unix://'
/** containerd's runtime v2 task directory, under its state directory. */
const TASKS = 'io.containerd.runtime.v2.task'
const CRI_DEFAULTS = ['/run/containerd/containerd.sock', '/run/k3s/containerd/containerd.sock', '/run/crio/crio.sock']

/** The sockets to ask, in the documented order; `only` keeps one runtime's. Throws USAGE on an unusable CONTAINER_HOST or CONTAINER_RUNTIME_ENDPOINT. */
export function runtimeSockets(env: NodeJS.ProcessEnv = process.env, only?: RuntimeKind): RuntimeSocket[] {
  const out: RuntimeSocket[] = []
  const add = (s: RuntimeSocket) => {
    if (!only || s.kind === only) out.push(s)
  }
  const docker = (): RuntimeSocket => {
    const e = engineEndpoint(env)
    return {kind: 'docker', path: e.socket?.path ?? null, source: e.socket?.source ?? 'DOCKER_HOST', where: e.where}
  }
  if (env.DOCKER_HOST && env.DOCKER_HOST !== UNIX) add(docker())
  if (env.CONTAINER_HOST) add({kind: 'podman', path: unixPath('CONTAINER_HOST', env.CONTAINER_HOST), source: 'CONTAINER_HOST', where: env.CONTAINER_HOST})
  if (env.CONTAINER_RUNTIME_ENDPOINT) {
    const p = unixPath('CONTAINER_RUNTIME_ENDPOINT', env.CONTAINER_RUNTIME_ENDPOINT, true)
    add({kind: 'cri', path: p, source: 'CONTAINER_RUNTIME_ENDPOINT', where: `${UNIX}${p}`})
  }
  const exists = (p: string) => {
    try {
      const st = fs.lstatSync(p)
      return st.isSocket() || st.isSymbolicLink()
    } catch {
      return false
    }
  }
  if (!env.DOCKER_HOST || env.DOCKER_HOST === UNIX) {
    const d = docker()
    // Asked when it exists, or when Docker is the runtime asked for (its "cannot reach" is the answer then).
    if (only === 'docker' || (d.path !== null && exists(d.path))) add(d)
  }
  if (!env.CONTAINER_HOST) {
    const rootless = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : null
    const found = ['/run/podman/podman.sock', ...(rootless ? [rootless] : [])].filter(exists)
    for (const p of found) add({kind: 'podman', path: p, source: p === rootless ? 'XDG_RUNTIME_DIR' : 'default', where: `${UNIX}${p}`})
    if (only === 'podman' && found.length === 0)
      add({kind: 'podman', path: '/run/podman/podman.sock', source: 'default', where: `${UNIX}/run/podman/podman.sock`})
  }
  if (!env.CONTAINER_RUNTIME_ENDPOINT) {
    // A CRI socket that does not exist is still worth a look when its state directory does (daemonless).
    for (const p of CRI_DEFAULTS) {
      if (exists(p) || (p.includes('containerd') && fs.existsSync(path.join(stateDirOf(p), TASKS))))
        add({kind: 'cri', path: p, source: 'default', where: `${UNIX}${p}`})
    }
  }
  return out
}

/** unix://PATH (or, where `bare`, PATH) -> PATH; anything else is a usage error naming the variable. */
function unixPath(variable: string, value: string, bare = false): string {
  if (value.startsWith(UNIX) && value.length > UNIX.length) return value.slice(UNIX.length)
  if (bare && value.startsWith('/')) return value
  const advice = 'use unix:///path/to/socket'
  throw new NslocateError('USAGE', `${variable}=${value} is not understood: nslocate needs a local socket; ${advice}`, {advice})
}

/** containerd keeps its socket in its state directory (/run/containerd/containerd.sock): the daemonless path reads there. */
function stateDirOf(socketPath: string): string {
  return path.dirname(socketPath)
}

/** The runtime client for `s`, its socket checked first (throws DOCKER or RUNTIME on a socket another user controls). */
export async function openRuntime(s: RuntimeSocket, env: NodeJS.ProcessEnv = process.env): Promise<OpenedRuntime> {
  // The client is given the pinned socket, never the path: what was judged is what is reached.
  const trust = s.path !== null ? checkSocket(s.path, s.source, env, RUNTIME_NAMES[s.kind]) : {delegate: null, path: null}
  const base = {delegate: trust.delegate, source: s.source, socketPath: trust.path, owner: ownerOf(trust.path)}
  if (s.kind === 'docker') {
    const {dockerRuntime} = await import('./docker')
    return {...base, runtime: await dockerRuntime(env, trust.path, s.where)}
  }
  if (s.kind === 'podman') {
    const {podmanRuntime} = await import('./podman')
    return {...base, runtime: podmanRuntime({socketPath: trust.path!, where: s.where, env})}
  }
  const {criRuntime} = await import('./cri')
  return {...base, runtime: criRuntime({socketPath: trust.path!, where: s.where, env})}
}

/** Who owns the pinned socket or directory `p` (the inode that was judged); null when there is none. */
function ownerOf(p: string | null): number | null {
  if (p === null || p === NO_SOCKET) return null
  try {
    return fs.statSync(p).uid
  } catch {
    return null
  }
}

/** containerd's state directory behind CRI socket `s`, as a runtime (the daemonless path); null when it has none. */
export async function stateRuntime(s: RuntimeSocket): Promise<OpenedRuntime | null> {
  if (s.kind !== 'cri' || s.path === null || !path.basename(s.path).startsWith('containerd')) return null
  const stateDir = stateDirOf(s.path)
  if (!fs.existsSync(path.join(stateDir, TASKS))) return null
  const {containerdStateRuntime} = await import('./containerd-state')
  return {runtime: containerdStateRuntime({stateDir}), delegate: null, source: 'state', socketPath: null, owner: ownerOf(stateDir)}
}

/** Whether a unix socket accepts a connection: null when it does, else the errno code (ENOENT, EACCES, ECONNREFUSED, ...). */
export function connectable(socketPath: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const c = net.createConnection({path: socketPath})
    const done = (code: string | null) => {
      clearTimeout(timer)
      c.destroy()
      resolve(code)
    }
    const timer = setTimeout(() => done('ETIMEDOUT'), timeoutMs)
    c.once('connect', () => done(null))
    c.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'ECONNREFUSED'))
  })
}

/** `KIND://REF` -> [KIND, REF]; a plain REF -> [undefined, REF]. */
export function splitReference(ref: string): [RuntimeKind | undefined, string] {
  const m = /^([a-z]+):\/\/(.*)$/s.exec(ref)
  if (!m) return [undefined, ref]
  if (!(RUNTIME_KINDS as readonly string[]).includes(m[1])) {
    throw new NslocateError(
      'USAGE',
      (n) => `${n('container', ref)}: unknown runtime ${m[1]}:// (use ${RUNTIME_KINDS.map((k) => `${k}://`).join(', ')} or a plain name or id)`,
    )
  }
  return [m[1] as RuntimeKind, m[2]]
}

/** `NAMESPACE/NAME` (or NAME: namespace default) -> a CRI pod; for Podman the whole value is the pod's name. */
export function parsePod(value: string, kind: RuntimeKind | undefined): PodRef {
  const bad = (why: string) => new NslocateError('USAGE', (n) => `${n('pod', value)}: ${why}`)
  if (value.trim() === '') throw bad('needs NAMESPACE/NAME (or NAME in namespace default); it was given an empty value')
  if (kind === 'podman') return {namespace: '', name: value}
  const parts = value.split('/')
  if (parts.length > 2 || parts.some((p) => p === '')) throw bad('is not NAMESPACE/NAME')
  return parts.length === 2 ? {namespace: parts[0], name: parts[1]} : {namespace: 'default', name: parts[0]}
}

/** What the spec asks: the runtime kind it narrows to (or none), and the selector. Throws USAGE on a contradiction. */
export function selectorOf(given: ContainerSpec): {kind: RuntimeKind | undefined; sel: ContainerSelector; shown: string} {
  const spec = {...given, runtime: given.runtime === 'auto' ? undefined : given.runtime}
  if (spec.pod !== undefined) {
    if (spec.container !== undefined) throw new NslocateError('USAGE', (n) => `give ${n('container')} or ${n('pod')}, not both`)
    if (spec.runtime === 'docker') throw new NslocateError('USAGE', (n) => `${n('pod')} names a Kubernetes pod (CRI) or a Podman pod; Docker has no pods`)
    const pod = parsePod(spec.pod, spec.runtime)
    const kind = spec.runtime ?? 'cri'
    const sel: ContainerSelector = spec.containerName !== undefined ? {pod, containerName: spec.containerName} : {pod}
    return {
      kind,
      sel,
      shown: `${spec.containerName !== undefined ? `${spec.containerName} of pod ` : ''}${pod.namespace ? `${pod.namespace}/` : ''}${pod.name}`,
    }
  }
  if (spec.containerName !== undefined) {
    throw new NslocateError('USAGE', (n) => `${n('containerName')} picks a container of ${n('pod')}: give ${n('pod')} too`, {
      advice: (n) => `give ${n('pod')} too`,
    })
  }
  const ref = spec.container ?? ''
  if (ref.trim() === '') throw new NslocateError('USAGE', (n) => `${n('container')} needs a container name or id; it was given an empty value`)
  const [named, rest] = splitReference(ref)
  if (named && spec.runtime && named !== spec.runtime) {
    throw new NslocateError('USAGE', (n) => `${n('container', ref)} names runtime ${named}, but ${n('runtime', spec.runtime)} was given`)
  }
  if (rest.trim() === '') throw new NslocateError('USAGE', (n) => `${n('container', ref)} needs a container name or id after ${named}://`)
  return {kind: named ?? spec.runtime, sel: {ref: rest}, shown: rest}
}

/** The error of a runtime that cannot be reached at all (so the next one is asked, and it cannot tell: resolve.ts). */
export const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK', 'ETIMEDOUT', 'ENOTDIR', 'ECONNRESET'])

/** Every runtime that answers (for `containers`), opened; a socket another user controls throws; one that cannot be reached is reported in `skipped`. */
export async function answeringRuntimes(env: NodeJS.ProcessEnv = process.env): Promise<{opened: OpenedRuntime[]; skipped: string[]}> {
  const sockets = runtimeSockets(env)
  const limits = dockerLimits(env)
  const opened: OpenedRuntime[] = []
  const skipped: string[] = []
  for (const s of sockets) {
    const o = await openRuntime(s, env)
    if (o.socketPath !== null && (sockets.length > 1 || s.kind === 'cri')) {
      const why = await connectable(o.socketPath, Math.min(limits.deadlineMs, 2000))
      if (why !== null && UNREACHABLE.has(why)) {
        const st = await stateRuntime(s)
        if (st) opened.push(st)
        else skipped.push(`${RUNTIME_NAMES[s.kind]} at ${s.where}: cannot connect (${why})`)
        continue
      }
    }
    opened.push(o)
  }
  if (sockets.length === 0) {
    const advice = "set DOCKER_HOST, CONTAINER_HOST or CONTAINER_RUNTIME_ENDPOINT to the runtime's socket"
    throw new NslocateError('DOCKER', `no container runtime socket found: ${advice}`, {advice})
  }
  return {opened, skipped}
}
