/**
 * docs/kubernetes.md, checked as far as a machine without a cluster allows. Every YAML block marked
 * `<!-- manifest: NAME -->` is:
 *   1. parsed with the `yaml` package;
 *   2. validated against the Kubernetes 1.36 OpenAPI schema, offline, with kubernetes-models (and
 *      @kubernetes-models/prometheus-operator for the PodMonitor). Why this check: its validators
 *      are compiled by ajv from Kubernetes' own OpenAPI definitions (types, required fields, enums,
 *      formats such as quantities), they need no network and no cluster, and they work on Node 22
 *      and 24 (tried: 22.23.5, 24.22.3). Its TypeScript types come from the same definitions, and
 *      tsc's excess-property check on them finds the unknown fields (`hostPid`) that JSON schema
 *      validation lets through and that the API server refuses with strict field validation.
 *      Nothing else offline covers the 1.29+ fields used here: Debian 12's kubernetes-client is
 *      1.20, and neither npm nor Debian has kubeconform or kubeval;
 *   3. read by kubectl: `kubectl create --dry-run=client` asks the API server for its resource list
 *      even with --validate=false, so with no cluster it cannot run. `kubectl annotate --local -f -
 *      -o json` runs kubectl's file reader and YAML decoder (sigs.k8s.io/yaml, YAML 1.1) with no
 *      server, and must print what the yaml package (YAML 1.2) parsed;
 *   4. checked for what the page claims about each placement, and every flag of every nslocate
 *      command on the page (manifests and shell examples) must be one of oclif.manifest.json.
 * Then the kernel facts the manifests rest on are measured: a restarted socket seen through a
 * read-only mount of its directory and through a mount of the file; `nslocate run` on a tmpfs root
 * (a memory emptyDir) and on a 0777 directory (a disk emptyDir); and, with the capability sets of
 * the manifests (setpriv: the bounding set of a uid 0 container that drops ALL and adds them), that
 * each placement finds and signals its victim (what the victim logged) and that each capability it
 * adds is needed. These reach the victim with --root-pid and --pidfile: a --pod answer goes through
 * the same /proc/PID/root and the same pidfd signal once the CRI has named the pid.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ts from 'typescript'
import {Document, parseAllDocuments} from 'yaml'

import {BIN, CliResult, runCollect, until} from '../helpers/cli'
import {ROOT} from '../helpers/paths'
import {stopAll, spawnTracked, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {readLog, siglogBinary} from '../helpers/victims'

const DOC_PATH = path.join(ROOT, 'docs', 'kubernetes.md')
const DOC = fs.readFileSync(DOC_PATH, 'utf8')
const OCLIF = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))

/** The manifests this test knows, and the placement each is (the row of the page's table). */
const PLACEMENT: Record<string, number> = {
  'k8s-node-agent': 1,
  'k8s-node-agent-daemonless': 1,
  'k8s-podmonitor': 0,
  'k8s-sidecar-same-uid': 2,
  'k8s-sidecar-other-uid': 3,
  'k8s-debug-custom': 5,
}

interface Block {
  name: string
  text: string
  /** the YAML documents' own text (split at `---` lines), one per object */
  parts: string[]
  objects: any[]
}

function manifestBlocks(doc = DOC): Block[] {
  const out: Block[] = []
  for (const m of doc.matchAll(/<!-- manifest: ([\w-]+) -->\n\n?```yaml\n([\s\S]*?)```/g)) {
    const docs: Document[] = parseAllDocuments(m[2]) as Document[]
    for (const d of docs) if (d.errors.length) throw new Error(`manifest ${m[1]}: ${d.errors.map((e) => e.message).join('; ')}`)
    out.push({name: m[1], text: m[2], parts: m[2].split(/^---$/m), objects: docs.map((d) => d.toJS())})
  }
  return out
}

const BLOCKS = manifestBlocks()
const block = (name: string) => {
  const b = BLOCKS.find((x) => x.name === name)
  if (!b) throw new Error(`docs/kubernetes.md has no manifest ${name}`)
  return b
}
const one = (name: string, kind: string) => {
  const o = block(name).objects.filter((x) => x?.kind === kind)
  expect(o).toHaveLength(1)
  return o[0]
}
/** A partial container spec (`kubectl debug --custom`): kubectl fills name and image from its flags. */
const asDebugContainer = (custom: any) => ({name: 'debugger', image: 'registry.example/nslocate:0.1.0', ...custom})

