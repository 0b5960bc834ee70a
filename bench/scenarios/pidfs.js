'use strict'
/**
 * pidfs (issue 20): what the process ids cost. Every answer that names a process now also opens a
 * pidfd on it, fstat(2)s it (the pidfs id) and, on Linux 6.13+, asks ioctl(PIDFD_GET_INFO); a
 * pidfile `nslocate run` wrote also has its identity record read (one fgetxattr(2)). Each figure
 * compares the same work with the ids and with NSLOCATE_FORCE_FALLBACK=pidfs,pidfd-info (as on
 * kernels before 6.9), in the same run:
 *   pidfs-find, pidfs-find-record        hyperfine: `find --quiet` on a POSIX-locked pidfile (holder.c,
 *                                        no record) and on one `nslocate run` wrote (with a record)
 *   pidfs-locate-rate, -locate-rate-record  tinybench: locate() calls/s, one child process per side
 *   pidfs-syscalls                       strace -c: system calls per locate() on the run-written file
 *   pidfs-probe                          tinybench: pidfd_open + fstat + PIDFD_GET_INFO + close
 *                                        against pidfd_open + close (the addon), calls/s
 */
const fs = require('node:fs')
const path = require('node:path')
const {hyperfine, rates, cleanEnv} = require('../lib/measure')
const {BIN_RUN, NODE, startHolder} = require('../lib/fixtures')
const {run, sleep, startTracked, stop} = require('../lib/procs')
const report = require('../lib/report')
const {traced} = require('./syscalls')

const FALLBACK = 'pidfs,pidfd-info'
const CHILD = path.join(__dirname, '..', 'lib', 'pidfs-child.js')
/** The environment of each side: the ids on (the variable set empty: `env` is exec'd on both sides alike) or forced off. */
const sideEnv = (off) => ({...cleanEnv(), NSLOCATE_FORCE_FALLBACK: off ? FALLBACK : ''})
const onOff = (argv) => [
  {key: 'ids', argv: ['env', 'NSLOCATE_FORCE_FALLBACK=', ...argv]},
  {key: 'fallback', argv: ['env', `NSLOCATE_FORCE_FALLBACK=${FALLBACK}`, ...argv]},
]
const REF_LABEL = `NSLOCATE_FORCE_FALLBACK=${FALLBACK}`

/** `nslocate run NAME --dir DIR -- sleep 100000` (its own process group, stopped on every way out): the service's pid, once written. */
async function startRunService(ctx) {
  const dir = path.join(ctx.dir, 'pidfs-run')
  fs.mkdirSync(dir, {recursive: true})
  const name = 'nslbenchrec'
  const file = path.join(dir, `${name}.pid`)
  const svc = startTracked(NODE, [BIN_RUN, 'run', name, '--dir', dir, '--cgroup=none', '--', 'sleep', '100000'], {
    what: `nslocate run ${name}`,
    group: true,
    env: cleanEnv(),
  })
  for (let i = 0; ; i++) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
    if (/^[0-9]+$/.test(text) && Number(text) !== svc.pid) return {...svc, name, file, pid: Number(text)}
    if (i >= 200 || svc.entry.exited) {
      await stop(svc.entry)
      throw new Error(`nslocate run ${name} wrote no pid into ${file} within 10 s: ${svc.stderr()}`)
    }
    await sleep(50)
  }
}

/** `find --json` on both sides: running, the expected pid; an id with the features on, none with them off. */
async function checkSides(t) {
  const facts = {}
  for (const off of [false, true]) {
    const r = await run(NODE, [BIN_RUN, 'find', t.name, '--pidfile', t.file, '--json'], {env: sideEnv(off), timeoutMs: 60_000})
    let j
    try {
      j = JSON.parse(r.stdout)
    } catch {
      throw new Error(`find ${t.name} --json: status ${r.status}, not JSON: ${r.stdout}${r.stderr}`)
    }
    const idOk = off ? j.pidfd_id === null : Number.isSafeInteger(j.pidfd_id) && j.pidfd_id > 0
    if (j.state !== 'running' || j.pid !== t.pid || !idOk) {
      throw new Error(
        `find ${t.name} (${off ? REF_LABEL : 'ids on'}): expected running pid ${t.pid} with ${off ? 'no' : 'a'} pidfd_id, got ${j.state} pid ${j.pid} pidfd_id ${j.pidfd_id}\n${(j.evidence || []).join('\n')}`,
      )
    }
    if (!off) facts.recorded = j.pidfile?.recorded ?? null
  }
  return facts
}

/** locate() calls/s on each target, in one child process per side. */
async function locateRates(ctx, targets) {
  const out = {}
  for (const off of [false, true]) {
    const r = await run(NODE, [CHILD, String(ctx.opts.rateMs), ...targets.map((t) => `${t.name}=${t.file}`)], {env: sideEnv(off), timeoutMs: 120_000})
    if (r.status !== 0) throw new Error(`pidfs-child (${off ? REF_LABEL : 'ids on'}): exit ${r.status}: ${String(r.stderr).slice(-800)}`)
    const {checks, rates: s} = JSON.parse(r.stdout.trim().split('\n').pop())
    for (const t of targets) {
      const c = checks[t.name]
      if (c.state !== 'running' || c.pid !== t.pid || (c.pidfdId === null) !== off)
        throw new Error(`locate(${t.name}) (${off ? REF_LABEL : 'ids on'}): ${JSON.stringify(c)}, expected running pid ${t.pid}`)
    }
    out[off ? 'fallback' : 'ids'] = s
  }
  return out
}

