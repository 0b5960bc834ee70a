/**
 * Podman for the runtime tier: a test-owned `podman system service`, rootful or rootless, with its
 * own configuration and storage, removed afterwards. Nothing of the machine's Podman is used or
 * changed (no edit under /etc but the subordinate ids useradd gives a test user and userdel takes back).
 *
 * - `startRootful()`: root's service on DIR/sock/podman.sock, DIR a fresh directory under os.tmpdir()
 *   holding the test's containers.conf (CONTAINERS_CONF) and storage.conf (CONTAINERS_STORAGE_CONF):
 *   its own graphroot, runroot, tmp_dir and file locks (not the machine's /dev/shm/libpod_lock),
 *   so the machine's /var/lib/containers and /run/libpod are never touched.
 * - `startRootless(tag)`: a test user (users.ts; useradd gives it a subuid/subgid range), its
 *   /run/user/UID, and its own service on $XDG_RUNTIME_DIR/podman/podman.sock, started as that user.
 *   stop() removes its containers, the service, the user (userdel takes its /etc/subuid and
 *   /etc/subgid lines; checked, and removed here if not), its home and /run/user/UID.
 * - Both: containers.conf sets what this machine needs (STACK-NOTES): default_ulimits nofile and
 *   nproc 1024:1024 (root lacks CAP_SYS_RESOURCE), runc (crun refuses cgroup v1 hybrid), cgroupfs
 *   (no systemd), no network (netns none; nothing is pulled, the pod's infra image is Podman's own
 *   catatonit pause image, built locally).
 * - `describeWithPodman(name, fn)`: a describe that needs podman and root. Without them it is skipped
 *   locally and FAILS under CI=true; a service that cannot start fails the tests (beforeAll throws).
 * - Images: `buildBusybox(svc)` builds localhost/nslocate-busybox:test FROM scratch with
 *   /bin/busybox and /bin/siglog (fixtures/victims/siglog.c, static); `loadNslocate(svc)` moves Docker's
 *   nslocate:local (engine.ts ensureImages) in with `docker save | podman load`.
 * - Every container a test starts here carries nslocate.test=1; stop() removes them by id, then
 *   anything else in the test's own storage.
 */
import {ChildProcess, execFile, spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as os from 'node:os'
import * as path from 'node:path'

import {compileFixture} from './compile'
import {ensureImages} from './engine'
import {track as trackProcess} from './tracked'
import {TestUser, createTestUser} from './users'

export const BUSYBOX_IMAGE = 'localhost/nslocate-busybox:test'
export const NSLOCATE_IMAGE = 'localhost/nslocate:local'
export const TEST_LABEL = 'nslocate.test=1'

export interface PodmanService {
  kind: 'rootful' | 'rootless'
  /** the service's socket */
  socket: string
  /** unix://SOCKET, as CONTAINER_HOST says it */
  host: string
  /** the test user of a rootless service (null: root's) */
  user: TestUser | null
  /** the environment the podman CLI needs to reach the same storage (and, rootless, HOME and XDG_RUNTIME_DIR) */
  env: NodeJS.ProcessEnv
  /** the `podman system service` process */
  pid: number
  /** a directory of the service's owner, for build contexts, logs and files the containers bind */
  scratch: string
  /** the podman CLI on this service's storage, as its owner; stdout, or throws with the output */
  podman(args: string[], opts?: {timeoutMs?: number}): Promise<string>
  /** `podman run -d --label nslocate.test=1 ARGS`: the new container's full id (removed by stop()) */
  run(args: string[]): Promise<string>
  /** `podman inspect -f FORMAT REF` */
  inspect(ref: string, format: string): Promise<string>
  /** remove this service's containers and pods, stop the service, remove its storage (and user) */
  stop(): Promise<void>
}

/** Does the prerequisite of every Podman test hold: a podman binary, run as root? null, or why not. */
export function podmanMissing(): string | null {
  if (process.getuid?.() !== 0) return "the Podman tests need root (they start root's Podman service and create users)"
  const r = spawnSync('podman', ['--version'], {encoding: 'utf8', timeout: 10_000})
  if (r.status !== 0)
    return `podman does not run here (${r.error?.message ?? r.stderr.trim()}): install podman, runc, conmon, catatonit and uidmap (.ci/run does)`
  for (const tool of ['runc', 'conmon', 'newuidmap']) {
    if (spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/libexec/podman/${tool}`], {timeout: 5000}).status !== 0)
      return `${tool} is missing: install it (.ci/run does)`
  }
  return null
}

/** describe() when podman can run here; skipped without it, but a failing test under CI=true (CI never skips this tier). */
export function describeWithPodman(name: string, fn: () => void): void {
  const missing = podmanMissing()
  if (!missing) return describe(name, fn)
  if (process.env.CI === 'true') {
    return describe(name, () => {
      test('podman can run', () => {
        throw new Error(`CI=true and ${missing}. The runtime tier never skips in CI.`)
      })
    })
  }
  describe.skip(`${name} (skipped: ${missing}; CI=true would fail here)`, fn)
}

function containersConf(tmpDir: string): string {
  return [
    '# nslocate test: what this machine needs (test/helpers/podman.ts)',
    '[containers]',
    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
    'netns = "none"',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    'runtime = "runc"',
    'lock_type = "file"',
    `tmp_dir = "${tmpDir}"`,
    `image_copy_tmp_dir = "${tmpDir}"`,
    '',
  ].join('\n')
}

function storageConf(graphroot: string, runroot: string): string {
  return ['[storage]', 'driver = "overlay"', `graphroot = "${graphroot}"`, `runroot = "${runroot}"`, ''].join('\n')
}

/** execFile with a timeout; stdout, or an Error carrying stdout and stderr. */
function exec(argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), {env, timeout: timeoutMs, maxBuffer: 64 << 20, cwd, killSignal: 'SIGKILL'}, (error, stdout, stderr) => {
      if (error) reject(new Error(`${argv.join(' ')} failed (${error.code ?? error.signal}):\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}

/** GET /v4.0.0/libpod/_ping answered OK. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({socketPath: socket, path: '/v4.0.0/libpod/_ping', timeout: 2000}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
  })
}

/** Mount points at or under `dir` in our mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  let text = ''
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {}
  const out = text
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)))
  return out.sort((a, b) => b.length - a.length)
}

/** Unmount whatever is left under `dir` (a service killed mid-way leaves its overlay mounts), then remove it. */
function removeTree(dir: string): void {
  for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], {stdio: 'ignore', timeout: 10_000})
  fs.rmSync(dir, {recursive: true, force: true})
}

/** Last resort when a test file never calls stop(): SIGKILL the services and remove their trees on exit. */
const cleanups = new Set<() => void>()
let exitHook = false
function onExit(fn: () => void): () => void {
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const f of cleanups) {
        try {
          f()
        } catch {}
      }
    })
  }
  cleanups.add(fn)
  return () => cleanups.delete(fn)
}

