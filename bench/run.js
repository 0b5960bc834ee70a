#!/usr/bin/env node
'use strict'
/**
 * nslocate benchmark: `npm run bench` (full, ~2-4 min) or `npm run bench -- --smoke` (CI, < 60 s).
 *
 * Measures, in one run, nslocate against a reference for each question it answers (see
 * bench/README.md for what every figure means and the exact reference commands):
 *   find-posix     `nslocate find` (CLI, --quiet) on a POSIX-locked pidfile  vs `node -e 0`, `pgrep -F FILE -L`
 *   startup        the plain invocations of find, list, signal, wait and run (CLI) each vs `node -e 0`
 *                  and `pgrep -F FILE -L`, interleaved in one run (and signal through oclif, for information)
 *   find-unlocked  `find` on an unlocked pidfile written inside a PID namespace, N other processes
 *                  vs `pgrep --ns PID -x NAME`
 *   find-flock     `find` on a flock(2)-held pidfile (fd scan), N other processes  vs `lslocks -n -o PID,PATH`
 *   locate-rate    library locate() calls per second, POSIX-locked  vs a bare open+read+F_GETLK+status probe
 *   signal         library signal() start-to-delivery  vs process.kill()
 *   wait           process exit to waitFor(..., 'stopped') returning  vs a bare pidfd wait
 *   find-container `find --container ID` on a service in a container  vs `docker inspect ID` (needs a
 *                  Docker engine and the nslocate:local image; without an engine it is skipped, noted)
 *   reload         `nslocate reload`: file change to signal received; signals per 100 changes in 1 s
 *   serve          GET /healthz/NAME and /metrics  vs the exec probe `nslocate find --quiet` (bench/sidecar.js)
 *   list-scale     `nslocate list --dir DIR --json` over 10,000 pidfiles (mostly stale, some naming live
 *                  processes, a few locked): median wall time and max RSS (targets 2 s, 100 MB)
 * Medians and p90 over interleaved runs; ratio = nslocate median / reference median.
 *
 * Targets are reported, never asserted: exit status 0 whether or not they are met; 1 only when a
 * measurement could not run. Everything started here (holders, N sleepers in their own process
 * group, an unshare'd PID namespace) is tracked by pid / process group and killed on exit, error or
 * Ctrl-C; nothing else is ever signalled. Plain Node, no dependencies; the C helpers in
 * bench/fixtures/ (and fixtures/holders/holder.c) are compiled with `cc` into a temp directory.
 */
const {spawn, spawnSync, execFileSync} = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const {performance} = require('node:perf_hooks')

const ROOT = path.resolve(__dirname, '..')
const RESULTS_DIR = process.env.NSLOCATE_BENCH_OUT ? path.resolve(process.env.NSLOCATE_BENCH_OUT) : path.join(__dirname, 'results')
const BIN_RUN = path.join(ROOT, 'bin', 'run.js')
const NODE = process.execPath

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/run.js [--smoke] [--procs N] [--runs N] [--only LIST]
  --procs N   other processes in the table for find-unlocked, find-flock and wait+procs (default 5000; env NSLOCATE_BENCH_PROCS)
  --runs N    timed runs per CLI command (default 15; env NSLOCATE_BENCH_RUNS); cheap measurements do more
  --smoke     tiny sizes and few runs (CI: finishes in well under 60 s; figures not meaningful; env NSLOCATE_BENCH_SMOKE=1)
  --only LIST comma-separated subset of: find-posix,startup,find-unlocked,find-flock,locate-rate,signal,wait,find-container,reload,serve,list-scale`

const ALL_IDS = ['find-posix', 'startup', 'find-unlocked', 'find-flock', 'locate-rate', 'signal', 'wait', 'find-container', 'reload', 'serve', 'list-scale']

function parseOptions(argv) {
  const env = process.env
  const o = {smoke: env.NSLOCATE_BENCH_SMOKE === '1', procs: null, runs: null, only: null}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const eq = a.indexOf('=')
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a
    const value = () => {
      const v = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i]
      if (v === undefined) usageError(`${flag} needs a value`)
      return v
    }
    const count = (v, min) => {
      if (!/^[0-9]+$/.test(v) || Number(v) < min) usageError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v)}`)
      return Number(v)
    }
    switch (flag) {
      case '--smoke': o.smoke = true; break
      case '--procs': o.procs = count(value(), 0); break
      case '--runs': o.runs = count(value(), 1); break
      case '--only': {
        o.only = value().split(',').filter(Boolean)
        for (const id of o.only) if (!ALL_IDS.includes(id)) usageError(`--only: unknown measurement ${id}`)
        break
      }
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break
      default: usageError(`unknown argument ${a}`)
    }
  }
  if (o.procs === null && env.NSLOCATE_BENCH_PROCS) o.procs = count0(env.NSLOCATE_BENCH_PROCS, 'NSLOCATE_BENCH_PROCS', 0)
  if (o.runs === null && env.NSLOCATE_BENCH_RUNS) o.runs = count0(env.NSLOCATE_BENCH_RUNS, 'NSLOCATE_BENCH_RUNS', 1)
  const procs = o.procs ?? (o.smoke ? 200 : 5000)
  const runs = o.runs ?? (o.smoke ? 3 : 15)
  return {
    smoke: o.smoke,
    procs,
    runs,
    warmup: o.smoke ? 1 : 2,
    only: new Set(o.only ?? ALL_IDS),
    // in-process measurements
    rateReps: o.smoke ? 2 : Math.max(5, Math.ceil(runs / 2)),
    rateMs: o.smoke ? 150 : 1000,
    signalIters: o.smoke ? 5 : Math.max(20, runs * 3),
    waitIters: o.smoke ? 3 : Math.max(15, runs * 2),
  }
}

function count0(v, name, min) {
  if (!/^[0-9]+$/.test(v) || Number(v) < min) usageError(`${name}: expected an integer >= ${min}`)
  return Number(v)
}

