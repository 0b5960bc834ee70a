/**
 * The start-up fast path as it ships (docs/architecture.md, "Start-up cost"): one bundled file per
 * command, compiled with the V8 code cache made for it at build time, loading no built-in module
 * the answer does not need. These guard the start-up ratios bench/ measures; they time nothing.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as vm from 'node:vm'
import {wrap} from 'node:module'

import {FAST_COMMANDS} from '../../src/cli/fast-path'
import {BIN, ROOT, tmpdir} from '../helpers/cli'

const FAST = path.join(ROOT, 'dist', 'fast')

test('one bundle and one code cache per fast command, and nothing else in dist/fast', () => {
  const expected = FAST_COMMANDS.flatMap((c) => [`${c}.js`, `${c}.cache`, `${c}.cache.json`]).sort()
  expect(fs.readdirSync(FAST).sort()).toEqual(expected)
})

test.each([...FAST_COMMANDS])('%s: the code cache is accepted by the Node that made it, and holds the functions the command ran (not only top-level code)', (command) => {
  const bundle = path.join(FAST, `${command}.js`)
  const cache = path.join(FAST, `${command}.cache`)
  const made = JSON.parse(fs.readFileSync(cache + '.json', 'utf8'))
  const cachedData = fs.readFileSync(cache)
  const source = fs.readFileSync(bundle, 'utf8')
  // top-level code alone is ~10% of the source's size
  expect(cachedData.length).toBeGreaterThan(source.length / 2)
  const script = new vm.Script(wrap(source), {filename: bundle, cachedData})
  // Another Node (CI's 22 and 26 legs run the 24 build) must reject it rather than misuse it.
  expect(script.cachedDataRejected).toBe(made.node !== process.version || made.v8 !== process.versions.v8)
})

test('find\'s bundle leaves out the Docker client and signal(): --container loads them from dist/src', () => {
  const find = fs.readFileSync(path.join(FAST, 'find.js'), 'utf8')
  expect(find).not.toContain('dist/src/docker/docker.js')
  expect(find).not.toContain('dist/src/signal/signal.js')
  expect(find).toContain('require("../src/docker/in-container.js")')
  expect(fs.existsSync(path.join(FAST, '../src/docker/in-container.js'))).toBe(true)
})

test('a stale cache (from another source) is rejected and the command still answers', () => {
  const dir = tmpdir()
  try {
    const r = spawnSync(process.execPath, ['-e', `
      const vm = require('vm'); const orig = vm.Script; let rejected = null
      vm.Script = class extends orig { constructor(src, o) { super(src, {...o, cachedData: Buffer.alloc(4096, 7)}); rejected = this.cachedDataRejected } }
      process.argv = [process.argv[0], ${JSON.stringify(BIN)}, 'find', 'nothing', '--dir', ${JSON.stringify(dir)}]
      process.on('exit', () => process.stderr.write('REJECTED ' + rejected + '\\n'))
      require(${JSON.stringify(BIN)})`], {encoding: 'utf8'})
    expect(r.stderr).toContain('REJECTED true')
    expect(r.status).toBe(3) // not running
    expect(r.stdout).toContain('nothing')
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('a plain find loads none of child_process, perf_hooks, stream, net (each costs milliseconds at every start)', () => {
  const dir = tmpdir()
  try {
    const r = spawnSync(process.execPath, ['-e', `
      process.argv = [process.argv[0], ${JSON.stringify(BIN)}, 'find', 'nothing', '--dir', ${JSON.stringify(dir)}]
      process.on('exit', () => require('fs').writeSync(2, JSON.stringify(process.moduleLoadList) + '\\n'))
      require(${JSON.stringify(BIN)})`], {encoding: 'utf8'})
    expect(r.status).toBe(3)
    const loaded: string[] = JSON.parse(r.stderr.trim().split('\n').pop()!)
    for (const m of ['NativeModule child_process', 'NativeModule perf_hooks', 'NativeModule stream', 'NativeModule net']) expect(loaded).not.toContain(m)
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('no source file imports a Node built-in as a namespace (tsc would copy every export at each start)', () => {
  const offenders: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const f = path.join(d, e.name)
      if (e.isDirectory()) walk(f)
      else if (f.endsWith('.ts') && /^import \* as \w+ from 'node:/m.test(fs.readFileSync(f, 'utf8'))) offenders.push(path.relative(ROOT, f))
    }
  }
  walk(path.join(ROOT, 'src'))
  walk(path.join(ROOT, 'commands'))
  expect(offenders).toEqual([])
})
