'use strict'
/**
 * The report: one row per figure (median, and the ratio to its reference measured in the same
 * run), the machine it ran on, and the outputs: a table on stdout, results.json and results.md.
 */
const {execFileSync} = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const results = []
const errors = []
const skipped = []

const TARGET_MET = {
  ratio_max: (r) => r.ratio <= r.target.value,
  ratio_min: (r) => r.ratio >= r.target.value,
  abs_max: (r) => r.nslocate.median <= r.target.value,
  abs_min: (r) => r.nslocate.median >= r.target.value,
}

function round(s) {
  const r = (x) => (Number.isFinite(x) ? Number(x.toPrecision(4)) : x)
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, r(v)]))
}

/** Record one figure: ours (stats), ref ({label, command, stats}) or none, an optional target. */
function row({id, metric, unit, tool, ours, ref, target, note}) {
  const ratio = ref ? Number((ours.median / ref.stats.median).toFixed(3)) : null
  // hyperfine's user + system time: much less moved than wall time by other work on a shared machine
  const cpuRatio = ours.cpu && ref?.stats.cpu ? Number((ours.cpu / ref.stats.cpu).toFixed(3)) : null
  const r = {
    id,
    metric,
    unit,
    tool,
    nslocate: round(ours),
    reference: ref ? {...ref, stats: round(ref.stats)} : null,
    ratio,
    cpu_ratio: cpuRatio,
    target: target ?? null,
    note: note ?? null,
  }
  r.met = target ? TARGET_MET[target.kind](r) : null
  results.push(r)
  return r
}

function procCount() {
  return fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).length
}

function toolVersion(argv) {
  try {
    return execFileSync(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
      .toString()
      .trim()
      .split('\n')[0]
  } catch {
    return null
  }
}

function gitFacts(root) {
  try {
    const git = (...a) =>
      execFileSync('git', ['-C', root, ...a], {stdio: ['ignore', 'pipe', 'ignore']})
        .toString()
        .trim()
    return {commit: git('rev-parse', '--short', 'HEAD'), source_dirty: git('status', '--porcelain', '--', 'src', 'commands', 'bin', 'native') !== ''}
  } catch {
    return null
  }
}

const loadFacts = () => ({when: new Date().toISOString(), loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), processes: procCount()})

function machineFacts(root) {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? null,
    kernel: os.release(),
    node: process.version,
    tools: Object.fromEntries(['hyperfine', 'pgrep', 'lslocks'].map((t) => [t, toolVersion([t, t === 'hyperfine' ? '--version' : '-V'])])),
    tinybench: JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('tinybench')), '..', 'package.json'), 'utf8')).version,
    git: gitFacts(root),
  }
}

function fmt(v, unit) {
  if (v === null || v === undefined) return '-'
  if (unit === 'calls/s' || unit === 'signals') return Math.round(v).toLocaleString('en-US')
  if (unit === 'syscalls') return v.toFixed(1)
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

function cells(r) {
  const u = r.unit === 'calls/s' ? '/s' : ` ${r.unit}`
  const figure = (s) => `${fmt(s.median, r.unit)}${u}${s.n > 1 ? ` ±${fmt(s.sd, r.unit)}` : ''}`
  return {
    metric: r.metric,
    ours: figure(r.nslocate),
    ref: r.reference ? r.reference.label : '-',
    refv: r.reference ? figure(r.reference.stats) : '-',
    ratio: r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    cpu: r.cpu_ratio === null ? '-' : `${r.cpu_ratio.toFixed(2)}x`,
    target: r.target ? r.target.text : '(info)',
    met: r.met === null ? '-' : r.met ? 'met' : 'MISSED',
  }
}

const HEAD = {
  metric: 'metric',
  ours: 'nslocate median ±sd',
  ref: 'reference',
  refv: 'reference median ±sd',
  ratio: 'ratio',
  cpu: 'cpu ratio',
  target: 'target',
  met: 'met?',
}

function textTable(rows) {
  const keys = Object.keys(HEAD)
  const w = Object.fromEntries(keys.map((k) => [k, Math.max(HEAD[k].length, ...rows.map((r) => r[k].length))]))
  const line = (r) => keys.map((k) => r[k].padEnd(w[k])).join('  ')
  return [line(HEAD), keys.map((k) => '-'.repeat(w[k])).join('  '), ...rows.map(line)].join('\n')
}

function mdTable(rows) {
  const keys = Object.keys(HEAD)
  const cell = (r, k) => (k === 'met' && r[k] === 'MISSED' ? '**MISSED**' : r[k]).replace(/\|/g, '\\|')
  return [
    `| ${keys.map((k) => HEAD[k]).join(' | ')} |`,
    `|${keys.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${keys.map((k) => cell(r, k)).join(' | ')} |`),
  ].join('\n')
}

