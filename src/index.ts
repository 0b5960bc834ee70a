/// <reference types="node" preserve="true" />
// The declarations use Node.js types (NodeJS.ProcessEnv, Buffer, node:fs): a consumer whose tsconfig
// has "types": [] (the default since TypeScript 6) gets them through this reference and the
// @types/node dependency.
// nslocate's library entry. Commands and other programs import from here.
import type {ServiceRef} from './reload/service-ref'
import type {PreparedServer} from './serve/server'

export {NslocateError} from './errors'
export type {ErrorCode} from './errors'
export {locate, statusExitCode} from './locate/locate'
export type {LocateOptions, LocateResult, State} from './locate/locate'
export type {IdentityOptions} from './locate/identity-options'
export {validateName, pidfileSearchPath} from './locate/name'
export {signal, waitFor} from './signal/signal'
export type {SignalOptions, SignalResult, WaitCondition, WaitOptions, WaitResult} from './signal/signal'
export {parseSignal, parseDuration, parseRetry} from './signal/parse'
export {acquire, defaultRuntimeDir} from './acquire/acquire'
export type {AcquireOptions, PidfileHandle} from './acquire/acquire'
export {locateInContainer, signalInContainer, waitInContainer, listContainers} from './docker/in-container'
export type {ContainerServices} from './docker/in-container'
// The sidecar pieces, for a Node service that embeds them: the config reloader (`nslocate reload`)
// and the read-only health/metrics server (`nslocate serve`).
export {Reloader} from './reload/reloader'
export type {ReloadEvent, ReloadOptions, ReloadOutcome} from './reload/reloader'
export type {ServiceRef} from './reload/service-ref'
export type {PreparedServer} from './serve/server'

/**
 * The HTTP endpoint of `serve` (GET /healthz/NAME, /healthz, /metrics) for `services`, not yet
 * listening: call listen() ('127.0.0.1:0' picks a free port) and close(). prom-client is loaded
 * only here, so require('nslocate') stays quick for programs that never serve.
 */
export async function prepareServer(listen: string, services: ServiceRef[], opts: {withReloads?: boolean; intervalMs?: number} = {}): Promise<PreparedServer> {
  return (await import('./serve/server')).prepareServer(listen, services, opts)
}
