/**
 * find / signal / wait / list for a service inside a Docker container, given --container REF.
 * When the container's init is visible here, everything happens in this process through
 * /proc/PID/root and pidfds. When it is not (a sibling container that has only the Docker socket),
 * a short-lived helper container is started from the nslocate image in the engine's (host) PID
 * namespace, where State.Pid is valid; it does the same pidfd-safe work there and prints its JSON
 * result, which is returned as is. The helper is always removed.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError} from '../errors'
import {IdentityOptions} from '../locate/identity-options'
import {LocateOptions, LocateResult, locate, stoppedResult} from '../locate/locate'
import {listPidfiles} from '../locate/list-pidfiles'
import {ProcFs, proc} from '../proc/proc-fs'
import {SignalOptions, SignalResult, WaitCondition, WaitOptions, WaitResult, asSignalStatus, checkCondition, signal, waitFor} from '../signal/signal'
import {ContainerTarget, containerTarget, helperImage} from './container-target'
import {DockerApi, dockerApi} from './docker'

export const HELPER_TIMEOUT_MS = 60_000

type Common = Partial<Omit<LocateOptions, 'name' | 'rootPid'>> & {api?: DockerApi}

function inTarget(t: ContainerTarget): Partial<LocateOptions> {
  return {rootPid: t.rootPid!, containerHint: t.container, preEvidence: t.evidence}
}

export async function locateInContainer(name: string, ref: string, opts: Common = {}): Promise<LocateResult> {
  const t = await containerTarget(ref, opts)
  if (t.rootPid !== null) return locate({...opts, name, ...inTarget(t)})
  const argv = ['find', name, ...pidfileArgs(opts)]
  return (await viaHelper(t, argv, opts)).json as LocateResult
}

export async function signalInContainer(name: string, sig: string, ref: string, opts: Omit<SignalOptions, 'rootPid'> & {api?: DockerApi} = {}): Promise<SignalResult & {helper?: string}> {
  try {
    return await signalInContainerAt(name, sig, ref, opts)
  } catch (error) {
    throw asSignalStatus(error) // no such container, or it stopped
  }
}

async function signalInContainerAt(name: string, sig: string, ref: string, opts: Omit<SignalOptions, 'rootPid'> & {api?: DockerApi}): Promise<SignalResult & {helper?: string}> {
  const t = await containerTarget(ref, opts)
  if (t.rootPid !== null) return signal(name, sig, {...opts, ...inTarget(t)})
  const argv = ['signal', name, sig, ...pidfileArgs(opts), '--scope', opts.scope ?? 'main']
  if (opts.wait) argv.push('--wait')
  if (opts.timeoutMs !== undefined) argv.push('--timeout', `${opts.timeoutMs}ms`)
  if (opts.retry) argv.push('--retry', opts.retry)
  if (opts.dryRun) argv.push('--dry-run')
  const r = await viaHelper(t, argv, opts)
  return {...(r.json as SignalResult), helper: r.image}
}

/**
 * A container that does not exist or is not running holds no running service: `--for stopped` is
 * reached at once; `--for running` looks at the container again every 250 ms until it runs (then
 * waits for the service in it) or the time is up.
 */
export async function waitInContainer(name: string, condition: WaitCondition, ref: string, opts: WaitOptions & {api?: DockerApi} = {}): Promise<WaitResult> {
  checkCondition(condition)
  const timeoutMs = opts.timeoutMs ?? 30_000
  const start = Date.now()
  const left = () => Math.max(0, timeoutMs - (Date.now() - start))
  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.min(250, left())))
  const api = opts.api ?? (await dockerApi())
  const withTime = (r: WaitResult): WaitResult => ({...r, waited_ms: Date.now() - start})
  let t: ContainerTarget
  // Once its init was visible here, a State.Pid that names nothing is the engine lagging behind a
  // restart (it still reports the old init for a moment), not a reason for the helper route.
  let sawVisible = false
  const notYet = async (why: string): Promise<WaitResult | null> => {
    const waited = Date.now() - start
    const target = stoppedResult(name, ['container_not_running'], [why])
    if (condition === 'stopped') return {name, condition, reached: true, waited_ms: waited, exit_code: 0, message: `${name} is not running (${why})`, target, exit: null}
    if (left() === 0) return {name, condition, reached: false, waited_ms: waited, exit_code: 1, message: `${name}: timed out after ${timeoutMs} ms waiting for it to be running (${why})`, target, exit: null}
    await pause()
    return null
  }
  for (;;) {
    try {
      t = await containerTarget(ref, {...opts, api})
    } catch (error) {
      if (!(error instanceof NslocateError && error.code === 'NOT_RUNNING')) throw error
      const done = await notYet(error.message)
      if (done) return done
      continue
    }
    if (t.rootPid === null) {
      if (!sawVisible) break
      const done = await notYet(`container ${t.summary.name} is restarting`)
      if (done) return done
      continue
    }
    sawVisible = true
    const r = withTime(await waitFor(name, condition, {...opts, timeoutMs: left(), ...inTarget(t)}))
    // The container's init exited while waiting for the service to run (a restart, a crash loop):
    // with time left, wait for the container to run again.
    if (condition === 'running' && !r.reached && r.target.reasons.includes('root_exited') && left() > 0) {
      await pause()
      continue
    }
    return r
  }
  const rest = left()
  const argv = ['wait', name, '--for', condition, ...pidfileArgs(opts), '--timeout', `${rest}ms`]
  return withTime((await viaHelper(t, argv, {...opts, helperTimeoutMs: rest + HELPER_TIMEOUT_MS})).json as WaitResult)
}