/** Spawn the service and wait until it answers on `socket` (or fail with its output). */
async function startService(argv: string[], env: NodeJS.ProcessEnv, socket: string, what: string): Promise<ChildProcess> {
  const child = spawn(argv[0], argv.slice(1), {env, stdio: ['ignore', 'ignore', 'pipe']})
  trackProcess(child)
  let err = ''
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)))
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before answering on ${socket}:\n${err}`)
    if (fs.existsSync(socket) && (await ping(socket))) return child
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${what} did not answer on ${socket} within 20 s:\n${err}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** SIGTERM the service, SIGKILL after 5 s; resolves once it exited. */
async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** The podman CLI's environment: never CONTAINER_HOST (it would make podman a remote client) nor DOCKER_HOST. */
function cliEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, ...extra}
  delete env.CONTAINER_HOST
  delete env.CONTAINER_CONNECTION
  delete env.DOCKER_HOST
  return env
}

function makeService(
  base: Omit<PodmanService, 'run' | 'inspect' | 'stop' | 'podman'>,
  podman: (args: string[], timeoutMs: number) => Promise<string>,
  child: ChildProcess,
  teardown: () => void,
): PodmanService {
  const ids: string[] = []
  let stopped = false
  const svc: PodmanService = {
    ...base,
    podman: (args, opts = {}) => podman(args, opts.timeoutMs ?? 60_000),
    async run(args) {
      const id = (await podman(['run', '-d', '--label', TEST_LABEL, ...args], 60_000)).trim().split('\n').pop()!
      ids.push(id)
      return id
    },
    inspect: async (ref, format) => (await podman(['inspect', '-f', format, ref], 30_000)).trim(),
    async stop() {
      if (stopped) return
      stopped = true
      const errors: string[] = []
      // By id first (what the tests started), then whatever else is left in this private storage.
      for (const step of [ids.length ? ['rm', '-f', '-t', '0', '-i', ...ids] : null, ['pod', 'rm', '-a', '-f', '-t', '0'], ['rm', '-a', '-f', '-t', '0']]) {
        if (step) await podman(step, 60_000).catch((e: Error) => errors.push(e.message))
      }
      await stopService(child)
      teardown()
      if (errors.length) throw new Error(`podman clean-up: ${errors.join('\n')}`)
    },
  }
  return svc
}

/** Root's Podman service with its own storage under a fresh directory of os.tmpdir(). */
export async function startRootful(): Promise<PodmanService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-podman-'))
  const cancel = onExit(() => removeTree(dir))
  const tmp = path.join(dir, 'tmp')
  fs.mkdirSync(tmp)
  fs.mkdirSync(path.join(dir, 'scratch'))
  fs.writeFileSync(path.join(dir, 'containers.conf'), containersConf(tmp))
  fs.writeFileSync(path.join(dir, 'storage.conf'), storageConf(path.join(dir, 'root'), path.join(dir, 'runroot')))
  const env = cliEnv({CONTAINERS_CONF: path.join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), TMPDIR: tmp})
  // In a directory of its own: a container can bind the directory (a socket file mount would pin a dead inode).
  fs.mkdirSync(path.join(dir, 'sock'), {mode: 0o755})
  const socket = path.join(dir, 'sock', 'podman.sock')
  let child: ChildProcess
  try {
    child = await startService(['podman', 'system', 'service', '--time=0', `unix://${socket}`], env, socket, "root's podman system service")
  } catch (error) {
    removeTree(dir)
    cancel()
    throw error
  }
  const killOnExit = onExit(() => child.kill('SIGKILL'))
  return makeService(
    {kind: 'rootful', socket, host: `unix://${socket}`, user: null, env, pid: child.pid!, scratch: path.join(dir, 'scratch')},
    (args, timeoutMs) => exec(['podman', ...args], env, timeoutMs),
    child,
    () => {
      killOnExit()
      removeTree(dir)
      cancel()
    },
  )
}

