/**
 * Which runtime answers for one container (`--container`, `--pod`), and which of their answers
 * count. The sockets are select.ts's, in its documented order, with one change: a socket another
 * user owns (used as that user's: socket-trust.ts) is asked only after every socket root or the
 * caller owns, so a runtime of root's or the caller's that knows the container wins over it.
 *
 * What each answer settles:
 *   runs            the first runtime that knows the container and says it runs is taken
 *                   (container-target.ts then checks its pid; for another user's socket, that the
 *                   pid is in a PID namespace of that user's)
 *   does not run    from a socket of root's or the caller's, this is the answer whatever the other
 *                   runtimes said or could not say: a runtime that knows the container by the name
 *                   or id asked and says it does not run has answered for it (the ones that failed
 *                   are in the evidence)
 *   no such container  only when every runtime asked answered so. One that could not be asked
 *                   (refused, timed out, EACCES, an answer of the wrong shape) might know it: that
 *                   is DOCKER or RUNTIME (exit 4) naming it, never `stopped`
 *   another user's socket saying "does not run" or "no such container"
 *                   no answer: nothing shows that the container is that user's (a container that
 *                   does not run has no PID namespace to check), so that runtime cannot tell, and
 *                   it never settles the state of a service of root's
 * Every answer names the socket that gave it and who owns it (answeredBy()).
 */
import {NslocateError} from '../errors'
import {dockerLimits} from './http'
import {
  ContainerSpec,
  OpenedRuntime,
  RUNTIME_NAMES,
  RuntimeSocket,
  UNREACHABLE,
  connectable,
  openRuntime,
  runtimeSockets,
  selectorOf,
  stateRuntime,
} from './select'
import {ContainerInfo, ContainerSelector} from './types'

/** A container found: the runtime that knows it, its answer, and the evidence of the choice. */
export interface Resolved extends OpenedRuntime {
  /** the selector the runtime was asked (to ask again) */
  sel: ContainerSelector
  info: ContainerInfo
  /** how the runtime was chosen, and what the others said */
  evidence: string[]
}

/**
 * The runtime that gave an answer, and whose socket it is, as evidence names them: "Docker at
 * unix:///var/run/docker.sock (a socket owned by root)".
 */
export function answeredBy(o: OpenedRuntime): string {
  const name = RUNTIME_NAMES[o.runtime.kind]
  const me = process.geteuid?.() ?? 0
  const owner = o.owner === null ? null : o.owner === 0 ? 'root' : o.owner === me ? `uid ${o.owner}, the caller` : `uid ${o.owner}, another user`
  if (o.source === 'state') return `containerd's state directory ${o.runtime.where}${owner ? ` (owned by ${owner})` : ''}`
  const named = o.source === 'default' || o.source === 'desktop' || o.source === 'XDG_RUNTIME_DIR' ? '' : `${o.source}; `
  return `${name} at ${o.runtime.where} (${named}${owner ? `a socket owned by ${owner}` : o.socketPath === null ? 'no socket file' : 'no socket there'})`
}

/** What one runtime said about the container that did not settle it. */
interface Said {
  /** "Docker at unix://... (a socket owned by root)" */
  who: string
  text: string
}

/**
 * The container `spec` names, from the runtime that answers for it (above). Throws NOT_RUNNING
 * when every runtime asked answered that it knows no such container (details.evidence: who
 * answered), the one runtime's own error when only one was asked, and DOCKER or RUNTIME naming
 * the runtimes that could not tell when the answer depends on them.
 */
