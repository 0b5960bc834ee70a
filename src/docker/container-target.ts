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
import {ContainerSummary, DockerApi, dockerApi} from './docker'

/** A running container resolved through the Docker API: where to look for its services, and the evidence of it. */
export interface ContainerTarget {
  api: DockerApi
  summary: ContainerSummary
  container: ContainerRef
  /** State.Pid when it names the container's init in our PID namespace, else null */
  rootPid: number | null
  evidence: string[]
}

/** Resolves container `ref` (name or id) to a running container; throws USAGE, NOT_RUNNING or DOCKER. settleMs: wait between re-inspections (default 150 ms). */
export async function containerTarget(ref: string, opts: {procfs?: ProcFs; api?: DockerApi; settleMs?: number} = {}): Promise<ContainerTarget> {
  if (ref.trim() === '') throw new NslocateError('USAGE', (n) => `${n('container')} needs a container name or id; it was given an empty value`)
  const procfs = opts.procfs ?? proc
  const api = opts.api ?? (await dockerApi())
  let summary = await api.inspect(ref)
  // State.Pid naming no process here: nslocate runs in another PID namespace (a sidecar), or the
  // container's init has just exited and the engine still reports it running for a moment. Ask
  // again shortly before taking the helper route, so a dying container is "not running".
  for (let i = 0; i < 2 && summary.running && summary.pid > 0 && !fs.existsSync(procfs.file(summary.pid)); i++) {
    await new Promise((resolve) => setTimeout(resolve, opts.settleMs ?? 150))
    summary = await api.inspect(ref)
  }
  if (!summary.running || summary.pid <= 0) {
    throw new NslocateError('NOT_RUNNING', `container ${ref} (${summary.id.slice(0, 12)}) is not running`, {details: {container: summary.id}})
  }
  const container: ContainerRef = {id: summary.id, name: summary.name, runtime: 'docker', cgroup: ''}
  const evidence = [
    `Docker API (${api.where}): container ${summary.name} (${summary.id.slice(0, 12)}) runs with State.Pid ${summary.pid} in the engine's PID namespace`,
  ]
  let visible = false
  try {
    const c = containerFromCgroup(procfs.readCgroup(summary.pid))
    visible = c !== null && c.id === summary.id
    if (c) container.cgroup = c.cgroup
  } catch {}
  const lie = visible ? notTheContainersInit(summary, procfs) : null
  if (lie) {
    throw new NslocateError(
      'DOCKER',
      `container ${ref}: refusing the engine's State.Pid ${summary.pid} (outside_target_namespace): ${lie}; nothing was signalled. Check which engine DOCKER_HOST (${api.where}) points at`,
      {details: {container: summary.id, reason: 'outside_target_namespace'}},
    )
  }
  if (!visible && fs.existsSync(procfs.file(summary.pid))) {
    evidence.push(`pid ${summary.pid} here is not in the container's cgroup: nslocate runs in another PID namespace than the engine`)
  } else if (!visible) {
    evidence.push(`pid ${summary.pid} does not exist here: nslocate runs in another PID namespace than the engine`)
  } else {
    evidence.push(`pid ${summary.pid} here is the container's init (its cgroup names the container)`)
  }
  return {api, summary, container, rootPid: visible ? summary.pid : null, evidence}
}

/**
 * A process whose cgroup names the container may still not be its init: an engine that lies (or a
 * process moved into a look-alike cgroup). Unless the engine says the container shares the host's
 * PID namespace (HostConfig.PidMode=host), its init is pid 1 of a PID namespace that is not ours.
 */
function notTheContainersInit(summary: ContainerSummary, procfs: ProcFs): string | null {
  if (summary.pidMode === 'host') return null
  try {
    const nspid = procfs.readStatus(summary.pid).nspid
    const own = procfs.readPidnsLink(summary.pid) === procfs.readPidnsLink('self')
    if (own)
      return `pid ${summary.pid} is in nslocate's own PID namespace, but the engine says the container has one of its own (HostConfig.PidMode ${JSON.stringify(summary.pidMode ?? '')})`
    if ((!summary.pidMode || summary.pidMode === 'private') && nspid[nspid.length - 1] !== 1)
      return `pid ${summary.pid} is pid ${nspid[nspid.length - 1]} of its PID namespace, not its init (1)`
    return null
  } catch {
    return null // exited meanwhile: what follows finds the container not running
  }
}

/** The image a helper container is started from: $NSLOCATE_HELPER_IMAGE, else the image of the container nslocate runs in. */
export async function helperImage(api: DockerApi, procfs: ProcFs = proc, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.NSLOCATE_HELPER_IMAGE) return env.NSLOCATE_HELPER_IMAGE
  const tried: string[] = []
  for (const ref of [selfContainerId(procfs), env.HOSTNAME].filter((r): r is string => Boolean(r))) {
    try {
      return (await api.inspect(ref)).image
    } catch (error) {
      tried.push(`${ref}: ${(error as Error).message}`)
    }
  }
  throw new NslocateError(
    'USAGE',
    `no image for the helper container: set NSLOCATE_HELPER_IMAGE to the nslocate image${tried.length ? ` (could not find this container's own image: ${tried.join('; ')})` : ''}`,
  )
}

function selfContainerId(procfs: ProcFs): string | null {
  try {
    return containerFromCgroup(procfs.readCgroup(process.pid))?.id ?? null
  } catch {
    return null
  }
}
