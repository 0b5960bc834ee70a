/**
 * A second containerd serving the CRI, for the runtime tier (issue 19). Debian's /usr/bin/containerd
 * runs with a config of its own (`containerd config default`, edited): its own root, its own state
 * directory with the socket inside it (as /run/containerd is laid out, so the daemonless backend
 * finds the state beside the socket), the CRI plugin on with `restrict_oom_score_adj = true` (root
 * here lacks CAP_SYS_RESOURCE, STACK-NOTES), the cgroupfs driver (SystemdCgroup=false), overlayfs,
 * and a locally built pause image as sandbox_image. Docker's own containerd is never touched: every
 * `ctr` call names this instance's socket (-a).
 *
 * API (stable: test/runtime/daemonless-*.test.ts reads it too):
 *   startContainerd({nslocateImage?, timeoutMs?}) -> Containerd     starts one; throws with the log tail
 *   describeWithContainerd(name, (cd) => {...}, {nslocateImage?})    a describe whose beforeAll starts one
 *                                                                   and afterAll stops it; `cd()` gives it
 *   Containerd: id, root, state, socket, endpoint ('unix://' + socket, for CONTAINER_RUNTIME_ENDPOINT),
 *     config, logFile, pid, images {pause, app, nslocate}, ctr(args, opts), tasks(ns), logTail(n),
 *     addCgroupParent(path), stop()
 *   APP_PIDFILE_DIR ('/run'), appCommand(...): the app image's service (see below)
 *
 * Images (no registry is reachable; nothing is pulled):
 *   nslocate-pause:local  FROM scratch, /pause: fixtures/cri/pause.c compiled with gcc -static.
 *   nslocate-cri-app:local FROM scratch: /bin/busybox (busybox-static, with sh, sleep, cat, ls, kill
 *                         links), /bin/siglog (fixtures/victims/siglog.c, static) and /bin/lock-exec
 *                         (fixtures/cri/lock-exec.c, static): `lock-exec /run/app.pid /bin/siglog LOG`
 *                         is a service that holds a POSIX lock on its pidfile and logs every signal.
 *   nslocate:local        the project's image (engine.ts ensureImages()), `docker save | ctr import`,
 *                         only when asked ({nslocateImage: true}): it is 150 MB and takes seconds.
 *   The two small ones are written as docker-archive tars into build/cache/cri/ (keyed by a hash of
 *   their files) and imported with `ctr -n k8s.io images import`; CRI names them
 *   docker.io/library/NAME:local.
 *
 * Where it lives: /run/nslocate-cri-ID (state; socket /run/nslocate-cri-ID/containerd.sock) and
 * /var/lib/nslocate-cri-ID (root, config.toml, containerd.log, pod log directories). Neither is a
 * temp directory the leak check watches, and stop() removes both. stop() also removes every pod
 * sandbox (CRI), then every task and container of every namespace (ctr), stops containerd (SIGTERM,
 * then SIGKILL), kills any shim of this instance still running (by pid, matched on its -address),
 * unmounts anything left under the two directories, and removes the cgroup directories of the pods
 * (addCgroupParent; the kubelet helper registers each pod's). A later start also removes what an
 * instance whose containerd is gone left behind (a crashed run). containerd and its shims inherit the
 * test run's NSLOCATE_TEST_RUN marker, so the leak check sees any process that survives.
 */
import {ChildProcess, execFile, execFileSync, spawn} from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {loadCri} from '../../src/runtime/cri-proto'
import {compileFixture} from './compile'
import {ensureImages} from './engine'
import {ROOT} from './paths'
import {track, untrack} from './tracked'

export const CONTAINERD_BIN = '/usr/bin/containerd'
export const CTR_BIN = '/usr/bin/ctr'
/** The CRI's namespace in containerd. */
export const K8S_NS = 'k8s.io'
export const PAUSE_IMAGE = 'nslocate-pause:local'
export const APP_IMAGE = 'nslocate-cri-app:local'
export const NSLOCATE_IMAGE = 'nslocate:local'
/** How CRI names an image imported as NAME:TAG (docker.io/library/ prefixed, as it normalises references). */
export const criImageName = (ref: string): string => `docker.io/library/${ref}`

