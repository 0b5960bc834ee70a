/**
 * One answer per state (issue 21, deliverable 5): a `--container` that does not run, on real
 * engines (Docker, and a test-owned root Podman service), is a result on every command, never an
 * error: `find` says `stopped`, reason `container_not_running`, in the same result object as any
 * find (exit 3); `list` has no row and one warning line (exit 3); `signal` sends nothing and says
 * so in one line and a hint with the user's flags (exit 7); `wait --for stopped`
 * holds at once (0) while `--for running` keeps looking until its timeout (1); and `serve`'s
 * /healthz/NAME answers the very object `find` prints (503), /healthz and /metrics say `stopped`.
 *
 * Each engine is asked about a container that ran the service and was stopped, one that was
 * created and never started, and one that does not exist (container null). A paused container is
 * running (its processes are there, frozen): the same pid as before the pause.
 *
 * Docker's containers are from nslocate:local (ensureImages, nothing pulled) and carry
 * nslocate.test=1 and this file's run label; they are removed by id in afterAll (and by
 * describeWithEngine's label sweep). Podman's live in the test's own storage (podman.ts), removed
 * by svc.stop().
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'

import {BIN, cli, firstLine, killTracked, track, until, jsonOf} from '../helpers/cli'
import {httpGet} from '../helpers/http'
import {APP_IMAGE, RUN_ID, describeWithEngine, docker, ensureImages, testLabels} from '../helpers/engine'
import {PodmanService, buildBusybox, describeWithPodman, startRootful} from '../helpers/podman'
import {stopAll} from '../helpers/tracked'

/** How a command-line run reaches one engine (its environment), and the engine's word for the containers. */
interface Engine {
  env: NodeJS.ProcessEnv
  runtime: 'docker' | 'podman'
  /** the runtime and socket that answer, and its owner, as the evidence names them (src/runtime/resolve.ts) */
  who: string
}

/** A container as its runtime knows it; null id: no runtime knows it. */
interface Named {
  ref: string
  id: string | null
  name: string
  /** the runtime's state word the evidence gives (created, exited), or what the "does not exist" message says */
  says: RegExp
}

