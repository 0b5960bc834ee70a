/**
 * The library's declarations as a TypeScript user gets them: `npm pack`, a fresh consumer project with
 * the current TypeScript (whose default is "types": [], so no ambient Node.js types unless a package
 * brings them) and skipLibCheck off, then `tsc --noEmit` as an ES module (module nodenext,
 * "type": "module") and as CommonJS (module commonjs).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, ok, run, tempDir} from './exec'

/** The current TypeScript (7, the native compiler): what `npm i typescript` gives a new project. */
const TYPESCRIPT = 'typescript@7.0.2'

const USE = `import {locate, locateSync, list, signal, waitFor, acquire, defaultRuntimeDir, NslocateError} from 'nslocate'
import type {LocateResult, SignalResult, SignalOutcome, PidfileHandle, Reason, State} from 'nslocate'

export async function demo(): Promise<string> {
  const found: LocateResult = await locate('web', {env: {XDG_RUNTIME_DIR: '/run/user/1000'}})
  const now: State = locateSync({name: 'web'}).state
  const sent: SignalResult = await signal('web', 'TERM', {container: 'app'})
  const outcome: SignalOutcome = sent.outcome
  const reasons: Reason[] = found.reasons
  const held: PidfileHandle = await acquire({name: 'web', dir: defaultRuntimeDir(process.env)})
  const rows = (await list({dir: '/run'})).services
  void waitFor
  return [found.state, now, outcome, reasons, rows, held, new NslocateError('USAGE', 'x') instanceof Error].join(' ')
}
`

describe('the types in a fresh TypeScript consumer', () => {
  let dir: string

  beforeAll(async () => {
    dir = tempDir('types')
    const out = await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {timeoutMs: 60_000})
    const tarball = path.join(dir, JSON.parse(out)[0].filename)
    const consumer = path.join(dir, 'consumer')
    fs.mkdirSync(consumer)
    fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({name: 'consumer', version: '1.0.0', private: true}))
    // --ignore-scripts: only the declarations matter here (npm-pack.test.ts covers the addon build).
    await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball, TYPESCRIPT], {cwd: consumer, timeoutMs: 300_000})
  }, 360_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, {recursive: true, force: true})
  })

  const tsc = async (name: string, type: 'module' | 'commonjs', compilerOptions: object) => {
    const consumer = path.join(dir, 'consumer')
    const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'package.json'), 'utf8'))
    fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({...pkg, type}))
    fs.writeFileSync(path.join(consumer, `${name}.ts`), USE)
    fs.writeFileSync(path.join(consumer, `tsconfig.${name}.json`), JSON.stringify({
      compilerOptions: {strict: true, skipLibCheck: false, types: [], target: 'es2022', ...compilerOptions},
      files: [`${name}.ts`],
    }))
    const bin = path.join(consumer, 'node_modules', '.bin', 'tsc')
    const version = (await ok(bin, ['--version'], {cwd: consumer})).trim()
    const r = await run(bin, ['--noEmit', '-p', `tsconfig.${name}.json`], {cwd: consumer, timeoutMs: 120_000})
    return {version, status: r.status, errors: (r.stdout + r.stderr).split('\n').filter((l) => /error TS/.test(l))}
  }

  test('module nodenext, "type": "module" (an ES module importing the CommonJS package)', async () => {
    const r = await tsc('esm', 'module', {module: 'nodenext', moduleResolution: 'nodenext', verbatimModuleSyntax: true})
    expect(r.version).toMatch(/^Version 7\./)
    expect({status: r.status, errors: r.errors}).toEqual({status: 0, errors: []})
  }, 150_000)

  test('module commonjs', async () => {
    const r = await tsc('cjs', 'commonjs', {module: 'commonjs', esModuleInterop: true})
    expect({status: r.status, errors: r.errors}).toEqual({status: 0, errors: []})
  }, 150_000)

  test('package.json: types exist in the package; @types/node comes as a dependency with any version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    expect(pkg.dependencies['@types/node']).toBe('*')
    expect(fs.existsSync(path.join(dir, 'consumer', 'node_modules', 'nslocate', pkg.types))).toBe(true)
  })
})
