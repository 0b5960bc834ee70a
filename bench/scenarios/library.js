'use strict'
/**
 * In-process figures, measured with tinybench: locate() calls per second against the bare probe,
 * signal() and waitFor() latencies (from stamps the service takes in its signal handler and just
 * before it exits), and locate() alone on the scan scenarios.
 */
const fs = require('node:fs')
const path = require('node:path')
const {rates, latencies} = require('../lib/measure')
const {sleep, startReady, stop} = require('../lib/procs')
const report = require('../lib/report')

/**
 * CLOCK_MONOTONIC in ms (libuv's uv_hrtime), and the same clock from a stamp line of sigholder.c
 * ("usr1|exit <realtime_ns> <monotonic_ns>"): one clock on both sides, so no wall-clock skew.
 */
const monoMs = () => Number(process.hrtime.bigint()) / 1e6
const stampMs = (line) => Number(line.split(' ')[2]) / 1e6

function expectRunning(r, pid, what) {
  if (r.state !== 'running' || r.pid !== pid) throw new Error(`${what}: expected running pid ${pid}, got ${r.state} ${r.pid}`)
}

const BARE_PROBE = 'open + read + F_GETLK (addon) + read /proc/PID/status + close, from Node'

/** The least a "running, which pid" answer takes from Node: open, read, F_GETLK, read /proc/PID/status, close. */
function bareProbe(binding, file) {
  const buf = Buffer.alloc(64)
  return () => {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    try {
      fs.readSync(fd, buf, 0, 64, 0)
      fs.readFileSync(`/proc/${binding.probePosixLock(fd).pid}/status`, 'latin1')
    } finally {
      fs.closeSync(fd)
    }
  }
}

/**
 * locate() calls/s on a POSIX-locked pidfile vs the bare probe (target: >= 0.5x the probe): the
 * public locate(), awaited (it returns a promise since issue 18), and locateSync() where the library
 * has it (the same lookup without the promise), each a tinybench task.
 */
async function locateRate(ctx, h) {
  const opts = {name: h.name, pidfile: h.file}
  expectRunning(await ctx.lib.locate(opts), h.pid, 'locate()')
  const tasks = {locate: async () => void (await ctx.lib.locate(opts)), bare: bareProbe(ctx.binding, h.file)}
  if (ctx.lib.locateSync) tasks.locateSync = () => ctx.lib.locateSync(opts)
  ctx.log(`locate-rate: tinybench, ${ctx.opts.rateMs} ms each for ${Object.keys(tasks).join(', ')}`)
  const s = await rates(tasks, {ms: ctx.opts.rateMs})
  const common = {unit: 'calls/s', tool: 'tinybench', ref: {label: 'bare probe', command: BARE_PROBE, stats: s.bare}}
  const note = `one Node process, calls back to back, ${ctx.opts.rateMs} ms per task after a warm-up`
  const target = {kind: 'ratio_min', value: 0.5, text: '>= 0.5x'}
  report.row({id: 'locate-rate', metric: 'locate() calls/s, POSIX-locked (library)', ...common, ours: s.locate, target, note})
  if (s.locateSync) report.row({id: 'locate-rate-sync', metric: 'locateSync() calls/s, POSIX-locked (library)', ...common, ours: s.locateSync, note})
}

/** signal() from the call to the service's SIGUSR1 handler stamp, vs process.kill() measured alike. */
async function signal(ctx) {
  const file = path.join(ctx.dir, 'sig', 'nslbenchsig.pid')
  fs.mkdirSync(path.dirname(file), {recursive: true})
  const h = await startReady(ctx.bins.sigholder, [file], {what: 'signal holder'})
  try {
    expectRunning(await ctx.lib.locate({name: 'nslbenchsig', pidfile: file}), h.pid, 'locate()')
    const delivered = async (send) => {
      const t0 = monoMs()
      await send()
      return {overriddenDuration: stampMs(await h.reader.next('usr1', 5000)) - t0}
    }
    const lib = async () => {
      const r = await ctx.lib.signal('nslbenchsig', 'USR1', {pidfile: file})
      if (r.delivered?.length !== 1 || r.delivered[0].pid !== h.pid) throw new Error(`signal(): ${r.message}`)
    }
    const afterEach = () => sleep(2)
    ctx.log(`signal: ${ctx.opts.iterations} deliveries each`)
    const s = await latencies(
      {lib: {fn: () => delivered(lib), afterEach}, kill: {fn: () => delivered(() => process.kill(h.pid, 'SIGUSR1')), afterEach}},
      {iterations: ctx.opts.iterations},
    )
    report.row({
      id: 'signal',
      metric: 'signal() start to delivery, POSIX-locked (library)',
      unit: 'ms',
      tool: 'tinybench',
      ours: s.lib,
      ref: {label: 'process.kill', command: 'process.kill(pid, "SIGUSR1") (plain kill(2), no lookup)', stats: s.kill},
      note: "from before signal() to the CLOCK_MONOTONIC stamp in the holder's SIGUSR1 handler; includes locate(), pidfd pin and lock re-check",
    })
  } finally {
    await stop(h.entry)
  }
}

