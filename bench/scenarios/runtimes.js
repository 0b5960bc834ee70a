'use strict'
/**
 * `runtimes`: the time `nslocate find` takes to name a container through each runtime, against that
 * runtime's own inspect command, all in ONE hyperfine run (issue 19's closing table):
 *
 *   id                      nslocate side                                                    reference
 *   runtimes-docker         find app --container ID                                          docker inspect --format {{.State.Pid}} ID
 *   runtimes-podman         env CONTAINER_HOST=unix://SOCK find app --container podman://ID   env CONTAINERS_CONF=.. podman inspect --format {{.State.Pid}} ID
 *   runtimes-cri            env CONTAINER_RUNTIME_ENDPOINT=.. find app --pod bench/web-0 --container-name app
 *                                                                                              ctr -a SOCK -n k8s.io tasks ls
 *   runtimes-cri-info       same                                                             ctr -a SOCK -n k8s.io containers info ID
 *   runtimes-cri-ref        env CONTAINER_RUNTIME_ENDPOINT=.. find app --container cri://ID   ctr -a SOCK -n k8s.io tasks ls
 *
 * Every runtime runs the same service from the same image: nslocate-cri-app:local (FROM scratch:
 * busybox, lock-exec, siglog; test/helpers/containerd.ts testImageArchives()), started as
 * `/bin/lock-exec /run/app.pid /bin/siglog /run/signals.log`, a process that holds a POSIX lock on
 * its pidfile and wrote its own pid there. Each answer is checked once before timing: `find --json`
 * must say running, POSIX lock, and the pid that the runtime's own tool reports (State.Pid, `ctr
 * tasks ls`). The `env` prefix (one exec, ~1 ms) points nslocate at the bench's own Podman and
 * containerd; their references get the same prefix where they need one.
 *
 * The scenario starts and removes everything it uses:
 *   Docker   the image is `docker load`ed (and removed again if it was not there), the container is
 *            labelled with the run's label (procs.js removes it on every way out);
 *   Podman   root's `podman system service` on a socket of its own, with its own storage
 *            (test/helpers/podman.ts startRootful: containers.conf with this machine's ulimits);
 *   CRI      a second containerd with its CRI plugin and a kubelet stand-in that creates the pod
 *            (test/helpers/containerd.ts, kubelet.ts).
 * Those helpers are TypeScript: they are bundled once with esbuild (a devDependency) into
 * build/bench/ and required; __dirname there is two levels below the project, as in test/helpers/.
 * A runtime that cannot be started here is reported as not measured, with the reason, and the
 * others are measured.
 */
const fs = require('node:fs')
const path = require('node:path')
const {hyperfine, cleanEnv} = require('../lib/measure')
const {BIN_RUN, NODE, ROOT, children} = require('../lib/fixtures')
const {run, containerLabel, removeContainersSync} = require('../lib/procs')
const report = require('../lib/report')

const NAME = 'app'
const APP_CMD = ['/bin/lock-exec', `/run/${NAME}.pid`, '/bin/siglog', '/run/signals.log']
const POD = {namespace: 'bench', name: 'web-0'}
const NODE_REF = {key: 'node', argv: [NODE, '-e', '0'], label: 'node -e 0', command: 'node -e 0'}

