/**
 * Where nslocate runs relative to the service, each placement of docs/sidecar.md on a real engine:
 *
 *   1. host -> container          find/signal --container (the container's init is visible here)
 *   2. host, shared volume        plain find --pidfile HOSTDIR/app.pid (locked and unlocked)
 *   3. sidecar sharing the PID ns PidMode container:<app>, config reload with HUP
 *   4. sibling, shared volume     own PID ns: running but not visible; with the socket, the helper route
 *   5. sidecar with --pid=host    what works with no capability, and what needs CAP_SYS_PTRACE
 *   6. multi-process container    --scope cgroup KILL reaches every process, setsid or not
 *
 * Every container is from nslocate:local (built by ensureImages, nothing pulled), carries
 * nslocate.test=1 and this file's run label, has no network, and is removed in afterAll (and by
 * describeWithEngine's label sweep if a start crashed). Long-running services are started with
 * testcontainers (a 3-line subclass sets HostConfig.PidMode); one-shot nslocate runs in sidecars use
 * dockerode directly, to keep stdout (the JSON) apart from stderr. Every exec and every wait on a
 * container has a timeout: a namespace whose init dies can leave an exec hanging on this engine.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import type {StartedTestContainer} from 'testcontainers'

import {demux} from '../../src/runtime/docker'
import {cli, cliJson, isAlive, killTracked, sh, track, until} from '../helpers/cli'
import {APP_IMAGE, RUN_ID, describeWithEngine, docker, engineEndpoint, ensureImages, testLabels, testcontainers} from '../helpers/engine'

const started: StartedTestContainer[] = []
const appIds: string[] = []
const dirs: string[] = []

interface App {
  c: StartedTestContainer
  id: string
  name: string
  /** State.Pid: the container's init, as a pid on the host */
  initPid: number
}

interface AppOptions {
  /** short, unique in this file: becomes part of the container name */
  tag: string
  cmd: string[]
  entrypoint?: string[]
  /** [hostDir, containerDir] */
  binds?: Array<[string, string]>
  pidMode?: string
}

function uniqueName(tag: string): string {
  return `nsl-${tag}-${RUN_ID}`.replace(/[^a-zA-Z0-9_.-]/g, '-')
}

/** A long-running container (testcontainers), recorded for afterAll. */
async function startApp(o: AppOptions): Promise<App> {
  const {GenericContainer} = testcontainers()
  // testcontainers has no withPidMode.
  class PidModeContainer extends GenericContainer {
    withPidMode(mode: string): this {
      this.hostConfig.PidMode = mode
      return this
    }
  }
  let c = new PidModeContainer(APP_IMAGE)
    .withName(uniqueName(o.tag))
    .withLabels(testLabels({'nslocate.test.placement': o.tag}))
    .withNetworkMode('none')
    .withCommand(o.cmd)
    .withStartupTimeout(30_000)
  if (o.entrypoint) c = c.withEntrypoint(o.entrypoint)
  if (o.binds) c = c.withBindMounts(o.binds.map(([source, target]) => ({source, target, mode: 'rw' as const})))
  if (o.pidMode) c = c.withPidMode(o.pidMode)
  const s = await c.start()
  started.push(s)
  appIds.push(s.getId())
  const info = await docker().getContainer(s.getId()).inspect()
  return {c: s, id: info.Id, name: info.Name.replace(/^\//, ''), initPid: info.State.Pid}
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(
    () => clearTimeout(timer),
  )
}

/** docker exec, guarded by a timeout. */
async function execIn(app: App, cmd: string[], ms = 10_000): Promise<{output: string; exitCode: number}> {
  return timeout(app.c.exec(cmd), ms, `exec ${cmd.join(' ')} in ${app.name}`)
}

interface SidecarRun {
  exitCode: number
  stdout: string
  stderr: string
  json: any
}

/**
 * Run `nslocate ARGS` once in a container of the nslocate image and remove it: the sidecar and
 * sibling placements. dockerode directly: stdout (JSON) and stderr are read apart.
 */
async function runNslocate(
  args: string[],
  o: {pidMode?: string; binds?: Array<[string, string]>; capAdd?: string[]; capDrop?: string[]; env?: string[]; timeoutMs?: number} = {},
): Promise<SidecarRun> {
  const ctr = await docker().createContainer({
    Image: APP_IMAGE,
    Cmd: args,
    Env: o.env,
    Labels: testLabels({'nslocate.test.sidecar': '1'}),
    NetworkDisabled: true,
    HostConfig: {NetworkMode: 'none', PidMode: o.pidMode, Binds: o.binds?.map(([h, c]) => `${h}:${c}`), CapAdd: o.capAdd, CapDrop: o.capDrop},
  })
  try {
    await ctr.start()
    const waited = (await timeout(ctr.wait(), o.timeoutMs ?? 45_000, `nslocate ${args.join(' ')} in a sidecar`)) as {StatusCode: number}
    const logs = (await ctr.logs({stdout: true, stderr: true, follow: false})) as unknown as Buffer
    const {stdout, stderr} = demux(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs)))
    let json: any = null
    if (args.includes('--json')) {
      try {
        json = JSON.parse(stdout)
      } catch {
        throw new Error(`not JSON from nslocate ${args.join(' ')} in a sidecar (exit ${waited.StatusCode}):\n${stdout}\n${stderr}`)
      }
    }
    return {exitCode: waited.StatusCode, stdout, stderr, json}
  } finally {
    await ctr.remove({force: true}).catch(() => undefined)
  }
}

