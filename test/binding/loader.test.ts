/**
 * The loader's error when the addon cannot be loaded: it names every path it tried, with the reason
 * for each, and says how to fix it. Runs the binding the way an installed package does: transpiled
 * src/native/binding.ts and src/errors.ts copied into a temporary package tree (dist/ is not touched),
 * loaded by a separate Node.js process, so the candidate list can be made to miss for real.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ts from 'typescript'

import {ADDON_PATH, ROOT} from '../helpers/paths'
import {parseJsonResult, run} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

interface LoadResult {
  candidates: string[]
  loaded: boolean
  error?: {name: string; code: string; exitCode?: number; message: string; details: Record<string, unknown>; advice?: string}
  probe?: {type: string; pid: number}
}

let pkg: string
let top: string

beforeAll(() => {
  top = tempDir('nslocate-loader-')
  // <top>/pkg/src/native/binding.js: the one candidate is then <top>/pkg/build/..., never <top>/build/... (above the package)
  pkg = path.join(top, 'pkg')
  for (const rel of ['src/native/binding.ts', 'src/errors.ts', 'src/path-trust.ts', 'src/kernel/walk.ts', 'src/kernel/reopen.ts']) {
    const out = ts.transpileModule(fs.readFileSync(path.join(ROOT, rel), 'utf8'), {
      compilerOptions: {module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true},
      fileName: rel,
    })
    const dest = path.join(pkg, rel.replace(/\.ts$/, '.js'))
    fs.mkdirSync(path.dirname(dest), {recursive: true})
    fs.writeFileSync(dest, out.outputText)
  }
})
afterAll(() => stopAll())

const LOAD = `
if (process.argv[3]) process.chdir(process.argv[3])
const b = require(process.argv[1])
const out = {candidates: b.addonCandidates(), loaded: false}
try {
  b.native()
  out.loaded = true
  out.probe = b.probePosixLock(require('fs').openSync(process.argv[2], 'r'))
} catch (e) {
  out.error = {name: e.name, code: e.code, exitCode: e.exitCode, message: e.message, details: e.details, advice: e.advice}
}
console.log(JSON.stringify(out))`

/** Load the transpiled binding in a fresh Node.js process (in `cwd`, if given) with exactly this NSLOCATE_ADDON (or none). */
async function load(env: {NSLOCATE_ADDON?: string; HOME?: string}, cwd = ''): Promise<LoadResult> {
  const {NSLOCATE_ADDON: _inherited, ...base} = process.env
  const r = await run([process.execPath, '-e', LOAD, path.join(pkg, 'src/native/binding.js'), __filename, cwd], {env: {...base, ...env}})
  return parseJsonResult<LoadResult>(r)
}

const HINT = 'build it from source: NSLOCATE_BUILD_FROM_SOURCE=1 npm rebuild nslocate'
const PLATFORM = `linux-${process.arch}`
/** The package's prebuild for this CPU (prebuildify's layout), the last candidate. */
const prebuild = () => path.join(pkg, 'prebuilds', `linux-${process.arch}`, 'nslocate.napi.uv1.glibc.node')

test('nothing to load: one line naming the platform and how many places were tried; each place and why in details', async () => {
  const bad = path.join(top, 'nowhere', 'nslocate.node')
  const r = await load({NSLOCATE_ADDON: bad})
  const candidates = [bad, path.join(pkg, 'build', 'nslocate.node'), prebuild()]
  expect(r.candidates).toEqual(candidates)
  expect(r.loaded).toBe(false)
  expect(r.error).toEqual({
    name: 'NslocateError',
    code: 'NATIVE_LOAD',
    // no exitCode: exit statuses are the CLI's (src/cli/exit-status.ts), not the library's
    message: `cannot load the native addon for ${PLATFORM} (3 places tried); ${HINT}`,
    details: {platform: PLATFORM, tried: candidates.map((file) => ({file, error: 'not found'}))},
    advice: HINT,
  })
})

test('a file that is not an addon: its dlopen error, naming the file (not /proc/self/fd/N), is listed, then the other candidates', async () => {
  const bad = path.join(top, 'garbage.node')
  fs.writeFileSync(bad, 'not an ELF file\n')
  const r = await load({NSLOCATE_ADDON: bad})
  expect(r.loaded).toBe(false)
  expect(r.error!.message).toBe(`cannot load the native addon for ${PLATFORM} (3 places tried); ${HINT}`)
  const tried = r.error!.details.tried as Array<{file: string; error: string}>
  expect(tried[0]).toEqual({file: bad, error: expect.stringMatching(/(invalid ELF header|file too short)/)})
  expect(tried[0].error).toContain(bad)
  expect(tried[0].error).not.toContain('/proc/self/fd')
  expect(tried.slice(1)).toEqual([
    {file: path.join(pkg, 'build', 'nslocate.node'), error: 'not found'},
    {file: prebuild(), error: 'not found'},
  ])
})

