/**
 * The benchmark cannot rot: `npm run bench -- --smoke` (tiny sizes, few runs) must run every
 * measurement to the end, through hyperfine and tinybench, and report a positive figure for each.
 * Figures are never compared with anything (bench/README.md: targets are reported, not asserted;
 * timed assertions on this shared machine would only flake).
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const ROOT = path.resolve(__dirname, '../..')
const bench = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bench', 'run.js'), ...args], {
    cwd: ROOT,
    env: {...process.env, ...env},
    encoding: 'utf8',
    timeout: 170_000,
    killSignal: 'SIGKILL',
  })

/** The measurement ids, as `--help` lists them (what --only accepts). */
function benchIds(): string[] {
  const r = bench(['--help'])
  expect(r.status).toBe(0)
  const m = /--only LIST\s+comma-separated subset of: (\S+)/.exec(r.stdout)
  if (!m) throw new Error(`bench --help names no measurements:\n${r.stdout}`)
  return m[1].split(',')
}

interface Stats {
  n: number
  median: number
}
interface Row {
  id: string
  tool: string
  unit: string
  nslocate: Stats
  reference: {label: string; stats: Stats} | null
  ratio: number | null
}

test('options are parsed strictly: --help lists the measurements; a bad option is exit status 2', () => {
  expect(benchIds()).toEqual(
    expect.arrayContaining([
      'find-posix',
      'startup',
      'find-unlocked',
      'find-flock',
      'locate-rate',
      'signal',
      'wait',
      'find-container',
      'runtimes',
      'reload',
      'serve',
      'list-scale',
    ]),
  )
  for (const bad of [['--only', 'find-posix,nope'], ['--runs', '0'], ['--procs', 'many'], ['--frobnicate']]) {
    const r = bench(bad)
    expect({bad, status: r.status}).toEqual({bad, status: 2})
    expect(r.stderr).toMatch(/^bench: .*\nusage: node bench\/run\.js/)
  }
})

test('npm run bench -- --smoke measures every figure with hyperfine or tinybench and writes results.json and results.md', () => {
  const ids = benchIds()
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-bench-smoke-'))
  try {
    const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--smoke'], {
      cwd: ROOT,
      env: {...process.env, NSLOCATE_BENCH_OUT: out},
      encoding: 'utf8',
      timeout: 170_000,
      killSignal: 'SIGKILL',
    })
    if (r.status !== 0)
      throw new Error(`bench --smoke failed: exit ${r.status} ${r.signal ?? ''}\nstdout:\n${r.stdout}\nstderr:\n${String(r.stderr).slice(-3000)}`)
    const json = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      meta: {smoke: boolean}
      results: Row[]
      errors: unknown[]
      skipped: string[]
    }
    expect(json.errors).toEqual([])
    expect(json.meta.smoke).toBe(true)
    // find-container needs an engine (CI has one, and a missing engine is a failure there, never a skip)
    const engine = spawnSync('docker', ['version'], {stdio: 'ignore'}).status === 0
    if (process.env.CI === 'true' && !engine) throw new Error('CI=true: no Docker engine answers `docker version`')
    expect(json.skipped).toEqual(engine ? [] : ['find-container: no Docker engine answers `docker version`: not measured'])
    const measured = (id: string) => json.results.some((x) => x.id === id || x.id.startsWith(`${id}-`))
    expect({missing: ids.filter((id) => !measured(id) && (engine || id !== 'find-container'))}).toEqual({missing: []})
    expect({unknown: json.results.map((x) => x.id).filter((x) => !ids.some((id) => x === id || x.startsWith(`${id}-`)))}).toEqual({unknown: []})
    for (const x of json.results) {
      // every figure is a positive number, and a ratio is the two medians of this run
      const figures = {id: x.id, tool: x.tool, n: x.nslocate.n > 0, median: x.nslocate.median > 0, ref: x.reference === null || x.reference.stats.median > 0}
      expect(figures).toEqual({id: x.id, tool: expect.stringMatching(/^(hyperfine|tinybench|strace|rusage\.c|count)$/), n: true, median: true, ref: true})
      if (x.reference) expect(x.ratio).toBeCloseTo(x.nslocate.median / x.reference.stats.median, 1)
    }
    // the start-up figures are hyperfine's, each against node -e 0 from the same run; locate-rate is tinybench's against the bare probe
    for (const cmd of ['find', 'list', 'signal', 'wait', 'run']) {
      expect(json.results.find((x) => x.id === `startup-${cmd}`)).toMatchObject({tool: 'hyperfine', reference: {label: 'node -e 0'}})
    }
    expect(json.results.find((x) => x.id === 'locate-rate')).toMatchObject({tool: 'tinybench', unit: 'calls/s', reference: {label: 'bare probe'}})
    expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8')).toContain('SMOKE run')
    expect(r.stdout).toContain('find, POSIX-locked pidfile (CLI)')
  } finally {
    fs.rmSync(out, {recursive: true, force: true})
  }
}, 180_000)
