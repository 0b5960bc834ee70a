// nslocate's library entry. Commands and other programs import from here.
export {NslocateError} from './errors'
export type {ErrorCode} from './errors'
