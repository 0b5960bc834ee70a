'use strict'
/**
 * The two measuring tools, and one shape for what they report.
 *   hyperfine  command wall times (Debian's hyperfine, `-N`: no shell; `--export-json`; warm-ups;
 *              the order of runs is hyperfine's: all runs of one command, then the next)
 *   tinybench  in-process figures: calls per second, and latencies a task measures itself
 *              (`overriddenDuration`, e.g. from a stamp another process took)
 * Both come back as {n, median, mean, sd, min, max} in ms (rates: calls/s); hyperfine adds cpu
 * (mean user + system ms).
 */
const fs = require('node:fs')
const {Bench} = require('tinybench')
const {run, tmpFile} = require('./procs')

const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)
const shown = (argv) => argv.map(quote).join(' ')

/** The environment every timed command gets: the default path and every kernel feature, whatever the caller's says. */
function cleanEnv() {
  const env = {...process.env}
  delete env.NSLOCATE_NO_FAST_PATH
  delete env.NSLOCATE_FORCE_FALLBACK
  delete env.NODE_OPTIONS
  return env
}

function fromHyperfine(r) {
  const ms = (s) => s * 1000
  return {n: r.times.length, median: ms(r.median), mean: ms(r.mean), sd: ms(r.stddev ?? 0), min: ms(r.min), max: ms(r.max), cpu: ms(r.user + r.system)}
}

/**
 * One hyperfine run over `cmds` ([{key, argv}]): {key: stats}. A failing command fails the run
 * (hyperfine stops on a non-zero exit); it is retried twice, since dist/ may be half-written by a
 * concurrent `npm run build`.
 */
async function hyperfine(cmds, {runs, warmup, log}) {
  const json = tmpFile('hyperfine.json') // in the run's temp dir: removed on every way out
  const args = ['-N', '--style', 'basic', '--runs', String(runs), '--warmup', String(warmup), '--export-json', json]
  for (const c of cmds) args.push('-n', c.key)
  args.push(...cmds.map((c) => shown(c.argv)))
  for (let attempt = 1; ; attempt++) {
    const r = await run('hyperfine', args, {env: cleanEnv(), timeoutMs: 30 * 60_000})
    if (r.status === 0) {
      const out = JSON.parse(fs.readFileSync(json, 'utf8')).results
      return Object.fromEntries(out.map((x, i) => [cmds[i].key, fromHyperfine(x)]))
    }
    const why = `hyperfine exit ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(-600)}`
    if (attempt >= 3) throw new Error(why)
    log(`WARNING: ${why}; retrying in 3 s (dist/ may be being rebuilt)`)
    await new Promise((resolve) => setTimeout(resolve, 3000))
  }
}

function fromTinybench(s) {
  return {n: s.samplesCount, median: s.p50, mean: s.mean, sd: s.sd, min: s.min, max: s.max}
}

async function runBench(bench) {
  await bench.run()
  for (const t of bench.tasks) if (t.result.state !== 'completed') throw new Error(`${t.name}: ${t.result.error?.stack ?? t.result.state}`)
  return Object.fromEntries(bench.tasks.map((t) => [t.name, t.result]))
}

/** Calls per second of each function in `fns` ({name: fn}; an `async` one is awaited), `ms` per function after a warm-up. */
async function rates(fns, {ms}) {
  const bench = new Bench({time: ms, warmupTime: Math.min(300, ms), throws: true})
  for (const [name, fn] of Object.entries(fns)) bench.add(name, fn) // an async function is awaited
  const res = await runBench(bench)
  return Object.fromEntries(Object.entries(res).map(([k, r]) => [k, fromTinybench(r.throughput)]))
}

/**
 * Latencies in ms of `iterations` calls of each task ({name: fn | {fn, beforeEach, afterEach}}),
 * after `warmup` calls. A task may return {overriddenDuration: ms} to report what it measured itself.
 */
async function latencies(tasks, {iterations, warmup = 1}) {
  const bench = new Bench({time: 0, iterations, warmupTime: 0, warmupIterations: warmup, warmup: warmup > 0, throws: true})
  for (const [name, t] of Object.entries(tasks)) {
    const {fn, ...hooks} = typeof t === 'function' ? {fn: t} : t
    bench.add(name, fn, {...hooks, async: true}) // never called just to find out (it may send a signal)
  }
  const res = await runBench(bench)
  return Object.fromEntries(Object.entries(res).map(([k, r]) => [k, fromTinybench(r.latency)]))
}

/** A figure that is one value (a count), in the same shape. */
const single = (v) => ({n: 1, median: v, mean: v, sd: 0, min: v, max: v})

module.exports = {hyperfine, rates, latencies, single, cleanEnv, shown}
