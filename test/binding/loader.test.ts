/**
 * The loader's error when the addon cannot be loaded: it names every path it tried, with the reason
 * for each, and says how to fix it. Runs the binding the way an installed package does: transpiled
 * src/native/binding.ts and src/errors.ts copied into a temporary package tree (dist/ is not touched),
 * loaded by a separate Node.js process, so the candidate list can be made to miss for real.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ts from 'typescript'

import {ADDON_PATH, ROOT} from '../helpers/paths'
import {parseJsonResult, run} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

interface LoadResult {
  candidates: string[]
  loaded: boolean
  error?: {name: string; code: string; exitCode?: number; message: string}
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
const b = require(process.argv[1])
const out = {candidates: b.addonCandidates(), loaded: false}
try {
  b.native()
  out.loaded = true
  out.probe = b.probePosixLock(require('fs').openSync(process.argv[2], 'r'))
} catch (e) {
  out.error = {name: e.name, code: e.code, exitCode: e.exitCode, message: e.message}
}
console.log(JSON.stringify(out))`

/** Load the transpiled binding in a fresh Node.js process with exactly this NSLOCATE_ADDON (or none). */
async function load(env: {NSLOCATE_ADDON?: string}): Promise<LoadResult> {
  const {NSLOCATE_ADDON: _inherited, ...base} = process.env
  const r = await run([process.execPath, '-e', LOAD, path.join(pkg, 'src/native/binding.js'), __filename], {env: {...base, ...env}})
  return parseJsonResult<LoadResult>(r)
}

const FIX = 'Build it with `npm rebuild nslocate` (or `node scripts/build-native.js` in a checkout); it needs a C compiler and Node headers.'

test('nothing to load: the message lists every candidate as not found and says how to build the addon', async () => {
  const bad = path.join(top, 'nowhere', 'nslocate.node')
  const r = await load({NSLOCATE_ADDON: bad})
  const candidates = [bad, path.join(pkg, 'build', 'nslocate.node')]
  expect(r.candidates).toEqual(candidates)
  expect(r.loaded).toBe(false)
  expect(r.error).toEqual({
    name: 'NslocateError',
    code: 'NATIVE_LOAD',
    // no exitCode: exit statuses are the CLI's (src/cli/exit-status.ts), not the library's
    message: `cannot load nslocate's native addon. Tried:\n${candidates.map((c) => `  ${c}: not found`).join('\n')}\n${FIX}`,
  })
})

test('a file that is not an addon: its dlopen error is listed, then the other candidates', async () => {
  const bad = path.join(top, 'garbage.node')
  fs.writeFileSync(bad, 'not an ELF file\n')
  const r = await load({NSLOCATE_ADDON: bad})
  expect(r.loaded).toBe(false)
  const lines = r.error!.message.split('\n')
  expect(lines[0]).toBe("cannot load nslocate's native addon. Tried:")
  expect(lines[1]).toMatch(new RegExp(`^  ${bad}: .*(invalid ELF header|file too short)`))
  expect(lines.slice(2)).toEqual([`  ${path.join(pkg, 'build', 'nslocate.node')}: not found`, FIX])
})

test('without NSLOCATE_ADDON the addon is found in build/ at the package root, and works', async () => {
  const dest = path.join(pkg, 'build', 'nslocate.node')
  fs.mkdirSync(path.dirname(dest), {recursive: true})
  fs.copyFileSync(ADDON_PATH, dest)
  try {
    const r = await load({})
    expect(r.candidates).toEqual([dest])
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({loaded: true, probe: {type: 'unlocked', pid: 0}})
  } finally {
    fs.rmSync(dest)
  }
})

test('an addon above the package (<top>/build/nslocate.node) is never loaded, even when the package has none', async () => {
  const above = path.join(top, 'build', 'nslocate.node')
  fs.mkdirSync(path.dirname(above), {recursive: true})
  fs.copyFileSync(ADDON_PATH, above)
  try {
    const r = await load({})
    expect(r.candidates).toEqual([path.join(pkg, 'build', 'nslocate.node')])
    expect(r.loaded).toBe(false)
    expect(r.error).toMatchObject({code: 'NATIVE_LOAD'})
  } finally {
    fs.rmSync(path.dirname(above), {recursive: true})
  }
})
