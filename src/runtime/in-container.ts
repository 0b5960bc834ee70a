/**
 * find / signal / wait / list for a service inside a Docker container, given --container REF.
 * When the container's init is visible here, everything happens in this process through
 * /proc/PID/root and pidfds. When it is not (a sibling container that has only the Docker socket),
 * a short-lived helper container is started from the nslocate image in the engine's (host) PID
 * namespace, where State.Pid is valid; it does the same pidfd-safe work there and prints its JSON
 * result, which is returned as is. The helper is always removed.
 */
import {GRAMMAR} from '../cli/grammar'
import {libraryResult} from '../cli/json'
import {flagsOf} from '../cli/options'
import {NslocateError, isErrorCode} from '../errors'
import {ListOptions, ListResult, list} from '../list/list'
import {LocateOptions, LocateResult, locate} from '../locate/locate'
import {validateName} from '../locate/name'
import {parseSignal} from '../signal/parse'
import {ProcFs} from '../proc/proc-fs'
import {SignalOptions, SignalResult, WaitCondition, WaitOptions, WaitResult, checkCondition, checkSignalRequest, signal, waitFor} from '../signal/signal'
import {nothingSignalled} from '../signal/starting'
import {ContainerTarget, TargetOptions, containerTarget, helperImage, specOf} from './container-target'
import {ContainerDown, containerDown, downDetails, downResult, notRunningSignal, waitDown} from './down'
import {ContainerSpec, answeringRuntimes} from './select'
import {ContainerInfo, RuntimeKind} from './types'

/** How long a helper container may take beyond the wait it was asked for. */
export const HELPER_TIMEOUT_MS = 60_000

type Common = Partial<Omit<LocateOptions, 'name' | 'rootPid'>> & Pick<TargetOptions, 'opened' | 'env'>

function inTarget(t: ContainerTarget): Partial<LocateOptions> {
  return {rootPid: t.rootPid!, containerHint: t.container, preEvidence: t.evidence}
}

/**
 * containerTarget(), or what says the container does not run or does not exist (down.ts): an
 * answer for every command, not an error.
 */
async function targetOrDown(ref: string | ContainerSpec, opts: TargetOptions): Promise<ContainerTarget | ContainerDown> {
  try {
    return await containerTarget(ref, opts)
  } catch (error) {
    const down = containerDown(error)
    if (!down) throw error
    return down
  }
}

const isDown = (t: ContainerTarget | ContainerDown): t is ContainerDown => 'why' in t

/**
 * `work` in running container `t`, and `onDown`'s answer when it stopped meanwhile: NOT_RUNNING on
 * the way is its init gone (locate()'s rootPid has exited, the helper found it gone, or the engine
 * answered 409 to the helper), so the container no longer runs.
 */
async function inside<T>(t: ContainerTarget, work: () => T | Promise<T>, onDown: (down: ContainerDown) => T): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (!(error instanceof NslocateError && error.code === 'NOT_RUNNING')) throw error
    const stopped = new NslocateError('NOT_RUNNING', `container ${t.info.name} (${t.info.id.slice(0, 12)}) stopped: ${error.message}`, {
      details: downDetails(t.info),
    })
    return onDown(containerDown(stopped)!)
  }
}

/**
 * locate() of NAME inside container `ref`: directly when its init is visible from here, else through
 * a helper container. A container that does not run or does not exist: `stopped`, `container_not_running`.
 */
export async function locateInContainer(name: string, ref: string | ContainerSpec, opts: Common = {}): Promise<LocateResult> {
  validateName(name) // a bad NAME is a usage error whatever the container's state
  const t = await targetOrDown(ref, opts)
  if (isDown(t)) return downResult(name, t)
  const work = async () =>
    t.rootPid !== null ? locate({...opts, name, ...inTarget(t)}) : ((await viaHelper(t, helperArgv('find', [name], opts), opts)).result as LocateResult)
  return inside(t, work, (down) => downResult(name, down))
}

/** signal() of NAME inside container `ref`; an error while identifying the target says that nothing was signalled. */
export async function signalInContainer(
  name: string,
  sig: string,
  ref: string | ContainerSpec,
  opts: Omit<SignalOptions, 'rootPid'> & Pick<TargetOptions, 'opened' | 'env'> = {},
): Promise<SignalResult & {helper?: string}> {
  try {
    return await signalInContainerAt(name, sig, ref, opts)
  } catch (error) {
    throw nothingSignalled(error) // it exited while being identified
  }
}

async function signalInContainerAt(
  name: string,
  sig: string,
  ref: string | ContainerSpec,
  opts: Omit<SignalOptions, 'rootPid'> & Pick<TargetOptions, 'opened' | 'env'>,
): Promise<SignalResult & {helper?: string}> {
  // A bad NAME or SIGNAL is a usage error whatever the container's state, before any runtime is asked.
  validateName(name)
  checkSignalRequest(sig, opts)
  const t = await targetOrDown(ref, opts)
  if (isDown(t)) return notRunningSignal(name, sig, opts, t)
  const work = async (): Promise<SignalResult & {helper?: string}> => {
    if (t.rootPid !== null) return signal(name, sig, {...opts, ...inTarget(t)})
    const r = await viaHelper(t, helperArgv('signal', [name, sig], opts), opts)
    return {...(r.result as SignalResult), helper: r.image}
  }
  return inside(t, work, (down) => notRunningSignal(name, sig, opts, down))
}