function usageError(msg) {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------------
// Everything we start, and how to stop it (only ever by the pid / process group we created)

/** @type {Set<{child: import('node:child_process').ChildProcess, pid: number, group: boolean, exited: boolean, what: string, exitPromise: Promise<void>}>} */
const tracked = new Set()
let tmpDir = null

function track(child, what, group) {
  const entry = {child, pid: child.pid, group, exited: false, what, exitPromise: null}
  entry.exitPromise = new Promise((resolve) => {
    child.once('exit', () => { entry.exited = true; resolve() })
    child.once('error', () => { entry.exited = true; resolve() })
  })
  tracked.add(entry)
  return entry
}

/** SIGKILL what is still running. Synchronous: usable from 'exit' and signal handlers. */
function killAllSync() {
  for (const e of tracked) {
    if (e.exited || !e.pid) continue
    try {
      // A process group we created with a detached spawn (setsid): the leader is our child and
      // not reaped yet (no 'exit' seen), so the group id cannot have been reused.
      process.kill(e.group ? -e.pid : e.pid, 'SIGKILL')
    } catch {}
  }
}

function removeTmpSync() {
  if (!tmpDir) return
  try {
    fs.rmSync(tmpDir, {recursive: true, force: true})
  } catch {}
  tmpDir = null
}

/**
 * Containers started here carry the label nslocate.bench=<this run's id> and are removed by it on
 * every way out, also one whose `docker run` was interrupted before it printed the id.
 */
const BENCH_RUN_LABEL = `nslocate.bench=${process.pid}-${Date.now()}`
let startedContainers = false
function removeContainersSync() {
  if (!startedContainers) return
  const ps = spawnSync('docker', ['ps', '-aq', '--filter', `label=${BENCH_RUN_LABEL}`], {encoding: 'utf8', timeout: 30_000})
  const ids = String(ps.stdout || '').split('\n').filter(Boolean)
  if (ids.length > 0) spawnSync('docker', ['rm', '-f', ...ids], {stdio: 'ignore', timeout: 30_000})
}

let cleanedUp = false
function cleanupSync() {
  if (cleanedUp) return
  cleanedUp = true
  killAllSync()
  removeContainersSync()
  removeTmpSync()
}

process.on('exit', cleanupSync)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}: stopping everything started here\n`)
    cleanupSync()
    process.exit(128 + os.constants.signals[sig])
  })
}

/** Stop one tracked child: `how` first (e.g. SIGTERM to the pid), SIGKILL (pid or group) after `graceMs`. */
async function stop(entry, {signal = 'SIGKILL', graceMs = 5000} = {}) {
  if (!entry || entry.exited) {
    if (entry) tracked.delete(entry)
    return
  }
  try {
    process.kill(signal === 'SIGKILL' && entry.group ? -entry.pid : entry.pid, signal)
  } catch {}
  if (!(await within(entry.exitPromise, graceMs))) {
    try {
      process.kill(entry.group ? -entry.pid : entry.pid, 'SIGKILL')
    } catch {}
    if (!(await within(entry.exitPromise, 10_000))) throw new Error(`${entry.what} (pid ${entry.pid}) did not exit after SIGKILL`)
  }
  tracked.delete(entry)
}

function within(promise, ms) {
  let timer
  return Promise.race([
    promise.then(() => true),
    new Promise((resolve) => { timer = setTimeout(() => resolve(false), ms) }),
  ]).finally(() => clearTimeout(timer))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Line reader over a child's stdout: next(prefix, ms) resolves with the next line starting with prefix. */
function lines(child, what) {
  const queue = []
  const waiters = []
  let buf = ''
  let ended = false
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      queue.push(line)
    }
    pump()
  })
  child.stdout.on('end', () => { ended = true; pump() })
  function pump() {
    while (waiters.length) {
      const w = waiters[0]
      const idx = queue.findIndex((l) => l.startsWith(w.prefix))
      if (idx >= 0) {
        const [line] = queue.splice(idx, 1)
        waiters.shift()
        clearTimeout(w.timer)
        w.resolve(line)
      } else if (ended) {
        waiters.shift()
        clearTimeout(w.timer)
        w.reject(new Error(`${what}: output ended before a "${w.prefix}" line (got: ${JSON.stringify(queue.join('\n'))})`))
      } else {
        break
      }
    }
  }
  return {
    next(prefix, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const w = {prefix, resolve, reject, timer: null}
        w.timer = setTimeout(() => {
          const k = waiters.indexOf(w)
          if (k >= 0) waiters.splice(k, 1)
          reject(new Error(`${what}: no "${prefix}" line within ${ms} ms`))
        }, ms)
        waiters.push(w)
        pump()
      })
    },
  }
}

/** Spawn a helper that prints "ready ..." when set up; resolves with its tracked entry and line reader. */
async function startReady(file, args, {what, group = false, timeoutMs = 10_000} = {}) {
  const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe'], detached: group})
  const entry = track(child, what, group)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d })
  const reader = lines(child, what)
  try {
    const line = await reader.next('ready', timeoutMs)
    return {entry, pid: child.pid, ready: line, reader}
  } catch (error) {
    await stop(entry).catch(() => undefined)
    error.message += stderr ? `\nstderr: ${stderr.trim()}` : ''
    throw error
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and timing

/**
 * median and p90 (nearest rank). p90 is always on the bad side: for times the 90th percentile, for
 * rates (higherIsBetter) the 10th percentile, i.e. the rate 90% of the repetitions beat.
 */
function stats(samples, {higherIsBetter = false} = {}) {
  const s = [...samples].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return null
  const q = (p) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
  return {n, median, p90: higherIsBetter ? q(0.1) : q(0.9), min: s[0], max: s[n - 1], mean: s.reduce((a, b) => a + b, 0) / n}
}

const hrMs = () => Number(process.hrtime.bigint()) / 1e6
/** CLOCK_REALTIME in ms with sub-ms resolution (the holders stamp with clock_gettime(CLOCK_REALTIME)). */
const realMs = () => performance.timeOrigin + performance.now()
/** CLOCK_MONOTONIC in ns (libuv's uv_hrtime), for a cross-check of the realtime figures. */
const monoNs = () => process.hrtime.bigint()

/** Wall time of one run of argv (fork + exec + exit), in ms; checks the exit status (and output). */
function timeOnce(cmd) {
  const t0 = hrMs()
  const r = spawnSync(cmd.argv[0], cmd.argv.slice(1), {env: cmd.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20})
  const ms = hrMs() - t0
  if (r.error) throw new Error(`${shown(cmd.argv)}: ${r.error.message}`)
  const ok = cmd.okStatus ?? [0]
  if (!ok.includes(r.status)) {
    throw new Error(`${shown(cmd.argv)}: exit status ${r.status} signal ${r.signal} (expected ${ok.join('|')})\nstdout: ${String(r.stdout).slice(0, 500)}\nstderr: ${String(r.stderr).slice(0, 500)}`)
  }
  if (cmd.check) {
    const why = cmd.check(String(r.stdout))
    if (why) throw new Error(`${shown(cmd.argv)}: unexpected output: ${why}\nstdout: ${String(r.stdout).slice(0, 500)}`)
  }
  return ms
}

/**
 * One timed run, retried a few times when it fails: dist/ may be half-written by a concurrent
 * `npm run build`. A failure that persists is a measurement that could not run.
 */
async function timeWithRetry(cmd) {
  for (let attempt = 1; ; attempt++) {
    try {
      return timeOnce(cmd)
    } catch (error) {
      if (attempt >= 6) throw error
      warn(`run failed (attempt ${attempt}/6; retrying in 2 s, dist/ may be being rebuilt): ${error.message.split('\n')[0]}`)
      await sleep(2000)
    }
  }
}

/** Interleaved sampling: each round runs every command once, in an order rotated by round. */
async function sampleInterleaved(cmds, runs, warmup) {
  const samples = Object.fromEntries(cmds.map((c) => [c.key, []]))
  for (let w = 0; w < warmup; w++) for (const c of cmds) await timeWithRetry(c)
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < cmds.length; k++) {
      const c = cmds[(i + k) % cmds.length]
      samples[c.key].push(await timeWithRetry(c))
    }
  }
  return samples
}

/** Runs of `fn` per second over `ms`, in batches (the clock read is not part of the work). */
function ratePerSecond(fn, ms) {
  let n = 0
  const t0 = hrMs()
  let elapsed = 0
  do {
    for (let i = 0; i < 64; i++) fn()
    n += 64
    elapsed = hrMs() - t0
  } while (elapsed < ms)
  return n / (elapsed / 1000)
}

function cleanEnv(extra = {}) {
  const env = {...process.env, ...extra}
  // Measure the default path, whatever the caller's environment says.
  if (!('NSLOCATE_NO_FAST_PATH' in extra)) delete env.NSLOCATE_NO_FAST_PATH
  delete env.NODE_OPTIONS
  return env
}

const shown = (argv) => argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
const rel = (p) => (p.startsWith(ROOT + '/') ? p.slice(ROOT.length + 1) : p)
const display = (argv) => shown(argv.map((a) => (a === NODE ? 'node' : rel(a))))

function log(msg) {
  process.stderr.write(`[bench ${((hrMs() - T0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`)
}
function warn(msg) {
  log(`WARNING: ${msg}`)
}

// ---------------------------------------------------------------------------------------------
// Set-up: helpers compiled, the library loaded

function compile(source, out) {
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-o', out, source], {stdio: ['ignore', 'pipe', 'pipe']})
  return out
}

function buildHelpers(dir) {
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin)
  const b = {
    holder: compile(path.join(ROOT, 'fixtures', 'holders', 'holder.c'), path.join(bin, 'holder')),
    sigholder: compile(path.join(__dirname, 'fixtures', 'sigholder.c'), path.join(bin, 'nslbenchsig')),
    sleepers: compile(path.join(__dirname, 'fixtures', 'sleepers.c'), path.join(bin, 'nslbenchsleep')),
    // runs a command and reports its wall time and ru_maxrss (wait4), as GNU time's %e and %M
    rusage: compile(path.join(__dirname, 'fixtures', 'rusage.c'), path.join(bin, 'nslbenchrusage')),
    // the service inside the PID namespace: sleep(1) under a name of its own, so comm == NAME
    svc: path.join(bin, 'nslbenchsvc'),
  }
  fs.copyFileSync(fs.realpathSync(whichSync('sleep')), b.svc)
  fs.chmodSync(b.svc, 0o755)
  return b
}

function whichSync(cmd) {
  for (const d of (process.env.PATH || '/usr/bin:/bin').split(':')) {
    const p = path.join(d || '.', cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {}
  }
  throw new Error(`${cmd} not found in PATH`)
}

/** The compiled library, waiting out a concurrent rebuild (dist/ briefly missing or half-written). */
async function loadLibrary() {
  const entry = path.join(ROOT, 'dist', 'src', 'index.js')
  let lastError
  for (let attempt = 1; attempt <= 30; attempt++) {
    try {
      if (!fs.existsSync(entry)) throw new Error(`${rel(entry)} is missing`)
      // Probe in a child first: a half-written dist/ must not poison this process's require cache.
      execFileSync(NODE, ['-e', `require(${JSON.stringify(entry)}); require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'fast-find.js'))})`], {stdio: 'pipe'})
      return {lib: require(entry), binding: require(path.join(ROOT, 'dist', 'src', 'native', 'binding.js'))}
    } catch (error) {
      lastError = error
      if (attempt === 1) warn(`dist/ is not loadable (${String(error.message).split('\n')[0]}); waiting for a build (run \`npm run build\` if nobody is building)`)
      await sleep(3000)
    }
  }
  throw new Error(`dist/ did not become loadable within 90 s: ${lastError && lastError.message}`)
}