/** Every container of a pod spec, init containers (native sidecars) included. */
const containersOf = (spec: any): any[] => [...(spec.initContainers ?? []), ...(spec.containers ?? [])]
const podSpecOf = (o: any): any => (o.kind === 'Pod' ? o.spec : o.spec?.template?.spec)

// ---------------------------------------------------------------------------------------------
// 1-3: parsed, schema, kubectl

test('the page holds the manifests this test checks, each parsed by the yaml package', () => {
  expect(BLOCKS.map((b) => b.name).sort()).toEqual(Object.keys(PLACEMENT).sort())
  for (const b of BLOCKS) for (const o of b.objects) expect(o).toEqual(expect.any(Object))
})

interface SchemaResult {
  name: string
  model: string | null
  errors: string[]
}

/** The validators and types come from devDependencies: say so plainly when they are missing. */
function requireModels(): void {
  for (const pkg of ['kubernetes-models', '@kubernetes-models/prometheus-operator'])
    if (!fs.existsSync(path.join(ROOT, 'node_modules', pkg, 'package.json')))
      throw new Error(`${pkg} is not installed: it is a devDependency of nslocate (npm install), needed to validate docs/kubernetes.md`)
}

function validateSchema(items: Array<{name: string; object: any; as?: string}>): SchemaResult[] {
  requireModels()
  const r = spawnSync(process.execPath, [path.join(ROOT, 'fixtures', 'k8s', 'validate-schema.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(items),
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (r.status !== 0) throw new Error(`validate-schema.mjs exited ${r.status ?? r.signal}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

test('schema: every object validates against the Kubernetes 1.36 OpenAPI schema (kubernetes-models, ajv), and a wrong one does not', () => {
  const items: Array<{name: string; object: any; as?: string}> = []
  for (const b of BLOCKS)
    b.objects.forEach((o, i) =>
      items.push(b.name === 'k8s-debug-custom' ? {name: b.name, object: asDebugContainer(o), as: 'Container'} : {name: `${b.name}#${i}`, object: o}),
    )
  // Controls, in the same run: a wrong type, an unknown apiVersion, a bad enum in the PodMonitor.
  const agent = one('k8s-node-agent', 'DaemonSet')
  const bad = structuredClone(agent)
  bad.spec.template.spec.hostPID = 'true'
  const pm = structuredClone(one('k8s-podmonitor', 'PodMonitor'))
  pm.spec.podMetricsEndpoints[0].relabelings[0].action = 'copy'
  const controls = [
    {name: 'control-type', object: bad},
    {name: 'control-version', object: {...agent, apiVersion: 'apps/v9'}},
    {name: 'control-enum', object: pm},
  ]
  const res = validateSchema([...items, ...controls])
  const byName = new Map(res.map((r) => [r.name, r]))
  for (const it of items) expect({name: it.name, errors: byName.get(it.name)!.errors}).toEqual({name: it.name, errors: []})
  expect(byName.get('control-type')!.errors).toEqual(['data/spec/template/spec/hostPID must be boolean'])
  expect(byName.get('control-version')!.errors.join()).toMatch(/no model/)
  expect(byName.get('control-enum')!.errors.join()).toMatch(/relabelings\/0\/action/)
})

/**
 * kubernetes-models also models API versions that Kubernetes no longer serves (apps/v1beta2 and
 * extensions/v1beta1 DaemonSets, removed in 1.16), so the versions are checked here: those that
 * Kubernetes 1.29 to 1.36 (and the Prometheus Operator) serve for the kinds this page uses.
 */
const SERVED: Record<string, string[]> = {v1: ['Namespace', 'Pod'], 'apps/v1': ['DaemonSet'], 'monitoring.coreos.com/v1': ['PodMonitor']}
const served = (o: any) => (SERVED[o.apiVersion] ?? []).includes(o.kind)

test('every object uses an apiVersion that current clusters serve for its kind (a removed one fails)', () => {
  for (const b of BLOCKS.filter((x) => x.name !== 'k8s-debug-custom'))
    for (const o of b.objects)
      expect({manifest: b.name, apiVersion: o.apiVersion, kind: o.kind, served: served(o)}).toEqual({
        manifest: b.name,
        apiVersion: o.apiVersion,
        kind: o.kind,
        served: true,
      })
  expect(served({apiVersion: 'apps/v1beta2', kind: 'DaemonSet'})).toBe(false)
})

/** The module and interface of an object's model type (kubernetes-models' generated .d.ts). */
function typeOf(o: any, as?: string): {module: string; type: string} {
  if (as) return {module: `kubernetes-models/v1/${as}`, type: `I${as}`}
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [null, o.apiVersion]
  if (group === 'monitoring.coreos.com') return {module: `@kubernetes-models/prometheus-operator/${group}/${version}/${o.kind}`, type: `I${o.kind}`}
  return {module: group ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/v1/${o.kind}`, type: `I${o.kind}`}
}

/**
 * tsc over `const x: IKind = <object>` for each object: an object literal may name only known
 * properties, at every depth. Returns the diagnostics by name (tsc reports the first of each).
 */
function unknownFields(items: Array<{name: string; object: any; as?: string}>): Map<string, string[]> {
  requireModels()
  const file = path.join(ROOT, 'test', 'runtime', '__kubernetes-manifests__.mts') // never written: served to tsc from memory
  const lines: string[] = []
  const names: string[] = []
  items.forEach((it, i) => {
    const t = typeOf(it.object, it.as)
    lines.push(`import type {${t.type} as T${i}} from '${t.module}'`)
  })
  items.forEach((it, i) => {
    names[lines.length] = it.name
    lines.push(`export const m${i}: T${i} = ${JSON.stringify(it.object)}`)
  })
  const source = lines.join('\n')
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  }
  const host = ts.createCompilerHost(options)
  const read = host.getSourceFile.bind(host)
  host.getSourceFile = (f, lang, ...rest) => (path.resolve(f) === file ? ts.createSourceFile(f, source, lang) : read(f, lang, ...rest))
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (f) => path.resolve(f) === file || fileExists(f)
  const program = ts.createProgram([file], options, host)
  const out = new Map<string, string[]>(items.map((it) => [it.name, []]))
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1
    const name = names[line]
    if (name === undefined) throw new Error(`tsc: ${msg}`) // an import that does not resolve, say
    out.get(name)!.push(msg)
  }
  return out
}

test('unknown fields: tsc checks every object against the types generated from the same definitions, and finds a misspelt one', () => {
  const items: Array<{name: string; object: any; as?: string}> = []
  for (const b of BLOCKS)
    b.objects.forEach((o, i) =>
      items.push(b.name === 'k8s-debug-custom' ? {name: b.name, object: asDebugContainer(o), as: 'Container'} : {name: `${b.name}#${i}`, object: o}),
    )
  const typo = structuredClone(one('k8s-node-agent', 'DaemonSet'))
  typo.spec.template.spec.containers[0].volumeMounts[0].readonly = true // readOnly, misspelt
  const found = unknownFields([...items, {name: 'control', object: typo}])
  for (const it of items) expect({name: it.name, diagnostics: found.get(it.name)}).toEqual({name: it.name, diagnostics: []})
  expect(found.get('control')!.join('\n')).toMatch(/'"readonly"' does not exist in type 'IVolumeMount'/)
}, 120_000)

function kubectl(): string {
  const r = spawnSync('kubectl', ['version', '--client'], {encoding: 'utf8'})
  if (r.status !== 0)
    throw new Error(`kubectl is needed here and did not run (${r.error?.message ?? r.stderr}): .ci/run installs Debian's kubernetes-client when it is missing`)
  return 'kubectl'
}

function kubectlReads(text: string): {status: number | null; json: any; stderr: string} {
  const r = spawnSync(kubectl(), ['annotate', '--local', '-f', '-', '-o', 'json', 'nslocate.test/read=1'], {input: text, encoding: 'utf8', timeout: 60_000})
  let json: any = null
  try {
    json = JSON.parse(r.stdout)
  } catch {}
  return {status: r.status, json, stderr: r.stderr}
}

/** What kubectl printed, without the annotation it was asked to add. */
function withoutMark(o: any): any {
  const c = structuredClone(o)
  delete c.metadata.annotations['nslocate.test/read']
  if (Object.keys(c.metadata.annotations).length === 0) delete c.metadata.annotations
  return c
}

test('kubectl: its reader (sigs.k8s.io/yaml, no server) reads every document as the yaml package did, and a YAML 1.1 difference fails', () => {
  for (const b of BLOCKS) {
    // kubectl needs a kind: the debug profile goes in as an ephemeral container of a Pod, indented as it is.
    const parts =
      b.name === 'k8s-debug-custom'
        ? ['apiVersion: v1\nkind: Pod\nmetadata: {name: debug}\nspec:\n  ephemeralContainers:\n    - name: debugger\n' + b.text.replace(/^(?=.)/gm, '      ')]
        : b.parts
    const expected =
      b.name === 'k8s-debug-custom'
        ? [{apiVersion: 'v1', kind: 'Pod', metadata: {name: 'debug'}, spec: {ephemeralContainers: [{name: 'debugger', ...b.objects[0]}]}}]
        : b.objects
    expect(parts).toHaveLength(expected.length)
    parts.forEach((p, i) => {
      const r = kubectlReads(p)
      expect({manifest: b.name, document: i, status: r.status, stderr: r.stderr}).toEqual({manifest: b.name, document: i, status: 0, stderr: ''})
      expect(withoutMark(r.json)).toEqual(expected[i])
    })
  }
  // Control: `on` and `0755` are a boolean and 493 to kubectl (YAML 1.1), a string and 755 to the yaml package.
  const control = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: on}\n'
  const [js] = parseAllDocuments(control).map((d) => (d as Document).toJS())
  expect(withoutMark(kubectlReads(control).json)).not.toEqual(js)
})

