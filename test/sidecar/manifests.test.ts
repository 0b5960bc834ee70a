/**
 * docs/sidecar.md's manifests, checked as far as this machine allows (no cluster, no compose):
 * each YAML block marked `<!-- manifest: NAME -->` is parsed; its structure is checked (volumes,
 * shared PID namespace, native sidecar); and every nslocate command in it is run for real on this
 * host, with each volume's mountPath mapped to a temp dir (shared by the containers that mount it),
 * the app's program replaced by a siglog victim, a ConfigMap volume made the kubelet's way, and
 * --listen's port replaced by a free one. The probe's httpGet path is then requested, and a
 * ConfigMap update must reach the victim as a HUP. A container without a shared PID namespace runs
 * in a PID namespace of its own (unshare), as it would in the pod.
 */
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'
import {parse} from 'yaml'

import {killTracked, until} from '../helpers/cli'
import {ROOT} from '../helpers/paths'
import {stopAll, tempDir} from '../helpers/tracked'
import {readLog, siglogBinary} from '../helpers/victims'
import {ConfigMapVolume} from './configmap'
import {APP_CMD, APP_MOUNTS, RELOADER_CMD, RELOADER_MOUNTS} from './placement-commands'
import {RunningCli, nextEvent, startCli, stopCli} from './run-cli'

afterAll(async () => {
  await killTracked()
  await stopAll()
})

/** The victim dies with its supervisor even when a failing test SIGKILLs that (siglog's PR_SET_PDEATHSIG). */
const PDEATH = {NSLOCATE_SIGLOG_PDEATH: '1'}
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'sidecar.md'), 'utf8')
const MANIFEST = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))

function manifest(name: string): any {
  const m = new RegExp(`<!-- manifest: ${name} -->\\n\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(DOC)
  if (!m) throw new Error(`docs/sidecar.md has no manifest ${name}`)
  return parse(m[1])
}

/** Every --flag of an nslocate command line is a flag of that command (oclif.manifest.json). */
function checkFlags(argv: string[]): void {
  const cmd = MANIFEST.commands[argv[0]]
  expect(cmd).toBeDefined()
  const end = argv.indexOf('--')
  for (const a of (end < 0 ? argv : argv.slice(0, end)).filter((x) => x.startsWith('--'))) expect(Object.keys(cmd.flags)).toContain(a.slice(2))
}

interface Ctr {
  name: string
  command: string[]
  volumeMounts?: Array<{name: string; mountPath: string}>
  restartPolicy?: string
  readinessProbe?: any
  livenessProbe?: any
}

function checkPod(pod: any): Ctr[] {
  expect(pod).toMatchObject({apiVersion: 'v1', kind: 'Pod'})
  const volumes = new Set(pod.spec.volumes.map((v: any) => v.name))
  const all: Ctr[] = [...(pod.spec.initContainers ?? []), ...pod.spec.containers]
  for (const c of all) for (const m of c.volumeMounts ?? []) expect(volumes).toContain(m.name)
  for (const c of all.filter((x) => x.command[0] === 'nslocate')) checkFlags(c.command.slice(1))
  return all
}

/** Maps mountPaths to temp dirs per volume, and rewrites a container's command for this host. */
class Pod {
  readonly root = tempDir('nslocate-manifest-')
  readonly log = path.join(this.root, 'signals.log')
  constructor(readonly spec: any) {}
  dirOf(volume: string): string {
    const d = path.join(this.root, volume)
    fs.mkdirSync(d, {recursive: true})
    return d
  }
  argv(c: Ctr): string[] {
    const mounts = (c.volumeMounts ?? []).map((m) => [m.mountPath, this.dirOf(m.name)] as const)
    let argv = c.command.slice(1).map((a) => {
      for (const [from, to] of mounts) if (a === from || a.startsWith(`${from}/`)) return to + a.slice(from.length)
      return a
    })
    const dd = argv.indexOf('--')
    if (argv[0] === 'run' && dd >= 0) argv = [...argv.slice(0, dd + 1), siglogBinary(), this.log, '--exit-on', 'TERM'] // the app: a victim that logs signals
    const l = argv.indexOf('--listen')
    if (l >= 0) argv[l + 1] = '127.0.0.1:0'
    return argv
  }
  configMap(volume: string): ConfigMapVolume | null {
    const v = this.spec.spec.volumes.find((x: any) => x.name === volume)
    return v?.configMap ? new ConfigMapVolume(path.join(this.dirOf(volume), 'cm'), {'app.conf': 'v1'}) : null
  }
}

function get(address: string, p: string): Promise<{status: number; body: string}> {
  const port = Number(address.split(':').pop())
  return new Promise((resolve, reject) => {
    http
      .get({host: '127.0.0.1', port, path: p, agent: false}, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({status: res.statusCode!, body}))
      })
      .on('error', reject)
  })
}

async function stopInNs(r: RunningCli): Promise<void> {
  const inner = Number(fs.readFileSync(`/proc/${r.pid}/task/${r.pid}/children`, 'utf8').trim())
  process.kill(inner, 'SIGTERM')
  await stopCli(r)
}

/** The kubelet's view: a ConfigMap volume is the mount point itself; we made it in DIR/cm. */
function withConfigMapDir(argv: string[], pod: Pod): string[] {
  const v = pod.spec.spec.volumes.find((x: any) => x.configMap)
  if (!v) return argv
  const d = pod.dirOf(v.name)
  return argv.map((a) => (a === d ? path.join(d, 'cm') : a))
}

for (const name of ['k8s-shared-pid', 'k8s-native-sidecar']) {
  test(`${name}: parsed; the app under nslocate run, the reloader's real run finds it, a ConfigMap swap is one HUP, the probe path answers 200`, async () => {
    const spec = manifest(name)
    const all = checkPod(spec)
    expect(spec.spec.shareProcessNamespace).toBe(true)
    if (name === 'k8s-native-sidecar') expect(spec.spec.initContainers).toEqual([expect.objectContaining({name: 'reloader', restartPolicy: 'Always'})])
    const app = all.find((c) => c.name === 'app')!
    const reloader = all.find((c) => c.name === 'reloader')!
    expect(reloader.command.slice(1, 3)).toEqual(['reload', 'app'])
    // The reloader's --pidfile is the file the app's `run NAME --dir DIR` writes, on a volume both mount.
    const dir = app.command[app.command.indexOf('--dir') + 1]
    expect(reloader.command[reloader.command.indexOf('--pidfile') + 1]).toBe(`${dir}/app.pid`)
    const probe = app.readinessProbe ?? app.livenessProbe
    expect(probe.httpGet).toEqual({path: '/healthz/app', port: 9090})
    expect(reloader.command[reloader.command.indexOf('--listen') + 1]).toBe('0.0.0.0:9090') // a kubelet probe comes from outside the pod

    const pod = new Pod(spec)
    const cm = pod.configMap('config')!
    // Native sidecar: the reloader starts first and waits for the app.
    const order = name === 'k8s-native-sidecar' ? [reloader, app] : [app, reloader]
    const runs = new Map<string, RunningCli>()
    for (const c of order) {
      runs.set(c.name, startCli(withConfigMapDir(pod.argv(c), pod), PDEATH))
      if (c === app)
        await until(
          () => fs.existsSync(path.join(pod.dirOf('run'), 'app.pid')) && fs.readFileSync(path.join(pod.dirOf('run'), 'app.pid'), 'utf8') !== '',
          'app.pid',
          20000,
        )
    }
    const r = runs.get('reloader')!
    const {address} = await nextEvent(r, (e) => e.event === 'listen')
    await nextEvent(r, (e) => e.event === 'service' && e.state === 'running', 20000)
    expect((await get(address, probe.httpGet.path)).status).toBe(200)
    cm.update({'app.conf': 'v2'})
    await until(() => readLog(pod.log).filter((x) => x.signo === 1).length === 1, 'HUP received by the app', 15000)
    expect((await stopCli(r)).status).toBe(0)
    await stopCli(runs.get('app')!)
  })
}