function procCount() {
  let n = 0
  for (const name of fs.readdirSync('/proc')) {
    const c = name.charCodeAt(0)
    if (c >= 48 && c <= 57) n++
  }
  return n
}

function toolVersion(argv) {
  try {
    return execFileSync(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']}).toString().trim().split('\n')[0]
  } catch {
    return null
  }
}

function machineFacts(when) {
  const cpus = os.cpus()
  return {
    when: new Date().toISOString(),
    phase: when,
    nproc: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpu: cpus[0] ? cpus[0].model : null,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    processes: procCount(),
  }
}

function gitFacts() {
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], {stdio: ['ignore', 'pipe', 'ignore']}).toString().trim()
    const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'commands', 'bin', 'native'], {stdio: ['ignore', 'pipe', 'ignore']}).toString().trim() !== ''
    return {commit: head, source_dirty: dirty}
  } catch {
    return null
  }
}

/** Run `find --json` once and check it identifies the expected process (correctness before timing). */
function checkFind(args, expectPid, expectLock) {
  const r = spawnSync(NODE, [BIN_RUN, 'find', ...args, '--json'], {env: cleanEnv(), encoding: 'utf8', timeout: 60_000})
  let j
  try {
    j = JSON.parse(r.stdout)
  } catch {
    throw new Error(`nslocate find ${args.join(' ')} --json: status ${r.status}, not JSON: ${r.stdout}${r.stderr}`)
  }
  if (j.state !== 'running' || j.pid !== expectPid || (j.pidfile && j.pidfile.lock) !== expectLock) {
    throw new Error(`nslocate find ${args.join(' ')}: expected running pid ${expectPid} (${expectLock} lock), got ${j.state} pid ${j.pid} lock ${j.pidfile && j.pidfile.lock}\n${(j.evidence || []).join('\n')}`)
  }
  return j
}

// ---------------------------------------------------------------------------------------------
// Results

const results = []
const errors = []
/** measurements left out for a reason that is not an error (e.g. no Docker engine) */
const skippedNotes = []

function ratioRow({id, metric, unit, better = 'lower', ours, ref, target, note}) {
  const ratio = ours && ref ? ours.median / ref.stats.median : null
  const ratioP90 = ours && ref ? ours.p90 / ref.stats.p90 : null
  let met = null
  if (target && ours) {
    if (target.kind === 'ratio_max') met = ratio <= target.value
    else if (target.kind === 'abs_min') met = ours.median >= target.value
    else if (target.kind === 'abs_max') met = ours.median <= target.value
  }
  const row = {id, metric, unit, better, nslocate: ours ? round(ours) : null, reference: ref ? {label: ref.label, command: ref.command, stats: round(ref.stats)} : null,
    ratio: ratio === null ? null : Number(ratio.toFixed(3)), ratio_p90: ratioP90 === null ? null : Number(ratioP90.toFixed(3)), target: target ?? null, met, note: note ?? null}
  results.push(row)
  return row
}

function round(s) {
  const r = (x) => Number(x.toPrecision(4))
  return {n: s.n, median: r(s.median), p90: r(s.p90), min: r(s.min), max: r(s.max), mean: r(s.mean)}
}

// ---------------------------------------------------------------------------------------------
// The measurements

/**
 * Start-up of every command's plain invocation against the same POSIX-locked pidfile, all
 * interleaved in one sample: find, list, signal NAME 0, wait NAME --for running, run NAME2 -- true;
 * each against `node -e 0` (target <= 1.3x, find 1.2x) and `pgrep -F FILE -L` (information).
 */
async function measureStartup(ctx, h, file) {
  const {opts, dir} = ctx
  const runDir = path.join(dir, 'startup-run')
  fs.mkdirSync(runDir, {recursive: true})
  const name = 'nslbench'
  const node = {key: 'node', argv: [NODE, '-e', '0']}
  const pgrep = {key: 'pgrep', argv: ['pgrep', '-F', file, '-L'], check: (out) => (out.trim() === String(h.pid) ? null : `expected ${h.pid}`)}
  const ours = [
    {key: 'find', target: 1.2, argv: [NODE, BIN_RUN, 'find', name, '--pidfile', file, '--quiet'], shown: 'find NAME --pidfile FILE --quiet'},
    {key: 'list', target: 1.3, argv: [NODE, BIN_RUN, 'list', '--dir', path.dirname(file)], shown: 'list --dir DIR',
      check: (out) => (out.includes(String(h.pid)) ? null : `expected a row with ${h.pid}`)},
    {key: 'signal', target: 1.3, argv: [NODE, BIN_RUN, 'signal', name, '0', '--pidfile', file], shown: 'signal NAME 0 --pidfile FILE'},
    {key: 'wait', target: 1.3, argv: [NODE, BIN_RUN, 'wait', name, '--for', 'running', '--pidfile', file], shown: 'wait NAME --for running --pidfile FILE'},
    {key: 'run', target: 1.3, argv: [NODE, BIN_RUN, 'run', 'nslbenchrun', '--dir', runDir, '--', '/bin/true'], shown: 'run NAME2 --dir DIR2 -- /bin/true'},
  ]
  const oclif = {key: 'signal-oclif', argv: ours[2].argv, env: cleanEnv({NSLOCATE_NO_FAST_PATH: '1'})}
  const cmds = [node, pgrep, ...ours, oclif]
  log(`startup: ${opts.runs} interleaved runs of ${cmds.length} commands`)
  const s = await sampleInterleaved(cmds, opts.runs, opts.warmup)
  const nodeRef = {label: 'node -e 0', command: 'node -e 0', stats: stats(s.node)}
  const pgrepRef = {label: 'pgrep -F -L', command: 'pgrep -F FILE -L', stats: stats(s.pgrep)}
  for (const c of ours) {
    const metric = `start-up: ${c.shown} (CLI)`
    ratioRow({id: `startup-${c.key}`, metric, unit: 'ms', ours: stats(s[c.key]), ref: nodeRef,
      target: {kind: 'ratio_max', value: c.target, text: `<= ${c.target}x`}, note: `CLI wall time (spawn to exit) of \`nslocate ${c.shown}\`: the plain invocation, start-up fast path (no oclif)`})
    ratioRow({id: `startup-${c.key}-vs-pgrep`, metric, unit: 'ms', ours: stats(s[c.key]), ref: pgrepRef, note: 'information: a C tool with no Node start-up'})
  }
  ratioRow({id: 'startup-signal-oclif', metric: 'start-up: signal NAME 0 through oclif (NSLOCATE_NO_FAST_PATH=1)', unit: 'ms', ours: stats(s['signal-oclif']), ref: nodeRef,
    note: 'information: what the fast path saves'})
}

async function measureFindPosix(ctx) {
  const {opts, dir, bins} = ctx
  const file = path.join(dir, 'posix', 'nslbench.pid')
  fs.mkdirSync(path.dirname(file))
  const h = await startReady(bins.holder, ['posix', file, '--write-pid'], {what: 'posix holder'})
  try {
    checkFind(['nslbench', '--pidfile', file], h.pid, 'posix')
    const findArgv = [NODE, BIN_RUN, 'find', 'nslbench', '--pidfile', file, '--quiet']
    const cmds = [
      {key: 'find', argv: findArgv},
      {key: 'node', argv: [NODE, '-e', '0']},
      {key: 'pgrep', argv: ['pgrep', '-F', file, '-L'], check: (out) => (out.trim() === String(h.pid) ? null : `expected ${h.pid}`)},
      {key: 'oclif', argv: findArgv, env: cleanEnv({NSLOCATE_NO_FAST_PATH: '1'})},
    ]
    log(`find-posix: ${opts.runs} interleaved runs of ${cmds.length} commands`)
    const s = await sampleInterleaved(cmds, opts.runs, opts.warmup)
    const ours = stats(s.find)
    const note = 'CLI wall time (spawn to exit) of `nslocate find NAME --pidfile FILE --quiet`; POSIX lock: one F_GETLK, no /proc scan'
    ratioRow({id: 'find-posix', metric: 'find, POSIX-locked pidfile (CLI)', unit: 'ms', ours,
      ref: {label: 'node -e 0', command: 'node -e 0', stats: stats(s.node)}, target: {kind: 'ratio_max', value: 1.2, text: '<= 1.2x'}, note})
    ratioRow({id: 'find-posix-vs-pgrep', metric: 'find, POSIX-locked pidfile (CLI)', unit: 'ms', ours,
      ref: {label: 'pgrep -F -L', command: `pgrep -F FILE -L`, stats: stats(s.pgrep)}, note: 'information: a C tool with no Node start-up'})
    ratioRow({id: 'find-posix-oclif', metric: 'find through oclif (NSLOCATE_NO_FAST_PATH=1)', unit: 'ms', ours: stats(s.oclif),
      ref: {label: 'node -e 0', command: 'node -e 0', stats: stats(s.node)}, note: 'information: what the fast path in bin/run.js saves'})
    return h
  } catch (error) {
    await stop(h.entry)
    throw error
  }
}

