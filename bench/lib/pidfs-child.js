'use strict'
/**
 * Run by bench/scenarios/pidfs.js, once with NSLOCATE_FORCE_FALLBACK=pidfs,pidfd-info and once
 * without (the library reads the variable once per process, so the two sides need two processes):
 *   node pidfs-child.js MS NAME=FILE...
 * locates each NAME once (the check), then measures locate({name, pidfile: FILE}) calls per second
 * for each, MS ms per task after a warm-up, and prints one JSON line:
 *   {"checks": {NAME: {state, pid, pidfdId, recorded}}, "rates": {NAME: {n, median, ...}}}
 */
const path = require('node:path')
const {rates} = require('./measure')

const lib = require(path.join(__dirname, '..', '..', 'dist', 'src', 'index.js'))
const [ms, ...targets] = process.argv.slice(2)

async function main() {
  const tasks = {}
  const checks = {}
  for (const t of targets) {
    const [name, file] = t.split('=')
    const opts = {name, pidfile: file}
    const r = await lib.locate(opts)
    checks[name] = {state: r.state, pid: r.pid, pidfdId: r.pidfdId, recorded: r.pidfile?.recorded ?? null}
    tasks[name] = async () => void (await lib.locate(opts))
  }
  const s = await rates(tasks, {ms: Number(ms)})
  process.stdout.write(`${JSON.stringify({checks, rates: s})}\n`)
}

main().catch((error) => {
  process.stderr.write(`pidfs-child: ${error?.stack ?? error}\n`)
  process.exitCode = 1
})
