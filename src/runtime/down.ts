/**
 * A container that does not run is an answer, not an error (issue 21): whatever command asks,
 * the service in it is `stopped` with the reason `container_not_running`. The runtime layer throws
 * NOT_RUNNING for such a container (notRunning() below: the runtime knows it, and it is created,
 * exited, dead, or restarting between two attempts; or no runtime that answered knows it at all);
 * the commands turn it into their result here (in-container.ts), so find, list, signal, wait and
 * serve give the one answer, each with its own "not running" exit status.
 *
 * A paused container is not one of them: its processes are there (frozen), so the service is found
 * as in a running container (Docker says Running for it; podman.ts reads Podman's Status the same way).
 */
import {NslocateError, factOf} from '../errors'
import {LocateResult, stoppedResult} from '../locate/locate'
import {validateName} from '../locate/name'
import {blankResult, checkSignalRequest} from '../signal/signal'
import type {SignalOptions, SignalResult, WaitCondition, WaitResult} from '../signal/types'
import type {ContainerRef} from '../proc/parse-cgroup'
import {statusWord} from './status'
import type {ContainerInfo} from './types'

/** The pod of a container, as a result names it. */
type ContainerPod = {namespace: string; name: string; uid?: string}

/** What the result of a container that does not run says of it. */
export interface ContainerDown {
  /** the runtime's message: which container, and that it does not run or does not exist */
  why: string
  /** the container as the runtime knows it (no cgroup: it runs no process); null when no runtime knows it */
  container: (ContainerRef & {pod?: ContainerPod}) | null
  /** more evidence: which runtime and socket answered, and who owns it (resolve.ts); what the others said */
  evidence?: string[]
}

/** A container name as Docker, Podman and Kubernetes write them: anything else an engine says is not shown in a message. */
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/

/**
 * NOT_RUNNING for a container the runtime knows that does not run (`info` as it answered; `shown`:
 * the name the caller gave). The message says the runtime's state word (created, exited,
 * restarting...; status.ts: "unknown status" for anything else) when it gives one; `evidence`
 * says who answered (resolve.ts answeredBy()).
 */
export function notRunning(shown: string, info: ContainerInfo, evidence: string[] = []): NslocateError {
  const word = statusWord(info.status)
  const status = word ? ` (${word})` : ''
  const name = CONTAINER_NAME.test(info.name) ? info.name : shown
  const id = /^[0-9a-f]{12}/.test(info.id) ? ` (${info.id.slice(0, 12)})` : ''
  return new NslocateError('NOT_RUNNING', `container ${name}${id} is not running${status}`, {details: {...downDetails(info), evidence}})
}

/** The details of a NOT_RUNNING error about container `c` that the runtime knows (read back by containerDown()). */
export function downDetails(c: Pick<ContainerInfo, 'id' | 'name' | 'runtime' | 'pod'>): Record<string, unknown> {
  const pod = c.pod ? {pod: {namespace: c.pod.namespace, name: c.pod.name, ...(c.pod.uid ? {uid: c.pod.uid} : {})}} : {}
  return {container: c.id, reason: 'container_not_running', name: c.name, runtime: c.runtime, ...pod}
}

/**
 * The container `error` says does not run or does not exist (NOT_RUNNING from the runtime layer:
 * containerTarget(), resolveContainer(), a runtime's inspect); null for any other error.
 */
export function containerDown(error: unknown): ContainerDown | null {
  if (!(error instanceof NslocateError) || error.code !== 'NOT_RUNNING') return null
  const d = error.details as {container?: string; reason?: string; name?: string; runtime?: ContainerRef['runtime']; pod?: ContainerPod; evidence?: unknown}
  const evidence = Array.isArray(d.evidence) ? d.evidence.filter((e): e is string => typeof e === 'string') : []
  const more = evidence.length ? {evidence} : {}
  const why = error.advice === null ? error.message : factOf(error.message, error.advice)
  if (d.reason !== 'container_not_running' || !d.container || !d.runtime) return {why, container: null, ...more}
  const container: NonNullable<ContainerDown['container']> = {id: d.container, name: d.name ?? null, runtime: d.runtime, cgroup: ''}
  if (d.pod) container.pod = d.pod
  return {why, container, ...more}
}

/** The result of NAME in a container that does not run: `stopped`, `container_not_running`, the container named when known, and who said so. */
export function downResult(name: string, down: ContainerDown): LocateResult {
  const evidence = [`${down.why}; so ${name} is not running there`, ...(down.evidence ?? [])]
  return {...stoppedResult(name, ['container_not_running'], evidence), container: down.container}
}

/**
 * signal()'s answer for a container that does not run or does not exist: `not_running`, nothing
 * sent (a bad NAME or SIGNAL is still USAGE). Its advice is find's, as for a service without a
 * pidfile (signal/refusal.ts): the evidence says which runtime answered, from which socket and whose.
 */
export function notRunningSignal(name: string, sig: string, opts: SignalOptions, down: ContainerDown): SignalResult {
  const target = downResult(validateName(name), down)
  const {sig: parsed, scope} = checkSignalRequest(sig, opts)
  const advice = `See where it looked: nslocate find ${name}`
  return {
    ...blankResult(name, parsed, scope, Boolean(opts.dryRun), target),
    outcome: 'not_running',
    message: `${name} is not running: ${down.why}; nothing was signalled. ${advice}`,
    advice,
  }
}

/**
 * The answer of waitInContainer() while the container is not running (`down`): --for stopped (and
 * main-stopped) holds; --for running has timed out when no time is left; else null (look again).
 */
export function waitDown(name: string, condition: WaitCondition, down: ContainerDown, waitedMs: number, timeoutMs: number, left: number): WaitResult | null {
  const target = downResult(name, down)
  const why = down.why
  if (condition !== 'running')
    return {name, condition, reached: true, waitedMs, outcome: 'reached', message: `${name} is not running: ${why}`, target, exit: null, pinned: []}
  if (left > 0) return null
  const message = `${name}: timed out after ${timeoutMs} ms waiting for it to be running (${why})`
  return {name, condition, reached: false, waitedMs, outcome: 'not_reached', message, target, exit: null, pinned: []}
}