/**
 * find --container on a service in a container, against `docker inspect` of that container alone
 * (the one API call find makes) and `node -e 0`. Needs an engine (`docker version`) and the image
 * nslocate:local (built with scripts/build-image.sh when missing). No engine: skipped, with a note.
 */
async function measureFindContainer(ctx) {
  const {opts} = ctx
  if (spawnSync('docker', ['version'], {stdio: 'ignore', timeout: 20_000}).status !== 0) {
    skippedNotes.push('find-container: no Docker engine answers `docker version`: not measured')
    return
  }
  const image = process.env.NSLOCATE_BENCH_IMAGE || 'nslocate:local'
  if (spawnSync('docker', ['image', 'inspect', image], {stdio: 'ignore'}).status !== 0) {
    if (image !== 'nslocate:local') throw new Error(`NSLOCATE_BENCH_IMAGE=${image}: no such image here`)
    log(`find-container: building ${image} (scripts/build-image.sh, offline)`)
    const b = spawnSync('bash', [path.join(ROOT, 'scripts', 'build-image.sh')], {encoding: 'utf8', timeout: 15 * 60_000})
    if (b.status !== 0) throw new Error(`scripts/build-image.sh failed (${b.status}): ${String(b.stderr).slice(-800)}`)
  }
  startedContainers = true
  const run = spawnSync('docker', ['run', '-d', '--network', 'none', '--label', BENCH_RUN_LABEL, image, 'run', 'nslbench', '--', 'sleep', '1000'], {encoding: 'utf8', timeout: 60_000})
  if (run.status !== 0) throw new Error(`docker run ${image}: ${run.stderr}`)
  const id = run.stdout.trim()
  try {
    // Correctness before timing: find names the init's only child (the sleep, read from the kernel
    // here, not from nslocate), under a POSIX lock held by the init, in this container. Retried
    // while `nslocate run` starts its child and writes the pid.
    const inspectPid = () => Number(spawnSync('docker', ['inspect', '--format', '{{.State.Pid}}', id], {encoding: 'utf8'}).stdout.trim())
    const init = inspectPid()
    let lastError = null
    for (let i = 0; i < 50; i++) {
      try {
        const kids = fs.readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number)
        if (kids.length !== 1) throw new Error(`the container's init ${init} has children [${kids.join(', ')}], expected the sleep alone`)
        const j = checkFind(['nslbench', '--container', id], kids[0], 'posix')
        if (j.holder !== init || !j.container || j.container.id !== id) throw new Error(`find --container ${id.slice(0, 12)}: expected holder ${init} in this container, got holder ${j.holder}, container ${JSON.stringify(j.container)}`)
        lastError = null
        break
      } catch (error) {
        lastError = error
        if (!(inspectPid() > 0)) throw new Error(`container ${id.slice(0, 12)} stopped: ${spawnSync('docker', ['logs', id], {encoding: 'utf8'}).stderr}`)
        await sleep(100)
      }
    }
    if (lastError) throw lastError
    const cmds = [
      {key: 'find', argv: [NODE, BIN_RUN, 'find', 'nslbench', '--container', id, '--quiet']},
      {key: 'inspect', argv: ['docker', 'inspect', '--format', '{{.State.Pid}}', id], check: (out) => (Number(out.trim()) > 0 ? null : 'no State.Pid')},
      {key: 'node', argv: [NODE, '-e', '0']},
    ]
    log(`find-container: ${opts.runs} interleaved runs of ${cmds.length} commands`)
    const s = await sampleInterleaved(cmds, opts.runs, opts.warmup)
    const ours = stats(s.find)
    const note = 'CLI wall time of `nslocate find NAME --container ID --quiet` (Docker API inspect over the unix socket, then the pidfile through /proc/PID/root)'
    ratioRow({id: 'find-container', metric: 'find --container, POSIX-locked pidfile (CLI)', unit: 'ms', ours,
      ref: {label: 'docker inspect', command: 'docker inspect --format {{.State.Pid}} ID', stats: stats(s.inspect)}, note})
    ratioRow({id: 'find-container-vs-node', metric: 'find --container, POSIX-locked pidfile (CLI)', unit: 'ms', ours,
      ref: {label: 'node -e 0', command: 'node -e 0', stats: stats(s.node)}, note: 'information: the Node.js floor'})
  } finally {
    removeContainersSync()
  }
}

async function measureLocateRate(ctx, h) {
  const {opts, dir, lib, binding} = ctx
  const file = path.join(dir, 'posix', 'nslbench.pid')
  const locateOnce = () => lib.locate({name: 'nslbench', pidfile: file})
  const r0 = locateOnce()
  if (r0.state !== 'running' || r0.pid !== h.pid) throw new Error(`locate(): expected running pid ${h.pid}, got ${r0.state} ${r0.pid}`)
  const buf = Buffer.alloc(64)
  // The least a "is it running, which pid" answer takes from Node: open, read, F_GETLK, one status read.
  const bare = () => {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    try {
      fs.readSync(fd, buf, 0, 64, 0)
      const p = binding.probePosixLock(fd)
      fs.readFileSync(`/proc/${p.pid}/status`, 'latin1')
    } finally {
      fs.closeSync(fd)
    }
  }
  bare()
  ratePerSecond(locateOnce, Math.min(300, opts.rateMs))
  ratePerSecond(bare, Math.min(300, opts.rateMs))
  log(`locate-rate: ${opts.rateReps} x ${opts.rateMs} ms each for locate() and the bare probe`)
  const a = []
  const b = []
  for (let i = 0; i < opts.rateReps; i++) {
    if (i % 2 === 0) {
      a.push(ratePerSecond(locateOnce, opts.rateMs))
      b.push(ratePerSecond(bare, opts.rateMs))
    } else {
      b.push(ratePerSecond(bare, opts.rateMs))
      a.push(ratePerSecond(locateOnce, opts.rateMs))
    }
  }
  ratioRow({id: 'locate-rate', metric: 'locate() calls/s, POSIX-locked (library)', unit: 'calls/s', better: 'higher', ours: stats(a, {higherIsBetter: true}),
    ref: {label: 'bare probe', command: 'open + read + F_GETLK (addon) + read /proc/PID/status + close, from Node', stats: stats(b, {higherIsBetter: true})},
    target: {kind: 'abs_min', value: 20000, text: '>= 20,000/s'}, note: `one Node process, synchronous calls back to back, ${opts.rateReps} repetitions of ${opts.rateMs} ms; the p90 column of a rate is its 10th percentile (the bad side)`})
}

async function measureSignal(ctx) {
  const {opts, dir, bins, lib} = ctx
  const file = path.join(dir, 'sig', 'nslbenchsig.pid')
  fs.mkdirSync(path.dirname(file), {recursive: true})
  const h = await startReady(bins.sigholder, [file], {what: 'signal holder'})
  try {
    const r0 = lib.locate({name: 'nslbenchsig', pidfile: file})
    if (r0.state !== 'running' || r0.pid !== h.pid) throw new Error(`locate(): expected running pid ${h.pid}, got ${r0.state} ${r0.pid}`)
    const lat = {lib: [], ref: []}
    const callMs = []
    let maxClockSkew = 0
    const once = async (which) => {
      const t0 = realMs()
      const m0 = monoNs()
      if (which === 'lib') {
        const r = await lib.signal('nslbenchsig', 'USR1', {pidfile: file})
        callMs.push(realMs() - t0)
        if (r.exit_code !== 0 || r.delivered.length !== 1 || r.delivered[0].pid !== h.pid) throw new Error(`signal(): ${r.message}`)
      } else {
        process.kill(h.pid, 'SIGUSR1')
      }
      const [, rt, mono] = (await h.reader.next('usr1', 5000)).split(' ')
      const ms = Number(rt) / 1e6 - t0
      const monoMsv = Number(BigInt(mono) - m0) / 1e6
      maxClockSkew = Math.max(maxClockSkew, Math.abs(ms - monoMsv))
      return ms
    }
    await once('lib')
    await once('ref')
    log(`signal: ${opts.signalIters} interleaved deliveries each`)
    for (let i = 0; i < opts.signalIters; i++) {
      for (const which of i % 2 ? ['ref', 'lib'] : ['lib', 'ref']) {
        lat[which].push(await once(which))
        await sleep(2)
      }
    }
    ratioRow({id: 'signal', metric: 'signal() start to delivery, POSIX-locked (library)', unit: 'ms', ours: stats(lat.lib),
      ref: {label: 'process.kill', command: 'process.kill(pid, "SIGUSR1") (plain kill(2), no lookup)', stats: stats(lat.ref)},
      note: `from before signal() to the holder's CLOCK_REALTIME stamp in its SIGUSR1 handler; includes locate(), pidfd pin and lock re-check. signal() call itself: median ${stats(callMs).median.toFixed(3)} ms. realtime vs monotonic clock disagreement: max ${maxClockSkew.toFixed(3)} ms`})
  } finally {
    await stop(h.entry)
  }
}

