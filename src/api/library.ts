/**
 * The library's public functions, as src/index.ts exports them: one shape for the siblings.
 * - Each takes the service NAME first (list: none), then what it needs (a signal, a condition),
 *   then one options object; where the service runs (`container`, `rootPid`) is an option like the
 *   others, never a positional argument.
 * - Each is asynchronous (a container is asked over its engine's socket); locateSync() is the one
 *   synchronous exception, for callers that poll in a tight loop and never name a container.
 * - Each checks its options first (src/api/check-options.ts): a wrong type or an unknown option is
 *   a USAGE error naming the function, the option and the value.
 * The implementations live in src/locate, src/signal, src/list, src/acquire and src/docker; the CLI
 * calls those directly, with options it has already parsed.
 */
import {CGROUP_MODES} from '../cgroup/service'
import {NslocateError} from '../errors'
import {SCOPES} from '../outcomes'
import {OptionTable, isPlainObject, readOptions, shown} from './check-options'
import type {LocateResult} from '../locate/locate'
import type {SignalOptions as InternalSignalOptions, OnProgress, SignalResult, WaitCondition, WaitResult} from '../signal/signal'
import type {ProcFs} from '../proc/proc-fs'
import type {ListResult} from '../list/list'
import type {AcquireOptions, PidfileHandle} from '../acquire/acquire'
import type {ContainerServices} from '../runtime/in-container'
import {RuntimeKind, splitContainer} from '../runtime/spec'
import {checkPidRefOptions} from '../signal/pid-ref-options'

/** The options that name a container (and so need the runtime's API). */
type ContainerOption = 'container' | 'pod' | 'containerName' | 'runtime'

/** Where and how to look for NAME: every function that finds a service takes these. */
export interface FindOptions {
  /** read this pidfile instead of searching for NAME.pid (relative: to the working directory) */
  pidfile?: string
  /** look for NAME.pid in this directory first */
  dir?: string
  /** trust a pidfile the safety rules refuse (a warning is added to the evidence) */
  allowUnsafe?: boolean
  /** look inside the mount and PID namespaces of this process (e.g. 1 in a sidecar sharing the app's PID namespace) */
  rootPid?: number
  /** the service runs in this container (name or id; docker://, podman:// or cri:// names the runtime), asked through its runtime's API */
  container?: string
  /** the service runs in a container of this Kubernetes pod (NAMESPACE/NAME, or NAME in namespace default), asked through the CRI; with runtime 'podman', a Podman pod */
  pod?: string
  /** with pod: the pod's container the service runs in (needed when the pod has more than one) */
  containerName?: string
  /** the runtime container or pod is asked of: 'docker', 'podman', 'cri', or 'auto' (default: the first socket that answers and knows it) */
  runtime?: RuntimeKind | 'auto'
  /** the service runs this executable (compared by device and inode with /proc/PID/exe) */
  exec?: string
  /** the service is named so: comm, executable, argv[0] or script name, exactly */
  processName?: string
  /** the service's real uid, or a user name */
  user?: string | number
  /** the environment to read $NSLOCATE_RUNTIME_DIR and $XDG_RUNTIME_DIR from (default process.env) */
  env?: NodeJS.ProcessEnv
  /** the /proc to read (tests point it at a captured tree) */
  procfs?: ProcFs
}

/** What to send to whom and whether to wait: signal()'s own options (documented in src/signal/types.ts). */
export type SignalOptions = FindOptions &
  Pick<InternalSignalOptions, 'scope' | 'wait' | 'timeoutMs' | 'retry' | 'dryRun' | 'requireHandler' | 'pid' | 'onProgress'>

/** waitFor()'s options: where to look, and how long to wait. */
export interface WaitOptions extends FindOptions {
  /** give up after this long, in ms (default 30000) */
  timeoutMs?: number
  /** how often a condition that no pidfd can wait on is looked at again, in ms (default 25) */
  intervalMs?: number
  /**
   * `PID:ID` (as locate()'s pidfdRef gives it): wait for that process to exit (condition 'stopped'
   * only) if the process at PID has pidfs id ID; no pidfile is read, and NAME only labels the answer.
   * Not with the options that say where to look (pidfile, dir, rootPid, container, pod) or what the
   * process must be (exec, processName, user).
   */
  pid?: string
  /** called each time what the wait waits on changes (no pidfile yet, pid N to exit...), with a one-line message and the time it gives up */
  onProgress?: OnProgress
}