test('NSLOCATE_ADDON that is a FIFO or a directory: "not a regular file", never opened for reading (a FIFO would block)', async () => {
  const fifo = path.join(top, 'fifo.node')
  execFileSync('mkfifo', ['-m', '0644', fifo])
  try {
    for (const bad of [fifo, path.join(top, 'nowhere-dir')]) {
      if (bad !== fifo) fs.mkdirSync(bad, {mode: 0o755})
      const r = await load({NSLOCATE_ADDON: bad})
      expect(r.loaded).toBe(false)
      expect((r.error!.details.tried as unknown[])[0]).toEqual({file: bad, error: 'not a regular file'})
    }
  } finally {
    fs.rmSync(fifo)
    fs.rmSync(path.join(top, 'nowhere-dir'), {recursive: true})
  }
})

test('NSLOCATE_ADDON is loaded from the file that was checked, and works (a root-owned copy of the addon)', async () => {
  const own = path.join(top, 'own')
  fs.mkdirSync(own, {mode: 0o755})
  fs.copyFileSync(ADDON_PATH, path.join(own, 'nslocate.node'))
  fs.chmodSync(path.join(own, 'nslocate.node'), 0o755)
  try {
    const r = await load({NSLOCATE_ADDON: path.join(own, 'nslocate.node')})
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({loaded: true, probe: {type: 'unlocked', pid: 0}})
  } finally {
    fs.rmSync(own, {recursive: true})
  }
})

test("a relative NSLOCATE_ADDON is the file of that name in the current directory, never one on Node's module paths ($HOME/.node_modules)", async () => {
  const home = path.join(top, 'home')
  const cwd = path.join(top, 'cwd')
  fs.mkdirSync(path.join(home, '.node_modules'), {recursive: true, mode: 0o755})
  fs.mkdirSync(cwd, {mode: 0o755})
  // On the module path, a file that is no addon: require('nslocate.node') would try it (and fail, naming it).
  const planted = path.join(home, '.node_modules', 'nslocate.node')
  fs.writeFileSync(planted, 'not an ELF file\n')
  try {
    const missing = await load({NSLOCATE_ADDON: 'nslocate.node', HOME: home}, cwd)
    expect(missing.candidates[0]).toBe(path.join(cwd, 'nslocate.node'))
    expect(missing.loaded).toBe(false)
    expect((missing.error!.details.tried as unknown[])[0]).toEqual({file: path.join(cwd, 'nslocate.node'), error: 'not found'})
    // With the addon in cwd, that one is loaded; the planted file is never looked at.
    fs.copyFileSync(ADDON_PATH, path.join(cwd, 'nslocate.node'))
    const r = await load({NSLOCATE_ADDON: 'nslocate.node', HOME: home}, cwd)
    expect(JSON.stringify(r)).not.toContain(planted)
    expect(r).toMatchObject({loaded: true, probe: {type: 'unlocked', pid: 0}})
  } finally {
    fs.rmSync(home, {recursive: true})
    fs.rmSync(cwd, {recursive: true})
  }
})

test('without NSLOCATE_ADDON the addon is found in build/ at the package root, and works', async () => {
  const dest = path.join(pkg, 'build', 'nslocate.node')
  fs.mkdirSync(path.dirname(dest), {recursive: true})
  fs.copyFileSync(ADDON_PATH, dest)
  try {
    const r = await load({})
    expect(r.candidates).toEqual([dest, prebuild()])
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({loaded: true, probe: {type: 'unlocked', pid: 0}})
  } finally {
    fs.rmSync(dest)
  }
})

test('without build/, the prebuild for this CPU (prebuilds/linux-ARCH/nslocate.napi.uv1.glibc.node) is loaded, and works', async () => {
  const dest = prebuild()
  fs.mkdirSync(path.dirname(dest), {recursive: true})
  fs.copyFileSync(path.join(ROOT, 'prebuilds', `linux-${process.arch}`, 'nslocate.napi.uv1.glibc.node'), dest)
  try {
    const r = await load({})
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({loaded: true, probe: {type: 'unlocked', pid: 0}})
  } finally {
    fs.rmSync(path.join(pkg, 'prebuilds'), {recursive: true})
  }
})

test('an addon above the package (<top>/build/nslocate.node) is never loaded, even when the package has none', async () => {
  const above = path.join(top, 'build', 'nslocate.node')
  fs.mkdirSync(path.dirname(above), {recursive: true})
  fs.copyFileSync(ADDON_PATH, above)
  try {
    const r = await load({})
    expect(r.candidates).toEqual([path.join(pkg, 'build', 'nslocate.node'), prebuild()])
    expect(r.loaded).toBe(false)
    expect(r.error).toMatchObject({code: 'NATIVE_LOAD'})
  } finally {
    fs.rmSync(path.dirname(above), {recursive: true})
  }
})
