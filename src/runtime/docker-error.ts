/**
 * What a failed request to an HTTP container engine (Docker's API, Podman's libpod and
 * Docker-compatible APIs) means, as an NslocateError that says what to do. The engine's words
 * (its name, error code and hints) come from `EngineWords`: Docker's by default, Podman's from
 * podman.ts. The deadline and size-cap sentences are shared with the CRI (limitMessage()).
 */
import {ErrorCode, NslocateError} from '../errors'
import {DEADLINE, DockerLimits, TOO_BIG, TRUNCATED, limitMessage} from './http'

type Failure = {code?: string; statusCode?: number; json?: {message?: string}; message?: string; reason?: string}

const UNREACHABLE = ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTSOCK']

/** How one engine is named in messages, and what its users are told to do. */
export interface EngineWords {
  /** the error code of its failures: DOCKER for Docker, RUNTIME for the others */
  code: 'DOCKER' | 'RUNTIME'
  /** the engine's name alone: "Docker" */
  name: string
  /** "the Docker engine at WHERE" */
  at: (where: string) => string
  /** what to check when it cannot be reached */
  unreachable: string
  /** the fact when its socket refuses the caller (EACCES), before permissionAdvice */
  permission: (where: string, what: string) => string
  /** what to do when its socket refuses the caller */
  permissionAdvice: string
  /** what it may be doing when it cuts an answer short */
  truncated: string
  /** other failures name the HTTP status too (Podman's messages always have) */
  showStatus?: boolean
}

/** Docker's words. */
export const DOCKER_WORDS: EngineWords = {
  code: 'DOCKER',
  name: 'Docker',
  at: (where) => `the Docker engine at ${where}`,
  unreachable: 'is dockerd running? Set DOCKER_HOST to its socket (in a container: mount /var/run/docker.sock)',
  permission: (where, what) => `permission denied on the Docker socket ${where} while trying to ${what}`,
  permissionAdvice: 'run as root or as a member of the docker group',
  truncated: 'is dockerd restarting?',
}

/** Translate a dockerode/HTTP/socket error into a NslocateError that says what to do. */
export function dockerError(
  error: unknown,
  what: string,
  where: string,
  limits: DockerLimits = {deadlineMs: NaN, maxBytes: NaN},
  words: EngineWords = DOCKER_WORDS,
): NslocateError {
  if (error instanceof NslocateError) return error
  const [code, message, advice] = explain(error as Failure, String(error), what, where, limits, words)
  return new NslocateError(code, message, {cause: error, ...(advice !== undefined ? {advice} : {})})
}

/** The code, the message, and (when the message ends with nslocate's own words of what to do) that advice. */
function explain(e: Failure, text: string, what: string, where: string, limits: DockerLimits, words: EngineWords): [ErrorCode, string, string?] {
  const detail = e?.json?.message ?? e?.message ?? text
  const engine = words.at(where)
  if (e?.code === DEADLINE || e?.code === TOO_BIG) {
    const {message, advice} = limitMessage(e.code === DEADLINE ? 'deadline' : 'too_big', engine, what, limits)
    return [words.code, message, advice]
  }
  if (e?.code === TRUNCATED) return [words.code, `${engine} cut its answer short while trying to ${what} (${detail}): ${words.truncated}`, words.truncated]
  if (UNREACHABLE.includes(e?.code ?? ''))
    return [words.code, `cannot reach ${engine} (${e.code}) while trying to ${what}: ${words.unreachable}`, words.unreachable]
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return ['PERMISSION', `${words.permission(where, what)}: ${words.permissionAdvice}`, words.permissionAdvice]
  if (e?.statusCode === 404) {
    // The engine's "No such container: REF" only says it again: the line says it once.
    const echo = /^no such container\b/i.test(detail)
    const ref = /^inspect container (.+)$/.exec(what)?.[1]
    if (echo && ref !== undefined) return ['NOT_RUNNING', `no container ${ref} (${words.name})`]
    return ['NOT_RUNNING', `no such container while trying to ${what}${echo ? '' : `: ${detail}`}`]
  }
  if (e?.statusCode === 400 && /version/i.test(detail)) {
    const advice = 'the engine is too old; nslocate needs Docker API 1.24 or newer'
    return [words.code, `${engine} refused the API version (${detail}): ${advice}`, advice]
  }
  if (e?.statusCode === 409) return ['NOT_RUNNING', `the container is not running (${detail}) while trying to ${what}`]
  const status = words.showStatus && typeof e?.statusCode === 'number' ? ` (HTTP ${e.statusCode})` : ''
  return [words.code, `${engine} failed to ${what}${status}: ${detail}`]
}