/** The kernel calls alone, from Node through the addon: with the id and the facts, and the pidfd alone. */
function probes(binding, pid) {
  return {
    ids: () => {
      const fd = binding.pidfdOpen(pid)
      try {
        fs.fstatSync(fd, {bigint: true})
        binding.pidfdInfo(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    bare: () => fs.closeSync(binding.pidfdOpen(pid)),
  }
}

async function pidfs(ctx) {
  const holder = await startHolder(ctx, 'posix', path.join(ctx.dir, 'pidfs-posix'), 'nslbenchid')
  let svc = null
  try {
    svc = await startRunService(ctx)
    await checkSides(holder)
    const {recorded} = await checkSides(svc)
    const recordNote = recorded ? 'the file carries an identity record' : 'NO identity record on the file (its file system keeps no user xattrs?)'

    const cmds = [...onOff([NODE, BIN_RUN, 'find', holder.name, '--pidfile', holder.file, '--quiet'])]
    cmds.push(...onOff([NODE, BIN_RUN, 'find', svc.name, '--pidfile', svc.file, '--quiet']).map((c) => ({...c, key: `${c.key}-record`})))
    ctx.log(`pidfs: hyperfine, find with ids and with ${REF_LABEL} (${ctx.opts.runs} runs each)`)
    const s = await hyperfine(cmds, {runs: ctx.opts.runs, warmup: ctx.opts.warmup, log: ctx.log})
    const cliRef = (key, what) => ({label: REF_LABEL, command: `env ${REF_LABEL} nslocate find NAME --pidfile FILE --quiet (${what})`, stats: s[key]})
    report.row({
      id: 'pidfs-find',
      metric: 'find with process ids, POSIX-locked pidfile (CLI)',
      unit: 'ms',
      tool: 'hyperfine',
      ours: s.ids,
      ref: cliRef('fallback', 'POSIX-locked'),
      note: 'both sides exec `env`; the ids side opens a pidfd on the process named and fstats it (+ PIDFD_GET_INFO on 6.13+)',
    })
    report.row({
      id: 'pidfs-find-record',
      metric: 'find with process ids, pidfile written by nslocate run (CLI)',
      unit: 'ms',
      tool: 'hyperfine',
      ours: s['ids-record'],
      ref: cliRef('fallback-record', 'run-written'),
      note: `the ids side also reads and judges the identity record (one fgetxattr) and compares ids; ${recordNote}`,
    })

    ctx.log(`pidfs: locate() calls/s with ids and with ${REF_LABEL}, one child process each, ${ctx.opts.rateMs} ms per task`)
    const r = await locateRates(ctx, [holder, svc])
    const rateRef = (name) => ({label: REF_LABEL, command: `locate() in a process with ${REF_LABEL}`, stats: r.fallback[name]})
    const rateNote = `one child process per side, calls back to back, ${ctx.opts.rateMs} ms per task after a warm-up`
    report.row({
      id: 'pidfs-locate-rate',
      metric: 'locate() calls/s with process ids, POSIX-locked (library)',
      unit: 'calls/s',
      tool: 'tinybench',
      ours: r.ids[holder.name],
      ref: rateRef(holder.name),
      note: rateNote,
    })
    report.row({
      id: 'pidfs-locate-rate-record',
      metric: 'locate() calls/s with process ids, run-written pidfile (library)',
      unit: 'calls/s',
      tool: 'tinybench',
      ours: r.ids[svc.name],
      ref: rateRef(svc.name),
      note: `${rateNote}; ${recordNote}`,
    })

    const n = ctx.opts.smoke ? 50 : 1000
    ctx.log(`pidfs: strace -f -c around ${n} locate() calls with ids and with ${REF_LABEL}`)
    const per = async (off) => ((await traced(ctx, 'locate', n, svc, sideEnv(off))) - (await traced(ctx, 'locate', 0, svc, sideEnv(off)))) / n
    const sysIds = await per(false)
    const sysOff = await per(true)
    report.row({
      id: 'pidfs-syscalls',
      metric: 'system calls per locate() with process ids, run-written pidfile (library)',
      unit: 'syscalls',
      tool: 'strace',
      ours: {n: 1, median: sysIds, mean: sysIds, sd: 0, min: sysIds, max: sysIds},
      ref: {label: REF_LABEL, command: `locate() with ${REF_LABEL}`, stats: {n: 1, median: sysOff, mean: sysOff, sd: 0, min: sysOff, max: sysOff}},
      note: `strace -f -c of a child making 1 + ${n} calls, minus the same child making 1 call, over ${n}; ${(sysIds - sysOff).toFixed(1)} more per call`,
    })

    ctx.log(`pidfs: the kernel calls alone (addon), ${ctx.opts.rateMs} ms each`)
    const p = await rates(probes(ctx.binding, holder.pid), {ms: ctx.opts.rateMs})
    const extraUs = 1e6 / p.ids.median - 1e6 / p.bare.median
    report.row({
      id: 'pidfs-probe',
      metric: 'pidfd_open + fstat + PIDFD_GET_INFO + close, calls/s (addon)',
      unit: 'calls/s',
      tool: 'tinybench',
      ours: p.ids,
      ref: {label: 'pidfd_open + close', command: 'pidfd_open + close from Node through the addon', stats: p.bare},
      note: `the fstat (pidfs id) and the ioctl (PIDFD_GET_INFO) add about ${extraUs.toFixed(2)} µs per process named`,
    })
  } finally {
    if (svc) await stop(svc.entry)
    await stop(holder.entry)
  }
}

module.exports = {pidfs}