/** `nslocate serve NAME ARGS --listen 127.0.0.1:0` until its listen event: its address. */
async function serve(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<{address: string; child: ChildProcess}> {
  const child = track(
    spawn(process.execPath, [BIN, 'serve', name, ...args, '--listen', '127.0.0.1:0'], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']}),
  )
  return {address: JSON.parse(await firstLine(child, 'serve')).address, child}
}

/** The key set of find's result object (from a running service of the same engine). */
let resultKeys: string[] = []

/**
 * Every command about service `app` in container `c`, which does not run: one answer. `running`:
 * find's result for the same service while its container ran (its fields are the ones expected).
 */
async function expectOneAnswer(engine: Engine, c: Named): Promise<void> {
  const {env, runtime} = engine
  const where = ['--container', c.ref]
  const container = c.id === null ? null : {id: c.id, name: c.name, runtime, cgroup: ''}

  // find --json: the normal result object, stopped, container_not_running, exit 3.
  const f = await cli(['find', 'app', ...where, '--json'], {env})
  const found = jsonOf(f)
  expect({status: f.status, stderr: f.stderr}).toEqual({status: 3, stderr: ''})
  expect(Object.keys(found)).toEqual(resultKeys)
  expect(found).toMatchObject({name: 'app', state: 'stopped', pid: null, process: null, pidfile: null, reasons: ['container_not_running'], container})
  // What the runtime said, then which socket said it and whose it is: nothing else was asked.
  expect(found.evidence).toHaveLength(2)
  expect(found.evidence[0]).toMatch(c.says)
  expect(found.evidence[0]).toMatch(/so app is not running there$/)
  expect(found.evidence[1]).toBe(`answered by ${engine.who}`)

  // find (text): not running, the container and the reason; exit 3.
  const t = await cli(['find', 'app', ...where], {env})
  expect(t.status).toBe(3)
  expect(t.stdout).toMatch(/^app: not running/)
  expect(t.stdout).toMatch(/^ {2}reasons {3}container_not_running$/m)
  if (c.id !== null) expect(t.stdout).toContain(`  container ${runtime} ${c.id.slice(0, 12)} (${c.name})`)
  expect(t.stderr).toBe('')

  // signal: not running, nothing sent, exit 7; its target is find's result; its advice is find's,
  // and the hint gives it with the flags that selected the service.
  const why = found.evidence[0].replace(/; so app is not running there$/, '')
  const s = await cli(['signal', 'app', 'TERM', ...where, '--json'], {env})
  const signalled = jsonOf(s)
  expect(s.status).toBe(7)
  expect(signalled).toMatchObject({exit_code: 7, signal: 'TERM', delivered: [], would_deliver: [], skipped: [], dispositions: []})
  expect(signalled.message).toBe(`app is not running: ${why}; nothing was signalled. See where it looked: nslocate find app`)
  expect({advice: signalled.advice, hint: signalled.hint}).toEqual({
    advice: 'See where it looked: nslocate find app',
    hint: `see where it looked: nslocate find app --container ${c.ref}`,
  })
  expect(signalled.target).toEqual(found)
  // What a user sees: the fact on one line, the hint under it, nothing on stdout; both front ends alike.
  for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
    const st = await cli(['signal', 'app', 'KILL', ...where], {env: {...env, ...extra}})
    expect({status: st.status, stdout: st.stdout, stderr: st.stderr}).toEqual({
      status: 7,
      stdout: '',
      stderr: `nslocate: app is not running: ${why}; nothing was signalled\nhint: see where it looked: nslocate find app --container ${c.ref}\n`,
    })
  }

  // wait --for stopped holds at once; --for running keeps looking, then times out (1).
  const w = await cli(['wait', 'app', ...where, '--for', 'stopped', '--timeout', '5s', '--json'], {env})
  expect(w.status).toBe(0)
  expect(jsonOf(w)).toMatchObject({reached: true, condition: 'stopped', exit_code: 0, target: found})
  const wr = await cli(['wait', 'app', ...where, '--for', 'running', '--timeout', '700ms', '--json'], {env})
  expect(wr.status).toBe(1)
  const waited = jsonOf(wr)
  expect(waited).toMatchObject({reached: false, condition: 'running', exit_code: 1, target: found})
  expect(waited.waited_ms).toBeGreaterThanOrEqual(700)

  // list: no row, exit 3 (not 0: "nothing listed" must not read as "looked, found nothing").
  // With --json, `[]` and the same warning on stderr (warnings go to stderr with --json too), on both paths.
  // Its text: no table (its files were not read), one warning line naming the container; --quiet: nothing.
  for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
    const l = await cli(['list', ...where, '--json'], {env: {...env, ...extra}})
    expect({status: l.status, rows: jsonOf(l), stderr: l.stderr}).toEqual({status: 3, rows: [], stderr: `nslocate: warning: ${why}; no service runs in it\n`})
    const lt = await cli(['list', ...where], {env: {...env, ...extra}})
    expect({status: lt.status, stdout: lt.stdout, stderr: lt.stderr}).toEqual({
      status: 3,
      stdout: '',
      stderr: `nslocate: warning: ${why}; no service runs in it\n`,
    })
  }
  const lq = await cli(['list', ...where, '--quiet'], {env})
  expect({status: lq.status, stdout: lq.stdout, stderr: lq.stderr}).toEqual({status: 3, stdout: '', stderr: ''})

  // serve: /healthz/NAME is find's object (503), /healthz and /metrics say stopped.
  const {address, child} = await serve('app', where, env)
  try {
    const one = await httpGet(`http://${address}/healthz/app`)
    expect(one.status).toBe(503)
    expect(JSON.parse(one.body)).toEqual(found)
    const all = await httpGet(`http://${address}/healthz`)
    expect({status: all.status, body: JSON.parse(all.body)}).toEqual({status: 503, body: {app: 'stopped'}})
    const metrics = (await httpGet(`http://${address}/metrics`)).body
    expect(metrics).toMatch(/^nslocate_service_state\{name="app",state="stopped"\} 1$/m)
    expect(metrics).toMatch(/^nslocate_service_state\{name="app",state="unknown"\} 0$/m)
    expect(metrics).toMatch(/^nslocate_service_up\{name="app"\} 0$/m)
  } finally {
    child.kill('SIGTERM')
  }
}