/** Run assertions on a sidecar's output; on failure, show what nslocate printed (evidence included). */
function shown(r: SidecarRun, check: () => void): void {
  try {
    check()
  } catch (error) {
    const e = error as Error
    e.message += `\n--- nslocate exited ${r.exitCode}; stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`
    throw e
  }
}

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-placement-'))
  fs.chmodSync(d, 0o755)
  dirs.push(d)
  return d
}

function nspidOf(pid: number): number[] {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^NSpid:\s+(.*)$/m)
  return m![1].trim().split(/\s+/).map(Number)
}

function pgrpOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}

/** The host pid of the process numbered `inner` inside container `id` (found without nslocate: NSpid + cgroup). */
function hostPidOf(id: string, inner: number): number {
  const hits: number[] = []
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const ns = nspidOf(Number(e))
      if (ns.length > 1 && ns[ns.length - 1] === inner && fs.readFileSync(`/proc/${e}/cgroup`, 'utf8').includes(id)) hits.push(Number(e))
    } catch {}
  }
  if (hits.length !== 1) throw new Error(`expected one process numbered ${inner} in container ${id.slice(0, 12)}, found ${hits.join(', ') || 'none'}`)
  return hits[0]
}

/** Wait until a pidfile (a host path) holds a pid; returns it. */
async function pidIn(file: string, what: string): Promise<number> {
  let pid = 0
  await until(
    () => {
      try {
        pid = Number(fs.readFileSync(file, 'utf8').trim())
      } catch {
        pid = 0
      }
      return pid > 0
    },
    `${what}: ${file} holds a pid`,
    15_000,
  )
  return pid
}

/** The pids of a container's processes as the engine reports them (docker top), as numbers. */
async function topPids(id: string): Promise<number[]> {
  const top = (await timeout(docker().getContainer(id).top(), 10_000, 'docker top')) as {Titles: string[]; Processes: string[][]}
  const col = top.Titles.indexOf('PID')
  return top.Processes.map((p) => Number(p[col]))
}

async function waitStopped(app: App): Promise<void> {
  await until(async () => !(await docker().getContainer(app.id).inspect()).State.Running, `${app.name} stops`, 15_000)
}

const byNumber = (a: number, b: number) => a - b

function lines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

const SLEEPER = (file: string) => ['-c', `sleep 1000 & echo -n $! > ${file}; wait`]
const HUP_LOOP = (log: string) => `trap "echo HUP >> ${log}" HUP; while :; do sleep 0.1; done`
/** A flock-only pidfile (no POSIX lock): node + the image's own addon, flock(LOCK_EX|LOCK_NB), then the pid. */
const FLOCKER = (file: string) => [
  '-e',
  `const fs = require('fs'); const a = require('/opt/nslocate/build/nslocate.node');
  const fd = fs.openSync('${file}', 'w'); if (!a.flock(fd, 2, true)) process.exit(3);
  fs.writeSync(fd, String(process.pid)); setInterval(() => {}, 1e6)`,
]

