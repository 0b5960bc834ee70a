/**
 * One service as the sidecar commands name it (NAME plus --pidfile/--dir/--root-pid/--container/--pod),
 * located or signalled through the same library calls as `find` and `signal`, afresh each time.
 */
import {NslocateError, OptionNamer, libraryNamer} from '../errors'
import {LocateResult, locate} from '../locate/locate'
import {SignalOptions, SignalResult, signal} from '../signal/signal'
import {ContainerSpec, splitContainer} from '../runtime/spec'

/** One service as the sidecar commands name it: NAME, and where to look for it. */
export interface ServiceRef {
  name: string
  pidfile?: string
  dir?: string
  allowUnsafe?: boolean
  rootPid?: number
  container?: string
  pod?: string
  containerName?: string
  runtime?: ContainerSpec['runtime']
}

function common(ref: ServiceRef) {
  return {pidfile: ref.pidfile, dir: ref.dir, allowUnsafe: ref.allowUnsafe}
}

/** locate() of the service, here or in its container. */
export async function locateService(ref: ServiceRef): Promise<LocateResult> {
  const {spec} = splitContainer(ref)
  if (spec) return (await import('../runtime/in-container')).locateInContainer(ref.name, spec, common(ref))
  return locate({name: ref.name, ...common(ref), rootPid: ref.rootPid})
}

/** signal() of the service with `sig`, here or in its container. */
export async function signalService(
  ref: ServiceRef,
  sig: string,
  extra: Pick<SignalOptions, 'scope' | 'requireHandler'> = {},
): Promise<SignalResult & {helper?: string}> {
  const {spec} = splitContainer(ref)
  if (spec) return (await import('../runtime/in-container')).signalInContainer(ref.name, sig, spec, {...common(ref), ...extra})
  return signal(ref.name, sig, {...common(ref), ...extra, rootPid: ref.rootPid})
}

/**
 * An error's message as the sidecar reports it (a reload event, a health answer's evidence): with
 * each option named by `namer` (the CLI passes its flag namer; the library's wording by default).
 */
export function errorText(error: unknown, namer: OptionNamer = libraryNamer): string {
  return error instanceof NslocateError ? error.render(namer) : (error as Error).message
}