/** test/helpers' runtime set-up (TypeScript), bundled with esbuild and loaded. */
function loadHelpers() {
  const out = path.join(ROOT, 'build', 'bench', `runtime-helpers-${process.pid}.js`)
  require('esbuild').buildSync({
    stdin: {
      contents: [
        "export {startContainerd, testImageArchives, APP_IMAGE, K8S_NS} from './test/helpers/containerd'",
        "export {Kubelet} from './test/helpers/kubelet'",
        "export {startRootful, podmanMissing} from './test/helpers/podman'",
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'bench-runtime-helpers.ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    packages: 'external',
    outfile: out,
    logLevel: 'silent',
  })
  try {
    return require(out)
  } finally {
    fs.rmSync(out, {force: true})
  }
}

/** `nslocate find ARGS --json` once, in `env`: it must say running, POSIX lock, pid `pid`. */
async function checkFind(args, pid, env) {
  const r = await run(NODE, [BIN_RUN, 'find', NAME, ...args, '--json'], {env: {...cleanEnv(), ...env}, timeoutMs: 60_000})
  let j
  try {
    j = JSON.parse(r.stdout)
  } catch {
    throw new Error(`nslocate find ${NAME} ${args.join(' ')} --json: status ${r.status}, not JSON: ${r.stdout}${r.stderr}`)
  }
  if (j.state !== 'running' || j.pid !== pid || j.pidfile?.lock !== 'posix')
    throw new Error(
      `nslocate find ${NAME} ${args.join(' ')}: expected running pid ${pid} (posix), got ${j.state} pid ${j.pid} lock ${j.pidfile?.lock}\n${(j.evidence ?? []).join('\n')}`,
    )
}

/** Run argv once; its stdout must satisfy ok (a reference that answers wrongly is no reference). */
async function expectOutput(argv, ok, env) {
  const r = await run(argv[0], argv.slice(1), {env: {...cleanEnv(), ...env}})
  const why = r.status === 0 ? ok(r.stdout) : `exit status ${r.status}`
  if (why) throw new Error(`${argv.join(' ')}: ${why}\nstdout: ${String(r.stdout).slice(0, 500)}\nstderr: ${String(r.stderr).slice(0, 500)}`)
}

const withEnv = (env, argv) => (Object.keys(env).length ? ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv] : argv)
const nsl = (env, ...args) => withEnv(env, [NODE, BIN_RUN, 'find', NAME, ...args, '--quiet'])

/** Docker: the image loaded if missing, one container; {cmds, rows, teardown}. */
async function docker(ctx, archive, image) {
  if ((await run('docker', ['version'], {timeoutMs: 20_000})).status !== 0) throw new Error('no Docker engine answers `docker version`')
  const had = (await run('docker', ['image', 'inspect', image])).status === 0
  const teardown = async () => {
    removeContainersSync()
    if (!had) await run('docker', ['rmi', '-f', image])
  }
  try {
    if (!had) {
      const l = await run('docker', ['load', '-q', '-i', archive], {timeoutMs: 120_000})
      if (l.status !== 0) throw new Error(`docker load ${archive}: ${l.stderr}`)
    }
    const r = await run('docker', ['run', '-d', '--network', 'none', '--label', containerLabel(), image, ...APP_CMD], {timeoutMs: 60_000})
    if (r.status !== 0) throw new Error(`docker run ${image}: ${r.stderr}`)
    const id = r.stdout.trim()
    const pid = await settle(async () => Number((await run('docker', ['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim()))
    await retry(() => checkFind(['--container', id], pid, {}))
    const ref = {
      key: 'docker-inspect',
      argv: ['docker', 'inspect', '--format', '{{.State.Pid}}', id],
      label: 'docker inspect',
      command: 'docker inspect --format {{.State.Pid}} ID',
    }
    await expectOutput(ref.argv, (out) => (Number(out.trim()) === pid ? null : `expected ${pid}`))
    return {
      cmds: [{key: 'docker-find', argv: nsl({}, '--container', id)}, ref],
      rows: [
        {
          id: 'runtimes-docker',
          ours: 'docker-find',
          ref,
          shown: 'find app --container ID',
          note: 'Docker Engine API: one inspect, then the pidfile via /proc/PID/root',
        },
      ],
      teardown,
    }
  } catch (error) {
    await teardown()
    throw error
  }
}

/** Podman: root's own service and storage, the image loaded, one container. */
async function podman(ctx, h, archive) {
  const missing = h.podmanMissing()
  if (missing) throw new Error(missing)
  const svc = await h.startRootful()
  try {
    await svc.podman(['load', '-q', '-i', archive], {timeoutMs: 120_000})
    const id = await svc.run([`localhost/${h.APP_IMAGE}`, ...APP_CMD])
    const pid = await settle(async () => Number((await svc.inspect(id, '{{.State.Pid}}')).trim()))
    const env = {CONTAINER_HOST: svc.host}
    await retry(() => checkFind(['--container', `podman://${id}`], pid, env))
    const cliEnv = {CONTAINERS_CONF: svc.env.CONTAINERS_CONF, CONTAINERS_STORAGE_CONF: svc.env.CONTAINERS_STORAGE_CONF, TMPDIR: svc.env.TMPDIR}
    const ref = {
      key: 'podman-inspect',
      argv: withEnv(cliEnv, ['podman', 'inspect', '--format', '{{.State.Pid}}', id]),
      label: 'podman inspect',
      command: 'env CONTAINERS_CONF=.. CONTAINERS_STORAGE_CONF=.. TMPDIR=.. podman inspect --format {{.State.Pid}} ID',
    }
    await expectOutput(ref.argv, (out) => (Number(out.trim()) === pid ? null : `expected ${pid}`))
    return {
      cmds: [{key: 'podman-find', argv: nsl(env, '--container', `podman://${id}`)}, ref],
      rows: [
        {
          id: 'runtimes-podman',
          ours: 'podman-find',
          ref,
          shown: 'env CONTAINER_HOST=unix://SOCK find app --container podman://ID',
          note: 'rootful Podman 4.3 through its own `podman system service` (libpod API); podman inspect reads the same storage without the service',
        },
      ],
      teardown: () => svc.stop(),
    }
  } catch (error) {
    await svc.stop()
    throw error
  }
}

/** CRI: a second containerd, a pod with one container created over the CRI. */
async function cri(ctx, h) {
  const cd = await h.startContainerd()
  let kubelet = null
  const teardown = async () => {
    if (kubelet) await kubelet.cleanup().catch((e) => ctx.log(`WARNING: runtimes: kubelet clean-up: ${e.message}`))
    await cd.stop()
  }
  try {
    kubelet = new h.Kubelet(cd)
    const pod = await kubelet.runPod({...POD, pid: 'CONTAINER'})
    const c = await kubelet.runContainer(pod, {name: NAME, image: cd.images.app, command: APP_CMD})
    const pid = await settle(async () => (await cd.tasks()).get(c.id)?.pid ?? 0)
    // the service is the container's init: one process, no child
    if (children(pid).length !== 0) throw new Error(`the CRI container's init ${pid} has children`)
    const env = {CONTAINER_RUNTIME_ENDPOINT: cd.endpoint}
    const podArgs = ['--pod', `${POD.namespace}/${POD.name}`, '--container-name', NAME]
    await retry(() => checkFind(podArgs, pid, env))
    await checkFind(['--container', `cri://${c.id}`], pid, env)
    const ctr = ['ctr', '-a', cd.socket, '-n', h.K8S_NS]
    const tasks = {key: 'ctr-tasks', argv: [...ctr, 'tasks', 'ls'], label: 'ctr tasks ls', command: 'ctr -a SOCK -n k8s.io tasks ls'}
    const info = {
      key: 'ctr-info',
      argv: [...ctr, 'containers', 'info', c.id],
      label: 'ctr containers info',
      command: 'ctr -a SOCK -n k8s.io containers info ID',
    }
    await expectOutput(tasks.argv, (out) => (new RegExp(`^${c.id}\\s+${pid}\\s+RUNNING`, 'm').test(out) ? null : `no line "${c.id} ${pid} RUNNING"`))
    await expectOutput(info.argv, (out) => (JSON.parse(out).ID === c.id ? null : `not the info of ${c.id}`))
    const shownEnv = 'env CONTAINER_RUNTIME_ENDPOINT=unix://SOCK'
    return {
      cmds: [{key: 'cri-pod', argv: nsl(env, ...podArgs)}, {key: 'cri-ref', argv: nsl(env, '--container', `cri://${c.id}`)}, tasks, info],
      rows: [
        {
          id: 'runtimes-cri',
          ours: 'cri-pod',
          ref: tasks,
          shown: `${shownEnv} find app --pod bench/web-0 --container-name app`,
          note: 'containerd 1.6 CRI over gRPC: ListPodSandbox, ListContainers, ContainerStatus (verbose info.pid); ctr lists the tasks with their pids',
        },
        {
          id: 'runtimes-cri-info',
          ours: 'cri-pod',
          ref: info,
          shown: `${shownEnv} find app --pod bench/web-0 --container-name app`,
          note: 'information: ctr reads the container record (no pid)',
        },
        {
          id: 'runtimes-cri-ref',
          ours: 'cri-ref',
          ref: tasks,
          shown: `${shownEnv} find app --container cri://ID`,
          note: 'information: by container id, no pod lookup',
        },
      ],
      teardown,
    }
  } catch (error) {
    await teardown()
    throw error
  }
}

/** Poll fn() until it gives a positive number (a container's init pid once it runs). */
async function settle(fn, what = 'the container to run') {
  for (let i = 0; i < 100; i++) {
    const v = await fn()
    if (v > 0) return v
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** The service writes its pidfile right after it starts: retry the first check for a few seconds. */
async function retry(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn()
    } catch (error) {
      if (i >= 30) throw error
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/** The scenario: set up every runtime that can run here, time all of them in one hyperfine run, tear down. */
async function runtimes(ctx) {
  let h
  try {
    h = loadHelpers()
  } catch (error) {
    throw new Error(`runtimes: cannot bundle test/helpers (esbuild): ${error.message}`, {cause: error})
  }
  const archive = h.testImageArchives().app
  const setups = [
    ['Docker', () => docker(ctx, archive, h.APP_IMAGE)],
    ['Podman', () => podman(ctx, h, archive)],
    ['CRI (containerd)', () => cri(ctx, h)],
  ]
  const ready = []
  try {
    for (const [name, setUp] of setups) {
      ctx.log(`runtimes: setting up ${name}`)
      try {
        ready.push(await setUp())
      } catch (error) {
        report.skipped.push(`runtimes: ${name}: ${String(error?.message ?? error).split('\n')[0]}: not measured`)
        ctx.log(`WARNING: runtimes: ${name} not measured: ${error?.message ?? error}`)
      }
    }
    if (ready.length === 0) throw new Error('runtimes: no runtime could be set up here (see "not measured")')
    const cmds = [...ready.flatMap((r) => r.cmds), NODE_REF]
    ctx.log(`hyperfine: ${cmds.map((c) => c.key).join(', ')} (${ctx.opts.runs} runs each, ${ctx.opts.warmup} warm-up)`)
    const s = await hyperfine(cmds, {runs: ctx.opts.runs, warmup: ctx.opts.warmup, log: ctx.log})
    for (const r of ready.flatMap((x) => x.rows)) {
      report.row({
        id: r.id,
        metric: `${r.shown} (CLI)`,
        unit: 'ms',
        tool: 'hyperfine',
        ours: s[r.ours],
        ref: {label: r.ref.label, command: r.ref.command, stats: s[r.ref.key]},
        note: r.note,
      })
    }
    for (const key of ready.flatMap((x) => x.rows.filter((r) => !r.id.endsWith('-info') && !r.id.endsWith('-ref')).map((r) => r.ours)))
      report.row({
        id: `runtimes-${key}-vs-node`,
        metric: `${key}: the Node.js floor`,
        unit: 'ms',
        tool: 'hyperfine',
        ours: s[key],
        ref: {label: NODE_REF.label, command: NODE_REF.command, stats: s.node},
        note: 'information',
      })
  } finally {
    for (const r of ready.reverse()) await r.teardown().catch((e) => ctx.log(`WARNING: runtimes: tear-down: ${e.message}`))
  }
}

module.exports = {runtimes}
