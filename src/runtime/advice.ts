/**
 * What the CRI backends (cri.ts, containerd-state.ts) tell the caller to do when a pod or container
 * name picks none or several: one wording, the advice of their errors (the command line's hint).
 */
import type {OptionNamer} from '../errors'

/** A pod that is not there. */
export const CHECK_POD = 'check the namespace and name (NAMESPACE/NAME; a bare NAME is in namespace default)'

/** A container name that is in several pods. */
export const podOrId = (n: OptionNamer): string => `name the pod with ${n('pod')} and ${n('containerName')}, or give the container id`

/** A pod of several containers. */
export const nameOne = (n: OptionNamer): string => `name one with ${n('containerName')}`
