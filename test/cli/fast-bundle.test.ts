/**
 * The start-up fast path as it ships (docs/architecture.md, "Start-up cost"): one bundled file per
 * command, compiled with the V8 code cache made for it at build time, loading no built-in module
 * the answer does not need. These guard the start-up ratios bench/ measures; they time nothing.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
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

test.each([...FAST_COMMANDS])(
  '%s: the code cache is accepted by the Node that made it, and holds the functions the command ran (not only top-level code)',
  (command) => {
    const bundle = path.join(FAST, `${command}.js`)
    const cache = path.join(FAST, `${command}.cache`)
    const made = JSON.parse(fs.readFileSync(cache + '.json', 'utf8'))
    const source = fs.readFileSync(bundle, 'utf8')
    // the bundle's first line names the sha256 of the rest, and the cache starts with that same line
    const id = source.slice(0, source.indexOf('\n') + 1)
    expect(id).toBe(`// nslocate-bundle sha256:${createHash('sha256').update(source.slice(id.length)).digest('hex')}\n`)
    const raw = fs.readFileSync(cache)
    expect(raw.toString('latin1', 0, id.length)).toBe(id)
    const cachedData = raw.subarray(id.length)
    // top-level code alone is ~10% of the source's size
    expect(cachedData.length).toBeGreaterThan(source.length / 2)
    const script = new vm.Script(wrap(source), {filename: bundle, cachedData})
    // Another Node (CI's 22 and 26 legs run the 24 build) must reject it rather than misuse it.
    expect(script.cachedDataRejected).toBe(made.node !== process.version || made.v8 !== process.versions.v8)
  },
)

test("find's bundle leaves out the Docker client and signal(): --container loads them from dist/src", () => {
  const find = fs.readFileSync(path.join(FAST, 'find.js'), 'utf8')
  expect(find).not.toContain('dist/src/runtime/docker.js')
  expect(find).not.toContain('dist/src/signal/signal.js')
  expect(find).toContain('require("../src/runtime/in-container.js")')
  expect(fs.existsSync(path.join(FAST, '../src/runtime/in-container.js'))).toBe(true)
})

test('a stale cache (from another source) is rejected and the command still answers', () => {
  const dir = tmpdir()
  try {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `
      const vm = require('vm'); const orig = vm.Script; let rejected = null
      vm.Script = class extends orig { constructor(src, o) { super(src, {...o, cachedData: Buffer.alloc(4096, 7)}); rejected = this.cachedDataRejected } }
      process.argv = [process.argv[0], ${JSON.stringify(BIN)}, 'find', 'nothing', '--dir', ${JSON.stringify(dir)}]
      process.on('exit', () => process.stderr.write('REJECTED ' + rejected + '\\n'))
      require(${JSON.stringify(BIN)})`,
      ],
      {encoding: 'utf8'},
    )
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
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `
      process.argv = [process.argv[0], ${JSON.stringify(BIN)}, 'find', 'nothing', '--dir', ${JSON.stringify(dir)}]
      process.on('exit', () => require('fs').writeSync(2, JSON.stringify(process.moduleLoadList) + '\\n'))
      require(${JSON.stringify(BIN)})`,
      ],
      {encoding: 'utf8'},
    )
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

test('a bundle looks for the addon inside its package only: one planted above it is not loaded', () => {
  const top = tmpdir()
  try {
    const pkgFast = path.join(top, 'pkg', 'dist', 'fast')
    fs.mkdirSync(pkgFast, {recursive: true})
    fs.copyFileSync(path.join(FAST, 'find.js'), path.join(pkgFast, 'find.js'))
    fs.mkdirSync(path.join(top, 'build'))
    fs.copyFileSync(path.join(ROOT, 'build', 'nslocate.node'), path.join(top, 'build', 'nslocate.node'))
    fs.writeFileSync(path.join(top, 'x.pid'), '1')
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `
      const {NSLOCATE_ADDON, ...env} = process.env
      const f = require(${JSON.stringify(path.join(pkgFast, 'find.js'))})
      // run() answers with a promise (runToAnswer): the load error is its rejection
      Promise.resolve()
        .then(() => f.prepare(['x', '--pidfile', ${JSON.stringify(path.join(top, 'x.pid'))}]).run())
        .then(() => console.log('LOADED'), (e) => console.log(e.code + ' ' + JSON.stringify(e.details.tried)))`,
      ],
      {encoding: 'utf8', env: {PATH: process.env.PATH}},
    )
    expect(r.stdout).toContain('NATIVE_LOAD')
    expect(r.stdout).toContain(path.join(top, 'pkg', 'build', 'nslocate.node'))
    expect(r.stdout).not.toContain(path.join(top, 'build', 'nslocate.node'))
  } finally {
    fs.rmSync(top, {recursive: true, force: true})
  }
})

test('bin/run.js uses a cache only with the bundle it was made from (a same-length cache of another build is not used)', () => {
  const top = tmpdir()
  try {
    // a copy of the package's start-up path: bin/run.js, dist/fast, the addon
    fs.mkdirSync(path.join(top, 'bin'))
    fs.copyFileSync(BIN, path.join(top, 'bin', 'run.js'))
    fs.cpSync(FAST, path.join(top, 'dist', 'fast'), {recursive: true})
    fs.mkdirSync(path.join(top, 'build'))
    fs.copyFileSync(path.join(ROOT, 'build', 'nslocate.node'), path.join(top, 'build', 'nslocate.node'))
    const probe = (dir: string) =>
      spawnSync(
        process.execPath,
        [
          '-e',
          `
      const vm = require('vm'); const orig = vm.Script; let used = null
      vm.Script = class extends orig { constructor(src, o) { super(src, o); used = Boolean(o && o.cachedData) && !this.cachedDataRejected } }
      process.argv = [process.argv[0], ${JSON.stringify(path.join(top, 'bin', 'run.js'))}, 'find', 'nothing', '--dir', ${JSON.stringify(dir)}]
      process.on('exit', () => process.stderr.write('USED ' + used + '\\n'))
      require(process.argv[1])`,
        ],
        {encoding: 'utf8'},
      )
    const dir = tmpdir()
    try {
      const ok = probe(dir)
      expect([ok.status, ok.stderr.trim().split('\n').pop()]).toEqual([
        3,
        `USED ${JSON.parse(fs.readFileSync(path.join(FAST, 'find.cache.json'), 'utf8')).node === process.version}`,
      ])
      // the header of another build: same length, another sha256
      const cache = path.join(top, 'dist', 'fast', 'find.cache')
      const raw = fs.readFileSync(cache)
      const at = raw.indexOf('sha256:') + 7
      raw[at] = raw[at] === 0x30 ? 0x31 : 0x30
      fs.writeFileSync(cache, raw)
      const other = probe(dir)
      expect([other.status, other.stderr.trim().split('\n').pop()]).toEqual([3, 'USED false'])
      expect(other.stdout).toContain('nothing: not running')
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  } finally {
    fs.rmSync(top, {recursive: true, force: true})
  }
})
