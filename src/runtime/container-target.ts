/**
 * --container REF: find the container through the Docker API, then work through its init process:
 * its /proc/PID/root is where the pidfile is read (the search path as seen inside the container,
 * no shared volume needed) and its PID namespace is where a bare pid is translated.
 * State.Pid is a pid in the ENGINE's PID namespace; when nslocate runs elsewhere (a sidecar with
 * only the socket), that pid names nothing here, or another process. That is detected (the process
 * at State.Pid must carry the container id in its cgroup) and reported instead of trusted.
 */
import fs = require('node:fs')

import {NslocateError} from '../errors'
import {ContainerRef, containerFromCgroup} from '../proc/parse-cgroup'
import {ProcFs, proc} from '../proc/proc-fs'
import {notRunning} from './down'
import {answeredBy, resolveContainer, untrustedDown} from './resolve'
import {ContainerSpec, OpenedRuntime, RUNTIME_NAMES} from './select'
import {ContainerInfo, ContainerRuntime, ContainerSelector} from './types'

/** A running container resolved through its runtime: where to look for its services, and the evidence of it. */
export interface ContainerTarget {
  runtime: ContainerRuntime
  info: ContainerInfo
  container: ContainerRef
  /** hostPid when it names the container's init in our PID namespace, else null */
  rootPid: number | null
  /** the other user whose socket answered (the helper route is refused then), else null */
  delegate: number | null
  evidence: string[]
}

/** Options of containerTarget(): procfs, a runtime already opened (tests), the pause between re-inspections (default 150 ms), the environment. */
export interface TargetOptions {
  procfs?: ProcFs
  opened?: OpenedRuntime
  settleMs?: number
  env?: NodeJS.ProcessEnv
}

/** A plain string is a container reference (name, id or KIND://REF). */
export function specOf(ref: string | ContainerSpec): ContainerSpec {
  return typeof ref === 'string' ? {container: ref} : ref
}

/**
 * Resolves `ref` (a container name, id or KIND://REF, or a pod and container name) to a running
 * container; throws USAGE, NOT_RUNNING (a container that does not run or does not exist: down.ts;
 * details.evidence names the socket that answered and its owner), DOCKER or RUNTIME (among them a
 * socket that cannot tell: another user's saying the container is not running, resolve.ts).
 */
