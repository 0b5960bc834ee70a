/**
 * The reloader next to an app container on a real engine (images FROM scratch-built bases, nothing
 * pulled; every container labelled nslocate.test=1 and removed by describeWithEngine):
 *   - as a sidecar container sharing the app's PID namespace (PidMode container:<app>), the pidfile
 *     and a ConfigMap-style config directory on shared volumes;
 *   - as a sidecar container with --pid=host and no capability at all (the pidfile on a shared volume);
 *   - as a sibling container that shares only the config volume and has the Docker socket: --container
 *     takes the helper-container route (a short-lived --pid=host helper per locate and per signal);
 *   - from the host with --container (the Docker socket route), reload and serve.
 * The app's service is a shell that appends a line to hup.log for every HUP it receives.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as os from 'node:os'
import * as path from 'node:path'

import {demux} from '../../src/runtime/docker'
import {killTracked, until} from '../helpers/cli'
import {ROOT, describeWithEngine, docker, testLabels} from '../helpers/engine'
import {ConfigMapVolume} from './configmap'
import {APP_CMD, RELOADER_CMD} from './placement-commands'
import {events, nextEvent, startCli, stopCli} from './run-cli'

/** Its own tag: other worktrees build nslocate:local from other code at the same time. */
const IMAGE = 'nslocate:sidecar-test'
const dirs: string[] = []

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-sidecar-ctr-'))
  fs.chmodSync(d, 0o755)
  dirs.push(d)
  return d
}
const lines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [])

async function start(
  cmd: string[],
  o: {binds: Array<[string, string]>; pidMode?: string; networkMode?: string; tag: string; env?: string[]; capDrop?: string[]},
): Promise<{id: string; name: string}> {
  const name = `nsl-sidecar-${o.tag}-${process.pid}-${Date.now().toString(36)}`
  const c = await docker().createContainer({
    name,
    Image: IMAGE,
    Cmd: cmd,
    Env: o.env,
    Labels: testLabels({'nslocate.test.sidecar': o.tag}),
    NetworkDisabled: o.networkMode === undefined,
    HostConfig: {NetworkMode: o.networkMode ?? 'none', PidMode: o.pidMode, CapDrop: o.capDrop, Binds: o.binds.map(([h, c]) => `${h}:${c}`)},
  })
  await c.start()
  return {id: c.id, name}
}

async function logsOf(id: string): Promise<{stdout: string; stderr: string}> {
  const raw = (await docker().getContainer(id).logs({stdout: true, stderr: true, follow: false})) as unknown as Buffer
  return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)))
}

