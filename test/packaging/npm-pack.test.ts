/**
 * The npm package as users get it: `npm pack`, then `npm install -g --prefix TMP nslocate-x.tgz`
 * (dependencies from the registry or the npm cache; the install script compiles the addon), then the
 * installed `nslocate` binary and man page; and the library's types in a fresh TypeScript consumer.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, expectHelpListsCommands, manifestCommands, ok, run, tempDir} from './exec'

describe('npm pack -> npm install -g --prefix', () => {
  let dir: string
  let tarball: string
  let prefix: string

  beforeAll(async () => {
    dir = tempDir('pack')
    // --ignore-scripts: npm test has built the tree; `prepare` would build it again.
    const out = await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {timeoutMs: 60_000})
    tarball = path.join(dir, JSON.parse(out)[0].filename)
    prefix = path.join(dir, 'prefix')
    await ok('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], {timeoutMs: 240_000})
  }, 300_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, {recursive: true, force: true})
  })

  test('the tarball ships the compiled commands, manifest, man page and addon source, not the tests', async () => {
    const files = (await ok('tar', ['-tzf', tarball])).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''))
    for (const f of ['package.json', 'LICENSE', 'bin/run.js', 'oclif.manifest.json', 'docs/nslocate.1', 'native/nslocate.c', 'scripts/build-native.js']) {
      expect(files).toContain(f)
    }
    for (const c of manifestCommands()) expect(files).toContain(`dist/commands/${c.id.replace(/:/g, '/')}.js`)
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.test.js'))).toEqual([])
  })

  test('LICENSE is the MIT license that package.json names', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    expect(pkg.license).toBe('MIT')
    const license = fs.readFileSync(path.join(prefix, 'lib', 'node_modules', 'nslocate', 'LICENSE'), 'utf8')
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} /)
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND')
  })

  test('npm install -g links the man page (package.json "man"), and man finds it under the prefix', async () => {
    const page = path.join(prefix, 'share', 'man', 'man1', 'nslocate.1')
    expect(fs.readFileSync(page, 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'docs', 'nslocate.1'), 'utf8'))
    const r = await run('man', ['-M', path.join(prefix, 'share', 'man'), 'nslocate'], {env: {MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80', LANG: 'C.UTF-8'}})
    expect(r.status).toBe(0)
    expect(r.stdout.split('\n')[0]).toMatch(/^NSLOCATE\(1\)/)
  })

  test('the installed nslocate --help lists every command', async () => {
    const bin = path.join(prefix, 'bin', 'nslocate')
    expect(fs.existsSync(bin)).toBe(true)
    const r = await run(bin, ['--help'], {timeoutMs: 30_000})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expectHelpListsCommands(r.stdout)
  })

  test('the install script built the native addon, and it loads', async () => {
    const addon = path.join(prefix, 'lib', 'node_modules', 'nslocate', 'build', 'nslocate.node')
    expect(fs.existsSync(addon)).toBe(true)
    const keys = await ok(process.execPath, ['-e', `console.log(Object.keys(require(${JSON.stringify(addon)})).join(' '))`])
    expect(keys).toMatch(/\bgetlk\b/)
  })

  test('every command answers --help from the installed package', async () => {
    const bin = path.join(prefix, 'bin', 'nslocate')
    for (const c of manifestCommands()) {
      const r = await run(bin, [...c.name.split(' '), '--help'], {timeoutMs: 30_000})
      expect({command: c.name, status: r.status}).toEqual({command: c.name, status: 0})
      expect(r.stdout).toContain(`$ nslocate ${c.name}`)
    }
  }, 120_000)

  test('npm install -g over the Debian package\'s /usr/bin/nslocate refuses (EEXIST) and leaves it alone', async () => {
    // The deb's link as dpkg lays it out, in a prefix of its own (as /usr would be).
    const other = path.join(dir, 'deb-prefix')
    fs.mkdirSync(path.join(other, 'bin'), {recursive: true})
    fs.symlinkSync('../lib/nslocate/bin/run.js', path.join(other, 'bin', 'nslocate'))
    const r = await run('npm', ['install', '-g', '--prefix', other, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], {timeoutMs: 240_000})
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain(`EEXIST: file already exists`)
    expect(fs.readlinkSync(path.join(other, 'bin', 'nslocate'))).toBe('../lib/nslocate/bin/run.js')
  }, 300_000)

  test('the package root has what a user of the library needs: main and types resolve', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const installed = path.join(prefix, 'lib', 'node_modules', 'nslocate')
    expect(fs.existsSync(path.join(installed, pkg.main))).toBe(true)
    expect(fs.existsSync(path.join(installed, pkg.types))).toBe(true)
  })
})
