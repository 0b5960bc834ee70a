/** What a failed request to the container engine means, as an NslocateError that says what to do. */
import {ErrorCode, NslocateError} from '../errors'
import {DEADLINE, DockerLimits, TOO_BIG, TRUNCATED, formatBytes, formatMs} from './http'

type Failure = {code?: string; statusCode?: number; json?: {message?: string}; message?: string; reason?: string}

const UNREACHABLE = ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT']

/** Translate a dockerode/HTTP/socket error into a NslocateError that says what to do. */
export function dockerError(error: unknown, what: string, where: string, limits: DockerLimits = {deadlineMs: NaN, maxBytes: NaN}): NslocateError {
  const [code, message] = explain(error as Failure, String(error), what, where, limits)
  return new NslocateError(code, message, {cause: error})
}

function explain(e: Failure, text: string, what: string, where: string, limits: DockerLimits): [ErrorCode, string] {
  const detail = e?.json?.message ?? e?.message ?? text
  const engine = `the Docker engine at ${where}`
  if (e?.code === DEADLINE) {
    return [
      'DOCKER',
      `${engine} did not answer within ${formatMs(limits.deadlineMs)} while trying to ${what}: it is hung or overloaded; NSLOCATE_DOCKER_TIMEOUT sets the deadline of each request (default 10s)`,
    ]
  }
  if (e?.code === TOO_BIG) {
    return [
      'DOCKER',
      `${engine} sent more than ${formatBytes(limits.maxBytes)} while trying to ${what}; nslocate stopped reading: NSLOCATE_DOCKER_MAX_BYTES sets the cap of each answer (default 16M)`,
    ]
  }
  if (e?.code === TRUNCATED) return ['DOCKER', `${engine} cut its answer short while trying to ${what} (${detail}): is dockerd restarting?`]
  if (UNREACHABLE.includes(e?.code ?? '')) {
    return [
      'DOCKER',
      `cannot reach ${engine} (${e.code}) while trying to ${what}: is dockerd running? Set DOCKER_HOST to its socket, or mount /var/run/docker.sock into this container`,
    ]
  }
  if (e?.code === 'EACCES' || e?.code === 'EPERM') {
    return ['PERMISSION', `permission denied on the Docker socket ${where} while trying to ${what}: run as root or as a member of the docker group`]
  }
  if (e?.statusCode === 404) return ['NOT_RUNNING', `no such container while trying to ${what}: ${detail}`]
  if (e?.statusCode === 400 && /version/i.test(detail)) {
    return ['DOCKER', `${engine} refused the API version while trying to ${what} (${detail}): the engine is too old; nslocate needs Docker API 1.24 or newer`]
  }
  if (e?.statusCode === 409) return ['NOT_RUNNING', `the container is not running (${detail}) while trying to ${what}`]
  return ['DOCKER', `${engine} failed to ${what}: ${detail}`]
}