/** Where the app (appCommand) keeps its pidfile, inside its container: one of nslocate's runtime directories. */
export const APP_PIDFILE_DIR = '/run'

/**
 * The app's command: a service named `name` holding a POSIX lock on DIR/NAME.pid and logging every
 * signal it receives to DIR/LOG (siglog's format, test/helpers/victims.ts readLog()). Exits 0 on
 * each signal of `exitOn` (after logging it), as a service that stops on TERM.
 */
export function appCommand(opts: {name?: string; dir?: string; log?: string; exitOn?: string[]} = {}): string[] {
  const dir = opts.dir ?? APP_PIDFILE_DIR
  const cmd = ['/bin/lock-exec', `${dir}/${opts.name ?? 'app'}.pid`, '/bin/siglog', `${dir}/${opts.log ?? 'signals.log'}`]
  for (const s of opts.exitOn ?? []) cmd.push('--exit-on', s)
  return cmd
}

export interface CtrOptions {
  /** containerd namespace (default k8s.io) */
  namespace?: string
  /** bytes for ctr's stdin */
  input?: string | Buffer
  timeoutMs?: number
}

/** One row of `ctr tasks ls`. */
export interface TaskRow {
  id: string
  pid: number
  status: string
}

export interface Containerd {
  /** this instance's id (8 hex digits) */
  readonly id: string
  /** containerd's root (--root): content, snapshots, metadata; also config.toml, containerd.log, pod logs */
  readonly root: string
  /** containerd's state directory: the socket, io.containerd.runtime.v2.task/NS/ID/{init.pid,config.json}, CRI's sandboxes */
  readonly state: string
  /** the gRPC socket, inside `state` */
  readonly socket: string
  /** unix://SOCKET, as CONTAINER_RUNTIME_ENDPOINT and crictl name it */
  readonly endpoint: string
  readonly config: string
  readonly logFile: string
  /** containerd's pid */
  readonly pid: number
  /** the images as CRI names them (docker.io/library/...); nslocate is null unless asked for */
  readonly images: {pause: string; app: string; nslocate: string | null}
  /** Run `ctr -a SOCKET -n NS ARGS...` (never Docker's containerd) and resolve with its stdout; rejects with its output on failure. */
  ctr(args: string[], opts?: CtrOptions): Promise<string>
  /** `ctr tasks ls` of a namespace (default k8s.io), by container id: the independent pid source. */
  tasks(namespace?: string): Promise<Map<string, TaskRow>>
  /** The last lines of containerd's log. */
  logTail(lines?: number): string
  /** A cgroup parent (e.g. /kubepods/besteffort/pod<uid>) whose directories stop() removes in every hierarchy. */
  addCgroupParent(p: string): void
  /** Remove everything this instance made and stop it; idempotent. */
  stop(): Promise<void>
}

/** Where instances live: `${STATE_PREFIX}ID` and `${ROOT_PREFIX}ID`. */
const STATE_PREFIX = '/run/nslocate-cri-'
const ROOT_PREFIX = '/var/lib/nslocate-cri-'
const CGROUP_FS = '/sys/fs/cgroup'

function runCapture(cmd: string, args: string[], opts: {input?: string | Buffer; timeoutMs?: number} = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, encoding: 'buffer'}, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')} failed (${error.code ?? error.signal}): ${stdout.toString()}${stderr.toString()}`.trim()))
      else resolve(stdout.toString())
    })
    if (opts.input !== undefined) child.stdin!.end(opts.input)
    else child.stdin!.end()
  })
}

/** Is `pid` alive and running containerd with `config`? */
function containerdAlive(pid: number, config: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(config)
  } catch {
    return false
  }
}