/** The lines of /etc/subuid or /etc/subgid that belong to `name`. */
function subidLines(file: string, name: string): string[] {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${name}:`))
  } catch {
    return []
  }
}

/** Remove `name`'s lines from /etc/subuid and /etc/subgid if userdel left any. */
function dropSubids(name: string): void {
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    if (subidLines(file, name).length === 0) continue
    const kept = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith(`${name}:`))
      .join('\n')
    fs.writeFileSync(file, kept)
  }
}

/**
 * userdel until the user is gone: users.ts's remove() tries once, and userdel refuses while one of the
 * user's processes is still exiting (its podman pause process, conmon) or while another test holds
 * /etc/passwd's lock. Kills only that uid's processes. Throws, naming userdel's last answer, after 10 s.
 */
function removeUser(user: TestUser): void {
  let last = ''
  for (let i = 0; i < 100; i++) {
    if (spawnSync('id', ['-u', user.name], {stdio: 'ignore'}).status !== 0) return
    spawnSync('pkill', ['-KILL', '-U', String(user.uid)], {stdio: 'ignore'})
    const r = spawnSync('userdel', [user.name], {encoding: 'utf8'})
    if (r.status === 0) return
    last = r.stderr.trim()
    spawnSync('sleep', ['0.1'])
  }
  throw new Error(`cannot remove test user ${user.name}: ${last}`)
}

/**
 * A test user with a subordinate id range, /run/user/UID, and its own `podman system service` on
 * $XDG_RUNTIME_DIR/podman/podman.sock, started as that user (its storage under its home).
 */
export async function startRootless(tag: string): Promise<PodmanService> {
  const user = createTestUser(tag)
  // useradd allocates a range when /etc/subuid exists (login.defs SUB_UID_*); give one if it did not.
  if (subidLines('/etc/subuid', user.name).length === 0 || subidLines('/etc/subgid', user.name).length === 0) {
    const start = 200_000 + (user.uid % 30_000) * 65_536
    const range = `${start}-${start + 65_535}`
    spawnSync('usermod', ['--add-subuids', range, '--add-subgids', range, user.name], {stdio: 'pipe'})
  }
  const runtimeDir = `/run/user/${user.uid}`
  const teardown = () => {
    user.remove()
    let failed: unknown = null
    try {
      removeUser(user)
    } catch (error) {
      failed = error
    }
    dropSubids(user.name)
    for (const m of mountsUnder(runtimeDir)) spawnSync('umount', ['-l', m], {stdio: 'ignore'})
    fs.rmSync(runtimeDir, {recursive: true, force: true})
    if (failed) throw failed
  }
  const cancel = onExit(teardown)
  try {
    fs.rmSync(runtimeDir, {recursive: true, force: true})
    fs.mkdirSync(runtimeDir, {recursive: true, mode: 0o700})
    fs.chownSync(runtimeDir, user.uid, user.gid)
    fs.chmodSync(runtimeDir, 0o700)
    const own = (p: string, content?: string) => {
      if (content === undefined) fs.mkdirSync(p, {recursive: true})
      else fs.writeFileSync(p, content)
      fs.chownSync(p, user.uid, user.gid)
    }
    const tmp = path.join(user.home, 'tmp')
    own(tmp)
    own(path.join(user.home, 'scratch'))
    own(path.join(user.home, 'containers.conf'), containersConf(tmp))
    own(path.join(user.home, 'storage.conf'), storageConf(path.join(user.home, 'storage'), path.join(runtimeDir, 'containers')))
    const vars: Record<string, string> = {
      HOME: user.home,
      USER: user.name,
      XDG_RUNTIME_DIR: runtimeDir,
      CONTAINERS_CONF: path.join(user.home, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: path.join(user.home, 'storage.conf'),
      TMPDIR: tmp,
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    }
    // The suite's marker: the leak check then kills what this user's service leaves behind.
    if (process.env.NSLOCATE_TEST_RUN) vars.NSLOCATE_TEST_RUN = process.env.NSLOCATE_TEST_RUN
    const asUser = (argv: string[]) => user.as(['env', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...argv])
    const socket = path.join(runtimeDir, 'podman', 'podman.sock')
    const child = await startService(asUser(['podman', 'system', 'service', '--time=0']), process.env, socket, `${user.name}'s podman system service`)
    const svc = makeService(
      {kind: 'rootless', socket, host: `unix://${socket}`, user, env: vars, pid: child.pid!, scratch: path.join(user.home, 'scratch')},
      (args, timeoutMs) => exec(asUser(['podman', ...args]), cliEnv({}), timeoutMs, user.home),
      child,
      () => {
        try {
          teardown()
        } finally {
          cancel()
        }
      },
    )
    return svc
  } catch (error) {
    try {
      teardown()
    } catch {}
    cancel()
    throw error
  }
}

