/**
 * The Debian package (scripts/build-deb.sh): its file list and control fields, then the package
 * unpacked into a scratch root with dpkg-deb -x and run from there.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'

import {ROOT, expectHelpListsCommands, ok, run, tempDir} from './exec'

describe('nslocate_<version>_<arch>.deb', () => {
  let dir: string
  let deb: string
  let listing: string[]
  let unpacked: string

  beforeAll(async () => {
    dir = tempDir('deb')
    deb = (await ok('bash', ['scripts/build-deb.sh', path.join(dir, 'out')], {timeoutMs: 240_000})).trim().split('\n').pop()!
    listing = (await ok('dpkg-deb', ['-c', deb])).split('\n').filter(Boolean)
    unpacked = path.join(dir, 'root')
    await ok('dpkg-deb', ['-x', deb, unpacked])
  }, 300_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, {recursive: true, force: true})
  })

  test('is named after the package version and this architecture', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const arch = (await ok('dpkg', ['--print-architecture'])).trim()
    expect(path.basename(deb)).toBe(`nslocate_${pkg.version.replace(/-/, '~')}_${arch}.deb`)
  })

  test('dpkg-deb -c lists the man page, the binary and the addon', () => {
    // Lines look like: "-rw-r--r-- root/root  27072 2026-11-24 20:59 ./usr/lib/nslocate/build/nslocate.node"
    const entry = (p: string) => listing.find((l) => l.endsWith(` ./${p}`) || l.includes(` ./${p} -> `))
    expect(entry('usr/share/man/man1/nslocate.1.gz')).toMatch(/^-rw-r--r-- root\/root/)
    expect(entry('usr/bin/nslocate')).toMatch(/^lrwxrwxrwx root\/root .* -> \.\.\/lib\/nslocate\/bin\/run\.js$/)
    expect(entry('usr/lib/nslocate/bin/run.js')).toMatch(/^-rwxr-xr-x root\/root/)
    expect(entry('usr/lib/nslocate/build/nslocate.node')).toMatch(/^-rw-r--r-- root\/root/)
    expect(entry('usr/lib/nslocate/oclif.manifest.json')).toBeDefined()
    expect(entry('usr/lib/nslocate/node_modules/@oclif/core/package.json')).toBeDefined()
    // Production dependencies only.
    expect(listing.filter((l) => / \.\/usr\/lib\/nslocate\/node_modules\/(jest|typescript|ts-jest|oclif|testcontainers)\//.test(l))).toEqual([])
  })

  test('control: Depends on nodejs (>= 20), amd64-style architecture, a description', async () => {
    const fields = await ok('dpkg-deb', ['-f', deb, 'Package', 'Depends', 'Architecture', 'Description'])
    expect(fields).toMatch(/^Package: nslocate$/m)
    expect(fields).toMatch(/^Depends: nodejs \(>= 20\)$/m)
    expect(fields).toMatch(/^Architecture: \S+$/m)
    expect(fields).toMatch(/^Description: .+/m)
  })

  test('the man page in the package is docs/nslocate.1', () => {
    const gz = fs.readFileSync(path.join(unpacked, 'usr/share/man/man1/nslocate.1.gz'))
    expect(zlib.gunzipSync(gz).toString('utf8')).toBe(fs.readFileSync(path.join(ROOT, 'docs/nslocate.1'), 'utf8'))
  })

  test('the unpacked usr/lib/nslocate/bin/run.js --help lists every command', async () => {
    const r = await run(process.execPath, [path.join(unpacked, 'usr/lib/nslocate/bin/run.js'), '--help'], {timeoutMs: 30_000})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expectHelpListsCommands(r.stdout)
  })

  test('the unpacked usr/bin/nslocate symlink runs, and loads the packaged addon', async () => {
    const r = await run(path.join(unpacked, 'usr/bin/nslocate'), ['--version'], {timeoutMs: 30_000})
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^nslocate\/\S+ linux-/)
    const addon = path.join(unpacked, 'usr/lib/nslocate/build/nslocate.node')
    expect(await ok(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(addon)}).getlk)`])).toBe('function\n')
  })
})