afterAll(async () => {
  await killTracked()
})

describeWithEngine('a Docker container that does not run is a result on every command', () => {
  const engine: Engine = {
    env: {DOCKER_HOST: undefined, CONTAINER_HOST: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined},
    runtime: 'docker',
    who: 'Docker at unix:///var/run/docker.sock (a socket owned by root)',
  }
  const name = (tag: string) => `nsl-stopped-${tag}-${RUN_ID}`.replace(/[^a-zA-Z0-9_.-]/g, '-')
  let ran: {id: string; name: string}
  let created: {id: string; name: string}

  beforeAll(async () => {
    await ensureImages()
    const make = async (tag: string, start: boolean) => {
      const c = await docker().createContainer({
        Image: APP_IMAGE,
        name: name(tag),
        Cmd: ['run', 'app', '--', 'sleep', '1000'],
        Labels: testLabels({'nslocate.test.stopped': tag}),
        NetworkDisabled: true,
        HostConfig: {NetworkMode: 'none'},
      })
      if (start) await c.start()
      return {id: c.id, name: name(tag)}
    }
    ;[ran, created] = await Promise.all([make('ran', true), make('created', false)])
    const initPid = (await docker().getContainer(ran.id).inspect()).State.Pid
    const pidfile = `/proc/${initPid}/root/run/nslocate/app.pid`
    await until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '', `app's pidfile in ${ran.name}`, 20_000)
  }, 120_000)

  test('running, then paused (still running: the same pid), then stopped: find says so each time', async () => {
    const r = await cli(['find', 'app', '--container', ran.name, '--json'], {env: engine.env})
    expect(r.status).toBe(0)
    const running = jsonOf(r)
    expect(running).toMatchObject({state: 'running', container: {id: ran.id, name: ran.name, runtime: 'docker'}})
    resultKeys = Object.keys(running)

    await docker().getContainer(ran.id).pause()
    try {
      const p = await cli(['find', 'app', '--container', ran.name, '--json'], {env: engine.env})
      expect(p.status).toBe(0)
      const paused = jsonOf(p)
      expect({state: paused.state, pid: paused.pid, pidfd_id: paused.pidfd_id}).toEqual({state: 'running', pid: running.pid, pidfd_id: running.pidfd_id})
      expect(paused.evidence).toContain(`container ${ran.name} is paused: its processes are there but frozen, and act on a signal only once it is unpaused`)
    } finally {
      await docker().getContainer(ran.id).unpause()
    }
    await docker().getContainer(ran.id).stop({t: 5})
    expect((await docker().getContainer(ran.id).inspect()).State.Status).toBe('exited')
  }, 60_000)

  test('a container that ran and was stopped (exited)', async () => {
    expect(resultKeys.length).toBeGreaterThan(0)
    await expectOneAnswer(engine, {
      ref: ran.name,
      id: ran.id,
      name: ran.name,
      says: new RegExp(`^container ${ran.name} \\(${ran.id.slice(0, 12)}\\) is not running \\(exited\\)`),
    })
  }, 60_000)

  test('a container created and never started (by id prefix too)', async () => {
    const says = (ref: string) => new RegExp(`^container ${ref} \\(${created.id.slice(0, 12)}\\) is not running \\(created\\)`)
    await expectOneAnswer(engine, {ref: created.name, id: created.id, name: created.name, says: says(created.name)})
    const byId = await cli(['find', 'app', '--container', created.id.slice(0, 12), '--json'], {env: engine.env})
    expect(byId.status).toBe(3)
    expect(jsonOf(byId)).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: created.id, name: created.name}})
  }, 60_000)

  test('a container that does not exist: the same answer, with no container named', async () => {
    const missing = name('missing')
    await expectOneAnswer(engine, {ref: missing, id: null, name: missing, says: new RegExp(`^no container ${missing} \\(Docker\\); so`)})
  }, 60_000)
})