export async function resolveContainer(spec: ContainerSpec, env: NodeJS.ProcessEnv = process.env): Promise<Resolved> {
  const {kind, sel, shown} = selectorOf(spec)
  const sockets = runtimeSockets(env, kind)
  if (sockets.length === 0) {
    const code = kind === 'docker' ? 'DOCKER' : 'RUNTIME'
    const variables =
      kind === 'podman' ? 'CONTAINER_HOST' : kind === 'cri' ? 'CONTAINER_RUNTIME_ENDPOINT' : 'DOCKER_HOST, CONTAINER_HOST or CONTAINER_RUNTIME_ENDPOINT'
    const advice = `set ${variables} to the runtime's socket`
    throw new NslocateError(code, `no ${kind ? `${RUNTIME_NAMES[kind]} ` : 'container runtime '}socket found to ask for ${shown}: ${advice}`, {advice})
  }
  const limits = dockerLimits(env)
  const several = sockets.length > 1
  /** evidence lines: what each runtime asked before the one that answers said */
  const asked: string[] = []
  /** the runtimes that said "no such container" (trusted) */
  const missing: Array<{error: NslocateError; who: string; kind: RuntimeSocket['kind']}> = []
  /** the runtimes that could not tell: unreachable, a malformed answer, another user's "not running" */
  const failed: Array<Said & {kind: RuntimeSocket['kind']; error: NslocateError}> = []
  /** another user's sockets, asked last */
  const deferred: Array<{s: RuntimeSocket; opened: OpenedRuntime}> = []

  /** Asks `s`; `later`: another user's sockets, not asked yet (they are asked only if this one does not know the container). */
  const ask = async (s: RuntimeSocket, given: OpenedRuntime, later: typeof deferred): Promise<Resolved | null> => {
    let opened: OpenedRuntime | null = given
    const label = `${RUNTIME_NAMES[s.kind]} at ${s.where}${s.source === 'default' ? '' : ` (${s.source})`}`
    const code = s.kind === 'docker' ? 'DOCKER' : 'RUNTIME'
    // Several to ask: one that cannot be reached is passed over (a containerd's socket: its state directory instead).
    if (opened.socketPath !== null && (several || s.kind === 'cri')) {
      const why = await connectable(opened.socketPath, Math.min(limits.deadlineMs, 2000))
      if (why !== null && UNREACHABLE.has(why)) {
        opened = await stateRuntime(s)
        asked.push(`${label}: cannot connect (${why})${opened ? `; reading containerd's state in ${opened.runtime.where} instead` : ''}`)
        if (!opened) {
          const error = new NslocateError(code, `cannot reach the ${RUNTIME_NAMES[s.kind]} socket ${s.path} (${why})`)
          failed.push({who: answeredBy(given), text: `cannot be reached (${why})`, kind: s.kind, error})
          return null
        }
      }
    }
    const who = answeredBy(opened)
    let info: ContainerInfo
    try {
      info = await opened.runtime.inspect(sel)
    } catch (error) {
      if (error instanceof NslocateError && error.code === 'NOT_RUNNING') {
        asked.push(`${label}: ${error.message}`)
        if (opened.delegate === null) missing.push({error, who, kind: s.kind})
        else {
          const said = 'does not exist'
          failed.push({who, text: foreignDown(opened.delegate, said), kind: s.kind, error: untrustedDown(shown, who, opened.delegate, said, s.kind)})
        }
        return null
      }
      // A socket that is not the runtime it was taken for (Docker's own containerd has no CRI): it
      // knows none of these containers. A state directory this caller may not read (auto-detected,
      // behind a socket it could not use), or an answer that is not a CRI message: it cannot tell.
      const d = error instanceof NslocateError ? (error.details as {unsupported?: boolean; reason?: string}) : {}
      if (several && error instanceof NslocateError && d.unsupported && d.reason === 'unimplemented') {
        asked.push(`${label}: ${error.message}`)
        return null
      }
      if (several && error instanceof NslocateError && (d.unsupported || (opened.source === 'state' && !kind && error.code !== 'USAGE'))) {
        asked.push(`${label}: ${error.message}`)
        failed.push({who, text: error.message, kind: s.kind, error})
        return null
      }
      throw error
    }
    // Another user's socket is believed only for a running container of that user's (container-target.ts checks which).
    if (opened.delegate !== null && (!info.running || info.hostPid <= 0)) {
      const said = 'is not running'
      asked.push(`${label}: says container ${shown} is not running`)
      failed.push({who, text: foreignDown(opened.delegate, said), kind: s.kind, error: untrustedDown(shown, who, opened.delegate, said, s.kind)})
      return null
    }
    // How the runtime was chosen, when there was a choice.
    const evidence = asked.map((a) => `asked ${a}`)
    if (several) {
      evidence.push(
        `${RUNTIME_NAMES[s.kind]} at ${s.where}: the first runtime (of ${sockets.length} found) that knows ${shown}${opened.delegate !== null ? "; another user's socket is asked only after those of root's and the caller's" : ''}`,
      )
    }
    for (const d of later) evidence.push(`not asked: ${answeredBy(d.opened)}: another user's socket is asked only after those of root's and the caller's`)
    if (opened.delegate !== null) {
      evidence.push(
        `the socket is uid ${opened.delegate}'s (${s.source} names it): its answer is accepted only for a container of that user's own user namespace`,
      )
    }
    return {...opened, sel, info, evidence}
  }

  for (const s of sockets) {
    const opened = await openRuntime(s, env) // a socket another user controls, not named explicitly, stops everything here
    if (opened.delegate !== null && several) {
      deferred.push({s, opened})
      continue
    }
    const found = await ask(s, opened, deferred)
    if (found) return found
  }
  for (const {s, opened} of deferred) {
    const found = await ask(s, opened, [])
    if (found) return found
  }
  if (failed.length > 0) throw several ? cannotTell(shown, failed, missing) : failed[0].error
  // Every socket was something else than the runtime it was taken for (no CRI there): no runtime answered at all.
  if (missing.length === 0) throw new NslocateError(kind === 'docker' ? 'DOCKER' : 'RUNTIME', `no container runtime answers for ${shown}: ${asked.join('; ')}`)
  const evidence = [`answered by ${missing.map((m) => m.who).join('; ')}`]
  if (missing.length === 1) {
    const {error} = missing[0]
    throw new NslocateError('NOT_RUNNING', error.message, {
      cause: error.cause,
      details: {...error.details, evidence},
      ...(error.advice !== null ? {advice: error.advice} : {}),
    })
  }
  const names = missing.map((m) => RUNTIME_NAMES[m.kind]).join(', ')
  throw new NslocateError('NOT_RUNNING', `no runtime knows container ${shown} (asked ${names})`, {details: {evidence}})
}

/**
 * What another user's socket said that is no answer: `said` is "is not running" or "does not
 * exist". Another user's socket is trusted only for a running container of that user's own (its
 * PID namespace shows it), never for "not running" or "no such container" (nslocate(1), Containers).
 */
function foreignDown(delegate: number, said: string): string {
  return `it ${said}, but the socket is uid ${delegate}'s, trusted only for a running container of that user's own`
}

/**
 * DOCKER or RUNTIME (`kind`'s), reason foreign_socket: `who`, uid `delegate`'s socket, said `said`
 * ("is not running") of container `shown`, and cannot tell. The line says so briefly; `who` (which
 * runtime, socket and owner) is in details.failed. The one definition of the rule,
 * also used by container-target.ts when such a socket's container stops between two questions.
 */
export function untrustedDown(shown: string, who: string, delegate: number, said: string, kind: RuntimeSocket['kind']): NslocateError {
  const advice = `run nslocate as uid ${delegate} to take its answer`
  return new NslocateError(
    kind === 'docker' ? 'DOCKER' : 'RUNTIME',
    `cannot tell whether container ${shown} runs: uid ${delegate}'s socket says it ${said}; ${advice}`,
    {
      details: {reason: 'foreign_socket', delegate, failed: [{runtime: who, said: foreignDown(delegate, said)}]},
      advice,
    },
  )
}

/**
 * DOCKER or RUNTIME (exit 4) for a container that no runtime that could tell knows, while the ones
 * in `failed` could not tell. The line counts and names them; what each said, and which runtimes
 * answered that they do not know it, are in details (`failed`, `unknownTo`: --json shows them).
 * DOCKER when every runtime that failed is Docker.
 */
function cannotTell(
  shown: string,
  failed: Array<Said & {kind: RuntimeSocket['kind']; error: NslocateError}>,
  missing: Array<{error: NslocateError; who: string}>,
): NslocateError {
  const foreignOnly = failed.every((f) => f.error.details.reason === 'foreign_socket')
  const code = failed.every((f) => f.kind === 'docker') ? 'DOCKER' : 'RUNTIME'
  const names = failed.map((f) => RUNTIME_NAMES[f.kind]).join(', ')
  const owners = [...new Set(failed.map((f) => f.error.details.delegate))].join(' or uid ')
  const todo = foreignOnly
    ? `run nslocate as uid ${owners} to take that socket's answer`
    : 'fix the runtime that failed, or name the one that has the container (KIND://REF or --runtime)'
  // (the runtimes that could not tell are named in parentheses: N could not tell (Podman, CRI))
  const fact = `cannot tell whether container ${shown} runs: ${failed.length} could not tell (${names})${missing.length ? `, ${missing.length} did not know it` : ''}`
  return new NslocateError(code, `${fact}; ${todo}`, {
    advice: todo,
    details: {
      ...(foreignOnly ? {reason: 'foreign_socket'} : {}),
      failed: failed.map((f) => ({runtime: f.who, said: f.text})),
      unknownTo: missing.map((m) => m.who),
    },
  })
}
