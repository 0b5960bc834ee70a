'use strict'
/**
 * CLI figures, timed by hyperfine: each scenario's commands and their references in one hyperfine
 * run, so every ratio compares figures taken together. Each scenario is checked for correctness
 * once before it is timed (`find --json`, the reference's output).
 */
const fs = require('node:fs')
const path = require('node:path')
const {hyperfine, cleanEnv} = require('../lib/measure')
const {BIN_RUN, NODE, checkFind, containerImage, startContainer} = require('../lib/fixtures')
const {run, removeContainersSync} = require('../lib/procs')
const report = require('../lib/report')

const nsl = (...args) => [NODE, BIN_RUN, ...args]
/** Through oclif: the fast path in bin/run.js is off. `env` adds one exec (~1 ms). */
const oclif = (...args) => ['env', 'NSLOCATE_NO_FAST_PATH=1', ...nsl(...args)]
const NODE_REF = {key: 'node', argv: [NODE, '-e', '0'], label: 'node -e 0', command: 'node -e 0'}

/** Run argv once and check its output (a reference that answers wrongly is no reference). */
async function expectOutput(argv, ok) {
  const r = await run(argv[0], argv.slice(1), {env: cleanEnv()})
  const why = r.status === 0 ? ok(r.stdout) : `exit status ${r.status}`
  if (why) throw new Error(`${argv.join(' ')}: ${why}\nstdout: ${String(r.stdout).slice(0, 500)}\nstderr: ${String(r.stderr).slice(0, 500)}`)
}
const printsPid = (pid) => (out) => (out.trim() === String(pid) ? null : `expected ${pid}`)

const time = (ctx, cmds) => {
  ctx.log(`hyperfine: ${cmds.map((c) => c.key).join(', ')} (${ctx.opts.runs} runs each, ${ctx.opts.warmup} warm-up)`)
  return hyperfine(cmds, {runs: ctx.opts.runs, warmup: ctx.opts.warmup, log: ctx.log})
}
const ref = (c, s) => ({label: c.label, command: c.command, stats: s[c.key]})

async function pgrepRef(h) {
  const c = {key: 'pgrep', argv: ['pgrep', '-F', h.file, '-L'], label: 'pgrep -F -L', command: 'pgrep -F FILE -L'}
  await expectOutput(c.argv, printsPid(h.pid))
  return c
}

/** find on a POSIX-locked pidfile: vs node -e 0 (<= 1.25x), pgrep, and itself through oclif. */
async function findPosix(ctx, h) {
  await checkFind([h.name, '--pidfile', h.file], h.pid, 'posix')
  const pgrep = await pgrepRef(h)
  const find = ['find', h.name, '--pidfile', h.file, '--quiet']
  const s = await time(ctx, [{key: 'find', argv: nsl(...find)}, NODE_REF, pgrep, {key: 'oclif', argv: oclif(...find)}])
  const common = {metric: 'find, POSIX-locked pidfile (CLI)', unit: 'ms', tool: 'hyperfine', ours: s.find}
  const note = 'CLI wall time of `nslocate find NAME --pidfile FILE --quiet`; POSIX lock: one F_GETLK, no /proc scan'
  report.row({id: 'find-posix', ...common, ref: ref(NODE_REF, s), target: {kind: 'ratio_max', value: 1.25, text: '<= 1.25x'}, note})
  report.row({id: 'find-posix-vs-pgrep', ...common, ref: ref(pgrep, s), note: 'information: a C tool with no runtime start-up'})
  const metric = 'find through oclif (NSLOCATE_NO_FAST_PATH=1)'
  report.row({
    id: 'find-posix-oclif',
    metric,
    unit: 'ms',
    tool: 'hyperfine',
    ours: s.oclif,
    ref: ref(NODE_REF, s),
    note: 'information: what the fast path saves',
  })
}

/** The plain invocation of find, list, signal, wait and run, each vs node -e 0 (<= 1.25x) and pgrep. */
async function startup(ctx, h) {
  const runDir = path.join(ctx.dir, 'startup-run')
  fs.mkdirSync(runDir, {recursive: true})
  const ours = [
    {key: 'find', args: ['find', h.name, '--pidfile', h.file, '--quiet'], shown: 'find NAME --pidfile FILE --quiet'},
    {key: 'list', args: ['list', '--dir', path.dirname(h.file)], shown: 'list --dir DIR'},
    {key: 'signal', args: ['signal', h.name, '0', '--pidfile', h.file], shown: 'signal NAME 0 --pidfile FILE'},
    {key: 'wait', args: ['wait', h.name, '--for', 'running', '--pidfile', h.file], shown: 'wait NAME --for running --pidfile FILE'},
    {key: 'run', args: ['run', 'nslbenchrun', '--dir', runDir, '--', '/bin/true'], shown: 'run NAME2 --dir DIR2 -- /bin/true'},
  ]
  await expectOutput(nsl(...ours[1].args), (out) => (out.includes(String(h.pid)) ? null : `expected a row with ${h.pid}`))
  const pgrep = await pgrepRef(h)
  const cmds = [NODE_REF, pgrep, ...ours.map((c) => ({key: c.key, argv: nsl(...c.args)})), {key: 'signal-oclif', argv: oclif(...ours[2].args)}]
  const s = await time(ctx, cmds)
  for (const c of ours) {
    const common = {metric: `start-up: ${c.shown} (CLI)`, unit: 'ms', tool: 'hyperfine', ours: s[c.key]}
    const target = {kind: 'ratio_max', value: 1.25, text: '<= 1.25x'}
    report.row({id: `startup-${c.key}`, ...common, ref: ref(NODE_REF, s), target, note: `CLI wall time of \`nslocate ${c.shown}\`, start-up fast path`})
    report.row({id: `startup-${c.key}-vs-pgrep`, ...common, ref: ref(pgrep, s), note: 'information: a C tool with no runtime start-up'})
  }
  const metric = 'start-up: signal NAME 0 through oclif (NSLOCATE_NO_FAST_PATH=1)'
  report.row({
    id: 'startup-signal-oclif',
    metric,
    unit: 'ms',
    tool: 'hyperfine',
    ours: s['signal-oclif'],
    ref: ref(NODE_REF, s),
    note: 'information: what the fast path saves',
  })
}

