/// <reference types="node" preserve="true" />
// The declarations use Node.js types (NodeJS.ProcessEnv, Buffer, node:fs): a consumer whose tsconfig
// has "types": [] (the default since TypeScript 6) gets them through this reference and the
// @types/node dependency.
// nslocate's library entry. Commands and other programs import from here.
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
