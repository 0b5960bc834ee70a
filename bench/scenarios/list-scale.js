'use strict'
/**
 * list-scale: `nslocate list --dir DIR --json` over 10,000 pidfiles in one directory (smoke: 300),
 * a mix as a busy runtime directory holds: most unlocked and naming pids no process has (stale;
 * half end with a newline), 1% naming one of 20 live processes, 10 locked by a holder that wrote
 * its pid (5 POSIX, 5 flock). Wall time and CPU time from hyperfine (targets: <= 2 s); max RSS from
 * bench/fixtures/rusage.c (ru_maxrss from wait4; hyperfine 1.15 does not report memory; <= 100 MB).
 */
const fs = require('node:fs')
const path = require('node:path')
const {hyperfine, cleanEnv, single} = require('../lib/measure')
const {children, startHolder, BIN_RUN, NODE} = require('../lib/fixtures')
const {run, startReady, stop} = require('../lib/procs')
const report = require('../lib/report')

function sizes(smoke) {
  const n = smoke ? 300 : 10_000
  return {n, locked: smoke ? 2 : 10, liveProcs: smoke ? 5 : 20, liveFiles: smoke ? 10 : n / 100}
}

/** Pidfiles naming pids no process has, counting down from pid_max. */
function writeStale(d, count) {
  const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  let p = pidMax - 1
  for (let i = 0; i < count; i++) {
    while (p > 300 && fs.existsSync(`/proc/${p}`)) p--
    if (p <= 300) throw new Error(`pid_max ${pidMax}: not enough unused pids for ${count} stale pidfiles`)
    fs.writeFileSync(path.join(d, `svc${i}.pid`), i % 2 === 0 ? `${p}\n` : String(p))
    p--
  }
}

/** The directory, its live processes and holders: {d, live, holders, sleepers}. */
async function setUp(ctx, z, fx) {
  fx.d = path.join(ctx.dir, 'list-scale')
  fs.mkdirSync(fx.d)
  fx.sleepers = await startReady(ctx.bins.sleepers, [String(z.liveProcs)], {what: `${z.liveProcs} sleepers (list-scale)`, group: true})
  fx.live = children(fx.sleepers.pid)
  if (fx.live.length !== z.liveProcs) throw new Error(`expected ${z.liveProcs} sleeping children, found ${fx.live.length}`)
  for (let i = 0; i < z.locked; i++) fx.holders.push(await startHolder(ctx, i % 2 === 0 ? 'posix' : 'flock', fx.d, `locked${i}`))
  for (let i = 0; i < z.liveFiles; i++) fs.writeFileSync(path.join(fx.d, `live${i}.pid`), `${fx.live[i % fx.live.length]}\n`)
  writeStale(fx.d, z.n - z.locked - z.liveFiles)
}

/** Correctness before timing: every file listed; locked and live ones running as their pid; nearly all stale ones stale. */
async function check(argv, z, fx) {
  const r = await run(argv[0], argv.slice(1), {env: cleanEnv()})
  const rows = JSON.parse(r.stdout)
  if (r.status !== 0 || rows.length !== z.n) throw new Error(`list --json: status ${r.status}, ${rows.length} rows, expected 0 and ${z.n}`)
  const byName = new Map(rows.map((x) => [x.name, x]))
  const expect = (name, pid, lock) => {
    const x = byName.get(name)
    if (x?.state !== 'running' || x.pid !== pid || (lock && x.pidfile.lock !== lock))
      throw new Error(`list: expected ${name} running as ${pid}, got ${JSON.stringify(x)}`)
  }
  for (const h of fx.holders) expect(h.name, h.pid, h.kind)
  for (let i = 0; i < z.liveFiles; i++) expect(`live${i}`, fx.live[i % fx.live.length])
  // a pid may be taken by a new process meanwhile: still stale (pid_reused), or rarely not
  const notStale = rows.filter((x) => x.name.startsWith('svc') && x.state !== 'stale').length
  if (notStale > z.n / 100) throw new Error(`list: ${notStale} pidfiles naming unused pids are not stale`)
}

/** The largest ru_maxrss (MiB) of `runs` runs under the rusage helper. */
async function maxRss(rusage, argv, runs) {
  let kb = 0
  for (let i = 0; i < runs; i++) {
    const r = await run(rusage, argv, {env: cleanEnv()})
    const m = /rusage wall_ms=\S+ cpu_ms=\S+ maxrss_kb=([0-9]+) status=0\s*$/.exec(r.stderr)
    if (!m) throw new Error(`rusage ${argv.join(' ')}: ${String(r.stderr).slice(-500)}`)
    kb = Math.max(kb, Number(m[1]))
  }
  return kb / 1024
}

async function listScale(ctx) {
  const z = sizes(ctx.opts.smoke)
  const fx = {holders: []}
  ctx.log(`list-scale: ${z.n} pidfiles (${z.locked} locked, ${z.liveFiles} naming ${z.liveProcs} live processes, the rest stale)`)
  try {
    await setUp(ctx, z, fx)
    const argv = [NODE, BIN_RUN, 'list', '--dir', fx.d, '--json']
    await check(argv, z, fx)
    const runs = ctx.opts.smoke ? ctx.opts.runs : Math.max(5, Math.ceil(ctx.opts.runs / 3))
    ctx.log(`hyperfine: list-scale (${runs} runs, ${ctx.opts.warmup} warm-up)`)
    const s = (await hyperfine([{key: 'list', argv}], {runs, warmup: ctx.opts.warmup, log: ctx.log})).list
    const what = `list --dir DIR --json, ${z.n} pidfiles (CLI)`
    const note = `${z.n} pidfiles: ${z.n - z.locked - z.liveFiles} stale, ${z.liveFiles} naming ${z.liveProcs} live processes, ${z.locked} locked`
    report.row({
      id: 'list-scale',
      metric: `${what}: wall time`,
      unit: 'ms',
      tool: 'hyperfine',
      ours: s,
      target: {kind: 'abs_max', value: 2000, text: '<= 2 s'},
      note,
    })
    const rss = single(await maxRss(ctx.bins.rusage, argv, Math.min(3, runs)))
    const rssNote = 'largest ru_maxrss (wait4) of up to 3 runs of the CLI process, MiB'
    report.row({
      id: 'list-scale-rss',
      metric: `${what}: max RSS`,
      unit: 'MB',
      tool: 'rusage.c',
      ours: rss,
      target: {kind: 'abs_max', value: 100, text: '<= 100 MB'},
      note: rssNote,
    })
    const cpuNote = "information: hyperfine's mean user + system time: the wall time without waiting for a CPU on a busy machine"
    report.row({id: 'list-scale-cpu', metric: `${what}: CPU time`, unit: 'ms', tool: 'hyperfine', ours: single(s.cpu), note: cpuNote})
  } finally {
    for (const h of fx.holders) await stop(h.entry)
    if (fx.sleepers) await stop(fx.sleepers.entry, {signal: 'SIGTERM', graceMs: 10_000})
  }
}

module.exports = {listScale}