/** find on an unlocked pidfile naming an inner pid, +N processes: vs pgrep --ns (<= 0.5x). */
async function findUnlocked(ctx, svc) {
  await checkFind(['nslbenchsvc', '--pidfile', svc.file], svc.hostPid, 'none')
  const pgrep = {
    key: 'pgrep',
    argv: ['pgrep', '--ns', String(svc.hostPid), '-x', 'nslbenchsvc'],
    label: 'pgrep --ns PID -x NAME',
    command: 'pgrep --ns HOSTPID -x nslbenchsvc',
  }
  await expectOutput(pgrep.argv, printsPid(svc.hostPid))
  const s = await time(ctx, [{key: 'find', argv: nsl('find', 'nslbenchsvc', '--pidfile', svc.file, '--quiet')}, pgrep])
  report.row({
    id: 'find-unlocked',
    metric: `find, unlocked pidfile from a PID namespace, +${ctx.opts.procs} procs (CLI)`,
    unit: 'ms',
    tool: 'hyperfine',
    ours: s.find,
    ref: ref(pgrep, s),
    target: {kind: 'ratio_max', value: 0.5, text: '<= 0.5x'},
    note: 'find resolves the bare inner pid: the ns/pid link of every process, one NS_GET_PID_FROM_PIDNS per namespace, then name/mount/start-time checks',
  })
  return ref(pgrep, s)
}

/** find on a flock-held pidfile, +N processes: vs lslocks (<= 1.0x) and lslocks -p PID. */
async function findFlock(ctx, h) {
  await checkFind([h.name, '--pidfile', h.file], h.pid, 'flock')
  const hasHolder = (out) =>
    out.split('\n').some((l) => l.trim().split(/\s+/)[0] === String(h.pid) && l.includes(h.file)) ? null : `no line "${h.pid} ${h.file}"`
  const all = {
    key: 'lslocks',
    argv: ['lslocks', '-n', '-o', 'PID,PATH'],
    label: 'lslocks -n -o PID,PATH',
    command: 'lslocks -n -o PID,PATH (all locks, with paths)',
  }
  const byPid = {key: 'lslocksp', argv: [...all.argv, '-p', String(h.pid)], label: 'lslocks -p PID', command: 'lslocks -n -o PID,PATH -p HOLDERPID'}
  for (const c of [all, byPid]) await expectOutput(c.argv, hasHolder)
  const s = await time(ctx, [{key: 'find', argv: nsl('find', h.name, '--pidfile', h.file, '--quiet')}, all, byPid])
  const common = {metric: `find, flock-held pidfile, +${ctx.opts.procs} procs (CLI)`, unit: 'ms', tool: 'hyperfine', ours: s.find}
  const note = 'find: F_GETLK (nothing), /proc/locks, then the fds of the pid the file names (every process only when that does not settle it)'
  report.row({id: 'find-flock', ...common, ref: ref(all, s), target: {kind: 'ratio_max', value: 1.0, text: '<= 1.0x'}, note})
  report.row({id: 'find-flock-vs-lslocks-p', ...common, ref: ref(byPid, s), note: 'information: lslocks told the pid'})
  return ref(all, s)
}

/** find --container on a service in a container: vs `docker inspect` (the same API call) and node -e 0. */
async function findContainer(ctx) {
  const image = await containerImage(ctx.log)
  if (!image) {
    report.skipped.push('find-container: no Docker engine answers `docker version`: not measured')
    return
  }
  try {
    const id = await startContainer(image)
    const inspect = {
      key: 'inspect',
      argv: ['docker', 'inspect', '--format', '{{.State.Pid}}', id],
      label: 'docker inspect',
      command: 'docker inspect --format {{.State.Pid}} ID',
    }
    await expectOutput(inspect.argv, (out) => (Number(out.trim()) > 0 ? null : 'no State.Pid'))
    const s = await time(ctx, [{key: 'find', argv: nsl('find', 'nslbench', '--container', id, '--quiet')}, inspect, NODE_REF])
    const common = {metric: 'find --container, POSIX-locked pidfile (CLI)', unit: 'ms', tool: 'hyperfine', ours: s.find}
    const note = 'CLI wall time of `nslocate find NAME --container ID --quiet`: a Docker API inspect, then the pidfile through /proc/PID/root'
    report.row({id: 'find-container', ...common, ref: ref(inspect, s), note})
    report.row({id: 'find-container-vs-node', ...common, ref: ref(NODE_REF, s), note: 'information: the Node.js floor'})
  } finally {
    removeContainersSync()
  }
}

module.exports = {findPosix, startup, findUnlocked, findFlock, findContainer, expectOutput, nsl}
