#!/usr/bin/env node
'use strict'
/**
 * nslocate benchmark: `npm run bench` (full, a few minutes) or `npm run bench -- --smoke` (CI).
 * Command timings come from hyperfine (-N, --export-json), in-process figures from tinybench; this
 * file parses the options (node:util parseArgs), sets up the fixtures in order and writes the
 * report. What each figure means: bench/README.md. Targets are reported, never asserted: exit
 * status 0 whether or not they are met, 1 when a measurement could not run, 2 on a bad option.
 */
const path = require('node:path')
const {parseArgs} = require('node:util')
const procs = require('./lib/procs')
const fixtures = require('./lib/fixtures')
const report = require('./lib/report')
const cli = require('./scenarios/cli')
const library = require('./scenarios/library')
const {listScale} = require('./scenarios/list-scale')
const {syscallsPerCall} = require('./scenarios/syscalls')
const sidecar = require('./sidecar')
const {runtimes} = require('./scenarios/runtimes')
const {pidfs} = require('./scenarios/pidfs')
const {cgroup} = require('./scenarios/cgroup')

const IDS = [
  'find-posix',
  'startup',
  'find-unlocked',
  'find-flock',
  'locate-rate',
  'signal',
  'wait',
  'find-container',
  'runtimes',
  'reload',
  'serve',
  'list-scale',
  'pidfs',
  'cgroup',
]
const USAGE = `usage: node bench/run.js [--smoke] [--procs N] [--runs N] [--only LIST]
  --procs N    other processes in the table for find-unlocked, find-flock and wait-procs (default 5000; env NSLOCATE_BENCH_PROCS)
  --runs N     hyperfine runs per command (default 15; env NSLOCATE_BENCH_RUNS); in-process figures scale with it
  --smoke      tiny sizes and few runs (CI; figures not meaningful; env NSLOCATE_BENCH_SMOKE=1)
  --only LIST  comma-separated subset of: ${IDS.join(',')}
Results: a table on stdout, results.json and results.md in bench/results/ (env NSLOCATE_BENCH_OUT=DIR)`

const T0 = performance.now()
const log = (msg) => process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`)

function usageError(msg) {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`)
  process.exit(2)
}

function count(v, name, min, dflt) {
  if (v === undefined || v === '') return dflt
  if (!/^[0-9]+$/.test(v) || Number(v) < min) usageError(`${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`)
  return Number(v)
}

function parseOptions(argv, env) {
  const spec = {smoke: {type: 'boolean'}, procs: {type: 'string'}, runs: {type: 'string'}, only: {type: 'string'}, help: {type: 'boolean', short: 'h'}}
  let values
  try {
    values = parseArgs({args: argv, options: spec, strict: true}).values
  } catch (error) {
    usageError(error.message)
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n')
    process.exit(0)
  }
  const smoke = values.smoke || env.NSLOCATE_BENCH_SMOKE === '1'
  const only = values.only === undefined ? IDS : values.only.split(',').filter(Boolean)
  for (const id of only) if (!IDS.includes(id)) usageError(`--only: unknown measurement ${id}`)
  const runs = count(values.runs ?? env.NSLOCATE_BENCH_RUNS, '--runs', 1, smoke ? 3 : 15)
  return {
    smoke,
    runs,
    procs: count(values.procs ?? env.NSLOCATE_BENCH_PROCS, '--procs', 0, smoke ? 200 : 5000),
    only: new Set(only),
    warmup: smoke ? 1 : 3,
    rateMs: smoke ? 150 : 1000, // tinybench time per task, calls/s
    iterations: smoke ? 3 : Math.max(20, runs * 2), // tinybench iterations of each latency task
    out: env.NSLOCATE_BENCH_OUT ? path.resolve(env.NSLOCATE_BENCH_OUT) : path.join(__dirname, 'results'),
  }
}

/** Run one measurement if selected; an error is recorded and reported, and the others go on. */
async function attempt(ctx, id, fn) {
  if (!ctx.opts.only.has(id)) return undefined
  try {
    return await fn()
  } catch (error) {
    report.errors.push({id, message: String(error?.stack ?? error)})
    log(`WARNING: ${id} could not be measured: ${error?.message}`)
    return undefined
  }
}