/** Mount points at or under any of `dirs`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
function mountsUnder(dirs: string[]): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8')
  const out: string[] = []
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    if (f.length < 5) continue
    const mp = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (dirs.some((d) => mp === d || mp.startsWith(`${d}/`))) out.push(mp)
  }
  return out.sort((a, b) => b.length - a.length)
}

/** Shim processes serving `socket` (their argv has `-address SOCKET`), by pid. */
function shimsOf(socket: string): number[] {
  const out: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let argv: string[]
    try {
      argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')
    } catch {
      continue
    }
    const i = argv.indexOf('-address')
    if (/containerd-shim/.test(argv[0] ?? '') && i >= 0 && argv[i + 1] === socket) out.push(Number(name))
  }
  return out
}

/** SIGKILL a shim's children (containers' inits: killing a PID namespace's init ends the namespace), then the shim. */
function killShim(shim: number): void {
  let children: number[] = []
  try {
    for (const t of fs.readdirSync(`/proc/${shim}/task`)) {
      children.push(...fs.readFileSync(`/proc/${shim}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number))
    }
  } catch {
    children = []
  }
  for (const pid of [...children, shim]) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
}

/** Unmount (lazily) what is mounted under the dirs, then remove them without crossing into another filesystem. */
function removeDirs(dirs: string[]): void {
  for (const mp of mountsUnder(dirs)) {
    try {
      execFileSync('umount', ['-l', mp], {stdio: 'pipe'})
    } catch {}
  }
  for (const d of dirs) {
    if (!fs.existsSync(d)) continue
    execFileSync('rm', ['-rf', '--one-file-system', d], {stdio: 'pipe'})
  }
}

/** rmdir `cgroupPath` and its now-empty parents (up to its first component) in every hierarchy; busy ones are left. */
function removeCgroup(cgroupPath: string): void {
  let hierarchies: string[]
  try {
    hierarchies = fs.readdirSync(CGROUP_FS).map((h) => path.join(CGROUP_FS, h))
  } catch {
    return
  }
  const rel = cgroupPath.replace(/^\/+/, '').split('/').filter(Boolean)
  for (const h of hierarchies) {
    for (let n = rel.length; n > 0; n--) {
      try {
        fs.rmdirSync(path.join(h, ...rel.slice(0, n)))
      } catch {
        break // not there, busy, or not empty (another pod, another instance): leave it and its parents
      }
    }
  }
}

/** Remove what earlier instances left when their containerd is gone (a crashed run). */
function removeStale(): void {
  let names: string[] = []
  try {
    names = fs.readdirSync('/run').filter((n) => n.startsWith(path.basename(STATE_PREFIX)))
  } catch {}
  const roots = fs.existsSync('/var/lib') ? fs.readdirSync('/var/lib').filter((n) => n.startsWith(path.basename(ROOT_PREFIX))) : []
  const ids = new Set([...names.map((n) => n.slice(path.basename(STATE_PREFIX).length)), ...roots.map((n) => n.slice(path.basename(ROOT_PREFIX).length))])
  for (const id of ids) {
    if (!/^[0-9a-f]{8}$/.test(id)) continue
    const root = ROOT_PREFIX + id
    const config = path.join(root, 'config.toml')
    const pid = Number(fs.existsSync(path.join(root, 'containerd.pid')) ? fs.readFileSync(path.join(root, 'containerd.pid'), 'utf8') : 0)
    if (pid > 0 && containerdAlive(pid, config)) continue
    // A recent directory without a pid file is an instance being started by another test file.
    const since = Date.now() - Math.max(statMtime(root), statMtime(STATE_PREFIX + id))
    if (pid === 0 && since < 5 * 60_000) continue
    for (const shim of shimsOf(path.join(STATE_PREFIX + id, 'containerd.sock'))) killShim(shim)
    removeDirs([STATE_PREFIX + id, root])
  }
}

function statMtime(p: string): number {
  try {
    return fs.statSync(p).mtimeMs
  } catch {
    return 0
  }
}

/** `containerd config default`, edited for this instance; every edit must apply (a changed default fails loudly). */
export function containerdConfig(root: string, state: string, socket: string): string {
  let text = execFileSync(CONTAINERD_BIN, ['config', 'default'], {encoding: 'utf8'})
  const edits: [RegExp, string][] = [
    [/^root = ".*"$/m, `root = "${root}"`],
    [/^state = ".*"$/m, `state = "${state}"`],
    // [grpc] address: the first indented `address = "/run/containerd/containerd.sock"`
    [/^(\s+)address = "\/run\/containerd\/containerd\.sock"$/m, `$1address = "${socket}"`],
    [/^(\s+)restrict_oom_score_adj = false$/m, '$1restrict_oom_score_adj = true'],
    [/^(\s+)sandbox_image = ".*"$/m, `$1sandbox_image = "${criImageName(PAUSE_IMAGE)}"`],
    [/^(\s+)snapshotter = "overlayfs"$/m, '$1snapshotter = "overlayfs"'],
    [/^(\s+)SystemdCgroup = false$/m, '$1SystemdCgroup = false'],
    [/^(\s+)systemd_cgroup = false$/m, '$1systemd_cgroup = false'],
    [/^(\s+)disable_cgroup = false$/m, '$1disable_cgroup = false'],
    // nothing of the host's: CNI (host-network pods need none) and the opt plugin's directory
    [/^(\s+)bin_dir = "\/opt\/cni\/bin"$/m, `$1bin_dir = "${root}/cni/bin"`],
    [/^(\s+)conf_dir = "\/etc\/cni\/net\.d"$/m, `$1conf_dir = "${root}/cni/net.d"`],
    [/^(\s+)path = "\/opt\/containerd"$/m, `$1path = "${root}/opt"`],
  ]
  for (const [re, replacement] of edits) {
    if (!re.test(text)) throw new Error(`containerd config default has no line matching ${re}: the edit cannot be made`)
    text = text.replace(re, replacement)
  }
  // The CRI plugin must not be disabled.
  if (!/^disabled_plugins = \[\]$/m.test(text)) throw new Error('containerd config default disables plugins: expected disabled_plugins = []')
  return text
}

/** sha256 of files' contents and names, 16 hex digits. */
function hashOf(parts: (string | Buffer)[]): string {
  const h = crypto.createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest('hex').slice(0, 16)
}

interface ImageFile {
  /** path in the image */
  to: string
  /** a host file to copy, or a symlink target */
  from?: string
  link?: string
  mode?: number
}

/**
 * A docker-archive (`docker save` format: manifest.json with RepoTags, the config, one layer tar) of
 * an image FROM scratch holding `files`, cached in build/cache/cri/ by a hash of its contents.
 * Built with tar (owner 0, fixed mtime) into a private directory, then renamed: concurrent test files
 * may build it at once.
 */
function imageArchive(tag: string, files: ImageFile[], config: Record<string, unknown>): string {
  const cache = path.join(ROOT, 'build', 'cache', 'cri')
  const key = hashOf([tag, JSON.stringify(config), ...files.flatMap((f) => [f.to, f.link ?? '', f.from ? fs.readFileSync(f.from) : ''])])
  const out = path.join(cache, `${tag.replace(/[^a-z0-9.-]/gi, '_')}-${key}.tar`)
  if (fs.existsSync(out)) return out
  fs.mkdirSync(cache, {recursive: true})
  const work = fs.mkdtempSync(path.join(cache, '.build-'))
  try {
    const rootfs = path.join(work, 'rootfs')
    for (const d of ['bin', 'dev', 'etc', 'proc', 'run', 'sys', 'tmp']) fs.mkdirSync(path.join(rootfs, d), {recursive: true})
    fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777)
    for (const f of files) {
      const dest = path.join(rootfs, f.to)
      fs.mkdirSync(path.dirname(dest), {recursive: true})
      if (f.link) fs.symlinkSync(f.link, dest)
      else {
        fs.copyFileSync(f.from!, dest)
        fs.chmodSync(dest, f.mode ?? 0o755)
      }
    }
    const tarArgs = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0']
    const layer = path.join(work, 'layer.tar')
    execFileSync('tar', [...tarArgs, '-C', rootfs, '-cf', layer, '.'])
    const diff = crypto.createHash('sha256').update(fs.readFileSync(layer)).digest('hex')
    const arch = path.join(work, 'archive')
    fs.mkdirSync(path.join(arch, diff), {recursive: true})
    fs.renameSync(layer, path.join(arch, diff, 'layer.tar'))
    const cfg = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config,
      rootfs: {type: 'layers', diff_ids: [`sha256:${diff}`]},
      history: [{created_by: 'test/helpers/containerd.ts'}],
    })
    const cfgName = `${crypto.createHash('sha256').update(cfg).digest('hex')}.json`
    fs.writeFileSync(path.join(arch, cfgName), cfg)
    fs.writeFileSync(path.join(arch, 'manifest.json'), JSON.stringify([{Config: cfgName, RepoTags: [tag], Layers: [`${diff}/layer.tar`]}]))
    const tmp = path.join(work, 'image.tar')
    execFileSync('tar', [...tarArgs, '-C', arch, '-cf', tmp, '.'])
    fs.renameSync(tmp, out)
    // Older archives of the same image (other inputs) are not used again.
    const prefix = `${path.basename(out).slice(0, -'-0123456789abcdef.tar'.length)}-`
    for (const f of fs.readdirSync(cache))
      if (f.startsWith(prefix) && f.endsWith('.tar') && f !== path.basename(out)) fs.rmSync(path.join(cache, f), {force: true})
    return out
  } finally {
    fs.rmSync(work, {recursive: true, force: true})
  }
}

/** The pause and app image archives (compiling the static binaries on first use). */
export function testImageArchives(): {pause: string; app: string} {
  const pause = compileFixture('pause-static', 'cri/pause.c', ['-static'])
  const siglog = compileFixture('siglog-static', 'victims/siglog.c', ['-static'])
  const lockExec = compileFixture('lock-exec-static', 'cri/lock-exec.c', ['-static'])
  const busybox = fs.realpathSync('/bin/busybox')
  return {
    pause: imageArchive(PAUSE_IMAGE, [{to: 'pause', from: pause}], {Entrypoint: ['/pause']}),
    app: imageArchive(
      APP_IMAGE,
      [
        {to: 'bin/busybox', from: busybox},
        ...['sh', 'sleep', 'cat', 'ls', 'kill', 'echo', 'ps'].map((a) => ({to: `bin/${a}`, link: 'busybox'})),
        {to: 'bin/siglog', from: siglog},
        {to: 'bin/lock-exec', from: lockExec},
      ],
      {Env: ['PATH=/bin'], Cmd: ['/bin/sh']},
    ),
  }
}

export interface ContainerdOptions {
  /** also import nslocate:local (ensureImages() first): for a sidecar that runs nslocate */
  nslocateImage?: boolean
  /** how long containerd and its CRI plugin may take to answer (default 30 s) */
  timeoutMs?: number
}

/** Start a second containerd; rejects (after cleaning up) with containerd's log tail when it does not serve CRI. */
export async function startContainerd(opts: ContainerdOptions = {}): Promise<Containerd> {
  for (const bin of [CONTAINERD_BIN, CTR_BIN, '/usr/sbin/runc', '/usr/bin/containerd-shim-runc-v2']) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: apt-get install containerd runc (Debian's, not Docker's)`)
  }
  removeStale()
  const id = crypto.randomBytes(4).toString('hex')
  const state = STATE_PREFIX + id
  const root = ROOT_PREFIX + id
  const socket = path.join(state, 'containerd.sock')
  fs.mkdirSync(state, {recursive: true, mode: 0o711})
  fs.mkdirSync(root, {recursive: true, mode: 0o711})
  const config = path.join(root, 'config.toml')
  const logFile = path.join(root, 'containerd.log')
  const cgroupParents = new Set<string>()
  let child: ChildProcess | null = null
  let stopped = false

  const logTail = (lines = 30): string => {
    try {
      return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }
  const ctr = (args: string[], o: CtrOptions = {}) => runCapture(CTR_BIN, ['-a', socket, '-n', o.namespace ?? K8S_NS, ...args], o)
  const tasks = async (namespace = K8S_NS): Promise<Map<string, TaskRow>> => {
    const out = new Map<string, TaskRow>()
    for (const line of (await ctr(['tasks', 'ls'], {namespace})).split('\n').slice(1)) {
      const [tid, pid, status] = line.trim().split(/\s+/)
      if (tid) out.set(tid, {id: tid, pid: Number(pid), status})
    }
    return out
  }

  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    const errors: string[] = []
    const alive = child !== null && child.exitCode === null && child.signalCode === null
    if (alive) {
      // 1. Every pod sandbox, through the CRI (unmounts their shm, removes their containers).
      try {
        const {grpc, RuntimeService} = loadCri()
        const client = new RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure())
        const call = (m: string, req: object) =>
          new Promise<any>((resolve, reject) =>
            (client as any)[m](req, {deadline: Date.now() + 20_000}, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))),
          )
        try {
          const pods = (await call('ListPodSandbox', {})).items as {id: string}[]
          for (const p of pods) {
            await call('StopPodSandbox', {pod_sandbox_id: p.id}).catch((e) => errors.push(`StopPodSandbox ${p.id}: ${e.message}`))
            await call('RemovePodSandbox', {pod_sandbox_id: p.id}).catch((e) => errors.push(`RemovePodSandbox ${p.id}: ${e.message}`))
          }
        } finally {
          client.close()
        }
      } catch (e) {
        errors.push(`CRI clean-up: ${(e as Error).message}`)
      }
      // 2. What ctr made (the daemonless tests), in every namespace.
      try {
        for (const ns of (await ctr(['namespaces', 'ls', '-q'])).split('\n').filter(Boolean)) {
          for (const t of (await tasks(ns)).values()) {
            await ctr(['tasks', 'kill', '-a', '-s', 'SIGKILL', t.id], {namespace: ns}).catch(() => undefined)
            await ctr(['tasks', 'delete', '-f', t.id], {namespace: ns}).catch((e) => errors.push(e.message))
          }
          const ids = (await ctr(['containers', 'ls', '-q'], {namespace: ns})).split('\n').filter(Boolean)
          if (ids.length) await ctr(['containers', 'rm', ...ids], {namespace: ns}).catch((e) => errors.push(e.message))
        }
      } catch (e) {
        errors.push(`ctr clean-up: ${(e as Error).message}`)
      }
      // 3. containerd itself.
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()))
      child!.kill('SIGTERM')
      const timer = setTimeout(() => child!.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    if (child) untrack(trackedEntry!)
    // 4. Shims of this instance that outlived it (a shim exits shortly after its task is deleted):
    //    their children (the containers' inits) first, then the shims, by pid.
    for (let i = 0; i < 50 && shimsOf(socket).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    for (const shim of shimsOf(socket)) {
      errors.push(`shim ${shim} still ran: ${fs.readFileSync(`/proc/${shim}/cmdline`, 'utf8').split('\0').join(' ')}`)
      killShim(shim)
    }
    // 5. Mounts, directories, cgroups.
    try {
      removeDirs([state, root])
    } catch (e) {
      errors.push(`remove ${state} ${root}: ${(e as Error).message}`)
    }
    for (const p of cgroupParents) removeCgroup(p)
    if (errors.length) throw new Error(`containerd ${id} clean-up: ${errors.join('; ')}`)
  }

  let trackedEntry: ReturnType<typeof track> | undefined
  try {
    fs.writeFileSync(config, containerdConfig(root, state, socket))
    const log = fs.openSync(logFile, 'a')
    try {
      child = spawn(CONTAINERD_BIN, ['--config', config, '--log-level', 'info'], {stdio: ['ignore', log, log], env: process.env})
    } finally {
      fs.closeSync(log)
    }
    trackedEntry = track(child)
    const started = child
    const spawnError = new Promise<never>((_, reject) => started.once('error', reject))
    spawnError.catch(() => undefined)
    fs.writeFileSync(path.join(root, 'containerd.pid'), String(child.pid))
    await Promise.race([waitForCri(socket, child, opts.timeoutMs ?? 30_000), spawnError])

    const archives = testImageArchives()
    await ctr(['images', 'import', archives.pause], {timeoutMs: 120_000})
    await ctr(['images', 'import', archives.app], {timeoutMs: 120_000})
    let nslocate: string | null = null
    if (opts.nslocateImage) {
      await ensureImages()
      await runCapture(
        'bash',
        ['-c', 'set -o pipefail; docker save "$1" | "$2" -a "$3" -n k8s.io images import -', 'import', NSLOCATE_IMAGE, CTR_BIN, socket],
        {
          timeoutMs: 300_000,
        },
      )
      nslocate = criImageName(NSLOCATE_IMAGE)
    }
    const listed = await ctr(['images', 'ls', '-q'])
    for (const ref of [PAUSE_IMAGE, APP_IMAGE, ...(nslocate ? [NSLOCATE_IMAGE] : [])]) {
      if (!listed.split('\n').includes(criImageName(ref))) throw new Error(`${criImageName(ref)} is not in containerd after the import: ${listed}`)
    }
    return {
      id,
      root,
      state,
      socket,
      endpoint: `unix://${socket}`,
      config,
      logFile,
      pid: child.pid!,
      images: {pause: criImageName(PAUSE_IMAGE), app: criImageName(APP_IMAGE), nslocate},
      ctr,
      tasks,
      logTail,
      addCgroupParent: (p: string) => void cgroupParents.add(p),
      stop,
    }
  } catch (error) {
    const tail = logTail(40)
    await stop().catch(() => undefined)
    throw new Error(
      `the second containerd (${CONTAINERD_BIN} --config ${config}) did not come up: ${(error as Error).message}\n--- containerd.log (last lines) ---\n${tail}`,
      {cause: error},
    )
  }
}