describeWithEngine('reload in container placements', () => {
  let dir: string
  let cfg: string
  let vol: ConfigMapVolume
  let app: {id: string; name: string}

  beforeAll(async () => {
    execFileSync('bash', [path.join(ROOT, 'scripts', 'build-image.sh'), IMAGE], {cwd: ROOT, stdio: 'pipe', timeout: 10 * 60_000})
    dir = tempDir()
    cfg = tempDir()
    vol = new ConfigMapVolume(path.join(cfg, 'config'), {'app.conf': 'v1'})
    app = await start(APP_CMD, {binds: [[dir, '/run/app']], tag: 'app'})
    await until(
      () => fs.existsSync(path.join(dir, 'hupper.pid')) && fs.readFileSync(path.join(dir, 'hupper.pid'), 'utf8').trim() !== '',
      'hupper.pid written',
      30_000,
    )
  }, 11 * 60_000)

  afterAll(async () => {
    await killTracked()
    for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
  })

  test('a sidecar container sharing the PID namespace: each ConfigMap swap is one HUP the service logs; docker stop ends it cleanly (0)', async () => {
    const before = lines(path.join(dir, 'hup.log')).length
    const side = await start(RELOADER_CMD, {
      binds: [
        [dir, '/run/app'],
        [path.join(cfg, 'config'), '/config'],
      ],
      pidMode: `container:${app.id}`,
      tag: 'reloader',
    })
    await until(async () => (await logsOf(side.id)).stdout.includes('"event":"service"'), 'the reloader reports the service', 30_000)
    vol.update({'app.conf': 'v2'})
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 1, 'HUP logged by the service after swap 1', 15_000)
    vol.update({'app.conf': 'v3'})
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 2, 'HUP logged by the service after swap 2', 15_000)
    await docker().getContainer(side.id).stop({t: 10})
    const {StatusCode} = await docker().getContainer(side.id).wait()
    const out = (await logsOf(side.id)).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(StatusCode).toBe(0)
    const inner = Number(fs.readFileSync(path.join(dir, 'hupper.pid'), 'utf8'))
    const sigs = out.filter((e) => e.event === 'signal')
    expect(sigs).toHaveLength(2)
    expect(sigs.every((e) => e.result === 'signalled' && e.pid === inner && e.dispositions[0].disposition === 'handled')).toBe(true)
    expect(out.slice(-1)[0]).toMatchObject({event: 'stop', reason: 'SIGTERM'})
  }, 120_000)

  test('from the host with --container: the swap reaches the service in the container at its host pid', async () => {
    const before = lines(path.join(dir, 'hup.log')).length
    const r = startCli(['reload', 'hupper', '--container', app.name, '--dir', '/run/app', '--watch', path.join(cfg, 'config'), '--debounce', '200ms'])
    expect(await nextEvent(r, (e) => e.event === 'service', 30_000)).toMatchObject({state: 'running'})
    vol.update({'app.conf': 'v4'})
    const sig = await nextEvent(r, (e) => e.event === 'signal', 30_000)
    expect(sig).toMatchObject({result: 'signalled'})
    expect(sig.nspid).toHaveLength(2) // host pid -> pid inside the container
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 1, 'HUP logged by the service', 15_000)
    expect((await stopCli(r)).status).toBe(0)
    expect(events(r).slice(-1)[0]).toMatchObject({event: 'stop'})
  }, 120_000)

  /** The signal events of a reloader container after docker stop, which must end it with 0 and a stop event. */
  async function stoppedReloader(id: string): Promise<Array<Record<string, any>>> {
    await docker().getContainer(id).stop({t: 10})
    const {StatusCode} = await docker().getContainer(id).wait()
    const out = (await logsOf(id)).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    expect(StatusCode).toBe(0)
    expect(out.slice(-1)[0]).toMatchObject({event: 'stop', reason: 'SIGTERM'})
    return out.filter((e) => e.event === 'signal')
  }

  test("a sidecar container with --pid=host and --cap-drop ALL: each swap is one HUP at the service's host pid", async () => {
    const before = lines(path.join(dir, 'hup.log')).length
    const side = await start(RELOADER_CMD, {
      binds: [
        [dir, '/run/app'],
        [path.join(cfg, 'config'), '/config'],
      ],
      pidMode: 'host',
      capDrop: ['ALL'],
      tag: 'pidhost',
    })
    await until(async () => (await logsOf(side.id)).stdout.includes('"event":"service"'), 'the reloader reports the service', 30_000)
    vol.update({'app.conf': 'h1'})
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 1, 'HUP logged by the service after swap 1', 15_000)
    vol.update({'app.conf': 'h2'})
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 2, 'HUP logged by the service after swap 2', 15_000)
    const sigs = await stoppedReloader(side.id)
    const inner = Number(fs.readFileSync(path.join(dir, 'hupper.pid'), 'utf8'))
    const hostPid = Number(execFileSync('docker', ['inspect', '--format', '{{.State.Pid}}', app.id], {encoding: 'utf8'}).trim())
    expect(sigs).toHaveLength(2)
    for (const e of sigs) {
      expect(e).toMatchObject({result: 'signalled'})
      // the host pid, with the chain down to the pid the service wrote in its own namespace
      expect(e.nspid).toHaveLength(2)
      expect(e.nspid[1]).toBe(inner)
      expect(e.pid).toBe(e.nspid[0])
      expect(e.pid).not.toBe(hostPid) // State.Pid is `nslocate run`, the supervisor; the HUP went to its child
    }
    expect(lines(path.join(dir, 'hup.log')).length).toBe(before + 2)
  }, 120_000)

  test('a sibling with only the config volume and the Docker socket: --container takes the helper route; each swap is one HUP, no helper is left', async () => {
    const before = lines(path.join(dir, 'hup.log')).length
    const side = await start(['reload', 'hupper', '--container', app.name, '--dir', '/run/app', '--watch', '/config', '--debounce', '200ms'], {
      binds: [
        [path.join(cfg, 'config'), '/config'],
        ['/var/run/docker.sock', '/var/run/docker.sock'],
      ],
      env: [`NSLOCATE_HELPER_IMAGE=${IMAGE}`],
      tag: 'sock',
    })
    await until(async () => (await logsOf(side.id)).stdout.includes('"event":"service"'), 'the reloader reports the service', 60_000)
    const service = (await logsOf(side.id)).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((e) => e.event === 'service')
    expect(service).toMatchObject({state: 'running'})
    vol.update({'app.conf': 's1'})
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 1, 'HUP logged by the service after swap 1', 60_000)
    vol.update({'app.conf': 's2'})
    await until(() => lines(path.join(dir, 'hup.log')).length === before + 2, 'HUP logged by the service after swap 2', 60_000)
    const sigs = await stoppedReloader(side.id)
    const inner = Number(fs.readFileSync(path.join(dir, 'hupper.pid'), 'utf8'))
    expect(sigs).toHaveLength(2)
    // done by a helper container each time (the reloader cannot see the app's processes)
    for (const e of sigs) expect(e).toMatchObject({result: 'signalled', helper: IMAGE})
    expect(sigs.every((e) => e.nspid[e.nspid.length - 1] === inner)).toBe(true)
    expect(lines(path.join(dir, 'hup.log')).length).toBe(before + 2)
    const helpers = execFileSync('docker', ['ps', '-aq', '--filter', 'label=nslocate.helper=1', '--filter', `label=nslocate.target=${app.id}`], {
      encoding: 'utf8',
    }).trim()
    expect(helpers).toBe('')
  }, 240_000)

  test('serve from the host with --container: /healthz/NAME and /metrics report the service at its host pid', async () => {
    const r = startCli(['serve', 'hupper', '--container', app.name, '--dir', '/run/app', '--listen', '127.0.0.1:0'])
    const listen = await nextEvent(r, (e) => e.event === 'listen', 30_000)
    const port = Number(String(listen.address).split(':').pop())
    const get = (p: string) =>
      new Promise<{status: number; body: string}>((resolve, reject) => {
        http
          .get({host: '127.0.0.1', port, path: p}, (res) => {
            let body = ''
            res.on('data', (d) => (body += d))
            res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
          })
          .on('error', reject)
      })
    const inner = Number(fs.readFileSync(path.join(dir, 'hupper.pid'), 'utf8'))
    const health = await get('/healthz/hupper')
    expect(health.status).toBe(200)
    const j = JSON.parse(health.body)
    expect(j).toMatchObject({state: 'running', visible: true})
    expect(j.nspid).toEqual([j.pid, inner])
    const metrics = await get('/metrics')
    expect(metrics.status).toBe(200)
    expect(metrics.body).toContain('nslocate_service_up{name="hupper"} 1')
    expect(metrics.body).toContain(`nslocate_service_main_pid{name="hupper"} ${j.pid}`)
    expect((await stopCli(r)).status).toBe(0)
  }, 120_000)

  test("serve as a sidecar in the app's PID and network namespaces: the app container reaches /healthz and /metrics on its loopback", async () => {
    const probe = await start(['serve', 'hupper', '--pidfile', '/run/app/hupper.pid', '--listen', '127.0.0.1:9090'], {
      binds: [[dir, '/run/app']],
      pidMode: `container:${app.id}`,
      networkMode: `container:${app.id}`,
      tag: 'probe',
    })
    await until(async () => (await logsOf(probe.id)).stdout.includes('"event":"listen"'), 'serve listening', 30_000)
    // From the app container (same network namespace), with busybox wget: loopback only.
    const fetch = (p: string) => execFileSync('docker', ['exec', app.id, 'wget', '-qO-', `http://127.0.0.1:9090${p}`], {encoding: 'utf8', timeout: 15_000})
    const inner = Number(fs.readFileSync(path.join(dir, 'hupper.pid'), 'utf8'))
    expect(JSON.parse(fetch('/healthz/hupper'))).toMatchObject({state: 'running', pid: inner, nspid: [inner]})
    const metrics = fetch('/metrics')
    expect(metrics).toContain('nslocate_service_up{name="hupper"} 1')
    expect(metrics).toContain(`nslocate_service_main_pid{name="hupper"} ${inner}`)
    const before = lines(path.join(dir, 'hup.log')).length
    await docker().getContainer(probe.id).stop({t: 10})
    expect((await docker().getContainer(probe.id).wait()).StatusCode).toBe(0)
    expect((await logsOf(probe.id)).stdout).toContain('"event":"stop"')
    expect(lines(path.join(dir, 'hup.log')).length).toBe(before) // nothing was signalled
  }, 120_000)
})
