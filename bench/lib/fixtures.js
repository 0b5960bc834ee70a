'use strict'
/**
 * Fixture set-up: the C helpers compiled into the run's temp directory, the compiled library,
 * real pidfiles (POSIX-locked, flock-held, unlocked inside a fresh PID namespace), N sleeping
 * processes, a service in a container, and the 10,000-file directory of list-scale. Every process
 * is started through procs.js, so it is stopped on every way out.
 */
const {execFileSync} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const {run, sleep, startReady, stop, containerLabel} = require('./procs')
const {cleanEnv, shown} = require('./measure')

const ROOT = path.resolve(__dirname, '..', '..')
const BIN_RUN = path.join(ROOT, 'bin', 'run.js')
const NODE = process.execPath

function compile(source, out) {
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-o', out, source], {stdio: ['ignore', 'pipe', 'pipe']})
  return out
}

function which(cmd) {
  const dirs = (process.env.PATH || '/usr/bin:/bin').split(':')
  const found = dirs.map((d) => path.join(d || '.', cmd)).find((p) => fs.existsSync(p))
  if (!found) throw new Error(`${cmd} not found in PATH`)
  return fs.realpathSync(found)
}

/** holder (fixtures/holders), sigholder, sleepers, rusage, and nslbenchsvc: a copy of sleep(1) so comm is the NAME. */
function buildHelpers(dir) {
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin)
  const own = (name) => path.join(__dirname, '..', 'fixtures', name)
  const b = {
    holder: compile(path.join(ROOT, 'fixtures', 'holders', 'holder.c'), path.join(bin, 'holder')),
    sigholder: compile(own('sigholder.c'), path.join(bin, 'nslbenchsig')),
    sleepers: compile(own('sleepers.c'), path.join(bin, 'nslbenchsleep')),
    rusage: compile(own('rusage.c'), path.join(bin, 'nslbenchrusage')),
    svc: path.join(bin, 'nslbenchsvc'),
  }
  fs.copyFileSync(which('sleep'), b.svc)
  fs.chmodSync(b.svc, 0o755)
  return b
}

/** The compiled library and addon, waiting out a concurrent rebuild (dist/ briefly missing or half-written). */
async function loadLibrary(log) {
  const entry = path.join(ROOT, 'dist', 'src', 'index.js')
  const binding = path.join(ROOT, 'dist', 'src', 'native', 'binding.js')
  for (let attempt = 1; ; attempt++) {
    try {
      // In a child first: a half-written dist/ must not poison this process's require cache.
      execFileSync(NODE, ['-e', `require(${JSON.stringify(entry)}); require(${JSON.stringify(binding)})`], {stdio: 'pipe'})
      return {lib: require(entry), binding: require(binding)}
    } catch (error) {
      if (attempt >= 30) throw new Error(`dist/ did not become loadable within 90 s: ${error.message}`, {cause: error})
      if (attempt === 1) log(`WARNING: dist/ is not loadable (${String(error.message).split('\n')[0]}); waiting for a build`)
      await sleep(3000)
    }
  }
}

const children = (pid) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)

/** A holder of `kind` (posix | flock) that wrote its pid into dir/name.pid. */
async function startHolder(ctx, kind, dir, name) {
  fs.mkdirSync(dir, {recursive: true})
  const file = path.join(dir, `${name}.pid`)
  const h = await startReady(ctx.bins.holder, [kind, file, '--write-pid'], {what: `${kind} holder ${name}`})
  return {...h, file, name, kind}
}

/** Correctness before timing: `find --json` must report `running`, the expected pid and lock kind. */
async function checkFind(args, expectPid, expectLock) {
  const r = await run(NODE, [BIN_RUN, 'find', ...args, '--json'], {env: cleanEnv(), timeoutMs: 60_000})
  let j
  try {
    j = JSON.parse(r.stdout)
  } catch {
    throw new Error(`nslocate find ${args.join(' ')} --json: status ${r.status}, not JSON: ${r.stdout}${r.stderr}`)
  }
  if (j.state !== 'running' || j.pid !== expectPid || j.pidfile?.lock !== expectLock) {
    const got = `${j.state} pid ${j.pid} lock ${j.pidfile?.lock}`
    throw new Error(`nslocate find ${args.join(' ')}: expected running pid ${expectPid} (${expectLock} lock), got ${got}\n${(j.evidence || []).join('\n')}`)
  }
  return j
}

