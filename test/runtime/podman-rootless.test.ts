/**
 * Rootless Podman, and the rule for a runtime socket another user owns (src/runtime/socket-trust.ts,
 * container-target.ts): such a socket, named explicitly (CONTAINER_HOST), is trusted only for
 * containers whose PID namespace belongs to a user namespace of that user; otherwise refused, nothing
 * signalled; found implicitly (another user's XDG_RUNTIME_DIR in root's environment) it is refused.
 *
 * Real users (test/helpers/users.ts), each with a subordinate id range and a rootless
 * `podman system service` of its own (test/helpers/podman.ts):
 *   U  runs the container u-app; nslocate is run as U (auto-detection: $XDG_RUNTIME_DIR) and as root
 *      (CONTAINER_HOST at U's socket). The pidfile inside u-app belongs to the container's root,
 *      which is U on the host: trusted for U's container.
 *   U  is also the attacker: a fake Podman service (fixtures/podman/fake-service.js) run as U on a
 *      socket U owns answers State.Pid of B's rootless container, of root's (rootful) container, of
 *      a root process on the host, of a pid that does not exist here. Root's nslocate must refuse
 *      each; the victims' logs show nothing; the helper route is never asked for.
 *   B  another rootless user with a container b-app (a victim).
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {podmanRuntime} from '../../src/runtime/podman'
import {cliAs} from '../helpers/as-user'
import {CliResult, ROOT, cli, until} from '../helpers/cli'
import {PodmanService, buildBusybox, describeWithPodman, ownedDir, startRootful, startRootless} from '../helpers/podman'
import {readNSpid} from '../helpers/proc'
import {stopAll, track} from '../helpers/tracked'
import {Received, Victim, readLog, spawnVictim} from '../helpers/victims'

const HUP = 1
const SERVICE = ['sh', '-c', 'siglog /log/signals.log --pidfile /run/app.pid --exit-on TERM & wait']
/** The overflow uid: how a sender with no mapping in the receiver's user namespace (root, here) appears in si_uid. */
const OVERFLOW_UID = Number(fs.readFileSync('/proc/sys/kernel/overflowuid', 'utf8'))

interface App {
  svc: PodmanService
  id: string
  name: string
  initPid: number
  logDir: string
}

async function startApp(svc: PodmanService, image: string, name: string): Promise<App> {
  const logDir = ownedDir(svc, 'log')
  const id = await svc.run(['--name', name, '-v', `${logDir}:/log`, image, ...SERVICE])
  const initPid = Number(await svc.inspect(id, '{{.State.Pid}}'))
  await until(
    () => fs.existsSync(`/proc/${initPid}/root/run/app.pid`) && fs.readFileSync(`/proc/${initPid}/root/run/app.pid`, 'utf8').trim() !== '',
    `${name}'s pidfile`,
    10_000,
  )
  return {svc, id, name, initPid, logDir}
}

function signals(app: App): Received[] {
  return readLog(path.join(app.logDir, 'signals.log'))
}

/** The service's pid inside its container (the pidfile) and on the host. */
function serviceOf(app: App): {inner: number; host: number} {
  const inner = Number(fs.readFileSync(`/proc/${app.initPid}/root/run/app.pid`, 'utf8').trim())
  const ns = fs.readlinkSync(`/proc/${app.initPid}/ns/pid`)
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (fs.readlinkSync(`/proc/${name}/ns/pid`) === ns && readNSpid(Number(name)).at(-1) === inner) return {inner, host: Number(name)}
    } catch {}
  }
  throw new Error(`${app.name}: no process ${inner} in its PID namespace`)
}