/** siglog linked statically, for images with nothing but busybox. */
export function siglogStatic(): string {
  return compileFixture('siglog-static', 'victims/siglog.c', ['-static'])
}

/**
 * localhost/nslocate-busybox:test in `svc`'s storage, built FROM scratch offline: /bin/busybox (with
 * sh and sleep links), /bin/siglog, and empty /run, /tmp and /log.
 */
export async function buildBusybox(svc: PodmanService): Promise<string> {
  const ctx = fs.mkdtempSync(path.join(svc.scratch, 'ctx-'))
  const root = path.join(ctx, 'rootfs')
  for (const d of ['bin', 'run', 'tmp', 'log']) fs.mkdirSync(path.join(root, d), {recursive: true})
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'))
  fs.copyFileSync(siglogStatic(), path.join(root, 'bin', 'siglog'))
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755)
  fs.chmodSync(path.join(root, 'bin', 'siglog'), 0o755)
  fs.chmodSync(path.join(root, 'tmp'), 0o1777)
  for (const l of ['sh', 'sleep', 'cat', 'kill', 'true', 'grep', 'echo']) fs.symlinkSync('busybox', path.join(root, 'bin', l))
  fs.writeFileSync(path.join(ctx, 'Containerfile'), 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n')
  if (svc.user) spawnSync('chown', ['-R', `${svc.user.uid}:${svc.user.gid}`, ctx])
  await svc.podman(['build', '--network=none', '-q', '-t', BUSYBOX_IMAGE, ctx], {timeoutMs: 120_000})
  fs.rmSync(ctx, {recursive: true, force: true})
  return BUSYBOX_IMAGE
}

/** Docker's nslocate:local (ensureImages) in `svc`'s storage as localhost/nslocate:local, by `docker save | podman load`. */
export async function loadNslocate(svc: PodmanService): Promise<string> {
  const {app} = await ensureImages()
  const tar = path.join(svc.scratch, 'nslocate-image.tar')
  await exec(['docker', 'save', '-o', tar, app], process.env, 300_000)
  if (svc.user) fs.chownSync(tar, svc.user.uid, svc.user.gid)
  try {
    await svc.podman(['load', '-q', '-i', tar], {timeoutMs: 300_000})
  } finally {
    fs.rmSync(tar, {force: true})
  }
  return NSLOCATE_IMAGE
}

/** A directory of the service's owner (0755), for a container's bind mount. */
export function ownedDir(svc: PodmanService, name: string): string {
  const dir = fs.mkdtempSync(path.join(svc.scratch, `${name}-`))
  fs.chmodSync(dir, 0o755)
  if (svc.user) fs.chownSync(dir, svc.user.uid, svc.user.gid)
  return dir
}