/** One exit: the service's stamp just before _exit(2) to `wait()` resolving; a fresh service each time. */
function exitLatency(ctx, file, wait) {
  return async () => {
    const h = await startReady(ctx.bins.sigholder, [file], {what: 'wait holder'})
    try {
      const waiting = wait(h)
      await sleep(15) // let the wait settle into its poll
      process.kill(h.pid, 'SIGTERM')
      await waiting
      const t1 = monoMs()
      return {overriddenDuration: t1 - stampMs(await h.reader.next('exit', 5000))}
    } finally {
      await stop(h.entry)
    }
  }
}

/** waitFor(NAME, 'stopped') vs a bare pidfd wait (pidfd_open + the addon's waitPidfd); target <= 10 ms. */
async function wait(ctx, {id, label}) {
  const file = path.join(ctx.dir, 'wait', 'nslbenchwait.pid')
  fs.mkdirSync(path.dirname(file), {recursive: true})
  const lib = async () => {
    const r = await ctx.lib.waitFor('nslbenchwait', 'stopped', {pidfile: file, timeoutMs: 15_000})
    if (!r.reached) throw new Error(`waitFor(): ${r.message}`)
  }
  const bare = async (h) => {
    const pidfd = ctx.binding.pidfdOpen(h.pid)
    await ctx.binding.waitPidfd(pidfd).finally(() => fs.closeSync(pidfd))
  }
  ctx.log(`${id}: ${ctx.opts.iterations} exits each`)
  const s = await latencies({lib: exitLatency(ctx, file, lib), bare: exitLatency(ctx, file, bare)}, {iterations: ctx.opts.iterations})
  report.row({
    id,
    metric: `exit to waitFor('stopped') return${label}`,
    unit: 'ms',
    tool: 'tinybench',
    ours: s.lib,
    ref: {label: 'bare pidfd wait', command: 'pidfd_open + uv_poll on the pidfd (addon waitPidfd), no re-locate', stats: s.bare},
    target: {kind: 'abs_max', value: 10, text: '<= 10 ms'},
    note: "from the holder's CLOCK_MONOTONIC stamp just before _exit(2) to waitFor() resolving; includes the re-locate after the wake-up",
  })
}

/** locate() alone, one call every 60 ms in a warm process (kernel caches as cold as for a CLI run). */
async function locateSpaced(ctx, {id, metric, name, file, pid, ref}) {
  const fn = async () => expectRunning(await ctx.lib.locate({name, pidfile: file}), pid, `locate(${file})`)
  const s = await latencies({locate: {fn, beforeEach: () => sleep(60)}}, {iterations: ctx.opts.runs})
  report.row({id, metric, unit: 'ms', tool: 'tinybench', ours: s.locate, ref, note: 'information: the CLI figure without Node start-up (one call every 60 ms)'})
}

/** One read of /proc/locks back to back (warm) and 60 ms apart (cold): what every lock listing pays. */
async function procLocksCost() {
  const read = () => fs.readFileSync('/proc/locks', 'latin1')
  const s = await latencies({warm: read, cold: {fn: read, beforeEach: () => sleep(60)}}, {iterations: 10})
  return {warm: s.warm, cold: s.cold}
}

module.exports = {locateRate, signal, wait, locateSpaced, procLocksCost, bareProbe, BARE_PROBE}
