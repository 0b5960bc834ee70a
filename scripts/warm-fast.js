#!/usr/bin/env node
// Make dist/fast/COMMAND.cache for each bundle of scripts/bundle-fast.js: the V8 code cache bin/run.js
// compiles that bundle with (docs/architecture.md, "Start-up cost"). A cache made right after
// compiling holds only the top-level code; V8 compiles each function on its first call. So a child
// process per command runs that command's plain invocations, in a temp dir, against a real
// POSIX-locked pidfile (held by a child through the addon) and an unlocked one, then serializes
// what was compiled. A cache made by another Node/V8 build is rejected by V8 at run time and the
// source compiled as usual, so a stale or missing cache costs time, never correctness.
//
//   node scripts/warm-fast.js                   (part of `npm run build`, after bundle-fast.js)
//   node scripts/warm-fast.js --child COMMAND   (internal: the process that runs the commands)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')
const {spawn, spawnSync} = require('node:child_process')
const {createRequire, wrap} = require('node:module')

const root = path.resolve(__dirname, '..')
const {FAST_COMMANDS} = require(path.join(root, 'dist', 'src', 'cli', 'fast-path.js'))
const bundleOf = (command) => path.join(root, 'dist', 'fast', `${command}.js`)
const cacheOf = (command) => path.join(root, 'dist', 'fast', `${command}.cache`)

if (process.argv[2] !== '--child') {
  const made = []
  for (const command of FAST_COMMANDS) {
    const cacheFile = cacheOf(command)
    fs.rmSync(cacheFile, {force: true})
    fs.rmSync(cacheFile + '.json', {force: true})
    // The commands print; their output is not ours to show. The child reports on fd 3.
    const r = spawnSync(process.execPath, [__filename, '--child', command], {stdio: ['ignore', 'ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000})
    const report = (r.output && r.output[3]) || ''
    if (r.status !== 0 || !fs.existsSync(cacheFile)) {
      console.error(`warm-fast: could not make ${path.relative(root, cacheFile)} (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${report}${r.stderr}`)
      process.exit(1)
    }
    made.push(`${command} ${fs.statSync(cacheFile).size} bytes (${report.trim()})`)
  }
  console.log(`warm-fast: dist/fast/*.cache: ${made.join('; ')}`)
  process.exit(0)
}

const command = process.argv[3]
const file = bundleOf(command)
const cacheFile = cacheOf(command)

const out = (s) => fs.writeSync(3, s + '\n')
const source = fs.readFileSync(file, 'utf8')
const script = new vm.Script(wrap(source), {filename: file})
const mod = {exports: {}, filename: file, id: file, loaded: true}
script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file))
const fast = mod.exports
const prepareFast = (argv) => (argv[0] === command ? fast.prepare(argv.slice(1)) : null)

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-warm-'))
  const locked = path.join(dir, 'held.pid')
  const unlocked = path.join(dir, 'loose.pid')
  const addon = path.join(root, 'build', 'nslocate.node')
  // A holder of a POSIX write lock, as `nslocate run` leaves one; and a sleep named by an unlocked file.
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `
    const fs = require('fs'); const a = require(${JSON.stringify(addon)});
    const fd = fs.openSync(${JSON.stringify(locked)}, 'w', 0o644); a.setlk(fd, 2, false, false);
    fs.writeSync(fd, String(process.pid)); fs.writeSync(1, 'ready\\n'); setInterval(() => {}, 1000)`,
    ],
    {stdio: ['ignore', 'pipe', 'inherit']},
  )
  const sleeper = spawn('sleep', ['60'], {stdio: 'ignore'})
  try {
    await new Promise((resolve, reject) => {
      holder.stdout.once('data', resolve)
      holder.once('exit', (c) => reject(new Error(`the lock holder exited (${c})`)))
    })
    fs.writeFileSync(unlocked, String(sleeper.pid))
    const runs = [
      ['find', 'held', '--pidfile', locked, '--quiet'],
      ['find', 'held', '--pidfile', locked],
      ['find', 'held', '--pidfile', locked, '--json'],
      ['find', 'sleep', '--pidfile', unlocked],
      ['find', 'gone', '--dir', dir],
      ['list', '--dir', dir],
      ['list', '--dir', dir, '--json'],
      ['signal', 'held', '0', '--pidfile', locked],
      ['signal', 'sleep', 'TERM', '--pidfile', unlocked, '--wait', '--timeout', '5s'],
      ['wait', 'held', '--for', 'running', '--pidfile', locked],
      ['wait', 'sleep', '--for', 'stopped', '--pidfile', unlocked, '--timeout', '100ms'],
      ['run', 'warm', '--dir', dir, '--', '/bin/true'],
    ]
    const done = []
    const mine = runs.filter((argv) => argv[0] === command)
    if (mine.length === 0) throw new Error(`no invocation of ${command} to warm its cache with: add some to scripts/warm-fast.js`)
    for (const argv of mine) {
      const p = prepareFast(argv)
      if (!p) throw new Error(`not a fast-path invocation: ${argv.join(' ')}`)
      const status = await p.run()
      done.push(`${argv[0]} ${status}`)
    }
    out(`${mine.length} runs, status ${done.map((d) => d.split(' ')[1]).join(',')}`)
  } finally {
    holder.kill('SIGKILL')
    sleeper.kill('SIGKILL')
    fs.rmSync(dir, {recursive: true, force: true})
  }
  // Headed by the bundle's first line (its sha256, scripts/bundle-fast.js): bin/run.js uses the
  // cache only with that very bundle.
  const id = source.slice(0, source.indexOf('\n') + 1)
  fs.writeFileSync(cacheFile, Buffer.concat([Buffer.from(id, 'latin1'), script.createCachedData()]), {mode: 0o644})
  // Which runtime made it (test/cli/fast-bundle.test.ts: that runtime must accept it).
  fs.writeFileSync(cacheFile + '.json', JSON.stringify({node: process.version, v8: process.versions.v8}) + '\n', {mode: 0o644})
}

main().then(
  () => process.exit(0),
  (error) => {
    out(String((error && error.stack) || error))
    process.exit(1)
  },
)