export async function containerTarget(ref: string | ContainerSpec, opts: TargetOptions = {}): Promise<ContainerTarget> {
  const spec = specOf(ref)
  const procfs = opts.procfs ?? proc
  const env = opts.env ?? process.env
  const shown = spec.container ?? `${spec.pod}${spec.containerName !== undefined ? ` container ${spec.containerName}` : ''}`
  const first = opts.opened
    ? {...opts.opened, sel: {ref: spec.container ?? ''}, info: await askAgain(opts.opened, {ref: spec.container ?? ''}, shown), evidence: [] as string[]}
    : await resolveContainer(spec, env)
  const {runtime, delegate} = first
  let info = first.info
  // Asked again as the caller named it (a name, or a pod's container: a restart gives it a new id).
  const again = () => askAgain(first, first.sel, shown)
  // A pid naming no process here: nslocate runs in another PID namespace (a sidecar), or the
  // container's init has just exited and the runtime still reports it running for a moment. Ask
  // again shortly before taking the helper route, so a dying container is "not running".
  for (let i = 0; i < 2 && info.running && info.hostPid > 0 && !fs.existsSync(procfs.file(info.hostPid)); i++) {
    await new Promise((resolve) => setTimeout(resolve, opts.settleMs ?? 150))
    info = await again()
  }
  if (!info.running || info.hostPid <= 0) {
    const who = answeredBy(first)
    // Another user's socket is believed for a running container of that user's only (resolve.ts):
    // its "not running" settles nothing, it cannot tell.
    if (delegate !== null) throw untrustedDown(shown, who, delegate, 'is not running', runtime.kind)
    throw notRunning(shown, info, [`answered by ${who}`, ...first.evidence])
  }
  const name = RUNTIME_NAMES[runtime.kind]
  const container: ContainerRef & {pod?: {namespace: string; name: string; uid?: string}} = {id: info.id, name: info.name, runtime: runtime.kind, cgroup: ''}
  if (info.pod) container.pod = {namespace: info.pod.namespace, name: info.pod.name, ...(info.pod.uid ? {uid: info.pod.uid} : {})}
  const evidence = [
    ...first.evidence,
    `${first.source === 'state' ? "containerd's state directory" : `${name} API`} (${runtime.where}): container ${info.name} (${info.id.slice(0, 12)})${info.pod ? ` of pod ${info.pod.namespace ? `${info.pod.namespace}/` : ''}${info.pod.name}` : ''} runs with ${first.source === 'state' ? 'init.pid' : runtime.kind === 'cri' ? 'info.pid' : 'State.Pid'} ${info.hostPid} in the engine's PID namespace`,
  ]
  if (info.status === 'paused')
    evidence.push(`container ${info.name} is paused: its processes are there but frozen, and act on a signal only once it is unpaused`)
  let visible = false
  try {
    const c = containerFromCgroup(procfs.readCgroup(info.hostPid))
    if (c && c.id === info.id) {
      visible = true
      container.cgroup = c.cgroup
      if (c.podUid) container.podUid = c.podUid
      // The API's runtime, but for Podman's Docker-compatible socket (DOCKER_HOST naming Podman's): its cgroup says podman.
      if (runtime.kind === 'docker' && c.runtime === 'podman') container.runtime = 'podman'
    }
  } catch {}
  // No cgroup of its own (rootless Podman on cgroup v1): its conmon, the init's parent, names it.
  if (!visible) visible = conmonNames(info, delegate, procfs)
  const lie = visible ? notTheContainersInit(info, procfs) : null
  const code = runtime.kind === 'docker' ? 'DOCKER' : 'RUNTIME'
  if (lie) {
    // The line says it is not the container's init (nothing is signalled); how the runtime's answer lies is in the details.
    const advice = `check which runtime ${runtime.where} is`
    throw new NslocateError(
      code,
      `${spec.container !== undefined ? `container ${spec.container}` : `pod ${shown}`}: the ${name} runtime's pid ${info.hostPid} is not its init (outside_target_namespace); ${advice}`,
      {
        details: {container: info.id, reason: 'outside_target_namespace', why: lie},
        advice,
      },
    )
  }
  if (delegate !== null) {
    // A socket another user owns is trusted only for that user's own containers.
    const not = notDelegates(info.hostPid, delegate, visible, procfs)
    if (not) {
      // (the container is in the details: the line has no room for it)
      const fact = `refusing the answer of uid ${delegate}'s socket ${runtime.where}: ${not.fact}; nothing was signalled`
      throw new NslocateError(code, not.advice === null ? fact : `${fact}; ${not.advice}`, {
        details: {container: info.id, reason: 'foreign_socket', why: not.why},
        ...(not.advice === null ? {} : {advice: not.advice}),
      })
    }
    evidence.push(`pid ${info.hostPid} is in a PID namespace that uid ${delegate}'s user namespace owns: uid ${delegate}'s socket may name it`)
  }
  if (!visible && fs.existsSync(procfs.file(info.hostPid))) {
    evidence.push(`pid ${info.hostPid} here is not in the container's cgroup: nslocate runs in another PID namespace than the engine`)
  } else if (!visible) {
    evidence.push(`pid ${info.hostPid} does not exist here: nslocate runs in another PID namespace than the engine`)
  } else {
    evidence.push(
      `pid ${info.hostPid} here is the container's init (${container.cgroup ? 'its cgroup names the container' : 'its parent, conmon, names the container'})`,
    )
  }
  return {runtime, info, container, rootPid: visible ? info.hostPid : null, delegate, evidence}
}

/**
 * `o`'s runtime asked about `sel` (again): its "no such container" (NOT_RUNNING) says which socket
 * answered and whose it is, and from another user's socket it cannot tell (resolve.ts).
 */
async function askAgain(o: OpenedRuntime, sel: ContainerSelector, shown: string): Promise<ContainerInfo> {
  try {
    return await o.runtime.inspect(sel)
  } catch (error) {
    if (!(error instanceof NslocateError && error.code === 'NOT_RUNNING')) throw error
    const who = answeredBy(o)
    if (o.delegate !== null) throw untrustedDown(shown, who, o.delegate, 'does not exist', o.runtime.kind)
    const advice = error.advice !== null ? {advice: error.advice} : {}
    throw new NslocateError('NOT_RUNNING', error.message, {cause: error.cause, details: {...error.details, evidence: [`answered by ${who}`]}, ...advice})
  }
}

/**
 * Podman's conmon (the parent of a container's init) carries the container's id as `-c ID` /
 * `--cid ID`. Anyone can start a process that says so, so it counts only when it runs as root, as
 * the caller, or as the user whose socket answered (rootless Podman's conmon runs as that user):
 * another user's look-alike parent names nothing.
 */