function machineLines(meta) {
  const m = meta.machine
  return [
    `machine: nproc ${m.nproc} (${m.cpu}), kernel ${m.kernel}, node ${m.node}; ${m.tools.hyperfine}, tinybench ${m.tinybench}, ${m.tools.pgrep}, ${m.tools.lslocks}`,
    `load average at start ${meta.start.loadavg.join(' ')}, at end ${meta.end.loadavg.join(' ')}; ${meta.start.processes} processes at start (+${meta.procs} for the scan figures)`,
    `one read of /proc/locks: ${fmt(meta.proc_locks.cold.median, 'ms')} ms cold (60 ms after the previous one), ${fmt(meta.proc_locks.warm.median, 'ms')} ms back to back`,
    m.git ? `nslocate ${m.git.commit}${m.git.source_dirty ? ' (with uncommitted source changes)' : ''}` : 'not a git checkout',
  ]
}

const LEGEND =
  'Medians ±sd; ratio = nslocate median / reference median (both measured in this run); "met?" judges the median; cpu ratio = the same for mean user + system time (hyperfine), information.'

function notes(meta) {
  const out = []
  if (meta.busy)
    out.push(
      `NOTE: busy machine (load ${meta.start.loadavg[0]} at start, ${meta.end.loadavg[0]} at end, nproc ${meta.machine.nproc}): compare with a quieter run.`,
    )
  out.push(...skipped.map((s) => `not measured: ${s}`))
  out.push(...errors.map((e) => `could not run: ${e.id}: ${e.message.split('\n')[0]}`))
  return out
}

/** Write results.json and results.md into `dir`; return the text for stdout. */
function writeOutputs(dir, meta) {
  fs.mkdirSync(dir, {recursive: true})
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify({meta, results, errors, skipped}, null, 2) + '\n')
  const rows = results.map(cells)
  const refs = [...new Set(results.filter((r) => r.reference).map((r) => `- **${r.reference.label}**: \`${r.reference.command}\``))]
  const md = [
    `# nslocate bench results${meta.smoke ? ' (SMOKE run: sizes too small to mean anything)' : ''}`,
    '',
    `${meta.start.when}, ${meta.duration_s} s. Command: \`${meta.command}\``,
    '',
    mdTable(rows),
    '',
    LEGEND,
    '',
    '## Machine',
    '',
    ...machineLines(meta).map((l) => `- ${l}`),
    '',
    '## Reference commands',
    '',
    ...refs,
    '',
    ...results.filter((r) => r.note).map((r) => `- ${r.id} (${r.tool}): ${r.note}`),
    ...notes(meta).map((n) => `\n${n}`),
    '',
  ]
  fs.writeFileSync(path.join(dir, 'results.md'), md.join('\n'))
  const title = `nslocate bench${meta.smoke ? ' (SMOKE: tiny sizes, figures not meaningful)' : ''}: ${meta.duration_s} s`
  return ['', title, ...machineLines(meta), '', textTable(rows), '', LEGEND, ...notes(meta), `Written: ${dir}/results.json, results.md`, ''].join('\n')
}

module.exports = {row, errors, skipped, results, loadFacts, machineFacts, writeOutputs}