function json(r: {status: number | null; stdout: string; stderr: string}): any {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`not JSON (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  }
}

/** root's CLI with only this runtime environment (no Docker, no other user's XDG_RUNTIME_DIR unless given). */
function asRoot(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return cli(args, {env: {DOCKER_HOST: undefined, CONTAINER_HOST: undefined, XDG_RUNTIME_DIR: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined, ...env}})
}

describeWithPodman("rootless Podman, as its user and as root; another user's socket", () => {
  let u: PodmanService
  let b: PodmanService
  let r: PodmanService
  let uApp: App
  let bApp: App
  let rApp: App
  let uEnv: NodeJS.ProcessEnv

  beforeAll(async () => {
    ;[u, b, r] = await Promise.all([startRootless('pmu'), startRootless('pmb'), startRootful()])
    const [ui, bi, ri] = await Promise.all([buildBusybox(u), buildBusybox(b), buildBusybox(r)])
    ;[uApp, bApp, rApp] = await Promise.all([startApp(u, ui, 'u-app'), startApp(b, bi, 'b-app'), startApp(r, ri, 'r-app')])
    uEnv = {XDG_RUNTIME_DIR: `/run/user/${u.user!.uid}`}
  }, 180_000)

  afterAll(async () => {
    await Promise.allSettled([u?.stop(), b?.stop(), r?.stop()])
    await stopAll()
  }, 90_000)

  describe('what rootless Podman gives (no nslocate involved but the backend)', () => {
    test("the container's root is the user: uid_map 0 -> U, the pidfile is U's on the host; State.Pid is what `podman inspect` says", async () => {
      const uid = u.user!.uid
      const map = fs.readFileSync(`/proc/${uApp.initPid}/uid_map`, 'utf8').trim().split('\n')[0].trim().split(/\s+/).map(Number)
      expect(map).toEqual([0, uid, 1])
      expect(fs.statSync(`/proc/${uApp.initPid}/root/run/app.pid`).uid).toBe(uid)
      const info = await podmanRuntime({socketPath: u.socket, where: u.host}).inspect({ref: 'u-app'})
      expect(info).toMatchObject({id: uApp.id, name: 'u-app', running: true, hostPid: uApp.initPid, pidMode: 'private'})
      expect(readNSpid(uApp.initPid)).toEqual([uApp.initPid, 1])
      // No cgroup of its own on cgroup v1 hybrid (STACK-NOTES): its parent, conmon, names it.
      const ppid = Number(fs.readFileSync(`/proc/${uApp.initPid}/stat`, 'utf8').split(') ')[1].split(' ')[1])
      const conmon = fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0')
      expect(conmon[0]).toMatch(/(^|\/)conmon$/)
      expect(conmon[conmon.indexOf('-c') + 1]).toBe(uApp.id)
    })
  })

  describe('b. nslocate as the user (its own socket, found through XDG_RUNTIME_DIR)', () => {
    test('find --container podman://u-app: the service, host pid and NSpid chain', () => {
      const {inner, host} = serviceOf(uApp)
      const res = cliAs(u.user!, ['find', 'app', '--container', 'podman://u-app', '--json'], uEnv)
      expect({status: res.status, stderr: res.stderr}).toEqual({status: 0, stderr: ''})
      expect(res.json).toMatchObject({state: 'running', pid: host, nspid: [host, inner], container: {id: uApp.id, runtime: 'podman'}})
    })

    test('signal HUP as the user: exactly one HUP, from U (root in the container)', async () => {
      const {inner} = serviceOf(uApp)
      const before = signals(uApp).length
      const res = cliAs(u.user!, ['signal', 'app', 'HUP', '--container', 'podman://u-app', '--json'], uEnv)
      expect(res.status).toBe(0)
      await until(() => signals(uApp).length > before, 'the HUP in the log', 5000)
      expect(signals(uApp).slice(before)).toEqual([{pid: inner, signo: HUP, from: 0, uid: 0, code: 0}])
    })
  })

  describe("b. nslocate as root with CONTAINER_HOST at U's socket", () => {
    test("find: accepted for U's container, and the evidence says why; the pidfile owned by U (the container's root) is trusted", async () => {
      const {inner, host} = serviceOf(uApp)
      const res = await asRoot(['find', 'app', '--container', 'podman://u-app', '--json'], {CONTAINER_HOST: u.host})
      expect({status: res.status, stderr: res.stderr}).toEqual({status: 0, stderr: ''})
      const j = json(res)
      expect(j).toMatchObject({state: 'running', pid: host, nspid: [host, inner], container: {id: uApp.id, runtime: 'podman'}})
      expect(JSON.stringify(j.evidence)).toContain(`uid ${u.user!.uid}'s user namespace owns`)
    })

    test('signal HUP as root: exactly one HUP, from a sender the container cannot map (root)', async () => {
      const {inner} = serviceOf(uApp)
      const before = signals(uApp).length
      const res = await asRoot(['signal', 'app', 'HUP', '--container', 'podman://u-app', '--json'], {CONTAINER_HOST: u.host})
      expect(res.status).toBe(0)
      await until(() => signals(uApp).length > before, 'the HUP in the log', 5000)
      expect(signals(uApp).slice(before)).toEqual([{pid: inner, signo: HUP, from: 0, uid: OVERFLOW_UID, code: 0}])
    })

    test("--scope cgroup on U's container: it has no cgroup of its own (cgroup v1, rootless), so the scope is refused (shared_cgroup)", async () => {
      // The premise (STACK-NOTES, cgroup v1 hybrid): no cgroup of its own; it stays in those its user's service was started in.
      const {host} = serviceOf(uApp)
      const cgroups = fs.readFileSync(`/proc/${host}/cgroup`, 'utf8')
      expect(cgroups).not.toContain(uApp.id)
      expect(cgroups).toBe(fs.readFileSync(`/proc/${u.pid}/cgroup`, 'utf8'))
      const before = signals(uApp).length
      // --dry-run: were the refusal missing, nothing would be sent to the processes of that cgroup (/) either.
      const res = await asRoot(['signal', 'app', 'HUP', '--scope', 'cgroup', '--dry-run', '--container', 'podman://u-app', '--json'], {CONTAINER_HOST: u.host})
      const j = json(res)
      expect({status: res.status, delivered: j.delivered ?? []}).toEqual({status: 4, delivered: []})
      expect(JSON.stringify(j)).toContain('shared_cgroup')
      expect(signals(uApp).length).toBe(before)
    })

    test("U's socket found implicitly (U's XDG_RUNTIME_DIR in root's environment, as sudo -E leaves it): refused, nothing signalled", async () => {
      const before = signals(uApp).length
      for (const cmd of [
        ['find', 'app'],
        ['signal', 'app', 'HUP'],
      ]) {
        const res = await asRoot([...cmd, '--container', 'podman://u-app', '--json'], uEnv)
        expect({cmd, status: res.status}).toEqual({cmd, status: 4})
        expect(json(res).error.code).toBe('RUNTIME')
        expect(json(res).error.message).toContain('XDG_RUNTIME_DIR')
      }
      await new Promise((res) => setTimeout(res, 300))
      expect(signals(uApp).length).toBe(before)
    })
  })

  describe("4. U's socket answering for what is not U's (a fake Podman service run by U)", () => {
    let hostVictim: Victim
    let fakeHost: string
    let requests: string

    beforeAll(async () => {
      hostVictim = await spawnVictim()
      const user = u.user!
      const dir = `/run/user/${user.uid}/fake`
      fs.mkdirSync(dir, {mode: 0o700})
      fs.chownSync(dir, user.uid, user.gid)
      const container = (id: string, name: string, pid: number, pidMode: string) => ({
        status: 200,
        body: {
          Id: id,
          Name: name,
          ImageName: 'localhost/nslocate-busybox:test',
          State: {Status: 'running', Running: true, Pid: pid},
          Config: {Labels: {}},
          HostConfig: {PidMode: pidMode},
          Pod: '',
        },
      })
      const routes: Record<string, unknown> = {}
      // By name and by id: nslocate asks again by id when the pid is not there (a container that just exited).
      const add = (name: string, id: string, pid: number, pidMode = 'private') => {
        for (const ref of [name, id]) routes[`/v4.0.0/libpod/containers/${ref}/json`] ??= container(id, name, pid, pidMode)
      }
      add('b-victim', bApp.id, bApp.initPid) // B's rootless container (its conmon names it: "visible")
      add('r-victim', rApp.id, rApp.initPid) // root's container (its cgroup names it)
      add('h-victim', 'e'.repeat(64), hostVictim.pid) // a root process on the host
      add('ghost', 'f'.repeat(64), 4_194_000) // a pid that does not exist here: the helper route would be next
      add('own', uApp.id, uApp.initPid) // U's own container: the control case, accepted
      // PidMode host relaxes the check that the pid is a namespace's init: it must not relax the owner rule.
      add('r-host', rApp.id, rApp.initPid, 'host')
      add('h-host', 'd'.repeat(64), hostVictim.pid, 'host')
      // The list `containers` asks for: every one of them.
      routes['/v4.0.0/libpod/containers/json?all=true'] = {status: 200, body: [bApp.id, rApp.id, 'e'.repeat(64), 'f'.repeat(64), uApp.id].map((Id) => ({Id}))}
      const routesFile = path.join(u.scratch, 'routes.json')
      requests = path.join(u.scratch, 'requests.log')
      const script = path.join(u.scratch, 'fake-service.js')
      fs.writeFileSync(routesFile, JSON.stringify(routes))
      fs.copyFileSync(path.join(ROOT, 'fixtures', 'podman', 'fake-service.js'), script)
      for (const f of [routesFile, script]) fs.chownSync(f, user.uid, user.gid)
      const socket = path.join(dir, 'podman.sock')
      const argv = user.as([process.execPath, script, socket, routesFile, requests])
      const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
      track(child)
      await new Promise<void>((resolve, reject) => {
        let out = ''
        child.stdout!.on('data', (d) => {
          out += d
          if (out.includes('listening')) resolve()
        })
        child.once('exit', (c) => reject(new Error(`the fake service exited (${c})`)))
        setTimeout(() => reject(new Error('the fake service did not listen within 10 s')), 10_000).unref()
      })
      expect(fs.statSync(socket).uid).toBe(user.uid)
      fakeHost = `unix://${socket}`
    }, 30_000)

    const victims = () => ({b: signals(bApp).length, r: signals(rApp).length, h: hostVictim.received().length, u: signals(uApp).length})

    // `said`: on the error's line; `why`: the error's `why` (--json), how the pid is not U's; `hint`: 'U' for "run nslocate as uid U"
    test.each([
      // B's conmon (B's, not U's, root's or the caller's) names nothing through U's socket: a pid here,
      // outside the container's cgroup (no "run as uid U" hint: the answer names another process)
      ['b-victim', "B's rootless container", "here is not in the container's cgroup", 'the socket named a process that is not the container', null],
      ['r-victim', "root's container", "not that user's container", "PID namespace is nslocate's own", null],
      ['h-victim', 'a root process on the host', "here is not in the container's cgroup", 'the socket named a process that is not the container', null],
      ['ghost', 'a pid that does not exist here', 'is not visible here', 'is not visible here', 'U'],
      ['r-host', "root's container, said to share the host's PID namespace", "not that user's container", "PID namespace is nslocate's own", null],
      [
        'h-host',
        "a root process on the host, said to be in the host's PID namespace",
        "here is not in the container's cgroup",
        'the socket named a process that is not the container',
        null,
      ],
    ])('%s (%s): find and signal refused (exit 4, RUNTIME), nothing signalled', async (name, _what, said, why, hint) => {
      const before = victims()
      for (const cmd of [
        ['find', 'app'],
        ['signal', 'app', 'HUP'],
      ]) {
        const res = await asRoot([...cmd, '--container', `podman://${name}`, '--json'], {CONTAINER_HOST: fakeHost})
        const j = json(res)
        expect({cmd, status: res.status, code: j.error?.code}).toEqual({cmd, status: 4, code: 'RUNTIME'})
        expect(j.error.message).toContain(`refusing the answer of uid ${u.user!.uid}'s socket ${fakeHost}: `)
        expect(j.error.message).toContain(said)
        expect(j.error.why).toContain(why)
        // only a pid that is not there at all may be U's, seen as U: the hint says to run as U then
        expect(j.error.hint ?? null).toBe(hint === 'U' ? `run nslocate as uid ${u.user!.uid}` : null)
      }
      await new Promise((res) => setTimeout(res, 300))
      expect(victims()).toEqual(before)
      expect(fs.existsSync(`/proc/${bApp.initPid}`) && fs.existsSync(`/proc/${rApp.initPid}`) && fs.existsSync(`/proc/${hostVictim.pid}`)).toBe(true)
    })

    test("containers through the fake socket: no pidfile is read in what is not U's (visible: false, no services); U's own container is", async () => {
      const res = await asRoot(['containers', '--json'], {CONTAINER_HOST: fakeHost})
      expect(res.status).toBe(0)
      const rows = Object.fromEntries(
        json(res).map((c: {name: string; visible: boolean; services: Array<{name: string; pid: number}>}) => [
          c.name,
          [c.visible, c.services.map((x) => [x.name, x.pid])],
        ]),
      )
      expect(rows).toEqual({
        'b-victim': [false, []],
        'r-victim': [false, []],
        'h-victim': [false, []],
        ghost: [false, []],
        own: [true, [['app', serviceOf(uApp).host]]],
      })
    })

    test('nslocate only read from the fake service: no helper container was asked for (no POST)', () => {
      const lines = fs.readFileSync(requests, 'utf8').split('\n').filter(Boolean)
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.filter((l) => !l.startsWith('GET '))).toEqual([])
    })

    test("control: the same fake socket naming U's own container is accepted (the refusals above are the rule, not a broken fake)", async () => {
      const {inner} = serviceOf(uApp)
      const before = signals(uApp).length
      const res = await asRoot(['signal', 'app', 'HUP', '--container', 'podman://own', '--json'], {CONTAINER_HOST: fakeHost})
      expect(res.status).toBe(0)
      await until(() => signals(uApp).length > before, 'the HUP in the log', 5000)
      expect(signals(uApp).slice(before)).toEqual([{pid: inner, signo: HUP, from: 0, uid: OVERFLOW_UID, code: 0}])
    })
  })
})