test('k8s-shared-volume: no shared PID namespace; the probe, run in a PID namespace of its own, reports the app running (not visible), 200', async () => {
  const spec = manifest('k8s-shared-volume')
  const all = checkPod(spec)
  expect(spec.spec.shareProcessNamespace).toBeUndefined()
  const app = all.find((c) => c.name === 'app')!
  const probe = all.find((c) => c.name === 'probe')!
  expect(probe.command.slice(1, 3)).toEqual(['serve', 'app'])
  expect(app.livenessProbe.httpGet).toEqual({path: '/healthz/app', port: 9090})
  const pod = new Pod(spec)
  const a = startCli(pod.argv(app), PDEATH)
  await until(
    () => fs.existsSync(path.join(pod.dirOf('run'), 'app.pid')) && fs.readFileSync(path.join(pod.dirOf('run'), 'app.pid'), 'utf8') !== '',
    'app.pid',
    20000,
  )
  const p = startCli(pod.argv(probe), {}, ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'])
  const {address} = await nextEvent(p, (e) => e.event === 'listen')
  const res = await get(address, app.livenessProbe.httpGet.path)
  expect(res.status).toBe(200)
  expect(JSON.parse(res.body)).toMatchObject({state: 'running', visible: false, pid: null})
  await stopInNs(p)
  await stopCli(a)
})

test('compose: parsed; its commands, pid mode and volumes are those test/sidecar/container.test.ts runs on the engine', () => {
  const c = manifest('compose')
  expect(c.services.app.command).toEqual(APP_CMD)
  expect(c.services.reloader.command).toEqual(RELOADER_CMD)
  expect(c.services.reloader.pid).toBe('service:app')
  expect(c.services.reloader.depends_on).toEqual(['app'])
  const targets = (v: string[]) => v.map((x) => x.split(':')[1])
  expect(targets(c.services.app.volumes)).toEqual(APP_MOUNTS)
  expect(targets(c.services.reloader.volumes)).toEqual(RELOADER_MOUNTS)
  // The run volume is the same host dir in both.
  expect(c.services.app.volumes[0].split(':')[0]).toBe(c.services.reloader.volumes[0].split(':')[0])
  for (const s of Object.values<any>(c.services)) {
    expect(s.network_mode).toBe('none')
    checkFlags(s.command)
  }
})