/**
 * A container that does not exist or is not running holds no running service: `--for stopped` is
 * reached at once; `--for running` looks at the container again every 250 ms until it runs (then
 * waits for the service in it) or the time is up.
 */
export async function waitInContainer(
  name: string,
  condition: WaitCondition,
  ref: string | ContainerSpec,
  opts: WaitOptions & Pick<TargetOptions, 'opened' | 'env'> = {},
): Promise<WaitResult> {
  checkCondition(condition)
  validateName(name) // before any runtime is asked, as locate and signal do
  const timeoutMs = opts.timeoutMs ?? 30_000
  const start = Date.now()
  const left = () => Math.max(0, timeoutMs - (Date.now() - start))
  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.min(250, left())))
  const withTime = (r: WaitResult): WaitResult => ({...r, waitedMs: Date.now() - start})
  let t: ContainerTarget
  // Once its init was visible here, a State.Pid that names nothing is the engine lagging behind a
  // restart (it still reports the old init for a moment), not a reason for the helper route.
  let sawVisible = false
  const notYet = async (down: ContainerDown): Promise<WaitResult | null> => {
    const done = waitDown(name, condition, down, Date.now() - start, timeoutMs, left())
    if (!done) await pause()
    return done
  }
  for (;;) {
    const found = await targetOrDown(ref, opts)
    if (isDown(found)) {
      const done = await notYet(found)
      if (done) return done
      continue
    }
    t = found
    if (t.rootPid === null) {
      if (!sawVisible) break
      const done = await notYet({why: `container ${t.info.name} is restarting`, container: t.container})
      if (done) return done
      continue
    }
    sawVisible = true
    const r = withTime(await waitFor(name, condition, {...opts, timeoutMs: left(), ...inTarget(t)}))
    // The container's init exited while waiting (a restart, a crash loop, the container stopped):
    // with time left, ask the runtime again. For --for running, wait for the container to run
    // again; for --for stopped, a container that is gone holds no service (reached), and one that
    // runs again (a new attempt of a pod's container) is waited on afresh.
    if (!r.reached && r.target.reasons.includes('root_exited') && left() > 0) {
      await pause()
      continue
    }
    return r
  }
  const rest = left()
  const argv = helperArgv('wait', [name], {...opts, condition, timeoutMs: rest})
  return withTime((await viaHelper(t, argv, {...opts, helperTimeoutMs: rest + HELPER_TIMEOUT_MS})).result as WaitResult)
}

/**
 * list() for a Docker container: what `find NAME --container REF` would find, for every NAME in the
 * search path inside the container (its processes must be visible from here).
 */
export async function listInContainer(
  ref: string | ContainerSpec,
  opts: Omit<ListOptions, 'rootPid' | 'containerHint' | 'preEvidence'> & Pick<TargetOptions, 'opened' | 'env'> = {},
): Promise<ListResult> {
  const t = await targetOrDown(ref, opts)
  // Nothing runs in it, and its files cannot be read without a running init: no row, and why.
  if (isDown(t)) return noListing(t)
  if (t.rootPid === null) {
    const spec = specOf(ref)
    const advice = 'run nslocate on the host'
    throw new NslocateError(
      'NOT_VISIBLE',
      `the processes of container ${spec.container ?? `${t.info.name} of pod ${spec.pod}`} are not visible from this PID namespace; ${advice}`,
      {advice},
    )
  }
  const {opened: _o, env: _e, ...rest} = opts
  const rootPid = t.rootPid
  return inside(t, () => list({...rest, rootPid, containerHint: t.container}), noListing)
}

/** list()'s answer for a container that does not run: no row, and why. */
function noListing(down: ContainerDown): ListResult {
  return {services: [], unreadable: [], denied: [], outcome: 'not_running', notRunning: `${down.why}; no service runs in it`}
}

/** One container the engine runs, with the services found in it (listContainers()). */
export interface ContainerServices {
  id: string
  name: string
  /** the runtime that reported it */
  runtime: RuntimeKind
  /** its pod (`NAMESPACE/NAME`, or a Podman pod's name), when it is in one */
  pod: string | null
  image: string
  pid: number
  /** false when the container's processes are not visible from this PID namespace */
  visible: boolean
  services: LocateResult[]
}