// ---------------------------------------------------------------------------------------------
// 4: what the page claims about each placement

/** The capabilities the page's table names for placement `row` (the backticked CAP names of its 4th column). */
function tableCaps(row: number): string[] {
  const line = DOC.split('\n').find((l) => l.startsWith(`| ${row}. `))
  if (!line) throw new Error(`docs/kubernetes.md: no row ${row}. in the placement table`)
  return [...line.split('|')[3].matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]).sort()
}

/** drop ALL, add exactly `caps`; a container that adds any runs as uid 0 (no ambient capabilities). */
function checkCapabilities(name: string, c: any, caps: string[], pod: any = {}): void {
  const sc = c.securityContext ?? {}
  expect({manifest: name, container: c.name, drop: sc.capabilities?.drop, add: [...(sc.capabilities?.add ?? [])].sort()}).toEqual({
    manifest: name,
    container: c.name,
    drop: ['ALL'],
    add: caps,
  })
  expect(sc.allowPrivilegeEscalation).toBe(false)
  if (caps.length > 0)
    expect({manifest: name, container: c.name, runAsUser: sc.runAsUser ?? pod.securityContext?.runAsUser}).toEqual({
      manifest: name,
      container: c.name,
      runAsUser: 0,
    })
}

/** The nslocate container of a pod spec (the one whose command starts with nslocate and is not `run`). */
const nslocateContainer = (spec: any) => containersOf(spec).find((c) => c.command?.[0] === 'nslocate' && c.command[1] !== 'run')
const argAfter = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1]