async function measureWait(ctx, {label, id}) {
  const {opts, dir, bins, lib, binding} = ctx
  const file = path.join(dir, 'wait', 'nslbenchwait.pid')
  fs.mkdirSync(path.dirname(file), {recursive: true})
  const lat = {lib: [], ref: []}
  let maxClockSkew = 0
  const once = async (which) => {
    const h = await startReady(bins.sigholder, [file], {what: 'wait holder'})
    let pidfd = null
    try {
      let waiting
      if (which === 'lib') {
        waiting = lib.waitFor('nslbenchwait', 'stopped', {pidfile: file, timeoutMs: 15_000})
      } else {
        pidfd = binding.pidfdOpen(h.pid)
        waiting = binding.waitPidfd(pidfd)
      }
      await sleep(15) // let the wait settle into its poll
      process.kill(h.pid, 'SIGTERM')
      const r = await waiting
      const t1 = realMs()
      const m1 = monoNs()
      if (which === 'lib' && (!r.reached || r.exit_code !== 0)) throw new Error(`waitFor(): ${r.message}`)
      const [, rt, mono] = (await h.reader.next('exit', 5000)).split(' ')
      const ms = t1 - Number(rt) / 1e6
      maxClockSkew = Math.max(maxClockSkew, Math.abs(ms - Number(m1 - BigInt(mono)) / 1e6))
      return ms
    } finally {
      if (pidfd !== null) fs.closeSync(pidfd)
      await stop(h.entry)
    }
  }
  await once('lib')
  await once('ref')
  log(`${id}: ${opts.waitIters} interleaved exits each`)
  for (let i = 0; i < opts.waitIters; i++) {
    for (const which of i % 2 ? ['ref', 'lib'] : ['lib', 'ref']) lat[which].push(await once(which))
  }
  ratioRow({id, metric: `exit to waitFor('stopped') return${label}`, unit: 'ms', ours: stats(lat.lib),
    ref: {label: 'bare pidfd wait', command: 'pidfd_open + uv_poll on the pidfd (addon waitPidfd), no re-locate', stats: stats(lat.ref)},
    target: {kind: 'abs_max', value: 10, text: '<= 10 ms'},
    note: `from the holder's CLOCK_REALTIME stamp just before _exit(2) to waitFor() resolving; includes the re-locate after the wake-up (the pidfile is then unlocked and names a dead pid). realtime vs monotonic: max ${maxClockSkew.toFixed(3)} ms`})
}

async function startSleepers(ctx) {
  const {opts, bins} = ctx
  if (opts.procs === 0) return null
  log(`starting ${opts.procs} sleeping processes (own process group)`)
  const t0 = hrMs()
  const s = await startReady(bins.sleepers, [String(opts.procs)], {what: `${opts.procs} sleepers`, group: true, timeoutMs: 30_000 + opts.procs * 10})
  log(`  ${s.ready} in ${(hrMs() - t0).toFixed(0)} ms; ${procCount()} processes in /proc now`)
  return s
}

async function stopSleepers(s) {
  if (!s) return
  const t0 = hrMs()
  // SIGTERM: the helper SIGKILLs and reaps its children by pid, then exits; the group SIGKILL is the fallback.
  await stop(s.entry, {signal: 'SIGTERM', graceMs: 30_000})
  log(`sleepers stopped in ${(hrMs() - t0).toFixed(0)} ms; ${procCount()} processes in /proc now`)
}

/** A service started inside a fresh PID namespace that writes its inner pid to an unlocked pidfile. */
async function startNsService(ctx) {
  const {dir, bins} = ctx
  const file = path.join(dir, 'ns', 'nslbenchsvc.pid')
  fs.mkdirSync(path.dirname(file))
  const script = `${shown([bins.svc])} 100000 & printf %s "$!" > ${shown([file])}; echo ready; wait`
  const u = await startReady('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', script], {what: 'unshare PID namespace', group: true})
  // unshare -> sh (pid 1 inside) -> nslbenchsvc: find the service's pid here through the children lists.
  const kids = (pid) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  let hostPid = null
  const inner = Number(fs.readFileSync(file, 'utf8'))
  for (const sh of kids(u.pid)) {
    for (const c of kids(sh)) {
      const st = fs.readFileSync(`/proc/${c}/status`, 'utf8')
      const nspid = /^NSpid:\s+(.*)$/m.exec(st)[1].trim().split(/\s+/).map(Number)
      if (nspid.length === 2 && nspid[1] === inner) hostPid = c
    }
  }
  if (!hostPid) {
    await stop(u.entry)
    throw new Error(`no process with inner pid ${inner} under unshare ${u.pid}`)
  }
  return {entry: u.entry, file, hostPid, inner}
}

async function measureFindUnlocked(ctx, svc) {
  const {opts} = ctx
  checkFind(['nslbenchsvc', '--pidfile', svc.file], svc.hostPid, 'none')
  const cmds = [
    {key: 'find', argv: [NODE, BIN_RUN, 'find', 'nslbenchsvc', '--pidfile', svc.file, '--quiet']},
    {key: 'pgrep', argv: ['pgrep', '--ns', String(svc.hostPid), '-x', 'nslbenchsvc'], check: (out) => (out.trim() === String(svc.hostPid) ? null : `expected ${svc.hostPid}`)},
  ]
  log(`find-unlocked: ${opts.runs} interleaved runs (pidfile says ${svc.inner}, host pid ${svc.hostPid}, ${procCount()} processes)`)
  const s = await sampleInterleaved(cmds, opts.runs, opts.warmup)
  ratioRow({id: 'find-unlocked', metric: `find, unlocked pidfile from a PID namespace, +${opts.procs} procs (CLI)`, unit: 'ms', ours: stats(s.find),
    ref: {label: 'pgrep --ns PID -x NAME', command: 'pgrep --ns HOSTPID -x nslbenchsvc', stats: stats(s.pgrep)},
    target: {kind: 'ratio_max', value: 0.5, text: '<= 0.5x'},
    note: 'find resolves the bare inner pid: ns/pid link of every process, one NS_GET_PID_FROM_PIDNS per namespace, then name/mount/start-time checks'})
  const lib = await libraryTimes(ctx, {name: 'nslbenchsvc', pidfile: svc.file}, svc.hostPid)
  ratioRow({id: 'find-unlocked-lib', metric: `locate() alone, same unlocked pidfile, +${opts.procs} procs (library)`, unit: 'ms', ours: lib,
    ref: {label: 'pgrep --ns PID -x NAME', command: 'pgrep --ns HOSTPID -x nslbenchsvc', stats: stats(s.pgrep)},
    note: 'information: the CLI figure without Node start-up (one call every 60 ms in a warm process, so /proc/locks is read cold as a CLI run reads it)'})
}

/** In-process locate() durations, one call every 60 ms (a warm process; kernel caches as cold as for a CLI run). */
async function libraryTimes(ctx, locateOpts, expectPid) {
  const t = []
  for (let i = 0; i < ctx.opts.runs + 1; i++) {
    await sleep(60)
    const t0 = hrMs()
    const r = ctx.lib.locate(locateOpts)
    const ms = hrMs() - t0
    if (r.state !== 'running' || r.pid !== expectPid) throw new Error(`locate(${locateOpts.pidfile}): expected running pid ${expectPid}, got ${r.state} ${r.pid}`)
    if (i > 0) t.push(ms) // the first call pays for JIT warm-up
  }
  return stats(t)
}