/** Resolve once the CRI answers Version on `socket`; reject when containerd exits or after timeoutMs. */
async function waitForCri(socket: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const {grpc, RuntimeService} = loadCri()
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`containerd exited (${child.exitCode ?? child.signalCode})`)
    if (fs.existsSync(socket)) {
      const client = new RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure())
      try {
        const v = await new Promise<any>((resolve, reject) =>
          (client as any).Version({}, {deadline: Date.now() + 2000}, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))),
        )
        if (v.runtime_api_version === 'v1' && v.runtime_name === 'containerd') return
        last = `Version answered ${JSON.stringify(v)}`
      } catch (e) {
        last = (e as Error).message
      } finally {
        client.close()
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`the CRI did not answer Version on ${socket} within ${timeoutMs} ms (${last})`)
}

/**
 * describe() with a second containerd: beforeAll starts it (a failure fails every test of the block,
 * with containerd's log tail: never a skip, in CI or not), afterAll stops it. Without Debian's
 * containerd installed, the block is skipped locally and fails under CI=true.
 */
export function describeWithContainerd(name: string, fn: (cd: () => Containerd) => void, opts: ContainerdOptions = {}): void {
  if (!fs.existsSync(CONTAINERD_BIN) && process.env.CI !== 'true') {
    describe.skip(`${name} (skipped: ${CONTAINERD_BIN} is not installed; CI=true would fail here)`, () => fn(() => undefined as never))
    return
  }
  describe(name, () => {
    let instance: Containerd | undefined
    let startError: Error | undefined
    beforeAll(async () => {
      try {
        instance = await startContainerd(opts)
      } catch (e) {
        startError = e as Error
        throw e
      }
    }, 600_000)
    fn(() => {
      if (!instance) throw startError ?? new Error('the second containerd was not started')
      return instance
    })
    // After fn's own afterAll hooks (jest runs them in the order they were declared): its pods go first.
    afterAll(async () => {
      await instance?.stop()
    }, 120_000)
  })
}