test('node agent: hostPID; the runtime mount is the socket directory, read-only, holding the socket named; no token; only the documented capabilities', () => {
  const ds = one('k8s-node-agent', 'DaemonSet')
  const ns = one('k8s-node-agent', 'Namespace')
  expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged')
  expect(ds.metadata.namespace).toBe(ns.metadata.name)
  const spec = podSpecOf(ds)
  expect(spec.hostPID).toBe(true)
  expect(spec.automountServiceAccountToken).toBe(false)
  expect(ds.spec.selector.matchLabels).toEqual(ds.spec.template.metadata.labels)
  const c = nslocateContainer(spec)
  checkCapabilities('k8s-node-agent', c, tableCaps(1))
  // The socket nslocate is told to use lies in a mounted host directory, mounted read-only at the same path.
  const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]))
  const socket = env.CONTAINER_RUNTIME_ENDPOINT.replace(/^unix:\/\//, '')
  expect(socket).toBe('/run/containerd/containerd.sock')
  const mount = c.volumeMounts.find((m: any) => m.mountPath === path.dirname(socket))
  expect(mount).toEqual(expect.objectContaining({readOnly: true}))
  const vol = spec.volumes.find((v: any) => v.name === mount.name)
  expect(vol.hostPath).toEqual({path: path.dirname(socket), type: 'Directory'})
  // No hostPath names a file: a socket file mount pins a dead inode (falco#3979).
  for (const v of spec.volumes)
    if (v.hostPath)
      expect({volume: v.name, type: v.hostPath.type, sock: v.hostPath.path.endsWith('.sock')}).toEqual({volume: v.name, type: 'Directory', sock: false})
  // serve is the main process; its port is the container's metrics port, the scrape annotations' and the probe's.
  expect(c.command.slice(1, 2)).toEqual(['serve'])
  const port = Number(argAfter(c.command, '--listen').split(':').pop())
  expect(argAfter(c.command, '--listen')).toBe(`0.0.0.0:${port}`) // Prometheus connects to the pod IP
  expect(c.ports).toEqual([{name: 'metrics', containerPort: port}])
  expect(ds.spec.template.metadata.annotations).toEqual({'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics'})
  expect(c.livenessProbe.httpGet).toEqual({path: '/metrics', port: 'metrics'})
})

