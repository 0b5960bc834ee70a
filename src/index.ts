/// <reference types="node" preserve="true" />
// The declarations use Node.js types (NodeJS.ProcessEnv, Buffer, node:fs): a consumer whose tsconfig
// has "types": [] (the default since TypeScript 6) gets them through this reference and the
// @types/node dependency.
/**
 * nslocate's library entry: `require('nslocate')`. docs/library.md has a runnable example of each
 * export (test/cli/library-docs.test.ts runs them).
 *
 * - locate, locateSync, list, signal, waitFor, acquire, listContainers: src/api/library.ts, one
 *   shape for all (NAME, then what the call needs, then one checked options object; `container` and
 *   `rootPid` are options);
 * - Reloader and prepareServer: the sidecar pieces of `nslocate reload` and `nslocate serve`;
 * - parseSignal, parseDuration, parseRetry: the parsers the command line uses, for callers that
 *   take the same strings from their users;
 * - NslocateError: the one error type, with a stable `code`.
 */
import type {ServiceRef} from './reload/service-ref'
import type {PreparedServer, ServerOptions} from './serve/server'

export {NslocateError} from './errors'
export type {ErrorCode, OptionNamer} from './errors'
export {acquire, list, listContainers, locate, locateSync, signal, waitFor} from './api/library'
export type {FindOptions, ListOptions, SignalOptions, WaitOptions} from './api/library'
export type {LocateResult, Located, LockKind, PidfileFacts, ProcessInfo, Reason} from './locate/types'
export {REASONS} from './locate/types'
export type {RunOutcome, Scope, SignalOutcome, State, WaitOutcome} from './outcomes'
export type {SignalResult, WaitCondition, WaitResult} from './signal/signal'
export type {OnProgress, Progress} from './signal/signal'
export type {ListOutcome, ListResult} from './list/list'
export {validateName, pidfileSearchPath} from './locate/name'
export {parseSignal, parseDuration, parseRetry} from './signal/parse'
export {defaultRuntimeDir} from './acquire/acquire'
export type {AcquireOptions, PidfileHandle, WriteOptions} from './acquire/acquire'
export type {IdentityRecord} from './locate/record'
export type {CgroupFacts, CgroupMode, ServiceCgroup} from './cgroup/service'
export {RECORD_XATTR} from './locate/record'
export {formatPidRef, parsePidRef} from './kernel/pidfs'
export type {ContainerServices} from './runtime/in-container'
export type {ContainerSpec, RuntimeKind} from './runtime/spec'
export {Reloader} from './reload/reloader'
export type {ReloadEvent, ReloadOptions, ReloadOutcome} from './reload/reloader'
export type {ServiceRef} from './reload/service-ref'
export type {PreparedServer, ServerOptions} from './serve/server'

/**
 * The HTTP endpoint of `serve` (GET /healthz/NAME, /healthz, /metrics) for `services`, not yet
 * listening: call listen() ('127.0.0.1:0' picks a free port; it resolves with the address) and
 * close(). prom-client is loaded only here, so require('nslocate') stays quick for programs that
 * never serve.
 */
export async function prepareServer(listen: string, services: ServiceRef[], opts: ServerOptions = {}): Promise<PreparedServer> {
  return (await import('./serve/server')).prepareServer(listen, services, opts)
}
