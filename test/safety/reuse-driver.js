/*
 * Forced pid reuse, run INSIDE a fresh PID namespace (pid 2, under mini-init) by reuse.test.ts.
 *
 *   node reuse-driver.js   (env: REUSE_DIST dist/src/index.js, REUSE_BIN bin/run.js, REUSE_SIGLOG,
 *                           REUSE_DIR work dir, REUSE_SCOPES tree,group,cgroup, REUSE_ROUNDS,
 *                           REUSE_CLI_ROUNDS, REUSE_CGROUP a *.service dir under a v1 controller)
 *
 * Each round: a service whose main process M (named by an unlocked pidfile) exits on TERM, and a
 * keeper member K that ignores TERM (so the --retry schedule reaches its KILL):
 *   tree    M is K's parent (sh forks K, then execs M)
 *   group   K leads a process group, M joins it (perl setpgrp); both children of this driver
 *   cgroup  M and K in the test's own cgroup REUSE_CGROUP
 * signal('siglog', 'TERM', {scope, retry: 'TERM/200ms/KILL/2'}) runs (library, or the CLI for the
 * first REUSE_CLI_ROUNDS rounds). As soon as M is reaped, this driver writes M-1 into
 * /proc/sys/kernel/ns_last_pid and forks an innocent siglog with a child: the innocent IS pid M
 * (a round where another pid took M is counted as a miss and repeated). After the schedule: the
 * innocent and its child must have logged nothing and still be alive; K must have been killed.
 * Prints one JSON line: {scope: {rounds, misses, innocentSignals, innocentKilled, keeperSurvived, failures}}.
 */
'use strict'
const {spawn} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const lib = require(process.env.REUSE_DIST)
const SIGLOG = process.env.REUSE_SIGLOG
const DIR = process.env.REUSE_DIR
const ROUNDS = Number(process.env.REUSE_ROUNDS || 50)
const CLI_ROUNDS = Number(process.env.REUSE_CLI_ROUNDS || 0)
const CG = process.env.REUSE_CGROUP || ''
const SCHEDULE = 'TERM/200ms/KILL/2'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const alive = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] !== 'Z'
  } catch {
    return false
  }
}
const lines = (f) => {
  try {
    return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/** Start argv; resolve once `n` "ready" lines were printed. */
function start(argv, n, opts = {}) {
  const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'inherit'], ...opts})
  child.exitedP = new Promise((r) => child.once('exit', r))
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`not ready: ${argv.join(' ')}: ${out}`)), 10000)
    child.stdout.on('data', (d) => {
      out += d
      const ready = out.match(/^ready .*$/gm) || []
      if (ready.length >= n) {
        clearTimeout(timer)
        child.ready = ready.map((l) => l.split(' ').slice(1).map(Number))
        resolve(child)
      }
    })
    child.once('exit', () => reject(new Error(`exited before ready: ${argv.join(' ')}: ${out}`)))
  })
}

async function service(scope, d) {
  const pidfile = path.join(d, 'siglog.pid')
  const mlog = path.join(d, 'main.log')
  const klog = path.join(d, 'keeper.log')
  const mainArgv = [SIGLOG, mlog, '--exit-on', 'TERM', '--pidfile', pidfile]
  const keeperArgv = [SIGLOG, klog, '--ignore', 'TERM']
  let main, keeper
  if (scope === 'tree') {
    const q = (a) => a.map((x) => `'${x}'`).join(' ')
    main = await start(['sh', '-c', `${q(keeperArgv)} & exec ${q(mainArgv)}`], 2)
    keeper = {pid: main.ready.map((r) => r[0]).find((p) => p !== main.pid)}
  } else if (scope === 'group') {
    keeper = await start(['perl', '-e', 'setpgrp(0, 0) or die; exec @ARGV', ...keeperArgv], 1)
    main = await start(['perl', '-e', 'setpgrp(0, shift) or die; exec @ARGV', String(keeper.pid), ...mainArgv], 1)
  } else {
    const into = (argv) => ['sh', '-c', `echo $$ > '${CG}/cgroup.procs' && exec "$@"`, 'sh', ...argv]
    keeper = await start(into(keeperArgv), 1)
    main = await start(into(mainArgv), 1)
  }
  for (let i = 0; i < 200 && !fs.existsSync(pidfile); i++) await sleep(5)
  return {main, keeper, pidfile, mlog, klog}
}

function runCli(args) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [process.env.REUSE_BIN, ...args, '--json'], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    c.once('exit', (code) => {
      let json = null
      try {
        json = JSON.parse(out)
      } catch {}
      resolve({exit_code: code, json})
    })
  })
}

async function round(scope, i, viaCli) {
  const d = fs.mkdtempSync(path.join(DIR, `${scope}-${i}-`))
  const svc = await service(scope, d)
  const M = svc.main.pid
  const ilog = path.join(d, 'innocent.log')
  let innocent = null
  // The moment M is reaped: put the innocent (with a child) onto its pid.
  const reuse = svc.main.exitedP.then(() => {
    fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(M - 1))
    innocent = spawn(SIGLOG, [ilog, '--children', '1'], {stdio: ['ignore', 'pipe', 'inherit']})
    return new Promise((r) => innocent.stdout.once('data', (b) => r(String(b).trim().split(' ').slice(1).map(Number))))
  })
  const opts = {pidfile: svc.pidfile, scope, retry: SCHEDULE}
  const result = viaCli
    ? await runCli(['signal', 'siglog', 'TERM', '--pidfile', svc.pidfile, '--scope', scope, '--retry', SCHEDULE])
    : await lib.signal('siglog', 'TERM', opts).catch((e) => ({error: String(e)}))
  const innocentPids = await Promise.race([reuse, sleep(3000).then(() => null)])
  await sleep(20)
  const r = {hit: innocent !== null && innocent.pid === M, innocentSignals: 0, innocentKilled: 0, keeperSurvived: 0, failure: null}
  if (innocentPids) {
    r.innocentSignals = lines(ilog).length
    r.innocentKilled = innocentPids.filter((p) => !alive(p)).length
  } else {
    r.failure = `no innocent (main ${M} did not exit?) result ${JSON.stringify(result).slice(0, 300)}`
  }
  if (alive(svc.keeper.pid)) r.keeperSurvived = 1
  if (r.hit && (r.innocentSignals || r.innocentKilled)) r.failure = `innocent hit: ${lines(ilog).join('|')} result ${JSON.stringify(result).slice(0, 600)}`
  for (const p of [...(innocentPids || []), svc.keeper.pid]) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
  }
  if (svc.keeper.exitedP) await svc.keeper.exitedP
  if (innocent && innocent.exitCode === null && innocent.signalCode === null) await new Promise((res) => innocent.once('exit', res))
  return r
}

async function main() {
  const report = {}
  for (const scope of (process.env.REUSE_SCOPES || 'tree,group,cgroup').split(',')) {
    const s = (report[scope] = {rounds: 0, cliRounds: 0, misses: 0, innocentSignals: 0, innocentKilled: 0, keeperSurvived: 0, failures: []})
    for (let i = 0; s.rounds < ROUNDS && i < ROUNDS * 3; i++) {
      const viaCli = s.cliRounds < CLI_ROUNDS
      const r = await round(scope, i, viaCli)
      if (r.failure) s.failures.push(r.failure)
      if (!r.hit) {
        s.misses++
        continue
      }
      s.rounds++
      if (viaCli) s.cliRounds++
      s.innocentSignals += r.innocentSignals
      s.innocentKilled += r.innocentKilled
      s.keeperSurvived += r.keeperSurvived
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e.stack}\n`)
    process.exit(1)
  },
)