function conmonNames(info: ContainerInfo, delegate: number | null, procfs: ProcFs): boolean {
  try {
    const ppid = procfs.readStatus(info.hostPid).ppid
    if (!ppid || ppid <= 1) return false
    const owner = procfs.readStatus(ppid).uid
    const me = process.geteuid?.() ?? 0
    if (owner.some((u) => u !== 0 && u !== me && u !== delegate)) return false
    const argv = procfs.readCmdline(ppid)
    if (!/(^|\/)conmon$/.test(argv[0] ?? '')) return false
    for (let i = 1; i + 1 < argv.length; i++) if ((argv[i] === '-c' || argv[i] === '--cid') && argv[i + 1] === info.id) return true
    return false
  } catch {
    return false
  }
}

/**
 * Why pid, named by uid `delegate`'s socket, is not that user's to name: its PID namespace must be
 * owned by a user namespace `delegate` created (a rootless runtime's), and visible from here (the
 * helper route would run the other user's image with the other user's answer).
 */
function notDelegates(pid: number, delegate: number, visible: boolean, procfs: ProcFs): {fact: string; why: string; advice: string | null} | null {
  // (the helper-container route is not taken through another user's socket)
  if (!visible && fs.existsSync(procfs.file(pid))) {
    // A pid that exists here outside the container's cgroup: the answer names some other process.
    const fact = `pid ${pid} here is not in the container's cgroup`
    return {fact, why: `${fact}: the socket named a process that is not the container's`, advice: null}
  }
  if (!visible) return {fact: `pid ${pid} is not visible here`, why: `pid ${pid} is not visible here`, advice: `run nslocate as uid ${delegate}`}
  const owner = procfs.pidnsOwner(pid)
  if (!owner) return {fact: `pid ${pid}'s PID namespace has no readable owner`, why: `the owner of pid ${pid}'s PID namespace cannot be read`, advice: null}
  if (owner.kind !== 'user' || owner.uid !== delegate) {
    const whose = owner.kind === 'ours' ? "is nslocate's own" : `belongs to a user namespace of uid ${owner.uid}`
    return {fact: "not that user's container", why: `pid ${pid}'s PID namespace ${whose}, not to one of uid ${delegate}'s`, advice: null}
  }
  return null
}

/**
 * A process whose cgroup names the container may still not be its init: an engine that lies (or a
 * process moved into a look-alike cgroup). Unless the engine says the container shares the host's
 * PID namespace (HostConfig.PidMode=host), its init is pid 1 of a PID namespace that is not ours.
 */
function notTheContainersInit(summary: ContainerInfo, procfs: ProcFs): string | null {
  if (summary.pidMode === 'host') return null
  try {
    const pid = summary.hostPid
    const nspid = procfs.readStatus(pid).nspid
    const own = procfs.readPidnsLink(pid) === procfs.readPidnsLink('self')
    if (own)
      return `pid ${pid} is in nslocate's own PID namespace, but the runtime says the container has one of its own (PID mode ${JSON.stringify(summary.pidMode ?? '')})`
    if ((!summary.pidMode || summary.pidMode === 'private') && nspid[nspid.length - 1] !== 1)
      return `pid ${pid} is pid ${nspid[nspid.length - 1]} of its PID namespace, not its init (1)`
    return null
  } catch {
    return null // exited meanwhile: what follows finds the container not running
  }
}

/** The image a helper container is started from: $NSLOCATE_HELPER_IMAGE, else the image of the container nslocate runs in. */
export async function helperImage(api: ContainerRuntime, procfs: ProcFs = proc, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.NSLOCATE_HELPER_IMAGE) return env.NSLOCATE_HELPER_IMAGE
  const tried: string[] = []
  for (const ref of [selfContainerId(procfs), env.HOSTNAME].filter((r): r is string => Boolean(r))) {
    try {
      return (await api.inspect({ref})).image
    } catch (error) {
      tried.push(`${ref}: ${(error as Error).message}`)
    }
  }
  const advice = 'set NSLOCATE_HELPER_IMAGE to the nslocate image'
  throw new NslocateError('USAGE', `no image for the helper container${tried.length ? ` (not this container's own: ${tried.join('; ')})` : ''}: ${advice}`, {
    advice,
    details: {tried},
  })
}

function selfContainerId(procfs: ProcFs): string | null {
  try {
    return containerFromCgroup(procfs.readCgroup(process.pid))?.id ?? null
  } catch {
    return null
  }
}