test('daemonless agent: the same agent with containerd state mounted and no socket, so --pod falls back to the state', () => {
  const agent = nslocateContainer(podSpecOf(one('k8s-node-agent', 'DaemonSet')))
  const ds = one('k8s-node-agent-daemonless', 'DaemonSet')
  const spec = podSpecOf(ds)
  expect(spec.hostPID).toBe(true)
  expect(spec.automountServiceAccountToken).toBe(false)
  const c = nslocateContainer(spec)
  checkCapabilities('k8s-node-agent-daemonless', c, tableCaps(1))
  expect(c.command).toEqual(agent.command)
  expect(c.env).toBeUndefined()
  const mounts = c.volumeMounts.map((m: any) => [m.mountPath, m.readOnly, spec.volumes.find((v: any) => v.name === m.name).hostPath])
  expect(mounts).toEqual([
    ['/run/containerd/io.containerd.runtime.v2.task', true, {path: '/run/containerd/io.containerd.runtime.v2.task', type: 'Directory'}],
    ['/run/containerd/runc', true, {path: '/run/containerd/runc', type: 'Directory'}],
  ])
  // The page's command for this agent asks the CRI explicitly.
  expect(DOC).toMatch(/kubectl exec -n nslocate \$AGENT -- nslocate find nginx --pod shop\/web-0 --container-name nginx --runtime cri --json/)
})

