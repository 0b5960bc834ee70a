'use strict'
/**
 * The sidecar measurements of bench/run.js (kept apart so run.js stays a list of measurements):
 *   reload         file change (rename of a new config over the watched file) to the service's
 *                  SIGUSR1 handler stamp, through `nslocate reload --debounce 0ms` (the pipeline:
 *                  inotify, fingerprint, locate, pin, pidfd_send_signal); the configured debounce adds to it
 *   reload-burst   signals the service received for 100 changes in one second, default debounce (1 s)
 *   serve          GET /healthz/NAME and GET /metrics on `nslocate serve`, vs the exec probe
 *                  `nslocate find NAME --quiet` a health check would otherwise run
 * `h` carries run.js's helpers (startReady, stop, lines, stats, ratioRow, ...).
 */
const {spawn} = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')

async function startCli(h, args, what) {
  const child = spawn(h.NODE, [h.BIN_RUN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: h.cleanEnv()})
  const entry = h.track(child, what, false)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d })
  return {entry, reader: h.lines(child, what), stderr: () => stderr}
}

function changeConfig(file, content) {
  fs.writeFileSync(`${file}.new`, content)
  fs.renameSync(`${file}.new`, file)
}

async function measureReload(ctx, h) {
  const {opts, dir, bins} = ctx
  const sdir = path.join(dir, 'reload')
  fs.mkdirSync(sdir, {recursive: true})
  const file = path.join(sdir, 'nslbenchrl.pid')
  const conf = path.join(sdir, 'app.conf')
  fs.writeFileSync(conf, '0')
  const svc = await h.startReady(bins.sigholder, [file], {what: 'reload service'})
  const rl = await startCli(h, ['reload', 'nslbenchrl', '--pidfile', file, '--watch', conf, '--signal', 'USR1', '--debounce', '0ms'], 'nslocate reload')
  try {
    await rl.reader.next('{"time":', 60_000) // start
    const iters = opts.smoke ? 3 : Math.max(20, opts.runs * 2)
    const lat = []
    h.log(`reload: ${iters} changes, one at a time`)
    for (let i = 1; i <= iters + 1; i++) {
      const t0 = h.realMs()
      changeConfig(conf, String(i))
      const [, rt] = (await svc.reader.next('usr1', 10_000)).split(' ')
      if (i > 1) lat.push(Number(rt) / 1e6 - t0) // the first one warms up
      await h.sleep(150)
    }
    h.ratioRow({id: 'reload', metric: 'reload: file change to signal received (--debounce 0ms)', unit: 'ms', ours: h.stats(lat),
      note: 'from before rename(2) of a new config over the watched file to the CLOCK_REALTIME stamp in the service\'s SIGUSR1 handler; inotify on the directory, sha256 of the file, locate, pidfd pin and lock re-check, pidfd_send_signal. The configured --debounce (default 1 s) adds to this.'})
  } finally {
    await h.stop(rl.entry, {signal: 'SIGTERM'})
  }
  // 100 changes in one second, default debounce (1 s).
  const burst = await startCli(h, ['reload', 'nslbenchrl', '--pidfile', file, '--watch', conf, '--signal', 'USR1'], 'nslocate reload (burst)')
  try {
    await burst.reader.next('{"time":', 60_000)
    await h.sleep(100)
    let got = 0
    const counting = (async () => {
      for (;;) {
        try {
          await svc.reader.next('usr1', 60_000)
          got++
        } catch {
          return
        }
      }
    })()
    const t0 = h.hrMs()
    for (let i = 0; i < 100; i++) {
      changeConfig(conf, `burst ${i}`)
      const wait = t0 + (i + 1) * 10 - h.hrMs()
      if (wait > 0) await h.sleep(wait)
    }
    await h.sleep(2500) // 1 s debounce after the last change, and margin
    h.ratioRow({id: 'reload-burst', metric: 'reload: signals received for 100 changes in 1 s (default --debounce 1s)', unit: 'signals', ours: h.stats([got]),
      note: 'counted in the service (its SIGUSR1 handler\'s lines), not in nslocate\'s log'})
    void counting
  } finally {
    await h.stop(burst.entry, {signal: 'SIGTERM'})
    await h.stop(svc.entry)
  }
}

function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    http.get({host: '127.0.0.1', port, path: urlPath, agent: false}, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    }).on('error', reject)
  })
}

async function measureServe(ctx, h) {
  const {opts, dir, bins} = ctx
  const sdir = path.join(dir, 'serve')
  fs.mkdirSync(sdir, {recursive: true})
  const file = path.join(sdir, 'nslbenchsv.pid')
  const svc = await h.startReady(bins.sigholder, [file], {what: 'serve service'})
  const srv = await startCli(h, ['serve', 'nslbenchsv', '--pidfile', file, '--listen', '127.0.0.1:0', '--interval', '1h'], 'nslocate serve')
  try {
    const port = Number(JSON.parse(await srv.reader.next('{"time":', 60_000)).address.split(':').pop())
    const n = opts.smoke ? 5 : 200
    const lat = {healthz: [], metrics: []}
    for (const p of ['/healthz/nslbenchsv', '/metrics']) if ((await get(port, p)) !== 200) throw new Error(`GET ${p}: not 200`)
    h.log(`serve: ${n} requests each to /healthz/NAME and /metrics`)
    for (let i = 0; i < n; i++) {
      for (const [key, p] of [['healthz', '/healthz/nslbenchsv'], ['metrics', '/metrics']]) {
        const t0 = h.hrMs()
        await get(port, p)
        lat[key].push(h.hrMs() - t0)
      }
    }
    const probe = []
    for (let i = 0; i < Math.max(3, Math.min(opts.runs, 15)); i++) probe.push(h.timeOnce({argv: [h.NODE, h.BIN_RUN, 'find', 'nslbenchsv', '--pidfile', file, '--quiet']}))
    const ref = {label: 'exec probe', command: 'nslocate find NAME --pidfile FILE --quiet (what an exec health check runs)', stats: h.stats(probe)}
    h.ratioRow({id: 'serve-healthz', metric: 'serve: GET /healthz/NAME (new connection each)', unit: 'ms', ours: h.stats(lat.healthz), ref,
      note: 'HTTP round trip on loopback including a fresh locate (one F_GETLK)'})
    h.ratioRow({id: 'serve-metrics', metric: 'serve: GET /metrics (new connection each)', unit: 'ms', ours: h.stats(lat.metrics), ref,
      note: 'HTTP round trip including a fresh locate and prom-client\'s text rendering'})
  } finally {
    await h.stop(srv.entry, {signal: 'SIGTERM'})
    await h.stop(svc.entry)
  }
}

module.exports = {measureReload, measureServe}