describeWithPodman('a Podman container that does not run is a result on every command', () => {
  let svc: PodmanService
  let engine: Engine
  let image: string

  beforeAll(async () => {
    svc = await startRootful()
    image = await buildBusybox(svc)
    engine = {
      env: {CONTAINER_HOST: svc.host, DOCKER_HOST: undefined, XDG_RUNTIME_DIR: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined},
      runtime: 'podman',
      who: `Podman at ${svc.host} (CONTAINER_HOST; a socket owned by root)`,
    }
  }, 300_000)

  afterAll(async () => {
    await svc?.stop()
    await stopAll()
  }, 60_000)

  /** busybox sh writing its child's pid (siglog) to /run/app.pid, as the other Podman tests run it. */
  const SERVICE = ['sh', '-c', 'siglog /tmp/signals.log --pidfile /run/app.pid --exit-on TERM & wait']

  test('running, then paused (still running: Podman says Running false, yet it is the same pid), then stopped', async () => {
    const id = await svc.run(['--name', 'st-ran', image, ...SERVICE])
    const initPid = Number(await svc.inspect(id, '{{.State.Pid}}'))
    await until(
      () => {
        try {
          return fs.readFileSync(`/proc/${initPid}/root/run/app.pid`, 'utf8').trim() !== ''
        } catch {
          return false
        }
      },
      'the pidfile in st-ran',
      20_000,
    )
    const r = await cli(['find', 'app', '--container', 'podman://st-ran', '--json'], {env: engine.env})
    expect(r.status).toBe(0)
    const running = jsonOf(r)
    expect(running).toMatchObject({state: 'running', container: {id, name: 'st-ran', runtime: 'podman'}})
    resultKeys = Object.keys(running)

    await svc.podman(['pause', id])
    try {
      expect(await svc.inspect(id, '{{.State.Status}} {{.State.Running}}')).toBe('paused false')
      const p = await cli(['find', 'app', '--container', 'podman://st-ran', '--json'], {env: engine.env})
      expect(p.status).toBe(0)
      const paused = jsonOf(p)
      expect({state: paused.state, pid: paused.pid}).toEqual({state: 'running', pid: running.pid})
      expect(paused.evidence).toContain('container st-ran is paused: its processes are there but frozen, and act on a signal only once it is unpaused')
    } finally {
      await svc.podman(['unpause', id])
    }
    await svc.podman(['stop', '-t', '5', id], {timeoutMs: 30_000})
    expect(await svc.inspect(id, '{{.State.Status}}')).toBe('exited')
    await expectOneAnswer(engine, {ref: 'podman://st-ran', id, name: 'st-ran', says: /^container st-ran \([0-9a-f]{12}\) is not running \(exited\)/})
  }, 120_000)

  test('a container created and never started', async () => {
    const id = (await svc.podman(['create', '--label', 'nslocate.test=1', '--name', 'st-created', image, ...SERVICE])).trim()
    expect(await svc.inspect(id, '{{.State.Status}}')).toBe('created')
    await expectOneAnswer(engine, {
      ref: 'podman://st-created',
      id,
      name: 'st-created',
      says: /^container st-created \([0-9a-f]{12}\) is not running \(created\)/,
    })
  }, 60_000)

  test('a container Podman does not know', async () => {
    await expectOneAnswer(engine, {ref: 'podman://st-nothing', id: null, name: 'st-nothing', says: /container st-nothing does not exist \(Podman at /})
  }, 60_000)
})