/** /proc/locks read back to back (warm) and 60 ms apart (cold): the kernel-side cost every lock listing pays. */
async function procLocksCost() {
  const time = () => {
    const t0 = hrMs()
    fs.readFileSync('/proc/locks', 'latin1')
    return hrMs() - t0
  }
  const warm = []
  for (let i = 0; i < 20; i++) warm.push(time())
  const cold = []
  for (let i = 0; i < 10; i++) {
    await sleep(60)
    cold.push(time())
  }
  return {proc_locks_warm_ms: Number(stats(warm).median.toFixed(3)), proc_locks_cold_ms: Number(stats(cold).median.toFixed(2)), proc_locks_cold_p90_ms: Number(stats(cold).p90.toFixed(2))}
}

async function measureFindFlock(ctx) {
  const {opts, dir, bins} = ctx
  const file = path.join(dir, 'flock', 'nslbenchfl.pid')
  fs.mkdirSync(path.dirname(file))
  const h = await startReady(bins.holder, ['flock', file, '--write-pid'], {what: 'flock holder'})
  try {
    checkFind(['nslbenchfl', '--pidfile', file], h.pid, 'flock')
    const hasHolder = (out) => (out.split('\n').some((l) => l.trim().split(/\s+/)[0] === String(h.pid) && l.includes(file)) ? null : `no line "${h.pid} ${file}"`)
    const cmds = [
      {key: 'find', argv: [NODE, BIN_RUN, 'find', 'nslbenchfl', '--pidfile', file, '--quiet']},
      {key: 'lslocks', argv: ['lslocks', '-n', '-o', 'PID,PATH'], check: hasHolder},
      {key: 'lslocksp', argv: ['lslocks', '-n', '-o', 'PID,PATH', '-p', String(h.pid)], check: hasHolder},
    ]
    log(`find-flock: ${opts.runs} interleaved runs (${procCount()} processes)`)
    const s = await sampleInterleaved(cmds, opts.runs, opts.warmup)
    const ours = stats(s.find)
    ratioRow({id: 'find-flock', metric: `find, flock-held pidfile, +${opts.procs} procs (CLI)`, unit: 'ms', ours,
      ref: {label: 'lslocks -n -o PID,PATH', command: 'lslocks -n -o PID,PATH (all locks on the system, with paths)', stats: stats(s.lslocks)},
      target: {kind: 'ratio_max', value: 1.0, text: '<= 1.0x'},
      note: 'find: F_GETLK (nothing), /proc/locks, then /proc/*/fd + fdinfo of every process (all holders of the open file description)'})
    ratioRow({id: 'find-flock-vs-lslocks-p', metric: `find, flock-held pidfile, +${opts.procs} procs (CLI)`, unit: 'ms', ours,
      ref: {label: 'lslocks -p PID', command: 'lslocks -n -o PID,PATH -p HOLDERPID', stats: stats(s.lslocksp)}, note: 'information: lslocks told the pid'})
    const lib = await libraryTimes(ctx, {name: 'nslbenchfl', pidfile: file}, h.pid)
    ratioRow({id: 'find-flock-lib', metric: `locate() alone, same flock-held pidfile, +${opts.procs} procs (library)`, unit: 'ms', ours: lib,
      ref: {label: 'lslocks -n -o PID,PATH', command: 'lslocks -n -o PID,PATH (all locks on the system, with paths)', stats: stats(s.lslocks)},
      note: 'information: the CLI figure without Node start-up (one call every 60 ms)'})
  } finally {
    await stop(h.entry)
  }
}

/**
 * list-scale: `nslocate list --dir DIR --json` (CLI, start-up fast path) over 10,000 pidfiles in one
 * directory (smoke: 300), a mix as a busy runtime directory holds: most unlocked and naming pids
 * that no process has (stale; half of them end with a newline, half not), 1% unlocked naming one of
 * 20 live processes (the sleepers' children: running, name_mismatch), and 10 locked by a holder
 * that wrote its pid (5 POSIX, 5 flock). Every file is one the listing must look at the slow way
 * (unlocked: /proc/locks and the process table by PID namespace; locked: the lock holder).
 * Median wall time and max RSS (ru_maxrss from wait4, bench/fixtures/rusage.c), against absolute
 * targets: <= 2 s, <= 100 MB.
 */
async function measureListScale(ctx) {
  const {opts, dir, bins} = ctx
  const n = opts.smoke ? 300 : 10_000
  const lockedCount = opts.smoke ? 2 : 10
  const liveProcs = opts.smoke ? 5 : 20
  const liveFiles = opts.smoke ? 10 : Math.round(n / 100)
  const d = path.join(dir, 'list-scale')
  fs.mkdirSync(d)
  log(`list-scale: ${n} pidfiles (${lockedCount} locked, ${liveFiles} naming ${liveProcs} live processes, the rest stale)`)
  const sleepers = await startReady(bins.sleepers, [String(liveProcs)], {what: `${liveProcs} sleepers (list-scale)`, group: true})
  const holders = []
  try {
    const live = fs.readFileSync(`/proc/${sleepers.pid}/task/${sleepers.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    if (live.length !== liveProcs) throw new Error(`expected ${liveProcs} sleeping children, found ${live.length}`)
    for (let i = 0; i < lockedCount; i++) {
      const kind = i % 2 === 0 ? 'posix' : 'flock'
      holders.push({kind, file: path.join(d, `locked${i}.pid`), h: await startReady(bins.holder, [kind, path.join(d, `locked${i}.pid`), '--write-pid'], {what: `${kind} holder (list-scale)`})})
    }
    for (let i = 0; i < liveFiles; i++) fs.writeFileSync(path.join(d, `live${i}.pid`), `${live[i % live.length]}\n`)
    const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
    let p = pidMax - 1
    const stale = n - lockedCount - liveFiles
    for (let i = 0; i < stale; i++) {
      while (p > 300 && fs.existsSync(`/proc/${p}`)) p--
      if (p <= 300) throw new Error(`pid_max ${pidMax}: not enough unused pids for ${stale} stale pidfiles`)
      fs.writeFileSync(path.join(d, `svc${i}.pid`), i % 2 === 0 ? `${p}\n` : String(p))
      p--
    }
    const argv = [NODE, BIN_RUN, 'list', '--dir', d, '--json']
    // Correctness before timing: every file listed, the locked ones running with their holder, the
    // live ones running; nearly all stale ones stale (a pid may be taken by a new process meanwhile,
    // which started after the file was written: still stale, as pid_reused).
    const r = spawnSync(NODE, argv.slice(1), {env: cleanEnv(), encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20})
    let rows
    try {
      rows = JSON.parse(r.stdout)
    } catch {
      throw new Error(`list --json (status ${r.status}): not JSON: ${String(r.stdout).slice(0, 300)} ${String(r.stderr).slice(0, 300)}`)
    }
    if (r.status !== 0 || rows.length !== n) throw new Error(`list --json: status ${r.status}, ${rows.length} rows, expected 0 and ${n}`)
    const byName = new Map(rows.map((x) => [x.name, x]))
    for (const [i, {kind, h}] of holders.entries()) {
      const x = byName.get(`locked${i}`)
      if (!x || x.state !== 'running' || x.pid !== h.pid || x.pidfile.lock !== kind) throw new Error(`list: expected running ${kind} pid ${h.pid}, got ${JSON.stringify(x && {state: x.state, pid: x.pid, lock: x.pidfile?.lock, reasons: x.reasons})}`)
    }
    for (let i = 0; i < liveFiles; i++) {
      const x = byName.get(`live${i}`)
      if (!x || x.state !== 'running' || x.pid !== live[i % live.length]) throw new Error(`list: expected live${i} running as pid ${live[i % live.length]}, got ${JSON.stringify(x && {state: x.state, pid: x.pid, reasons: x.reasons})}`)
    }
    const notStale = rows.filter((x) => x.name.startsWith('svc') && x.state !== 'stale').length
    if (notStale > stale / 100) throw new Error(`list: ${notStale} of ${stale} pidfiles naming unused pids are not stale`)
    const runs = opts.smoke ? opts.runs : Math.max(5, Math.ceil(opts.runs / 3))
    log(`list-scale: ${runs} runs (+${opts.warmup} warm-up) of \`nslocate list --dir DIR --json\``)
    const wall = []
    const cpu = []
    const rss = []
    for (let i = 0; i < opts.warmup + runs; i++) {
      const m = await listRun(bins.rusage, argv, n)
      if (i < opts.warmup) continue
      wall.push(m.wallMs)
      cpu.push(m.cpuMs)
      rss.push(m.maxrssKb / 1024)
    }
    const note = `\`nslocate list --dir DIR --json\` (CLI, start-up fast path), ${n} pidfiles: ${stale} stale, ${liveFiles} naming ${liveProcs} live processes, ${lockedCount} locked; wall time and ru_maxrss of the CLI process (wait4)`
    ratioRow({id: 'list-scale', metric: `list --dir DIR --json, ${n} pidfiles (CLI): wall time`, unit: 'ms', ours: stats(wall),
      target: {kind: 'abs_max', value: 2000, text: '<= 2 s'}, note})
    ratioRow({id: 'list-scale-rss', metric: `list --dir DIR --json, ${n} pidfiles (CLI): max RSS`, unit: 'MB', ours: stats(rss),
      target: {kind: 'abs_max', value: 100, text: '<= 100 MB'}, note: 'the same runs: maximum resident set size (ru_maxrss, MiB) of the CLI process'})
    ratioRow({id: 'list-scale-cpu', metric: `list --dir DIR --json, ${n} pidfiles (CLI): CPU time`, unit: 'ms', ours: stats(cpu),
      note: 'information: the same runs, user + system CPU time of the CLI process (wait4): the wall time without waiting for a CPU on a busy machine'})
  } finally {
    for (const {h} of holders) await stop(h.entry)
    await stop(sleepers.entry, {signal: 'SIGTERM', graceMs: 10_000})
  }
}