const FIND: OptionTable = {
  pidfile: 'path',
  dir: 'path',
  allowUnsafe: 'boolean',
  rootPid: 'own',
  container: 'string',
  pod: 'string',
  containerName: 'string',
  runtime: ['auto', 'docker', 'podman', 'cri'],
  exec: 'path',
  processName: 'string',
  user: 'user',
  env: 'object',
  procfs: 'object',
}
const SIGNAL: OptionTable = {
  ...FIND,
  scope: SCOPES,
  wait: 'boolean',
  timeoutMs: 'ms',
  retry: 'string',
  dryRun: 'boolean',
  requireHandler: 'boolean',
  pid: 'string',
  onProgress: 'function',
}
const WAIT: OptionTable = {...FIND, timeoutMs: 'ms', intervalMs: 'ms', pid: 'string', onProgress: 'function'}

function checkName(fn: string, name: unknown): string {
  if (typeof name !== 'string') throw new NslocateError('USAGE', `${fn}() takes a service NAME (a string) first, not ${shown(name)}`)
  return name
}

function noBoth(fn: string, o: FindOptions | undefined): void {
  for (const k of ['container', 'pod', 'containerName'] as const) {
    if (o?.[k] !== undefined && o.rootPid !== undefined) throw new NslocateError('USAGE', `${fn}(): give option ${k} or option rootPid, not both`)
  }
}

/** locate(NAME, OPTIONS) or locate({name, ...OPTIONS}): the name, and the checked copy of the options. */
function nameAndOptions<T extends object>(fn: string, nameOrOptions: unknown, options: unknown, table: OptionTable): {name: string; options: T} {
  const withName: OptionTable = {...table, name: 'own'}
  if (isPlainObject(nameOrOptions) && options === undefined) {
    const {name, ...rest} = readOptions<Record<string, unknown>>(fn, nameOrOptions, withName)
    return {name: checkName(fn, name), options: rest as T}
  }
  const name = checkName(fn, nameOrOptions)
  // locate('svc', {name: 'svc', ...}) names it twice, which is fine; two different names are not.
  const {name: again, ...rest} = readOptions<Record<string, unknown>>(fn, options, withName)
  if (again !== undefined && again !== name)
    throw new NslocateError('USAGE', `${fn}(${shown(name)}, {name: ${shown(again)}}): two different names; give the name once`)
  return {name, options: rest as T}
}

/** Is service NAME running, which process is it from here, and how do we know. */
export async function locate(name: string, options?: FindOptions): Promise<LocateResult>
/** locate({name, ...options}): the same, with the name among the options. */
export async function locate(options: FindOptions & {name: string}): Promise<LocateResult>
/** The implementation of both overloads: checks the arguments, then locates here or in the container. */
export async function locate(nameOrOptions: unknown, options?: unknown): Promise<LocateResult> {
  const a = nameAndOptions<FindOptions>('locate', nameOrOptions, options, FIND)
  noBoth('locate', a.options)
  const {spec, rest} = splitContainer(a.options)
  if (spec) return (await import('../runtime/in-container')).locateInContainer(a.name, spec, rest)
  return (await import('../locate/locate')).locate({...rest, name: a.name})
}

/** locate() for tight loops: synchronous, and so without option container. */
export function locateSync(name: string, options?: Omit<FindOptions, ContainerOption>): LocateResult
/** locateSync({name, ...options}): the same, with the name among the options. */
export function locateSync(options: Omit<FindOptions, ContainerOption> & {name: string}): LocateResult
/** The implementation of both overloads: checks the arguments; option container is a usage error. */
export function locateSync(nameOrOptions: unknown, options?: unknown): LocateResult {
  const a = nameAndOptions<FindOptions>('locateSync', nameOrOptions, options, FIND)
  if (splitContainer(a.options).spec)
    throw new NslocateError('USAGE', "locateSync(): options container and pod need the runtime's API, which is asynchronous: use locate()", {
      advice: 'use locate()',
    })
  return (require('../locate/locate') as typeof import('../locate/locate')).locate({...a.options, name: a.name})
}