describeWithEngine('placements: where nslocate runs relative to the service (docs/sidecar.md)', () => {
  beforeAll(async () => {
    await ensureImages()
  }, 10 * 60_000)

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop({remove: true, timeout: 0}).catch(() => undefined)))
    // Helper containers carry nslocate.target=<the container they worked on>, not the test label.
    const helpers = await docker().listContainers({all: true, filters: {label: ['nslocate.helper=1']}})
    await Promise.all(
      helpers
        .filter((h) => appIds.includes(h.Labels['nslocate.target'] ?? ''))
        .map((h) =>
          docker()
            .getContainer(h.Id)
            .remove({force: true})
            .catch(() => undefined),
        ),
    )
    for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
  }, 60_000)

  describe('1. host -> container (--container)', () => {
    let app: App
    let plain: App

    beforeAll(async () => {
      ;[app, plain] = await Promise.all([
        startApp({tag: 'p1-app', cmd: ['run', 'app', '--', 'sleep', '1000']}),
        startApp({tag: 'p1-plain', entrypoint: ['sh'], cmd: SLEEPER('/run/sleep.pid')}),
      ])
      await pidIn(`/proc/${app.initPid}/root/run/nslocate/app.pid`, 'app')
      await pidIn(`/proc/${plain.initPid}/root/run/sleep.pid`, 'plain')
    }, 60_000)

    test('find: a locked pidfile written by `nslocate run` gives the host pid, the NSpid chain, and the container', async () => {
      const inner = await pidIn(`/proc/${app.initPid}/root/run/nslocate/app.pid`, 'app')
      const {status, json} = await cliJson(['find', 'app', '--container', app.name])
      expect(status).toBe(0)
      expect(json.state).toBe('running')
      expect(json.pid).toBe(hostPidOf(app.id, inner))
      expect(json.holder).toBe(app.initPid) // the supervisor, the container's init
      expect(json.nspid).toEqual([json.pid, inner])
      expect(json.pidfile).toMatchObject({pid: inner, lock: 'posix'})
      expect(json.container).toMatchObject({id: app.id, name: app.name, runtime: 'docker'})
      expect(json.process.cmdline).toEqual(['sleep', '1000'])
    }, 30_000)

    test('find --container takes the start-up fast path (no oclif, no dockerode) and prints what the oclif path prints', async () => {
      const missing = `nsl-missing-${RUN_ID}`
      for (const args of [
        ['find', 'app', '--container', app.name],
        ['find', 'app', '--container', app.name, '--json'],
        ['find', 'app', '--container', missing, '--json'],
      ]) {
        const fast = await cli(args)
        const slow = await cli(args, {env: {NSLOCATE_NO_FAST_PATH: '1'}})
        // Start times come from the kernel's btime and the start tick (src/proc/start-time.ts): identical in both.
        expect({args, status: fast.status, out: fast.stdout}).toEqual({args, status: slow.status, out: slow.stdout})
      }
      expect((await cli(['find', 'app', '--container', missing])).status).toBe(3)
    }, 30_000)

    test("find: an unlocked pidfile (busybox sh writes $!) resolves to the container's sleep", async () => {
      // Read inside the container, the way the service sees it.
      const {output, exitCode} = await execIn(plain, ['cat', '/run/sleep.pid'])
      expect(exitCode).toBe(0)
      const inner = Number(output.trim())
      const {status, json} = await cliJson(['find', 'sleep', '--container', plain.name])
      expect(status).toBe(0)
      expect(json).toMatchObject({state: 'running', holder: null, pidfile: {pid: inner, lock: 'none'}})
      expect(json.reasons).toEqual(['unlocked_pidfile'])
      expect(json.pid).toBe(hostPidOf(plain.id, inner))
      expect(json.nspid).toEqual([json.pid, inner])
      expect(json.container).toMatchObject({id: plain.id, name: plain.name})
    }, 30_000)

    test('signal --wait: TERM through a pidfd reaches exactly the service; it is gone from /proc', async () => {
      const found = (await cliJson(['find', 'app', '--container', app.name])).json
      const {status, json} = await cliJson(['signal', 'app', 'TERM', '--container', app.name, '--wait', '--timeout', '10s'])
      expect(status).toBe(0)
      expect(json).toMatchObject({exit_code: 0, exited: true, scope: 'main', signal: 'TERM', skipped: []})
      expect(json.delivered).toEqual([{pid: found.pid, pidfd_id: expect.any(Number), nspid: found.nspid, signal: 'TERM'}])
      expect(isAlive(found.pid)).toBe(false)
      expect(fs.existsSync(`/proc/${found.pid}`)).toBe(false)
      // `nslocate run` then exits with its child's status: the container stops.
      await waitStopped(app)
      expect((await docker().getContainer(app.id).inspect()).State.ExitCode).toBe(128 + 15)
    }, 30_000)

    test("signal --wait on the unlocked pidfile: the sleep dies, sh's wait returns, the container stops", async () => {
      const found = (await cliJson(['find', 'sleep', '--container', plain.name])).json
      const {status, json} = await cliJson(['signal', 'sleep', 'TERM', '--container', plain.name, '--wait', '--timeout', '10s'])
      expect(status).toBe(0)
      expect(json.delivered.map((d: {pid: number}) => d.pid)).toEqual([found.pid])
      expect(json.exited).toBe(true)
      expect(isAlive(found.pid)).toBe(false)
      await waitStopped(plain)
    }, 30_000)

    test('a stopped container is a result: find exits 3 (LSB status "not running"), signal 7 (LSB action), wait --for stopped 0', async () => {
      const r = await cliJson(['find', 'app', '--container', app.name])
      expect(r.status).toBe(3)
      const container = {id: app.id, name: app.name, runtime: 'docker', cgroup: ''}
      expect(r.json).toMatchObject({state: 'stopped', pid: null, reasons: ['container_not_running'], container})
      expect(r.json.evidence[0]).toBe(`container ${app.name} (${app.id.slice(0, 12)}) is not running (exited); so app is not running there`)
      // Which socket gave that answer, and whose it is (src/runtime/resolve.ts).
      expect(r.json.evidence[1]).toMatch(/^answered by Docker at unix:\/\/\S+ \((DOCKER_HOST; )?a socket owned by root\)$/)
      const s = await cliJson(['signal', 'app', 'TERM', '--container', app.name])
      expect(s.status).toBe(7)
      expect(s.json).toMatchObject({exit_code: 7, delivered: [], target: r.json})
      const w = await cliJson(['wait', 'app', '--container', app.name, '--timeout', '5s'])
      expect(w.status).toBe(0)
      expect(w.json).toMatchObject({reached: true, condition: 'stopped', target: r.json})
      const running = await cliJson(['wait', 'app', '--container', app.name, '--for', 'running', '--timeout', '600ms'])
      expect(running.status).toBe(1)
      expect(running.json).toMatchObject({reached: false, condition: 'running'})
      expect(running.json.waited_ms).toBeGreaterThanOrEqual(600)
    }, 30_000)
  })

  describe('2. host, shared volume (plain --pidfile on the bind mount)', () => {
    let dir: string
    let dir2: string
    let app: App
    let plain: App

    beforeAll(async () => {
      dir = tempDir()
      dir2 = tempDir()
      ;[app, plain] = await Promise.all([
        startApp({tag: 'p2-app', cmd: ['run', 'app', '--', 'sleep', '1000'], binds: [[dir, '/run/nslocate']]}),
        // Mounted at another path inside: the host path of the file is not a path in the container.
        startApp({tag: 'p2-plain', entrypoint: ['sh'], cmd: SLEEPER('/srv/run/sleep.pid'), binds: [[dir2, '/srv/run']]}),
      ])
      await pidIn(path.join(dir, 'app.pid'), 'app')
      await pidIn(path.join(dir2, 'sleep.pid'), 'plain')
    }, 60_000)

    test('a locked pidfile is translated through the lock: pid = host pid of the service, holder = the supervisor', async () => {
      const inner = await pidIn(path.join(dir, 'app.pid'), 'app')
      const {status, json} = await cliJson(['find', 'app', '--pidfile', path.join(dir, 'app.pid')])
      expect(status).toBe(0)
      expect(json.state).toBe('running')
      expect(json.pid).toBe(hostPidOf(app.id, inner))
      expect(json.holder).toBe(app.initPid)
      expect(json.nspid).toEqual([json.pid, inner])
      expect(json.pidfile).toMatchObject({path: path.join(dir, 'app.pid'), pid: inner, lock: 'posix'})
      expect(json.reasons).toEqual([])
      expect(json.container).toMatchObject({id: app.id, runtime: 'docker'}) // from the process's cgroup
      expect(json.evidence.join('\n')).toContain('a descendant of the lock holder')
    }, 30_000)

    test("an unlocked pidfile mounted at another path inside resolves to the container's process (mountinfo)", async () => {
      const inner = await pidIn(path.join(dir2, 'sleep.pid'), 'plain')
      const {status, json} = await cliJson(['find', 'sleep', '--pidfile', path.join(dir2, 'sleep.pid')])
      expect(status).toBe(0)
      expect(json.state).toBe('running')
      expect(json.pid).toBe(hostPidOf(plain.id, inner))
      expect(json.nspid).toEqual([json.pid, inner])
      expect(json.reasons).toEqual(['unlocked_pidfile'])
      expect(json.container).toMatchObject({id: plain.id})
      // Through its mountinfo: the file's dev:inode under the mount point /srv/run.
      expect(json.evidence.find((e: string) => e.includes('a volume mounted at /srv/run'))).toMatch(new RegExp(`^pid ${json.pid} is in `))
      // Another PID namespace: it counts only on positive identity, here its name (identity model).
      expect(json.evidence.find((e: string) => e.startsWith(`pid ${json.pid} is identified: `))).toContain('"sleep"')
    }, 30_000)

    test('signal --wait through the shared pidfile (host side)', async () => {
      const pid = (await cliJson(['find', 'app', '--pidfile', path.join(dir, 'app.pid')])).json.pid
      const {status, json} = await cliJson(['signal', 'app', 'TERM', '--pidfile', path.join(dir, 'app.pid'), '--wait', '--timeout', '10s'])
      expect(status).toBe(0)
      expect(json.delivered.map((d: {pid: number}) => d.pid)).toEqual([pid])
      expect(json.exited).toBe(true)
      expect(isAlive(pid)).toBe(false)
      // The supervisor released and unlinked the pidfile on its way out.
      await until(() => !fs.existsSync(path.join(dir, 'app.pid')), 'app.pid removed by nslocate run', 10_000)
    }, 30_000)
  })

  describe('3. sidecar sharing the PID namespace (PidMode container:<app>)', () => {
    let dir: string
    let app: App
    let shApp: App
    let sh1Dir: string

    beforeAll(async () => {
      dir = tempDir()
      sh1Dir = tempDir()
      ;[app, shApp] = await Promise.all([
        // The app's PID 1 is `nslocate run` (the supervisor, holding the lock); the service is its child sh.
        startApp({tag: 'p3-app', cmd: ['run', 'hupper', '--dir', '/run/app', '--', 'sh', '-c', HUP_LOOP('/run/app/hup.log')], binds: [[dir, '/run/app']]}),
        // Counter-example: the service IS its container's PID 1 (sh writes $$, i.e. 1).
        startApp({
          tag: 'p3-sh1',
          entrypoint: ['sh'],
          cmd: ['-c', `echo -n $$ > /run/app/sh.pid; ${HUP_LOOP('/run/app/hup.log')}`],
          binds: [[sh1Dir, '/run/app']],
        }),
      ])
      await pidIn(path.join(dir, 'hupper.pid'), 'hupper')
      await pidIn(path.join(sh1Dir, 'sh.pid'), 'sh as pid 1')
    }, 60_000)

    test('find from the sidecar: the pid in the file, held by pid 1 (the supervisor)', async () => {
      const inner = await pidIn(path.join(dir, 'hupper.pid'), 'hupper')
      const r = await runNslocate(['find', 'hupper', '--pidfile', '/run/app/hupper.pid', '--json'], {
        pidMode: `container:${app.id}`,
        binds: [[dir, '/run/app']],
      })
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({state: 'running', pid: inner, holder: 1, nspid: [inner], visible: true, reasons: []})
      expect(r.json.process.comm).toBe('sh')
    }, 60_000)

    test('config reload: signal HUP from the sidecar (shared volume) is logged by the service', async () => {
      const inner = await pidIn(path.join(dir, 'hupper.pid'), 'hupper')
      const before = lines(path.join(dir, 'hup.log')).length
      const r = await runNslocate(['signal', 'hupper', 'HUP', '--pidfile', '/run/app/hupper.pid', '--json'], {
        pidMode: `container:${app.id}`,
        binds: [[dir, '/run/app']],
      })
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({exit_code: 0, signal: 'HUP', delivered: [{pid: inner, nspid: [inner], signal: 'HUP'}]})
      await until(() => lines(path.join(dir, 'hup.log')).length === before + 1, 'one more HUP line in hup.log', 10_000)
      expect(lines(path.join(dir, 'hup.log')).slice(-1)).toEqual(['HUP'])
      expect(isAlive(hostPidOf(app.id, inner))).toBe(true)
    }, 60_000)

    test('config reload without the volume: --root-pid 1 reads the pidfile through /proc/1/root', async () => {
      const inner = await pidIn(path.join(dir, 'hupper.pid'), 'hupper')
      const before = lines(path.join(dir, 'hup.log')).length
      const r = await runNslocate(['signal', 'hupper', 'HUP', '--root-pid', '1', '--dir', '/run/app', '--json'], {pidMode: `container:${app.id}`})
      expect(r.exitCode).toBe(0)
      expect(r.json.delivered).toEqual([{pid: inner, pidfd_id: expect.any(Number), nspid: [inner], signal: 'HUP'}])
      expect(r.json.target.pidfile.path).toBe('/proc/1/root/run/app/hupper.pid')
      await until(() => lines(path.join(dir, 'hup.log')).length === before + 1, 'one more HUP line in hup.log', 10_000)
      // Read inside the app too (exec with a timeout): the service logged it in its own view.
      const {output} = await execIn(app, ['cat', '/run/app/hup.log'])
      expect(output.split('\n').filter(Boolean).length).toBe(before + 1)
    }, 60_000)

    test("a service that is its container's PID 1 is refused from a sidecar sharing that namespace (exit 4), reached from the host", async () => {
      const r = await runNslocate(['signal', 'sh', 'HUP', '--pidfile', '/run/app/sh.pid', '--json'], {
        pidMode: `container:${shApp.id}`,
        binds: [[sh1Dir, '/run/app']],
      })
      expect(r.exitCode).toBe(4)
      expect(r.json.delivered).toEqual([])
      expect(r.json.skipped).toEqual([{pid: 1, pidfd_id: expect.any(Number), reason: 'unsafe'}])
      expect(r.json.message).toContain('pid 1 is the init process of this PID namespace')
      expect(lines(path.join(sh1Dir, 'hup.log'))).toEqual([])
      // From the host it is an ordinary pid (State.Pid); sh has a HUP handler, so the kernel delivers it.
      const h = await cliJson(['signal', 'sh', 'HUP', '--container', shApp.name, '--pidfile', '/run/app/sh.pid'])
      expect(h.status).toBe(0)
      expect(h.json.delivered).toEqual([{pid: shApp.initPid, pidfd_id: expect.any(Number), nspid: [shApp.initPid, 1], signal: 'HUP'}])
      await until(() => lines(path.join(sh1Dir, 'hup.log')).length === 1, 'HUP logged by sh (pid 1)', 10_000)
    }, 60_000)
  })

  describe('4. sibling container with only a shared volume (own PID namespace)', () => {
    let dir: string
    let app: App
    const socket = engineEndpoint().socketPath ?? '/var/run/docker.sock'

    beforeAll(async () => {
      dir = tempDir()
      app = await startApp({tag: 'p4-app', cmd: ['run', 'app', '--dir', '/shared', '--', 'sleep', '1000'], binds: [[dir, '/shared']]})
      await pidIn(path.join(dir, 'app.pid'), 'app')
    }, 60_000)

    test('find: running, not visible (holder_not_visible), exit 0', async () => {
      const r = await runNslocate(['find', 'app', '--pidfile', '/shared/app.pid', '--json'], {binds: [[dir, '/shared']]})
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({state: 'running', pid: null, holder: null, visible: false, reasons: ['holder_not_visible'], pidfile: {lock: 'posix'}})
      expect(r.json.evidence).toContain('fcntl(F_GETLK): POSIX lock held by a process that is not visible from this PID namespace (l_pid 0)')
    }, 60_000)

    test('signal without Docker access: exit 4, nothing sent, and the message says how to reach it', async () => {
      const inner = await pidIn(path.join(dir, 'app.pid'), 'app')
      const r = await runNslocate(['signal', 'app', 'TERM', '--pidfile', '/shared/app.pid'], {binds: [[dir, '/shared']]})
      // What the user sees: the fact on one line, what to do on the hint line (the three ways to reach
      // the service's PID namespace; --container's own error says how to reach the engine's socket).
      expect({status: r.exitCode, stdout: r.stdout, stderr: r.stderr}).toEqual({
        status: 4,
        stdout: '',
        stderr:
          'nslocate: app runs in a PID namespace not visible from here (holder_not_visible); nothing was signalled\n' +
          'hint: run nslocate on the host or in its PID namespace, or give its container (--container)\n',
      })
      expect(isAlive(hostPidOf(app.id, inner))).toBe(true)
    }, 60_000)

    test("find --container with the socket: the helper container (image found from the sidecar's own container) names the host pid", async () => {
      const inner = await pidIn(path.join(dir, 'app.pid'), 'app')
      const r = await runNslocate(['find', 'app', '--container', app.name, '--pidfile', '/shared/app.pid', '--json'], {
        binds: [
          [dir, '/shared'],
          [socket, '/var/run/docker.sock'],
        ],
      })
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({
        state: 'running',
        visible: true,
        pid: hostPidOf(app.id, inner),
        holder: app.initPid,
        nspid: [hostPidOf(app.id, inner), inner],
      })
      expect(r.json.evidence.join('\n')).toContain(`done by a helper container (image ${APP_IMAGE}) in the engine's PID namespace`)
    }, 60_000)

    test('signal --container TERM --wait with the socket: the helper delivers, the service dies, no helper is left', async () => {
      const inner = await pidIn(path.join(dir, 'app.pid'), 'app')
      const pid = hostPidOf(app.id, inner)
      const r = await runNslocate(['signal', 'app', 'TERM', '--container', app.name, '--pidfile', '/shared/app.pid', '--wait', '--timeout', '10s', '--json'], {
        binds: [
          [dir, '/shared'],
          [socket, '/var/run/docker.sock'],
        ],
        env: [`NSLOCATE_HELPER_IMAGE=${APP_IMAGE}`],
      })
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({exit_code: 0, exited: true, helper: APP_IMAGE, delivered: [{pid, nspid: [pid, inner], signal: 'TERM'}]})
      expect(isAlive(pid)).toBe(false)
      await waitStopped(app)
      const left = await docker().listContainers({all: true, filters: {label: ['nslocate.helper=1', `nslocate.target=${app.id}`]}})
      expect(left.map((c) => `${c.Id.slice(0, 12)} ${c.State}`)).toEqual([])
    }, 60_000)

    test('signal --container on a stopped container exits 7 from the sidecar (LSB action "not running")', async () => {
      const r = await runNslocate(['signal', 'app', 'TERM', '--container', app.name, '--json'], {binds: [[socket, '/var/run/docker.sock']]})
      expect(r.json).toMatchObject({exit_code: 7, delivered: [], target: {state: 'stopped', reasons: ['container_not_running'], container: {id: app.id}}})
      expect(r.exitCode).toBe(7)
    }, 60_000)
  })

  describe('5. sidecar with --pid=host (PidMode host), shared volume', () => {
    let dir: string
    let app: App
    let flocker: App
    let plain: App
    const sidecar = (capDrop?: string[], capAdd?: string[]) => ({pidMode: 'host', binds: [[dir, '/shared']] as Array<[string, string]>, capDrop, capAdd})
    const NO_CAPS = ['ALL']

    beforeAll(async () => {
      dir = tempDir()
      ;[app, flocker, plain] = await Promise.all([
        startApp({tag: 'p5-app', cmd: ['run', 'app', '--dir', '/shared', '--', 'sleep', '1000'], binds: [[dir, '/shared']]}),
        startApp({tag: 'p5-flock', entrypoint: ['node'], cmd: FLOCKER('/shared/fl.pid'), binds: [[dir, '/shared']]}),
        startApp({tag: 'p5-plain', entrypoint: ['sh'], cmd: SLEEPER('/shared/sleep.pid'), binds: [[dir, '/shared']]}),
      ])
      await pidIn(path.join(dir, 'app.pid'), 'app')
      await pidIn(path.join(dir, 'fl.pid'), 'flock holder')
      await pidIn(path.join(dir, 'sleep.pid'), 'plain')
    }, 60_000)

    test('POSIX-locked pidfile, no capability at all (--cap-drop ALL): pid = host pid, holder = State.Pid', async () => {
      const inner = await pidIn(path.join(dir, 'app.pid'), 'app')
      const r = await runNslocate(['find', 'app', '--pidfile', '/shared/app.pid', '--json'], sidecar(NO_CAPS))
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({state: 'running', visible: true, pid: hostPidOf(app.id, inner), holder: app.initPid, reasons: []})
      expect(r.json.nspid).toEqual([r.json.pid, inner])
      // The same answer as on the host.
      const host = (await cliJson(['find', 'app', '--pidfile', path.join(dir, 'app.pid')])).json
      expect(r.json.pid).toBe(host.pid)
    }, 60_000)

    test('flock-only pidfile without CAP_SYS_PTRACE: running, holder not named, exit 0; signal exits 4, nothing sent', async () => {
      const r = await runNslocate(['find', 'fl', '--pidfile', '/shared/fl.pid', '--json'], sidecar(NO_CAPS))
      expect(r.exitCode).toBe(0)
      expect(r.json).toMatchObject({state: 'running', pid: null, holder: null, pidfile: {lock: 'flock', pid: 1}})
      expect(r.json.evidence.join('\n')).toContain('fd scan: no process visible here that could have written the file holds the flock lock')
      const s = await runNslocate(['signal', 'fl', 'KILL', '--pidfile', '/shared/fl.pid', '--json'], sidecar(NO_CAPS))
      expect(s.exitCode).toBe(4)
      expect(s.json.delivered).toEqual([])
      expect(isAlive(flocker.initPid)).toBe(true)
    }, 60_000)

    // /proc/PID/fd lists, but readlink on its entries fails with EACCES without CAP_SYS_PTRACE: that
    // process counts as unreadable (permission_denied), not as "holder in another namespace".
    test('flock-only pidfile without CAP_SYS_PTRACE names the missing capability (permission_denied)', async () => {
      const r = await runNslocate(['find', 'fl', '--pidfile', '/shared/fl.pid', '--json'], sidecar(NO_CAPS))
      expect(r.json.reasons).toContain('permission_denied')
      expect(r.json.reasons).not.toContain('holder_not_visible')
      expect(r.json.evidence.join('\n')).toContain('CAP_SYS_PTRACE')
    }, 60_000)

    // /proc/PID/root and mountinfo need ptrace access: the candidate can be neither confirmed nor
    // ruled out, so the answer is "cannot tell", never "stale"; signal sends nothing.
    test('unlocked pidfile without CAP_SYS_PTRACE: cannot tell (permission_denied, exit 4), never "stale"; signal exits 4', async () => {
      const inner = await pidIn(path.join(dir, 'sleep.pid'), 'plain')
      const pid = hostPidOf(plain.id, inner)
      const r = await runNslocate(['find', 'sleep', '--pidfile', '/shared/sleep.pid', '--json'], sidecar(NO_CAPS))
      shown(r, () => {
        expect(r.exitCode).toBe(4)
        expect(r.json).toMatchObject({state: 'unknown', pid: null})
        expect(r.json.reasons).toEqual(['unlocked_pidfile', 'permission_denied'])
        expect(r.json.evidence.join('\n')).toContain(`pid ${pid}: not allowed to look into its mount namespace`)
        expect(r.json.evidence.join('\n')).toContain('CAP_SYS_PTRACE')
      })
      const s = await runNslocate(['signal', 'sleep', 'TERM', '--pidfile', '/shared/sleep.pid', '--json'], sidecar(NO_CAPS))
      expect(s.exitCode).toBe(4)
      expect(s.json.delivered).toEqual([])
      expect(isAlive(pid)).toBe(true)
    }, 60_000)

    // --cap-add SYS_PTRACE on top of Docker's defaults, as docs/sidecar.md says. (With --cap-drop ALL
    // --cap-add SYS_PTRACE, any host process of another uid makes its fd directory (mode 0500) unlistable
    // without CAP_DAC_READ_SEARCH, and permission_denied joins the reasons: see the next test.)
    test('with CAP_SYS_PTRACE (--cap-add SYS_PTRACE): flock holder and unlocked pidfile resolve to host pids', async () => {
      const flInner = await pidIn(path.join(dir, 'fl.pid'), 'flock holder')
      const sleepInner = await pidIn(path.join(dir, 'sleep.pid'), 'plain')
      const [fl, sl] = await Promise.all([
        runNslocate(['find', 'fl', '--pidfile', '/shared/fl.pid', '--json'], sidecar(undefined, ['SYS_PTRACE'])),
        runNslocate(['find', 'sleep', '--pidfile', '/shared/sleep.pid', '--json'], sidecar(undefined, ['SYS_PTRACE'])),
      ])
      shown(fl, () => {
        expect(fl.exitCode).toBe(0)
        expect(fl.json).toMatchObject({
          state: 'running',
          pid: flocker.initPid,
          holder: flocker.initPid,
          nspid: [flocker.initPid, flInner],
          reasons: [],
          pidfile: {lock: 'flock'},
        })
      })
      shown(sl, () => {
        expect(sl.exitCode).toBe(0)
        expect(sl.json).toMatchObject({state: 'running', pid: hostPidOf(plain.id, sleepInner), reasons: ['unlocked_pidfile']})
        expect(sl.json.nspid).toEqual([sl.json.pid, sleepInner])
      })
    }, 60_000)

    // /proc/locks names the flock caller; its fdinfo proves it holds the lock and its own pid is the
    // one in the file, so no other process is scanned: the uid 65534 process (whose fd directory this
    // sidecar may not list) does not even come into it.
    test('SYS_PTRACE alone (--cap-drop ALL --cap-add SYS_PTRACE) with a host process of another uid: holder verified directly, no scan, no permission_denied', async () => {
      // uid 65534 on the host: its /proc/PID/fd (mode 0500, owned by 65534) needs CAP_DAC_READ_SEARCH to list.
      const nobody = track(spawn('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'sleep', '60'], {stdio: 'ignore'}))
      try {
        await until(() => isAlive(nobody.pid!) && fs.readFileSync(`/proc/${nobody.pid}/status`, 'utf8').includes('\tsleep'), 'a uid 65534 sleep', 5000)
        const r = await runNslocate(['find', 'fl', '--pidfile', '/shared/fl.pid', '--json'], sidecar(NO_CAPS, ['SYS_PTRACE']))
        shown(r, () => {
          expect(r.exitCode).toBe(0)
          expect(r.json).toMatchObject({state: 'running', pid: flocker.initPid, holder: flocker.initPid})
          expect(r.json.reasons).toEqual([])
          expect(r.json.evidence.join('\n')).toContain(`fd check: pid ${flocker.initPid} holds the flock lock`)
          expect(r.json.evidence.join('\n')).not.toContain('not allowed to read the fds')
        })
      } finally {
        await killTracked()
      }
    }, 60_000)

    test("Docker's default capabilities suffice when the app has no more capabilities than the sidecar", async () => {
      const [fl, sl] = await Promise.all([
        runNslocate(['find', 'fl', '--pidfile', '/shared/fl.pid', '--json'], sidecar()),
        runNslocate(['find', 'sleep', '--pidfile', '/shared/sleep.pid', '--json'], sidecar()),
      ])
      expect(fl.json).toMatchObject({state: 'running', pid: flocker.initPid})
      expect(sl.json).toMatchObject({state: 'running', reasons: ['unlocked_pidfile']})
      expect(sl.json.pid).toBeGreaterThan(0)
    }, 60_000)

    test('signal from the --pid=host sidecar: POSIX needs no capability; the unlocked one with CAP_SYS_PTRACE', async () => {
      const appPid = hostPidOf(app.id, await pidIn(path.join(dir, 'app.pid'), 'app'))
      const sleepPid = hostPidOf(plain.id, await pidIn(path.join(dir, 'sleep.pid'), 'plain'))
      const [a, s] = await Promise.all([
        runNslocate(['signal', 'app', 'TERM', '--pidfile', '/shared/app.pid', '--wait', '--timeout', '10s', '--json'], sidecar(NO_CAPS)),
        runNslocate(['signal', 'sleep', 'TERM', '--pidfile', '/shared/sleep.pid', '--wait', '--timeout', '10s', '--json'], sidecar(NO_CAPS, ['SYS_PTRACE'])),
      ])
      expect(a.exitCode).toBe(0)
      expect(a.json).toMatchObject({exited: true, delivered: [{pid: appPid, signal: 'TERM'}]})
      expect(s.exitCode).toBe(0)
      expect(s.json).toMatchObject({exited: true, delivered: [{pid: sleepPid, signal: 'TERM'}]})
      expect(isAlive(appPid)).toBe(false)
      expect(isAlive(sleepPid)).toBe(false)
    }, 60_000)
  })

  describe('7. wait --container --for running across a restart of the container', () => {
    test('the init exits while waiting (docker restart): the wait follows the container and returns when the service runs', async () => {
      const dir = tempDir()
      // Runs the service only once /m/go exists, i.e. after the restart.
      const app = await startApp({
        tag: 'p7-app',
        entrypoint: ['sh'],
        binds: [[dir, '/m']],
        cmd: ['-c', 'if [ -f /m/go ]; then exec nslocate run app -- sleep 1000; fi; exec sleep 1000'],
      })
      const waiting = cliJson(['wait', 'app', '--container', app.name, '--for', 'running', '--timeout', '30s'])
      await new Promise((r) => setTimeout(r, 1500)) // polling: the container runs, the service does not
      fs.writeFileSync(path.join(dir, 'go'), '')
      await timeout(docker().getContainer(app.id).restart({t: 0}), 20_000, 'docker restart')
      const w = await waiting
      expect(w.status).toBe(0)
      // Running as soon as the new supervisor holds the lock: its child may not be written in yet
      // (then pid is the supervisor itself, reason empty_pidfile), so only the holder is pinned down.
      expect(w.json).toMatchObject({reached: true, condition: 'running', target: {state: 'running'}})
      const info = await docker().getContainer(app.id).inspect()
      expect(w.json.target.holder).toBe(info.State.Pid) // the new init, not the one that was there when the wait began
      expect(info.State.Pid).not.toBe(app.initPid)
    }, 60_000)
  })

  describe('6. multi-process container: --scope cgroup from the host', () => {
    let app: App

    beforeAll(async () => {
      app = await startApp({tag: 'p6-app', cmd: ['run', 'app', '--', 'sh', '-c', 'sleep 1000 & setsid sleep 1001 & sleep 1002 & wait']})
      await pidIn(`/proc/${app.initPid}/root/run/nslocate/app.pid`, 'app')
      await until(async () => (await topPids(app.id)).length === 5, 'supervisor, sh and three sleeps', 15_000)
    }, 60_000)

    test('signal --scope cgroup KILL --wait reaches every process (one escaped with setsid); all gone', async () => {
      const pids = await topPids(app.id)
      // One of them is in another process group and session: --scope group would miss it.
      expect(new Set(pids.map(pgrpOf)).size).toBe(2)
      const dry = await cliJson(['signal', 'app', 'KILL', '--container', app.name, '--scope', 'cgroup', '--dry-run'])
      expect(dry.json.would_deliver.map((d: {pid: number}) => d.pid).sort(byNumber)).toEqual([...pids].sort(byNumber))
      // A wait started before: the container's init (--root-pid) dies with the rest; that is "stopped".
      const waiting = cliJson(['wait', 'app', '--container', app.name, '--timeout', '20s'])
      await until(() => sh('pgrep -f "run[.]js wait app --container"').trim() !== '', 'wait started', 10_000)
      const {status, json} = await cliJson(['signal', 'app', 'KILL', '--container', app.name, '--scope', 'cgroup', '--wait', '--timeout', '10s'])
      expect(status).toBe(0)
      const w = await waiting
      expect(w.status).toBe(0)
      expect(w.json).toMatchObject({reached: true, condition: 'stopped'})
      expect(json).toMatchObject({exit_code: 0, exited: true, scope: 'cgroup', skipped: []})
      expect(json.delivered.map((d: {pid: number}) => d.pid).sort(byNumber)).toEqual([...pids].sort(byNumber))
      for (const pid of pids) expect(isAlive(pid)).toBe(false)
      await waitStopped(app)
    }, 60_000)
  })
})
