/**
 * NSLOCATE_ADDON against a local attacker (docs/nslocate.1.md, NOTES, "Trusted sockets and
 * addons"): the file that is checked is the file that is loaded. A real unprivileged user
 * (test/helpers/users.ts) plants a shared object whose ELF constructor writes the marker file named
 * by root's $NSLOCATE_TEST_MARKER, with the uid it ran as; root runs the built CLI. The marker must
 * never hold the attacker's line.
 *
 * - The race: the attacker links her file in and out of existence at the name root's
 *   NSLOCATE_ADDON gives, in a sticky directory (as /tmp), while root runs `nslocate find` again and
 *   again. Before the fix the name was looked at three times (existsSync, the trust check, require)
 *   and the check let a missing file pass: her file was loaded as root.
 * - The name: a relative NSLOCATE_ADDON (`evil.node`) was checked in the current directory but
 *   required through Node's module paths ($HOME/.node_modules), so with HOME at her home root loaded
 *   her copy.
 * - The error when no addon loads (a copy of the package without build/ and prebuilds/): one line of
 *   at most 100 columns and one hint line, the places tried in --json.
 */
import {ChildProcess, execFileSync, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {CliResult, ROOT, cli, runCollect, tmpdir} from '../helpers/cli'
import {stopAll, track} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

if (process.getuid?.() !== 0) throw new Error('these tests plant files as a second user: run them as root (the test machines do)')

let atk: TestUser
let dir: string
let pidfile: string
const racers: ChildProcess[] = []

/** A shared object that, when dlopen()ed, appends "WHO uid=N" to $NSLOCATE_TEST_MARKER (Node then refuses it as an addon). */
function buildPlanted(out: string, who: string): void {
  const c = `${out}.c`
  fs.writeFileSync(
    c,
    `#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
  const char *m = getenv("NSLOCATE_TEST_MARKER");
  if (!m) return;
  char line[64];
  int n = snprintf(line, sizeof line, "%s uid=%d\\n", "${who}", (int)geteuid());
  int fd = open(m, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) { (void)write(fd, line, (size_t)n); close(fd); }
}
`,
  )
  execFileSync('cc', ['-shared', '-fPIC', '-o', out, c])
}

beforeAll(() => {
  atk = createTestUser('addonrace')
  dir = tmpdir('nslocate-addon-override-')
  fs.chmodSync(dir, 0o755)
  pidfile = path.join(dir, 'app.pid')
  fs.writeFileSync(pidfile, '4194304') // no such pid: `find` answers stale (1), after a lock probe, which needs the addon
})
afterAll(async () => {
  for (const r of racers) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL')
  await stopAll()
  atk?.remove()
  fs.rmSync(dir, {recursive: true, force: true})
})

const json = (r: CliResult) => {
  try {
    return JSON.parse(r.stdout)
  } catch {
    return null
  }
}

test("a name flipped between the attacker's hard link and nothing, in a sticky directory: her addon is never loaded as root", async () => {
  const evil = path.join(atk.home, 'evil.node')
  buildPlanted(evil, 'attacker')
  fs.chownSync(evil, atk.uid, atk.gid)
  fs.chmodSync(evil, 0o755)
  const racer = path.join(dir, 'racer')
  fs.writeFileSync(
    `${racer}.c`,
    `#include <unistd.h>
int main(int argc, char **argv) {
  (void)argc;
  for (;;) {
    if (link(argv[1], argv[2]) == 0) { usleep(300); unlink(argv[2]); }
    usleep(300);
  }
}
`,
  )
  execFileSync('cc', ['-O2', '-o', racer, `${racer}.c`])
  fs.chmodSync(racer, 0o755)
  // A sticky directory anyone may create names in, root's: /tmp's rules, not /tmp itself.
  const sticky = path.join(dir, 'sticky')
  fs.mkdirSync(sticky)
  fs.chmodSync(sticky, 0o1777)
  const name = path.join(sticky, 'x.node')
  const argv = atk.as([racer, evil, name])
  const child = spawn(argv[0], argv.slice(1), {stdio: 'ignore'})
  racers.push(child)
  track(child)

  const marker = path.join(dir, 'marker-race')
  const seen = {refused: 0, fallback: 0, other: [] as string[]}
  const RUNS = 240
  const PARALLEL = 4
  let next = 0
  const worker = async () => {
    while (next < RUNS && !fs.existsSync(marker)) {
      next++
      const r = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {env: {NSLOCATE_ADDON: name, NSLOCATE_TEST_MARKER: marker}})
      const out = json(r)
      if (
        r.status === 4 &&
        out?.error?.code === 'NATIVE_LOAD' &&
        out.error.message.startsWith(`refusing to load NSLOCATE_ADDON=${name}: owned by uid ${atk.uid}`)
      ) {
        seen.refused++
      } else if (r.status === 1 && out?.state === 'stale') {
        seen.fallback++
      } else {
        seen.other.push(`status ${r.status}: ${r.stdout}${r.stderr}`)
      }
    }
  }
  await Promise.all(Array.from({length: PARALLEL}, worker))
  child.kill('SIGKILL')
  const loaded = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : ''
  expect({loaded, other: seen.other}).toEqual({loaded: '', other: []})
  expect(seen.refused + seen.fallback).toBe(RUNS)
  // Both sides of the race were met: her file was there for some runs (refused: owned by her) and
  // gone for others (then the package's own addon is loaded, as when NSLOCATE_ADDON names nothing).
  expect(seen.refused).toBeGreaterThan(0)
  expect(seen.fallback).toBeGreaterThan(0)
}, 120_000)