/** Sends `sig` (TERM, 'SIGHUP', 15, 'RTMIN+2', 0 to probe) to exactly the process(es) of NAME, through pidfds. */
export async function signal(name: string, sig: string | number, options?: SignalOptions): Promise<SignalResult> {
  checkName('signal', name)
  if (typeof sig !== 'string' && typeof sig !== 'number') throw new NslocateError('USAGE', `signal(): the signal must be a name or a number, not ${shown(sig)}`)
  const o = readOptions<SignalOptions>('signal', options, SIGNAL)
  noBoth('signal', o)
  checkPidRefOptions(o as Record<string, unknown>, 'signal')
  const {spec, rest} = splitContainer(o)
  if (spec) return (await import('../runtime/in-container')).signalInContainer(name, String(sig), spec, rest)
  return (await import('../signal/signal')).signal(name, sig, rest)
}

/** Waits until NAME is `running` or `stopped`, or timeoutMs passes. */
export async function waitFor(name: string, condition: WaitCondition, options?: WaitOptions): Promise<WaitResult> {
  checkName('waitFor', name)
  if (condition !== 'running' && condition !== 'stopped' && condition !== 'main-stopped')
    throw new NslocateError('USAGE', `waitFor(): the condition must be 'running', 'stopped' or 'main-stopped', not ${shown(condition)}`)
  const o = readOptions<WaitOptions>('waitFor', options, WAIT)
  noBoth('waitFor', o)
  checkPidRefOptions(o as Record<string, unknown>, 'waitFor')
  const {spec, rest} = splitContainer(o)
  if (spec) return (await import('../runtime/in-container')).waitInContainer(name, condition, spec, rest)
  return (await import('../signal/signal')).waitFor(name, condition, rest)
}

/** list()'s options: find's, but for pidfile and env (list reads every pidfile of the search path, or of dir). */
export type ListOptions = Pick<FindOptions, 'dir' | 'allowUnsafe' | 'rootPid' | ContainerOption | 'exec' | 'processName' | 'user' | 'procfs'>
// find's options but the pidfile (list reads every one) and env (list searches the default directories of the caller's uid)
const {pidfile: _pidfile, env: _env, ...LIST} = FIND

/** Every pidfile `locate` would find (with `dir`: that directory's *.pid), each located as `locate` does. */
export async function list(options?: ListOptions): Promise<ListResult> {
  const o = readOptions<ListOptions>('list', options, LIST)
  noBoth('list', o)
  const {spec, rest} = splitContainer(o)
  if (spec) return (await import('../runtime/in-container')).listInContainer(spec, rest)
  return (await import('../list/list')).list(rest)
}

const ACQUIRE: OptionTable = {pidfile: 'path', dir: 'path', lockTimeoutMs: 'ms', pid: 'pidOrNull', env: 'object', cgroup: CGROUP_MODES}

/**
 * Writes and locks NAME's pidfile for this process (or, with `pid: null`, for a child whose pid is
 * written later with handle.write()): the lock lives as long as the process holds the handle.
 */
export async function acquire(name: string, options?: Omit<AcquireOptions, 'name'>): Promise<PidfileHandle>
/** acquire({name, ...options}): the same, with the name among the options. */
export async function acquire(options: AcquireOptions): Promise<PidfileHandle>
/** The implementation of both overloads: checks the arguments, then acquires. */
export async function acquire(nameOrOptions: unknown, options?: unknown): Promise<PidfileHandle> {
  const a = nameAndOptions<Omit<AcquireOptions, 'name'>>('acquire', nameOrOptions, options, ACQUIRE)
  return (await import('../acquire/acquire')).acquire({...a.options, name: a.name})
}

/** The running containers of every runtime that answers (Docker, Podman, the CRI), each with the pidfiles found in it. */
export async function listContainers(): Promise<ContainerServices[]> {
  return (await import('../runtime/in-container')).listContainers()
}
