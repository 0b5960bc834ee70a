// nslocate's library entry. Commands and other programs import from here.
export {NslocateError} from './errors'
export type {ErrorCode} from './errors'
export {locate, statusExitCode} from './locate/locate'
export type {LocateOptions, LocateResult, State} from './locate/locate'
export {validateName, pidfileSearchPath} from './locate/name'
export {signal, waitFor} from './signal/signal'
export type {SignalOptions, SignalResult, WaitCondition, WaitOptions, WaitResult} from './signal/signal'
export {parseSignal, parseDuration, parseRetry} from './signal/parse'
