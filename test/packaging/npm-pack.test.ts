/**
 * The npm package as users get it: `npm pack`, then `npm install -g --prefix TMP nslocate-x.tgz`
 * (dependencies from the registry or the npm cache; the install script compiles nothing: the
 * package's prebuilt addon fits), then the installed `nslocate` binary and man page; the source build
 * when asked for (NSLOCATE_BUILD_FROM_SOURCE=1). (test/packaging/install-chroot.test.ts installs it on
 * a machine without a compiler, on the normal PATH.)
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
    const prebuilds = ['x64', 'arm64'].map((arch) => `prebuilds/linux-${arch}/nslocate.napi.uv1.glibc.node`)
    for (const f of ['package.json', 'LICENSE', 'bin/run.js', 'oclif.manifest.json', 'docs/nslocate.1', 'native/nslocate.c', 'scripts/build-native.js', ...prebuilds]) {
      expect(files).toContain(f)
    }
    for (const c of manifestCommands()) expect(files).toContain(`dist/commands/${c.id.replace(/:/g, '/')}.js`)
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('build/') || f.endsWith('.test.js'))).toEqual([])
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

  test('the install script compiled nothing (no build/): the prebuild for this CPU is what loads', async () => {
    const installed = path.join(prefix, 'lib', 'node_modules', 'nslocate')
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false)
    const script = `const b = require(${JSON.stringify(path.join(installed, 'dist/src/native/binding.js'))}); b.pidfdOpen(process.pid)
      console.log(Object.keys(require.cache).filter((k) => k.endsWith('.node')).join(' '))`
    expect((await ok(process.execPath, ['-e', script])).trim()).toBe(path.join(installed, 'prebuilds', `linux-${process.arch}`, 'nslocate.napi.uv1.glibc.node'))
  })

  test('NSLOCATE_BUILD_FROM_SOURCE=1: the install builds build/nslocate.node with cc, and the loader takes it first', async () => {
    const other = path.join(dir, 'source-prefix')
    const t0 = Date.now()
    await ok('npm', ['install', '-g', '--prefix', other, '--no-audit', '--no-fund', '--prefer-offline', tarball], {env: {NSLOCATE_BUILD_FROM_SOURCE: '1'}, timeoutMs: 240_000})
    console.log(`npm install -g with NSLOCATE_BUILD_FROM_SOURCE=1 (cc here) took ${Date.now() - t0} ms`)
    const installed = path.join(other, 'lib', 'node_modules', 'nslocate')
    const script = `const b = require(${JSON.stringify(path.join(installed, 'dist/src/native/binding.js'))}); b.pidfdOpen(process.pid)
      console.log(Object.keys(require.cache).filter((k) => k.endsWith('.node')).join(' '))`
    expect((await ok(process.execPath, ['-e', script])).trim()).toBe(path.join(installed, 'build', 'nslocate.node'))
  }, 300_000)

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