test('PodMonitor: selects the agent pods, scrapes their metrics port and path, and labels each series with the node', () => {
  const ds = one('k8s-node-agent', 'DaemonSet')
  const pm = one('k8s-podmonitor', 'PodMonitor')
  expect(pm.metadata.namespace).toBe(ds.metadata.namespace)
  expect(pm.spec.selector.matchLabels).toEqual(ds.spec.template.metadata.labels)
  const c = nslocateContainer(podSpecOf(ds))
  expect(pm.spec.podMetricsEndpoints).toEqual([expect.objectContaining({port: c.ports[0].name, path: '/metrics'})])
  expect(pm.spec.podMetricsEndpoints[0].relabelings).toEqual([{sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node'}])
  // The page's metrics table names exactly the metrics src/serve/metrics.ts registers.
  const registered = [...fs.readFileSync(path.join(ROOT, 'src', 'serve', 'metrics.ts'), 'utf8').matchAll(/'(nslocate_[a-z_]+)'/g)].map((m) => m[1]).sort()
  const documented = [...DOC.matchAll(/^\| `(nslocate_[a-z_]+)` +\|/gm)].map((m) => m[1]).sort()
  expect(documented).toEqual(registered)
})

for (const [name, row] of [
  ['k8s-sidecar-same-uid', 2],
  ['k8s-sidecar-other-uid', 3],
] as const) {
  test(`${name}: a native sidecar in a shared PID namespace reads the app's pidfile on a memory emptyDir; capabilities as the table says`, () => {
    const pod = one(name, 'Pod')
    expect(pod.spec.shareProcessNamespace).toBe(true)
    expect(pod.spec.automountServiceAccountToken).toBe(false)
    const reloader = pod.spec.initContainers.find((c: any) => c.name === 'reloader')
    expect(reloader.restartPolicy).toBe('Always')
    const app = pod.spec.containers.find((c: any) => c.name === 'app')
    checkCapabilities(name, reloader, tableCaps(row), pod.spec)
    checkCapabilities(name, app, [], pod.spec)
    // `run NAME --dir DIR` writes DIR/NAME.pid on a memory emptyDir that the reloader mounts at the same path.
    const dir = argAfter(app.command, '--dir')
    expect(argAfter(reloader.command, '--pidfile')).toBe(`${dir}/${app.command[2]}.pid`)
    const mount = app.volumeMounts.find((m: any) => m.mountPath === dir)
    expect(reloader.volumeMounts).toContainEqual(mount)
    expect(pod.spec.volumes.find((v: any) => v.name === mount.name).emptyDir).toEqual({medium: 'Memory'})
    expect(argAfter(reloader.command, '--listen')).toBe('0.0.0.0:9090')
    expect(app.readinessProbe.httpGet).toEqual({path: `/healthz/${app.command[2]}`, port: 9090})
    const uid = (c: any) => c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser
    if (name === 'k8s-sidecar-same-uid') {
      expect(uid(reloader)).toBe(uid(app))
      expect(pod.spec.securityContext.runAsNonRoot).toBe(true)
    } else expect(uid(reloader)).not.toBe(uid(app))
  })
}

test('kubectl debug --custom: no field kubectl refuses, capabilities as the table says; the shared-namespace check is the one the page gives', () => {
  const custom = block('k8s-debug-custom').objects[0]
  for (const f of ['name', 'image', 'command', 'lifecycle', 'volumeDevices']) expect(custom).not.toHaveProperty(f) // kubectl: "not modifiable via custom profile"
  checkCapabilities('k8s-debug-custom', custom, tableCaps(5))
  expect(DOC).toMatch(/--target=nginx[\s\\]+--profile=general --custom=nslocate-debug\.yaml -- nslocate find nginx --root-pid 1 --json/)
  expect(DOC).toContain(`jq -e '.state == "running" and (.nspid | length) == 1 and .nspid[0] == .pidfile.pid'`)
})

/** Every nslocate command line of the page: the manifests' command arrays and the shell examples (continuations joined). */
function commandLines(): Array<{where: string; argv: string[]}> {
  const out: Array<{where: string; argv: string[]}> = []
  for (const b of BLOCKS)
    for (const o of b.objects) {
      const spec = o.kind ? podSpecOf(o) : null
      for (const c of spec ? containersOf(spec) : []) if (c.command?.[0] === 'nslocate') out.push({where: `${b.name}/${c.name}`, argv: c.command.slice(1)})
    }
  for (const m of DOC.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of m[1].replace(/\\\n/g, ' ').split('\n')) {
      const words = line.replace(/#.*$/, '').trim().split(/\s+/)
      for (let i = words.indexOf('nslocate'); i >= 0; i = words.indexOf('nslocate', i + 1)) {
        if (['-n', '--namespace'].includes(words[i - 1])) continue // the namespace called nslocate
        const end = words.findIndex((w, j) => j > i && ['|', '&&', '||', ';'].includes(w))
        out.push({where: line.trim(), argv: words.slice(i + 1, end < 0 ? undefined : end)})
      }
    }
  }
  return out
}

test('every flag of every nslocate command on the page is a flag of that command (oclif.manifest.json)', () => {
  const lines = commandLines()
  expect(lines.length).toBeGreaterThan(10)
  const problems: string[] = []
  for (const {where, argv} of lines) {
    const cmd = OCLIF.commands[argv[0]]
    if (!cmd) {
      problems.push(`${where}: no command ${argv[0]}`)
      continue
    }
    const dd = argv.indexOf('--')
    for (const a of (dd < 0 ? argv : argv.slice(0, dd)).filter((x) => x.startsWith('--'))) {
      const flag = a.slice(2).split('=')[0]
      if (!(flag in cmd.flags)) problems.push(`${where}: nslocate ${argv[0]} has no --${flag}`)
    }
  }
  expect(problems).toEqual([])
})

// ---------------------------------------------------------------------------------------------
// The kernel facts the manifests rest on

test('a restarted socket: a read-only mount of its directory still connects and follows it; a mount of the file is refused', () => {
  const dir = tempDir('nslocate-k8s-sock-')
  const r = spawnSync('sh', [path.join(ROOT, 'fixtures', 'k8s', 'socket-mounts.sh'), dir], {
    encoding: 'utf8',
    env: {...process.env, NODE: process.execPath},
    timeout: 60_000,
  })
  expect({status: r.status, lines: r.stdout.split('\n')}).toEqual({
    status: 0,
    lines: [
      'dir before first',
      'file before first',
      'dir after second',
      'file after ECONNREFUSED',
      expect.stringMatching(/^options dir ro,/),
      expect.stringMatching(/^options file rw,/),
      '',
    ],
  })
})

test('nslocate run writes its pidfile on a tmpfs root (a memory emptyDir: 1777, root) and refuses a 0777 directory (a disk emptyDir)', async () => {
  const tmpfs = tempDir('nslocate-k8s-tmpfs-')
  const disk = tempDir('nslocate-k8s-disk-')
  fs.chmodSync(disk, 0o777)
  const script = `mount -t tmpfs -o size=1m tmpfs "$1" && stat -c '%a %U' "$1" && exec "$2" "$3" run app --dir "$1" -- true`
  const mem = await runCollect(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', tmpfs, process.execPath, BIN])
  expect({status: mem.status, stdout: mem.stdout, stderr: mem.stderr}).toEqual({status: 0, stdout: '1777 root\n', stderr: ''})
  const d = await runCollect([process.execPath, BIN, 'run', 'app', '--dir', disk, '--', 'true'])
  expect(d.status).toBe(123)
  expect(d.stderr).toMatch(/may be written by every user \(mode 777\)/)
  expect(fs.readdirSync(disk)).toEqual([])
})

// ---------------------------------------------------------------------------------------------
// Capabilities: each placement's set finds and signals its victim, and each capability it adds is needed

const SIGUSR1 = 10
let user: TestUser
const inits: number[] = []

afterAll(async () => {
  for (const pid of inits)
    try {
      process.kill(pid, 'SIGKILL') // the init of a victim's PID namespace: the kernel ends the rest with it
    } catch {}
  user?.remove()
  await stopAll()
})

/** argv running nslocate as uid 0 with exactly `caps` (a container: drop ALL, add caps), or as `as`. */
function agent(caps: string[], args: string[], as?: TestUser): string[] {
  const bounding = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',')
  const who = as ? [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups'] : []
  return ['setpriv', `--bounding-set=${bounding}`, '--inh-caps=-all', ...who, '--', process.execPath, BIN, ...args]
}

interface Victim {
  /** arguments that name the service for find and signal */
  where: string[]
  log: string
  /** the siglog's pid in its own namespace (what it logs as its pid) */
  receivedUsr1(): number
}

/** A service of `user`, under `nslocate run`, that logs the signals it receives. */
async function startVictim(kind: 'own-ns-0700' | 'own-ns-0755' | 'same-ns'): Promise<Victim> {
  const logDir = tempDir('nslocate-k8s-log-')
  fs.chmodSync(logDir, 0o777)
  const log = path.join(logDir, 'signals.log')
  const run = [process.execPath, BIN, 'run', 'app', '--dir']
  const tail = ['--', siglogBinary(), log, '--exit-on', 'TERM']
  const asUser = ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--']
  let where: string[]
  if (kind === 'same-ns') {
    // shareProcessNamespace: the app's pidfile on the pod's memory emptyDir (1777, root)
    const shared = tempDir('nslocate-k8s-emptydir-')
    fs.chmodSync(shared, 0o1777)
    const child = spawnTracked([...asUser, ...run, shared, ...tail], {env: {...process.env, NSLOCATE_SIGLOG_PDEATH: '1'}})
    const file = path.join(shared, 'app.pid')
    await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') !== '', `${file}`, 20000)
    inits.push(child.pid!)
    where = ['--pidfile', file]
  } else {
    // a container of its own: PID and mount namespaces; the pidfile on a tmpfs seen only there
    const mnt = tempDir('nslocate-k8s-ctr-')
    const mode = kind === 'own-ns-0700' ? '0700' : '0755'
    const script = `mount -t tmpfs -o mode=0755 tmpfs "$1" && mkdir -m ${mode} "$1/app" && chown ${user.uid}:${user.gid} "$1/app" && shift && exec "$@"`
    const argv = [
      'unshare',
      '--pid',
      '--fork',
      '--mount',
      '--propagation',
      'private',
      '--kill-child',
      '--',
      'sh',
      '-c',
      script,
      'sh',
      mnt,
      ...asUser,
      ...run,
      `${mnt}/app`,
      ...tail,
    ]
    const u = spawnTracked(argv, {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    u.stderr!.on('data', (d) => (stderr += d))
    let init = 0
    await until(
      () => {
        try {
          init = Number(fs.readFileSync(`/proc/${u.pid}/task/${u.pid}/children`, 'utf8').trim().split(/\s+/)[0] || 0)
          const file = `/proc/${init}/root${mnt}/app/app.pid`
          return init > 0 && fs.readFileSync(file, 'utf8') !== ''
        } catch {
          if (u.exitCode !== null) throw new Error(`the victim container exited (${u.exitCode}): ${stderr}`)
          return false
        }
      },
      'the victim container',
      20000,
    )
    inits.push(init)
    where = ['--root-pid', String(init), '--dir', `${mnt}/app`]
  }
  return {where, log, receivedUsr1: () => readLog(log).filter((r) => r.signo === SIGUSR1).length}
}

const show = (r: CliResult) => `status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

/** With `caps`, find says running and one USR1 reaches the victim. */
async function works(v: Victim, caps: string[], as?: TestUser): Promise<void> {
  const f = await runCollect(agent(caps, ['find', 'app', ...v.where, '--json'], as))
  expect({caps, status: f.status, state: f.status === 0 ? JSON.parse(f.stdout).state : show(f)}).toEqual({caps, status: 0, state: 'running'})
  const before = v.receivedUsr1()
  const s = await runCollect(agent(caps, ['signal', 'app', 'USR1', ...v.where], as))
  expect({caps, status: s.status, out: s.status === 0 ? '' : show(s)}).toEqual({caps, status: 0, out: ''})
  await until(() => v.receivedUsr1() === before + 1, 'USR1 logged by the victim', 10000)
}

/** Without `missing`, the step that needs it fails with exit status 4, and the victim receives nothing. */
async function fails(v: Victim, caps: string[], missing: string, step: 'find' | 'signal', why: RegExp): Promise<void> {
  const rest = caps.filter((c) => c !== missing)
  const before = v.receivedUsr1()
  const r = await runCollect(agent(rest, step === 'find' ? ['find', 'app', ...v.where, '--json'] : ['signal', 'app', 'USR1', ...v.where]))
  expect({without: missing, status: r.status}).toEqual({without: missing, status: 4})
  expect(r.stdout + r.stderr).toMatch(why)
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect(v.receivedUsr1()).toBe(before)
}

const capsOf = (name: string) => {
  const o = block(name).objects.find((x) => x.kind !== 'Namespace')
  const sc = name === 'k8s-debug-custom' ? o.securityContext : nslocateContainer(podSpecOf(o)).securityContext
  return [...(sc.capabilities?.add ?? [])].sort()
}

describe('capabilities, measured with setpriv against victims of another uid', () => {
  beforeAll(() => {
    user = createTestUser('k8scaps')
  })

  test('node agent (KILL, SYS_PTRACE, DAC_READ_SEARCH): a service of another uid in its own PID and mount namespaces, pidfile in its 0700 directory', async () => {
    const caps = capsOf('k8s-node-agent')
    expect(caps).toEqual(['DAC_READ_SEARCH', 'KILL', 'SYS_PTRACE'])
    const v = await startVictim('own-ns-0700')
    await works(v, caps)
    await fails(v, caps, 'SYS_PTRACE', 'find', /without CAP_SYS_PTRACE/)
    await fails(v, caps, 'DAC_READ_SEARCH', 'find', /permission_denied[\s\S]*mode 0700, owner uid/)
    await fails(v, caps, 'KILL', 'signal', /not permitted to signal[\s\S]*CAP_KILL/)
  }, 120_000)

  test('kubectl debug --custom (SYS_PTRACE, KILL): the target of another uid, pidfile in a directory everyone may search', async () => {
    const caps = capsOf('k8s-debug-custom')
    expect(caps).toEqual(['KILL', 'SYS_PTRACE'])
    const v = await startVictim('own-ns-0755')
    await works(v, caps)
    await fails(v, caps, 'SYS_PTRACE', 'find', /without CAP_SYS_PTRACE/)
    await fails(v, caps, 'KILL', 'signal', /not permitted to signal/)
  }, 120_000)

  test('sidecar of another uid (KILL, uid 0) and of the same uid (nothing): the app in the same PID namespace, pidfile POSIX-locked on the emptyDir', async () => {
    const v = await startVictim('same-ns')
    const other = capsOf('k8s-sidecar-other-uid')
    expect(other).toEqual(['KILL'])
    await works(v, other)
    await fails(v, other, 'KILL', 'signal', /not permitted to signal/)
    expect(capsOf('k8s-sidecar-same-uid')).toEqual([])
    await works(v, [], user) // pidfd_open and kill(2) between processes of one uid: no capability at all
  }, 120_000)
})