/** N processes that pause(2), in a process group of their own. */
async function startSleepers(ctx, n, log) {
  if (n === 0) return null
  log(`starting ${n} sleeping processes (own process group)`)
  return startReady(ctx.bins.sleepers, [String(n)], {what: `${n} sleepers`, group: true, timeoutMs: 30_000 + n * 10})
}

/** SIGTERM: the helper SIGKILLs and reaps its children by pid; the group SIGKILL is the fallback. */
const stopSleepers = (s) => (s ? stop(s.entry, {signal: 'SIGTERM', graceMs: 30_000}) : undefined)

/** A service in a fresh PID namespace that wrote its inner pid to an unlocked pidfile: {entry, file, hostPid, inner}. */
async function startNsService(ctx) {
  const file = path.join(ctx.dir, 'ns', 'nslbenchsvc.pid')
  fs.mkdirSync(path.dirname(file))
  const script = `${shown([ctx.bins.svc])} 100000 & printf %s "$!" > ${shown([file])}; echo ready; wait`
  const u = await startReady('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', script], {what: 'unshare PID namespace', group: true})
  const inner = Number(fs.readFileSync(file, 'utf8'))
  // unshare -> sh (pid 1 inside) -> nslbenchsvc: the service's pid here, through the children lists
  const nspid = (c) =>
    /^NSpid:\s+(.*)$/m
      .exec(fs.readFileSync(`/proc/${c}/status`, 'utf8'))[1]
      .trim()
      .split(/\s+/)
      .map(Number)
  const hostPid = children(u.pid)
    .flatMap(children)
    .find((c) => nspid(c)[1] === inner)
  if (!hostPid) {
    await stop(u.entry)
    throw new Error(`no process with inner pid ${inner} under unshare ${u.pid}`)
  }
  return {entry: u.entry, file, hostPid, inner}
}

/** Is the Docker engine there, and the image (built with scripts/build-image.sh when missing)? null: no engine. */
async function containerImage(log) {
  if ((await run('docker', ['version'], {timeoutMs: 20_000})).status !== 0) return null
  const image = process.env.NSLOCATE_BENCH_IMAGE || 'nslocate:local'
  if ((await run('docker', ['image', 'inspect', image])).status === 0) return image
  if (image !== 'nslocate:local') throw new Error(`NSLOCATE_BENCH_IMAGE=${image}: no such image here`)
  log(`find-container: building ${image} (scripts/build-image.sh, offline)`)
  const b = await run('bash', [path.join(ROOT, 'scripts', 'build-image.sh')], {timeoutMs: 15 * 60_000})
  if (b.status !== 0) throw new Error(`scripts/build-image.sh failed (${b.status}): ${String(b.stderr).slice(-800)}`)
  return image
}

/** `nslocate run nslbench -- sleep 1000` in a container labelled for clean-up; resolves once find sees it. */
async function startContainer(image) {
  const r = await run('docker', ['run', '-d', '--network', 'none', '--label', containerLabel(), image, 'run', 'nslbench', '--', 'sleep', '1000'], {
    timeoutMs: 60_000,
  })
  if (r.status !== 0) throw new Error(`docker run ${image}: ${r.stderr}`)
  const id = r.stdout.trim()
  const init = Number((await run('docker', ['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim())
  for (let i = 0; ; i++) {
    try {
      // find names the init's only child (read from the kernel here), POSIX-locked by the init, in this container
      const kids = children(init)
      if (kids.length !== 1) throw new Error(`the container's init ${init} has children [${kids.join(', ')}], expected the sleep alone`)
      const j = await checkFind(['nslbench', '--container', id], kids[0], 'posix')
      if (j.holder !== init || j.container?.id !== id)
        throw new Error(`find --container: expected holder ${init} in ${id}, got ${j.holder}, ${JSON.stringify(j.container)}`)
      return id
    } catch (error) {
      if (i >= 50 || !fs.existsSync(`/proc/${init}`)) throw error
      await sleep(100) // `nslocate run` is still starting its child
    }
  }
}

module.exports = {
  ROOT,
  BIN_RUN,
  NODE,
  buildHelpers,
  loadLibrary,
  children,
  startHolder,
  checkFind,
  startSleepers,
  stopSleepers,
  startNsService,
  containerImage,
  startContainer,
}