/** What `find NAME --root-pid ROOTPID` would find, for every NAME in the search path inside ROOTPID's root (list-pidfiles.ts). */
export function listInRoot(rootPid: number, opts: {procfs?: ProcFs; dir?: string; allowUnsafe?: boolean; preEvidence?: string[]; containerHint?: LocateOptions['containerHint']} & IdentityOptions = {}): LocateResult[] {
  const procfs = opts.procfs ?? proc
  const root = procfs.file(rootPid, 'root')
  const {files} = listPidfiles({root, dir: opts.dir ? path.join(root, path.resolve(opts.dir)) : undefined, env: {}, uid: 0})
  return files.map((f) => locate({name: f.name, pidfile: f.path.slice(root.length) || '/', rootPid, skipNameCheck: !f.validName,
    allowUnsafe: opts.allowUnsafe, containerHint: opts.containerHint, preEvidence: opts.preEvidence, exec: opts.exec, processName: opts.processName, user: opts.user}))
}

export interface ContainerServices {
  id: string
  name: string
  image: string
  pid: number
  /** false when the container's processes are not visible from this PID namespace */
  visible: boolean
  services: LocateResult[]
}

/** `nslocate containers`: the running containers and the services whose pidfiles are found in each. */
export async function listContainers(opts: {api?: DockerApi; procfs?: ProcFs} = {}): Promise<ContainerServices[]> {
  const api = opts.api ?? (await dockerApi())
  const out: ContainerServices[] = []
  for (const c of await api.list()) {
    if (!c.running) continue
    let services: LocateResult[] = []
    let visible = true
    try {
      const t = await containerTarget(c.id, {api, procfs: opts.procfs})
      if (t.rootPid === null) visible = false
      else services = listInRoot(t.rootPid, {procfs: opts.procfs, containerHint: t.container})
    } catch (error) {
      if (error instanceof NslocateError && error.code === 'NOT_RUNNING') continue
      if (!(error instanceof NslocateError && error.code === 'PERMISSION')) throw error
      visible = false
    }
    out.push({id: c.id, name: c.name, image: c.image, pid: c.pid, visible, services})
  }
  return out
}

function pidfileArgs(opts: {pidfile?: string; dir?: string; allowUnsafe?: boolean} & IdentityOptions): string[] {
  const a: string[] = []
  if (opts.pidfile) a.push('--pidfile', opts.pidfile)
  if (opts.dir) a.push('--dir', opts.dir)
  if (opts.allowUnsafe) a.push('--allow-unsafe-pidfile')
  // identity options are required of every answer: the helper must apply them too
  if (opts.exec !== undefined) a.push('--exec', opts.exec)
  if (opts.processName !== undefined) a.push('--process-name', opts.processName)
  if (opts.user !== undefined) a.push('--user', String(opts.user))
  return a
}

async function viaHelper(t: ContainerTarget, argv: string[], opts: {procfs?: ProcFs; helperTimeoutMs?: number}): Promise<{json: unknown; image: string}> {
  const image = await helperImage(t.api, opts.procfs)
  const cmd = [...argv, '--root-pid', String(t.summary.pid), '--json']
  // Host PID namespace: there State.Pid is valid, and the service may be the container's own
  // PID 1, which nothing inside that container's namespace may signal (nslocate refuses its own
  // namespace's init, and its exit would kill the helper before it reports).
  const r = await t.api.runToCompletion({image, cmd, pidMode: 'host', capAdd: ['SYS_PTRACE'], timeoutMs: opts.helperTimeoutMs ?? HELPER_TIMEOUT_MS, labels: {'nslocate.target': t.summary.id}})
  let json: unknown
  try {
    json = JSON.parse(r.stdout)
  } catch {
    throw new NslocateError('DOCKER', `the helper container (image ${image}) did not answer with JSON (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`, {exitCode: 4})
  }
  const j = json as {error?: {code: string; message: string}}
  if (j.error) throw new NslocateError((j.error.code as never) ?? 'DOCKER', `helper container: ${j.error.message}`, {exitCode: r.exitCode || 4})
  const withEv = json as {evidence?: string[]; target?: {evidence?: string[]}}
  const note = `done by a helper container (image ${image}) in the engine's PID namespace, because container ${t.summary.name}'s processes are not visible here`
  if (Array.isArray(withEv.evidence)) withEv.evidence.unshift(...t.evidence, note)
  if (withEv.target && Array.isArray(withEv.target.evidence)) withEv.target.evidence.unshift(...t.evidence, note)
  return {json, image}
}