/** Phase 1, an ordinary process table: one POSIX-locked pidfile serves find-posix, startup and locate-rate. */
async function phase1(ctx) {
  const on = (id) => ctx.opts.only.has(id)
  if (['find-posix', 'startup', 'locate-rate'].some(on)) {
    const h = await fixtures.startHolder(ctx, 'posix', path.join(ctx.dir, 'posix'), 'nslbench')
    try {
      await attempt(ctx, 'find-posix', () => cli.findPosix(ctx, h))
      await attempt(ctx, 'startup', () => cli.startup(ctx, h))
      await attempt(ctx, 'locate-rate', async () => {
        await library.locateRate(ctx, h)
        await syscallsPerCall(ctx, h)
      })
    } finally {
      await procs.stop(h.entry)
    }
  }
  await attempt(ctx, 'signal', () => library.signal(ctx))
  await attempt(ctx, 'wait', () => library.wait(ctx, {id: 'wait', label: ''}))
  await attempt(ctx, 'find-container', () => cli.findContainer(ctx))
  await attempt(ctx, 'runtimes', () => runtimes(ctx))
  await attempt(ctx, 'reload', () => sidecar.measureReload(ctx))
  await attempt(ctx, 'serve', () => sidecar.measureServe(ctx))
  await attempt(ctx, 'list-scale', () => listScale(ctx))
  await attempt(ctx, 'pidfs', () => pidfs(ctx))
  await attempt(ctx, 'cgroup', () => cgroup(ctx))
}

async function findUnlocked(ctx, svc) {
  const ref = await cli.findUnlocked(ctx, svc)
  const metric = `locate() alone, same unlocked pidfile, +${ctx.opts.procs} procs (library)`
  await library.locateSpaced(ctx, {id: 'find-unlocked-lib', metric, name: 'nslbenchsvc', file: svc.file, pid: svc.hostPid, ref})
}

async function findFlock(ctx) {
  const h = await fixtures.startHolder(ctx, 'flock', path.join(ctx.dir, 'flock'), 'nslbenchfl')
  try {
    const ref = await cli.findFlock(ctx, h)
    const metric = `locate() alone, same flock-held pidfile, +${ctx.opts.procs} procs (library)`
    await library.locateSpaced(ctx, {id: 'find-flock-lib', metric, name: h.name, file: h.file, pid: h.pid, ref})
  } finally {
    await procs.stop(h.entry)
  }
}

/** Phase 2: --procs more processes, and a service in a PID namespace of its own. */
async function phase2(ctx) {
  const {opts} = ctx
  if (!['find-unlocked', 'find-flock', 'wait'].some((id) => opts.only.has(id))) return
  let svc = null
  let sleepers = null
  try {
    svc = await attempt(ctx, 'find-unlocked', () => fixtures.startNsService(ctx))
    sleepers = await fixtures.startSleepers(ctx, opts.procs, log)
    if (svc) await attempt(ctx, 'find-unlocked', () => findUnlocked(ctx, svc))
    await attempt(ctx, 'find-flock', () => findFlock(ctx))
    if (opts.procs > 0) await attempt(ctx, 'wait', () => library.wait(ctx, {id: 'wait-procs', label: `, +${opts.procs} procs`}))
  } finally {
    if (svc) await procs.stop(svc.entry)
    await fixtures.stopSleepers(sleepers)
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2), process.env)
  if (process.platform !== 'linux') throw new Error('nslocate is Linux-only')
  if (process.getuid() !== 0) log("WARNING: not root: fd scans and pgrep --ns of other users' processes will be partial")
  procs.installCleanup()
  const meta = {command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(), smoke: opts.smoke, procs: opts.procs, runs: opts.runs}
  meta.machine = report.machineFacts(fixtures.ROOT)
  meta.start = report.loadFacts()
  log(
    `nproc ${meta.machine.nproc}, load ${meta.start.loadavg.join(' ')}, ${meta.start.processes} processes; procs ${opts.procs}, runs ${opts.runs}${opts.smoke ? ', SMOKE' : ''}`,
  )
  const dir = procs.makeTmpDir()
  const ctx = {opts, dir, log, bins: fixtures.buildHelpers(dir), ...(await fixtures.loadLibrary(log))}
  meta.proc_locks = await library.procLocksCost()
  await phase1(ctx)
  await phase2(ctx)
  meta.end = report.loadFacts()
  meta.duration_s = Number(((performance.now() - T0) / 1000).toFixed(1))
  // the bench itself keeps about 1.5 cores busy, which shows in the load average at the end
  meta.busy = meta.start.loadavg[0] > meta.machine.nproc || meta.end.loadavg[0] > meta.machine.nproc + 1.5
  process.stdout.write(report.writeOutputs(opts.out, meta))
  return report.errors.length ? 1 : 0
}

main().then(
  (status) => {
    procs.cleanupSync()
    process.exitCode = status
  },
  (error) => {
    process.stderr.write(`bench: ${error?.stack ?? error}\n`)
    procs.cleanupSync()
    process.exitCode = 1
  },
)