/** One run of `list` under the rusage helper: wall and CPU ms, max RSS (kB); retried like timeWithRetry. */
async function listRun(rusage, argv, n) {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = spawnSync(rusage, argv, {env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 256 << 20})
      if (r.error) throw new Error(`${shown(argv)}: ${r.error.message}`)
      const m = /rusage wall_ms=([0-9.]+) cpu_ms=([0-9.]+) maxrss_kb=([0-9]+) status=([0-9]+)\s*$/.exec(String(r.stderr))
      if (!m || r.status !== 0) throw new Error(`${shown(argv)}: exit status ${r.status}: ${String(r.stderr).slice(-500)}`)
      // The output is the whole listing: one row per file (a half-built dist/ prints something else).
      const rows = (String(r.stdout).match(/^ {2}\{$/gm) || []).length
      if (rows !== n) throw new Error(`${shown(argv)}: ${rows} rows, expected ${n}`)
      return {wallMs: Number(m[1]), cpuMs: Number(m[2]), maxrssKb: Number(m[3])}
    } catch (error) {
      if (attempt >= 6) throw error
      warn(`run failed (attempt ${attempt}/6; retrying in 2 s, dist/ may be being rebuilt): ${error.message.split('\n')[0]}`)
      await sleep(2000)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Output: table, JSON, Markdown, SVG

function fmtVal(v, unit) {
  if (v === null || v === undefined) return '-'
  if (unit === 'calls/s') return Math.round(v).toLocaleString('en-US')
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

function tableRows() {
  return results.map((r) => {
    const u = r.unit === 'calls/s' ? '/s' : ` ${r.unit}`
    return {
      metric: r.metric,
      ours: r.nslocate ? `${fmtVal(r.nslocate.median, r.unit)}${u} (p90 ${fmtVal(r.nslocate.p90, r.unit)})` : 'error',
      ref: r.reference ? r.reference.label : '-',
      refv: r.reference ? `${fmtVal(r.reference.stats.median, r.unit)}${u} (p90 ${fmtVal(r.reference.stats.p90, r.unit)})` : '-',
      ratio: r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
      target: r.target ? r.target.text : '(info)',
      met: r.met === null ? '-' : r.met ? 'met' : 'MISSED',
    }
  })
}

const HEAD = {metric: 'metric', ours: 'nslocate median (p90)', ref: 'reference', refv: 'reference median (p90)', ratio: 'ratio', target: 'target', met: 'met?'}

function textTable(rows) {
  const keys = Object.keys(HEAD)
  const w = Object.fromEntries(keys.map((k) => [k, Math.max(HEAD[k].length, ...rows.map((r) => r[k].length))]))
  const line = (r) => keys.map((k) => r[k].padEnd(w[k])).join('  ')
  return [line(HEAD), keys.map((k) => '-'.repeat(w[k])).join('  '), ...rows.map(line)].join('\n')
}

function mdTable(rows) {
  const keys = Object.keys(HEAD)
  const esc = (s) => s.replace(/\|/g, '\\|')
  return [`| ${keys.map((k) => HEAD[k]).join(' | ')} |`, `|${keys.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${keys.map((k) => esc(k === 'met' && r[k] === 'MISSED' ? '**MISSED**' : r[k])).join(' | ')} |`)].join('\n')
}

/** Target budget used: <= 1 means met. */
function budget(r) {
  if (!r.target || !r.nslocate) return null
  if (r.target.kind === 'ratio_max') return r.ratio / r.target.value
  if (r.target.kind === 'abs_min') return r.target.value / r.nslocate.median
  if (r.target.kind === 'abs_max') return r.nslocate.median / r.target.value
  return null
}

function svgChart(meta) {
  const rows = results.filter((r) => budget(r) !== null)
  const W = 960
  const left = 400
  const right = 30
  const top = 72
  const rowH = 44
  const H = top + rows.length * rowH + 74
  const lo = Math.log10(0.05)
  const hi = Math.log10(50)
  const x = (v) => left + ((Math.log10(Math.min(50, Math.max(0.05, v))) - lo) / (hi - lo)) * (W - left - right)
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">nslocate bench: measured / target (log scale; left of the line = target met)</text>`)
  out.push(`<text x="${W / 2}" y="38" text-anchor="middle" fill="#555">${esc(`${meta.when} · node ${meta.node} · kernel ${meta.kernel} · ${meta.nproc} cores · ${meta.procs} extra procs · ${meta.smoke ? 'SMOKE (not meaningful)' : `${meta.runs} runs`}${meta.busy ? ' · BUSY machine (load > nproc)' : ''}`)}</text>`)
  for (const t of [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50]) {
    out.push(`<line x1="${x(t)}" y1="${top - 6}" x2="${x(t)}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#222' : '#ddd'}" stroke-width="${t === 1 ? 2 : 1}"${t === 1 ? '' : ' stroke-dasharray="3,3"'}/>`)
    out.push(`<text x="${x(t)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${t}</text>`)
  }
  out.push(`<text x="${x(1)}" y="${top - 12}" text-anchor="middle" font-weight="bold">target</text>`)
  rows.forEach((r, i) => {
    const b = budget(r)
    const y = top + i * rowH + 8
    const color = b <= 1 ? '#2e8b57' : '#c0392b'
    out.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${esc(r.metric.length > 58 ? r.metric.slice(0, 56) + '…' : r.metric)}</text>`)
    out.push(`<text x="${left - 8}" y="${y + 26}" text-anchor="end" fill="#666" font-size="11">${esc(r.target.kind === 'ratio_max' ? `vs ${r.reference.label}` : r.target.kind === 'abs_min' ? 'absolute rate' : r.unit === 'MB' ? 'absolute memory' : 'absolute latency')}</text>`)
    out.push(`<rect x="${x(0.05)}" y="${y}" width="${Math.max(1, x(b) - x(0.05))}" height="22" fill="${color}" opacity="0.85"/>`)
    const measured = r.target.kind === 'ratio_max' ? `${r.ratio.toFixed(2)}x` : `${fmtVal(r.nslocate.median, r.unit)} ${r.unit}`
    const label = `${measured} (target ${r.target.text})`
    const inside = x(b) - x(0.05) > 200
    out.push(`<text x="${inside ? x(b) - 6 : x(b) + 6}" y="${y + 15}" text-anchor="${inside ? 'end' : 'start'}" fill="${inside ? '#fff' : '#222'}">${esc(label)}</text>`)
  })
  out.push(`<text x="${W / 2}" y="${H - 30}" text-anchor="middle" fill="#555">bar = measured ÷ target, medians: ratio ÷ target ratio; for the rate, target ÷ rate; for latency, latency ÷ target.</text>`)
  out.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle" fill="#555">Rows without a target (information) are in results.md.</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function writeOutputs(meta) {
  fs.mkdirSync(RESULTS_DIR, {recursive: true})
  const rows = tableRows()
  const json = {meta, results, errors, skipped: skippedNotes}
  fs.writeFileSync(path.join(RESULTS_DIR, 'results.json'), JSON.stringify(json, null, 2) + '\n')
  const refs = results.filter((r) => r.reference).map((r) => `- **${r.reference.label}**: \`${r.reference.command}\``)
  const md = [
    `# nslocate bench results${meta.smoke ? ' (SMOKE run: sizes too small to mean anything)' : ''}`,
    '',
    `${meta.when}, ${meta.duration_s} s. Command: \`${meta.command}\``,
    '',
    mdTable(rows),
    '',
    'Medians (p90) over interleaved runs; ratio = nslocate median / reference median; "met?" judges the median.',
    '',
    '## Machine',
    '',
    `- nproc ${meta.nproc} (${meta.cpu}), kernel ${meta.kernel}, node ${meta.node}, ${meta.tools.pgrep}, ${meta.tools.lslocks}`,
    `- load average at start ${meta.start.loadavg.join(' ')}, at end ${meta.end.loadavg.join(' ')}; processes at start ${meta.start.processes}${meta.busy ? ' — **busy machine: other work competed for the CPUs; figures unreliable**' : ''}`,
    `- extra processes: ${meta.procs}; CLI runs: ${meta.runs}; spawn overhead (spawnSync /bin/true) median ${meta.spawn_overhead_ms} ms`,
    `- one read of /proc/locks: ${meta.kernel_costs.proc_locks_cold_ms} ms cold (60 ms after the previous one; p90 ${meta.kernel_costs.proc_locks_cold_p90_ms} ms), ${meta.kernel_costs.proc_locks_warm_ms} ms back to back`,
    meta.git ? `- nslocate ${meta.git.commit}${meta.git.source_dirty ? ' (with uncommitted source changes)' : ''}` : '',
    '',
    '## Reference commands',
    '',
    ...[...new Set(refs)],
    '',
    ...results.filter((r) => r.note).map((r) => `- ${r.id}: ${r.note}`),
    ...(errors.length ? ['', '## Errors', '', ...errors.map((e) => `- ${e.id}: ${e.message.split('\n')[0]}`)] : []),
    ...(skippedNotes.length ? ['', '## Not measured', '', ...skippedNotes.map((n) => `- ${n}`)] : []),
    '',
    '![chart](chart.svg)',
    '',
  ].join('\n')
  fs.writeFileSync(path.join(RESULTS_DIR, 'results.md'), md)
  fs.writeFileSync(path.join(RESULTS_DIR, 'chart.svg'), svgChart(meta))
  return rows
}

// ---------------------------------------------------------------------------------------------
// Main

const T0 = hrMs()

async function main() {
  const opts = parseOptions(process.argv.slice(2))
  if (process.platform !== 'linux') throw new Error('nslocate is Linux-only')
  if (process.getuid && process.getuid() !== 0) warn('not root: fd scans and pgrep --ns of other users\' processes will be partial; figures assume root')
  const start = machineFacts('start')
  const meta = {
    when: start.when, command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(), smoke: opts.smoke, procs: opts.procs, runs: opts.runs,
    nproc: start.nproc, cpu: start.cpu, kernel: os.release(), node: process.version,
    tools: {pgrep: toolVersion(['pgrep', '-V']), lslocks: toolVersion(['lslocks', '-V'])},
    git: gitFacts(), start, end: null, duration_s: null, spawn_overhead_ms: null, kernel_costs: null,
    method: 'CLI figures: wall time around spawnSync (fork+exec+exit) from this process, commands interleaved round-robin after warm-up; in-process figures: performance.now/hrtime',
  }
  log(`nproc ${meta.nproc}, load ${start.loadavg.join(' ')}, node ${meta.node}, kernel ${meta.kernel}, ${start.processes} processes; procs ${opts.procs}, runs ${opts.runs}${opts.smoke ? ', SMOKE' : ''}`)

  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-bench-'))
  const bins = buildHelpers(tmpDir)
  const {lib, binding} = await loadLibrary()
  const ctx = {opts, dir: tmpDir, bins, lib, binding}
  {
    const t = []
    for (let i = 0; i < 10; i++) t.push(timeOnce({argv: ['/bin/true']}))
    meta.spawn_overhead_ms = Number(stats(t).median.toFixed(2))
  }
  meta.kernel_costs = await procLocksCost()

  const attempt = async (id, fn) => {
    if (!opts.only.has(id)) return undefined
    try {
      return await fn()
    } catch (error) {
      errors.push({id, message: String(error && error.stack || error)})
      warn(`${id} could not be measured: ${error && error.message}`)
      return undefined
    }
  }

  // Phase 1: an ordinary process table.
  let posixHolder = await attempt('find-posix', () => measureFindPosix(ctx))
  if (opts.only.has('startup')) {
    await attempt('startup', async () => {
      const file = path.join(tmpDir, 'posix', 'nslbench.pid')
      if (!posixHolder) {
        fs.mkdirSync(path.dirname(file), {recursive: true})
        posixHolder = await startReady(bins.holder, ['posix', file, '--write-pid'], {what: 'posix holder'})
      }
      await measureStartup(ctx, posixHolder, file)
    })
  }
  if (opts.only.has('locate-rate')) {
    await attempt('locate-rate', async () => {
      let h = posixHolder
      if (!h) {
        const file = path.join(tmpDir, 'posix', 'nslbench.pid')
        fs.mkdirSync(path.dirname(file), {recursive: true})
        h = await startReady(bins.holder, ['posix', file, '--write-pid'], {what: 'posix holder'})
      }
      try {
        await measureLocateRate(ctx, h)
      } finally {
        await stop(h.entry)
      }
    })
  } else if (posixHolder) {
    await stop(posixHolder.entry)
  }
  await attempt('signal', () => measureSignal(ctx))
  await attempt('wait', () => measureWait(ctx, {label: '', id: 'wait'}))
  await attempt('find-container', () => measureFindContainer(ctx))
  const sidecar = require('./sidecar')
  const helpers = {NODE, BIN_RUN, cleanEnv, track, lines, startReady, stop, stats, ratioRow, realMs, hrMs, sleep, log, timeOnce}
  await attempt('reload', () => sidecar.measureReload(ctx, helpers))
  await attempt('serve', () => sidecar.measureServe(ctx, helpers))
  await attempt('list-scale', () => measureListScale(ctx))

  // Phase 2: N more processes.
  const needProcs = ['find-unlocked', 'find-flock', 'wait'].some((id) => opts.only.has(id))
  let sleepers = null
  let svc = null
  try {
    if (needProcs) {
      if (opts.only.has('find-unlocked')) svc = await attempt('find-unlocked', () => startNsService(ctx))
      sleepers = await startSleepers(ctx)
      if (svc) await attempt('find-unlocked', () => measureFindUnlocked(ctx, svc))
      await attempt('find-flock', () => measureFindFlock(ctx))
      if (opts.procs > 0) await attempt('wait', () => measureWait(ctx, {label: `, +${opts.procs} procs`, id: 'wait-procs'}))
    }
  } finally {
    if (svc) await stop(svc.entry)
    await stopSleepers(sleepers)
  }

  // Report
  meta.end = machineFacts('end')
  meta.duration_s = Number(((hrMs() - T0) / 1000).toFixed(1))
  // The bench itself keeps about 1.5 cores busy, which shows in the load average at the end.
  meta.busy = start.loadavg[0] > meta.nproc || meta.end.loadavg[0] > meta.nproc + 1.5
  const rows = writeOutputs(meta)
  const out = [
    '',
    `nslocate bench${opts.smoke ? ' (SMOKE: tiny sizes, figures not meaningful)' : ''}: ${meta.duration_s} s`,
    `machine: nproc ${meta.nproc} (${meta.cpu}), kernel ${meta.kernel}, node ${meta.node}; load average start ${start.loadavg.join(' ')}, end ${meta.end.loadavg.join(' ')}; ${start.processes} processes at start (+${opts.procs} for the scan figures); spawn overhead ${meta.spawn_overhead_ms} ms; /proc/locks read cold ${meta.kernel_costs.proc_locks_cold_ms} ms, warm ${meta.kernel_costs.proc_locks_warm_ms} ms`,
    '',
    textTable(rows),
    '',
    'Medians (p90) over interleaved runs; ratio = nslocate median / reference median; "met?" judges the median.',
    'Reference commands:',
    ...[...new Set(results.filter((r) => r.reference).map((r) => `  ${r.reference.label}: ${r.reference.command}`))],
    `Written: ${rel(path.join(RESULTS_DIR, 'results.json'))}, results.md, chart.svg`,
  ]
  if (meta.busy) out.push('', `NOTE: the 1-minute load average (${start.loadavg[0]} at start, ${meta.end.loadavg[0]} at end) exceeded nproc (${meta.nproc}) at start, or nproc + 1.5 at end (the bench's own share): other work competed for the CPUs; compare with a quieter run before drawing conclusions.`)
  if (skippedNotes.length) out.push('', ...skippedNotes.map((n) => `not measured: ${n}`))
  if (errors.length) out.push('', `${errors.length} measurement(s) could not run:`, ...errors.map((e) => `  ${e.id}: ${e.message.split('\n')[0]}`))
  process.stdout.write(out.join('\n') + '\n')
  return errors.length ? 1 : 0
}

main().then(
  (status) => {
    cleanupSync()
    process.exitCode = status
  },
  async (error) => {
    process.stderr.write(`bench: ${error && error.stack || error}\n`)
    killAllSync()
    cleanupSync()
    process.exitCode = 1
  },
)