/** `nslocate containers`: the running containers of every runtime that answers, and the services whose pidfiles are found in each. */
export async function listContainers(opts: {procfs?: ProcFs; env?: NodeJS.ProcessEnv} = {}): Promise<ContainerServices[]> {
  const {opened} = await answeringRuntimes(opts.env)
  const out: ContainerServices[] = []
  const seen = new Set<string>()
  for (const o of opened) {
    let all: ContainerInfo[]
    try {
      all = await o.runtime.list()
    } catch (error) {
      // A default socket that is not the runtime it was taken for (Docker's own containerd, whose
      // CRI plugin is disabled): it has no containers to list. Any other failure is reported.
      if (opened.length > 1 && error instanceof NslocateError && (error.details as {unsupported?: boolean} | undefined)?.unsupported) continue
      throw error
    }
    for (const c of all) {
      // One engine behind two sockets (DOCKER_HOST naming Podman's): listed once, by the first.
      if (!c.running || seen.has(c.id)) continue
      seen.add(c.id)
      let services: LocateResult[] = []
      let visible = true
      try {
        const t = await containerTarget({container: c.id}, {opened: o, procfs: opts.procfs, env: opts.env})
        if (t.rootPid === null) visible = false
        else services = [...list({rootPid: t.rootPid, procfs: opts.procfs, containerHint: t.container}).services]
      } catch (error) {
        if (error instanceof NslocateError && error.code === 'NOT_RUNNING') continue
        if (!(error instanceof NslocateError && (error.code === 'PERMISSION' || (error.details as {reason?: string} | undefined)?.reason === 'foreign_socket')))
          throw error
        visible = false
      }
      const pod = c.pod ? `${c.pod.namespace ? `${c.pod.namespace}/` : ''}${c.pod.name}` : null
      out.push({id: c.id, name: c.name, runtime: o.runtime.kind, pod, image: c.image, pid: c.hostPid, visible, services})
    }
  }
  return out
}

/**
 * The helper container's command line for `command` with `args` and the library options `opts`,
 * generated from the grammar (src/cli/grammar.ts): every option a flag of the command sets is
 * passed on, so the helper applies the same identity, scope, handler and timing options (test:
 * test/cli/helper-argv.test.ts). The helper adds its own --root-pid and --json (viaHelper()).
 */
export function helperArgv(command: 'find' | 'signal' | 'wait', args: string[], opts: object): string[] {
  // The positional arguments are checked here, on the host, before any helper runs: a NAME must be
  // a valid name (never starting with '-') and SIGNAL is sent as its canonical name or number, so
  // no argument can be read by the helper's parser as a flag.
  const [name, sig] = args
  const positional = [validateName(name), ...(sig === undefined ? [] : [parseSignal(sig).name])]
  return [command, ...positional, ...flagsOf(GRAMMAR[command], opts as Record<string, unknown>, ['container', 'rootPid', 'pod', 'containerName', 'runtime'])]
}

/** Runs the helper container; its printed JSON result is returned in the library's shape (src/cli/json.ts). */
async function viaHelper(t: ContainerTarget, argv: string[], opts: {procfs?: ProcFs; helperTimeoutMs?: number}): Promise<{result: unknown; image: string}> {
  if (t.delegate !== null || !t.runtime.runToCompletion) {
    const advice = "run nslocate in the host's PID namespace, or in a container sharing the service's"
    throw new NslocateError(
      'NOT_VISIBLE',
      `container ${t.info.name}'s processes are not visible here${t.runtime.runToCompletion ? '' : `, and the ${t.runtime.kind === 'cri' ? 'CRI cannot run a helper container' : 'runtime cannot run a helper container'}`}; ${advice}`,
      {advice},
    )
  }
  const image = await helperImage(t.runtime, opts.procfs)
  const cmd = [...argv, '--root-pid', String(t.info.hostPid), '--json']
  // Host PID namespace: there State.Pid is valid, and the service may be the container's own
  // PID 1, which nothing inside that container's namespace may signal (nslocate refuses its own
  // namespace's init, and its exit would kill the helper before it reports).
  const r = await t.runtime.runToCompletion({
    image,
    cmd,
    pidMode: 'host',
    capAdd: ['SYS_PTRACE'],
    timeoutMs: opts.helperTimeoutMs ?? HELPER_TIMEOUT_MS,
    labels: {'nslocate.target': t.info.id},
  })
  let json: unknown
  try {
    json = JSON.parse(r.stdout)
  } catch {
    throw new NslocateError(
      'DOCKER',
      `the helper container (image ${image}) did not answer with JSON (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
    )
  }
  const j = json as {error?: {code: string; message: string}}
  // NOT_RUNNING from the helper: the container's init (its --root-pid) exited, the container stopped meanwhile (down.ts).
  // Only a code nslocate has: any other is the engine's side of it (DOCKER), never a "stopped" (NOT_RUNNING) by accident.
  if (j.error) throw new NslocateError(isErrorCode(j.error.code) ? j.error.code : 'DOCKER', `helper container: ${j.error.message}`)
  const withEv = json as {evidence?: string[]; target?: {evidence?: string[]}}
  const note = `done by a helper container (image ${image}) in the engine's PID namespace, because container ${t.info.name}'s processes are not visible here`
  if (Array.isArray(withEv.evidence)) withEv.evidence.unshift(...t.evidence, note)
  if (withEv.target && Array.isArray(withEv.target.evidence)) withEv.target.evidence.unshift(...t.evidence, note)
  return {result: libraryResult(argv[0] as 'find' | 'signal' | 'wait', json), image}
}
