'use strict'
/**
 * locate-rate-syscalls: system calls per locate() call and per bare probe, counted by `strace -f -c`
 * (every thread) around a child that makes 1 + N calls, minus the same child making 1 call.
 */
const fs = require('node:fs')
const path = require('node:path')
const {cleanEnv, single} = require('../lib/measure')
const {NODE} = require('../lib/fixtures')
const report = require('../lib/report')
const {BARE_PROBE} = require('./library')
const {run} = require('../lib/procs')

const CHILD = path.join(__dirname, '..', 'lib', 'syscalls-child.js')

/** Total system calls of one child under strace -c (`env`: its environment, by default the bench's clean one). */
async function traced(ctx, mode, n, h, env = cleanEnv()) {
  const out = path.join(ctx.dir, `strace-${mode}-${n}-${Date.now()}.txt`)
  const r = await run('strace', ['-f', '-c', '-o', out, NODE, CHILD, mode, String(n), h.name, h.file], {env})
  if (r.status !== 0) throw new Error(`strace ${mode} ${n}: exit ${r.status}: ${String(r.stderr).slice(-500)}`)
  const table = fs.readFileSync(out, 'utf8')
  const total = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total$/m.exec(table)
  if (!total) throw new Error(`strace -c ${mode}: no total line in\n${table}`)
  return Number(total[1])
}

async function syscallsPerCall(ctx, h) {
  const n = ctx.opts.smoke ? 200 : 2000
  ctx.log(`locate-rate-syscalls: strace -f -c around ${n} calls of locate() and of the bare probe`)
  const per = async (mode) => ((await traced(ctx, mode, n, h)) - (await traced(ctx, mode, 0, h))) / n
  const locate = await per('locate')
  const bare = await per('bare')
  report.row({
    id: 'locate-rate-syscalls',
    metric: 'system calls per locate(), POSIX-locked (library)',
    unit: 'syscalls',
    tool: 'strace',
    ours: single(locate),
    ref: {label: 'bare probe', command: BARE_PROBE, stats: single(bare)},
    note: `strace -f -c of a child making 1 + ${n} calls, minus the same child making 1 call, over ${n}`,
  })
}

module.exports = {syscallsPerCall, traced}
