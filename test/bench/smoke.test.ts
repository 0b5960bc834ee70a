/**
 * The benchmark cannot rot: `npm run bench -- --smoke` (tiny sizes, few runs) must run every
 * measurement to the end and write its three outputs. Figures are not asserted (bench/README.md:
 * targets are reported, never asserted; timed tests on this noisy machine would only flake).
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const ROOT = path.resolve(__dirname, '../..')
// Every measurement bench/run.js defines (its ALL_IDS, also what --only accepts), read from the
// script itself so a new measurement cannot be left out of the smoke run.
function benchIds(): string[] {
  const src = fs.readFileSync(path.join(ROOT, 'bench', 'run.js'), 'utf8')
  const m = /^const ALL_IDS = \[([^\]]*)\]/m.exec(src)
  if (!m) throw new Error('bench/run.js: no `const ALL_IDS = [...]` line to read the measurement ids from')
  return m[1].split(',').map((x) => x.trim().replace(/^'(.*)'$/, '$1')).filter(Boolean)
}
const ALL_IDS = benchIds()
const IDS = ALL_IDS.filter((id) => id !== 'find-container')

test('the measurement ids are read from bench/run.js and match its --only usage', () => {
  expect(ALL_IDS).toEqual(expect.arrayContaining(['find-posix', 'find-unlocked', 'find-flock', 'locate-rate', 'signal', 'wait', 'find-container', 'reload', 'serve']))
  for (const id of ALL_IDS) expect(id).toMatch(/^[a-z][a-z-]*$/)
  const usage = /--only LIST comma-separated subset of: (\S+)`/.exec(fs.readFileSync(path.join(ROOT, 'bench', 'run.js'), 'utf8'))
  expect(usage?.[1].split(',')).toEqual(ALL_IDS)
})

test('npm run bench -- --smoke measures every figure and writes results.json, results.md and chart.svg', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-bench-smoke-'))
  try {
    const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--smoke'], {
      cwd: ROOT, env: {...process.env, NSLOCATE_BENCH_OUT: out}, encoding: 'utf8', timeout: 170_000, killSignal: 'SIGKILL',
    })
    const said = `exit ${r.status} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${String(r.stderr).slice(-3000)}`
    if (r.status !== 0) throw new Error(`bench --smoke failed: ${said}`)
    const json = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'))
    expect(json.errors).toEqual([])
    expect(json.meta.smoke).toBe(true)
    // Every measurement ran and produced a median; find-container needs an engine (CI has one, and
    // a missing engine is a failure there, never a skip).
    const engine = spawnSync('docker', ['version'], {stdio: 'ignore'}).status === 0
    if (process.env.CI === 'true' && !engine) throw new Error('CI=true: no Docker engine answers `docker version`')
    const ids = new Set(json.results.map((x: {id: string}) => x.id.replace(/-vs-.*$/, '')))
    const missing = (engine ? ALL_IDS : IDS).filter((id) => ![...ids].some((x) => String(x).startsWith(id)))
    expect({missing}).toEqual({missing: []})
    // and every figure belongs to a measurement --only can name
    const unknown = json.results.map((x: {id: string}) => x.id).filter((x: string) => !ALL_IDS.some((id) => x.startsWith(id)))
    expect({unknown}).toEqual({unknown: []})
    expect(json.skipped).toEqual(engine ? [] : ['find-container: no Docker engine answers `docker version`: not measured'])
    for (const x of json.results) expect(Number.isFinite(x.nslocate?.median)).toBe(true)
    expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8')).toContain('SMOKE run')
    expect(fs.readFileSync(path.join(out, 'chart.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/)
    expect(r.stdout).toContain('find, POSIX-locked pidfile (CLI)')
  } finally {
    fs.rmSync(out, {recursive: true, force: true})
  }
}, 180_000)