test("a relative NSLOCATE_ADDON is the file in the current directory, never her copy on Node's module paths ($HOME/.node_modules)", async () => {
  const cwd = path.join(dir, 'cwd')
  fs.mkdirSync(cwd, {mode: 0o755})
  buildPlanted(path.join(cwd, 'evil.node'), 'cwd')
  const modules = path.join(atk.home, '.node_modules')
  fs.mkdirSync(modules, {recursive: true})
  buildPlanted(path.join(modules, 'evil.node'), 'attacker')
  execFileSync('chown', ['-R', `${atk.uid}:${atk.gid}`, modules])
  const marker = path.join(dir, 'marker-relative')
  for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
    fs.rmSync(marker, {force: true})
    const r = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {
      cwd,
      env: {HOME: atk.home, NSLOCATE_ADDON: 'evil.node', NSLOCATE_TEST_MARKER: marker, ...extra},
    })
    // root's own file in cwd was loaded (dlopen ran it; Node refused it as an addon), then the package's
    expect(fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '').toBe('cwd uid=0\n')
    expect({status: r.status, state: json(r)?.state}).toEqual({status: 1, state: 'stale'})
  }
  // Her copy in cwd instead: refused, named by its absolute path, and never loaded.
  fs.rmSync(path.join(cwd, 'evil.node'))
  fs.copyFileSync(path.join(modules, 'evil.node'), path.join(cwd, 'evil.node'))
  fs.chownSync(path.join(cwd, 'evil.node'), atk.uid, atk.gid)
  fs.rmSync(marker, {force: true})
  const r = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {cwd, env: {HOME: atk.home, NSLOCATE_ADDON: 'evil.node', NSLOCATE_TEST_MARKER: marker}})
  expect(r.status).toBe(4)
  expect(json(r)?.error?.message).toMatch(
    new RegExp(`^refusing to load NSLOCATE_ADDON=evil\\.node \\(${path.join(cwd, 'evil.node').replace(/[.]/g, '\\.')}\\): owned by uid ${atk.uid}`),
  )
  expect(fs.existsSync(marker)).toBe(false)
})

describe('no addon loads (a copy of the package without build/ and prebuilds/)', () => {
  let pkg: string
  beforeAll(() => {
    pkg = path.join(dir, 'pkg')
    fs.mkdirSync(pkg)
    for (const part of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
      if (fs.existsSync(path.join(ROOT, part))) fs.cpSync(path.join(ROOT, part), path.join(pkg, part), {recursive: true})
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'))
  })

  const HINT = 'build it from source: NSLOCATE_BUILD_FROM_SOURCE=1 npm rebuild nslocate'
  const PLATFORM = `linux-${process.arch}`

  test.each([
    ['the fast path', {}],
    ['oclif', {NSLOCATE_NO_FAST_PATH: '1'}],
  ])('%s: one line of at most 100 columns and one hint line; --json lists each place tried and why', async (_how, extra) => {
    const own = [path.join(pkg, 'build', 'nslocate.node'), path.join(pkg, 'prebuilds', PLATFORM, 'nslocate.napi.uv1.glibc.node')]
    for (const [env, tried] of [
      [{}, own],
      [{NSLOCATE_ADDON: '/nonexistent/nslocate.node'}, ['/nonexistent/nslocate.node', ...own]],
    ] as const) {
      const {NSLOCATE_ADDON: _unset, ...base} = process.env
      const argv = [process.execPath, path.join(pkg, 'bin', 'run.js'), 'find', 'app', '--pidfile', pidfile]
      const text = await runCollect(argv, {env: {...base, ...env, ...extra}})
      expect(text.status).toBe(4)
      expect(text.stdout).toBe('')
      const lines = text.stderr.split('\n')
      expect(lines).toEqual([`nslocate: cannot load the native addon for ${PLATFORM} (${tried.length} places tried)`, `hint: ${HINT}`, ''])
      for (const line of lines) expect(line.length).toBeLessThanOrEqual(100)

      const r = await runCollect([...argv, '--json'], {env: {...base, ...env, ...extra}})
      expect(r.status).toBe(4)
      expect(JSON.parse(r.stdout)).toEqual({
        error: {
          code: 'NATIVE_LOAD',
          message: `cannot load the native addon for ${PLATFORM} (${tried.length} places tried); ${HINT}`,
          hint: HINT,
          platform: PLATFORM,
          tried: tried.map((file) => ({file, error: 'not found'})),
        },
      })
    }
  })
})
