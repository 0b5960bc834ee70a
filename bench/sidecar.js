'use strict'
/**
 * The sidecar figures:
 *   reload        file change (rename of a new config over the watched file) to the service's SIGUSR1
 *                 handler stamp, through `nslocate reload --debounce 0ms` (inotify, fingerprint,
 *                 locate, pin, pidfd_send_signal); tinybench, the task reports the stamped latency
 *   reload-burst  signals the service received for 100 changes in one second, default debounce (1 s)
 *   serve         GET /healthz/NAME and GET /metrics on `nslocate serve` (tinybench), vs the exec
 *                 probe `nslocate find NAME --quiet` a health check would otherwise run (hyperfine)
 */
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const {performance} = require('node:perf_hooks')
const {latencies, hyperfine, single, cleanEnv} = require('./lib/measure')
const {BIN_RUN, NODE} = require('./lib/fixtures')
const {sleep, startReady, startTracked, stop} = require('./lib/procs')
const report = require('./lib/report')

const monoMs = () => Number(process.hrtime.bigint()) / 1e6 // CLOCK_MONOTONIC, as sigholder.c's second stamp
const cli = (args, what) => startTracked(NODE, [BIN_RUN, ...args], {what, env: cleanEnv()})

function changeConfig(file, content) {
  fs.writeFileSync(`${file}.new`, content)
  fs.renameSync(`${file}.new`, file)
}

/** A service (POSIX-locked pidfile, stamps SIGUSR1) and its config file, in dir/sub. */
async function service(ctx, sub, name) {
  const d = path.join(ctx.dir, sub)
  fs.mkdirSync(d, {recursive: true})
  const file = path.join(d, `${name}.pid`)
  const conf = path.join(d, 'app.conf')
  fs.writeFileSync(conf, '0')
  return {...(await startReady(ctx.bins.sigholder, [file], {what: `${sub} service`})), file, conf}
}

async function reloadLatency(ctx, svc) {
  const rl = cli(['reload', 'nslbenchrl', '--pidfile', svc.file, '--watch', svc.conf, '--signal', 'USR1', '--debounce', '0ms'], 'nslocate reload')
  try {
    await rl.reader.next('{"time":', 60_000) // started
    let i = 0
    const fn = async () => {
      const t0 = monoMs()
      changeConfig(svc.conf, String(++i))
      const [, , mono] = (await svc.reader.next('usr1', 10_000)).split(' ')
      return {overriddenDuration: Number(mono) / 1e6 - t0}
    }
    ctx.log(`reload: ${ctx.opts.iterations} changes, one at a time`)
    const s = await latencies({reload: {fn, afterEach: () => sleep(150)}}, {iterations: ctx.opts.iterations})
    const note =
      "from before rename(2) of a new config over the watched file to the CLOCK_MONOTONIC stamp in the service's SIGUSR1 handler; the configured --debounce (default 1 s) adds to this"
    report.row({id: 'reload', metric: 'reload: file change to signal received (--debounce 0ms)', unit: 'ms', tool: 'tinybench', ours: s.reload, note})
  } finally {
    await stop(rl.entry, {signal: 'SIGTERM'})
  }
}

async function reloadBurst(ctx, svc) {
  const rl = cli(['reload', 'nslbenchrl', '--pidfile', svc.file, '--watch', svc.conf, '--signal', 'USR1'], 'nslocate reload (burst)')
  try {
    await rl.reader.next('{"time":', 60_000)
    await sleep(100)
    let got = 0
    const counting = (async () => {
      while (
        await svc.reader.next('usr1', 60_000).then(
          () => true,
          () => false,
        )
      )
        got++
    })()
    const t0 = performance.now()
    for (let i = 0; i < 100; i++) {
      changeConfig(svc.conf, `burst ${i}`)
      await sleep(t0 + (i + 1) * 10 - performance.now()) // one change every 10 ms
    }
    await sleep(2500) // the 1 s debounce after the last change, and margin
    const note = "counted in the service (its SIGUSR1 handler's lines), not in nslocate's log"
    report.row({
      id: 'reload-burst',
      metric: 'reload: signals received for 100 changes in 1 s (default --debounce 1s)',
      unit: 'signals',
      tool: 'count',
      ours: single(got),
      note,
    })
    void counting
  } finally {
    await stop(rl.entry, {signal: 'SIGTERM'})
  }
}

async function measureReload(ctx) {
  const svc = await service(ctx, 'reload', 'nslbenchrl')
  try {
    await reloadLatency(ctx, svc)
    await reloadBurst(ctx, svc)
  } finally {
    await stop(svc.entry)
  }
}

function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    http
      .get({host: '127.0.0.1', port, path: urlPath, agent: false}, (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${urlPath}: ${res.statusCode}`))))
      })
      .on('error', reject)
  })
}

async function serveFigures(ctx, svc, port) {
  const n = ctx.opts.smoke ? 5 : 200
  ctx.log(`serve: ${n} requests each to /healthz/NAME and /metrics`)
  const s = await latencies({healthz: () => get(port, '/healthz/nslbenchsv'), metrics: () => get(port, '/metrics')}, {iterations: n, warmup: 2})
  const probe = {key: 'probe', argv: [NODE, BIN_RUN, 'find', 'nslbenchsv', '--pidfile', svc.file, '--quiet']}
  const runs = Math.max(3, Math.min(ctx.opts.runs, 15))
  const p = (await hyperfine([probe], {runs, warmup: ctx.opts.warmup, log: ctx.log})).probe
  const ref = {label: 'exec probe', command: 'nslocate find NAME --pidfile FILE --quiet (what an exec health check runs; hyperfine)', stats: p}
  const common = {unit: 'ms', tool: 'tinybench', ref}
  report.row({
    id: 'serve-healthz',
    metric: 'serve: GET /healthz/NAME (new connection each)',
    ...common,
    ours: s.healthz,
    note: 'HTTP round trip on loopback including a fresh locate',
  })
  report.row({
    id: 'serve-metrics',
    metric: 'serve: GET /metrics (new connection each)',
    ...common,
    ours: s.metrics,
    note: "HTTP round trip including a fresh locate and prom-client's rendering",
  })
}

async function measureServe(ctx) {
  const svc = await service(ctx, 'serve', 'nslbenchsv')
  const srv = cli(['serve', 'nslbenchsv', '--pidfile', svc.file, '--listen', '127.0.0.1:0', '--interval', '1h'], 'nslocate serve')
  try {
    const port = Number(
      JSON.parse(await srv.reader.next('{"time":', 60_000))
        .address.split(':')
        .pop(),
    )
    await serveFigures(ctx, svc, port)
  } finally {
    await stop(srv.entry, {signal: 'SIGTERM'})
    await stop(svc.entry)
  }
}

module.exports = {measureReload, measureServe}
