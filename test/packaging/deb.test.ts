/**
 * The Debian package (scripts/build-deb.sh): its files, control fields and lintian's verdict, then
 * the package installed with apt into a debootstrapped Debian 12 (bookworm, minbase: nothing but
 * Debian's archive), where nslocate --help, man nslocate and a find against a real POSIX-locked
 * pidfile held by a process in that root must work with the package's own Node.js.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'

import {Chroot} from './chroot'
import {ROOT, expectHelpListsCommands, ok, readmeInstallCommands, run, tempDir} from './exec'

/**
 * The README's command (Install: `sudo apt-get install ./nslocate_VERSION_ARCH.deb`, run in /tmp where
 * the package is), with -y (no one to answer) and Dpkg::Use-Pty=0 (the root has no /dev/pts for apt's
 * log pty: "E: Can not write log").
 */
const ARCH = execFileSync('dpkg', ['--print-architecture'], {encoding: 'utf8'}).trim()
/** The README names the amd64 file; on another CPU, the same command with its architecture. */
const README_APT = readmeInstallCommands().deb.replace(/_amd64\.deb$/, `_${ARCH}.deb`)
const APT_INSTALL = ['sh', '-c', `cd /tmp && ${README_APT.replace(/^sudo apt-get install /, 'sudo apt-get install -y -o Dpkg::Use-Pty=0 ')}`]

describe('nslocate_<version>_<arch>.deb', () => {
  let dir: string
  let deb: string
  let listing: string[]
  let unpacked: string

  beforeAll(async () => {
    dir = tempDir('deb')
    deb = (await ok('bash', ['scripts/build-deb.sh', path.join(dir, 'out')], {timeoutMs: 540_000})).trim().split('\n').pop()!
    listing = (await ok('dpkg-deb', ['-c', deb])).split('\n').filter(Boolean)
    unpacked = path.join(dir, 'root')
    await ok('dpkg-deb', ['-x', deb, unpacked])
  }, 600_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, {recursive: true, force: true})
  })

  // Lines look like: "-rw-r--r-- root/root  27072 2026-11-24 20:59 ./usr/lib/nslocate/build/nslocate.node"
  const entry = (p: string) => listing.find((l) => l.endsWith(` ./${p}`) || l.includes(` ./${p} -> `))

  test('is named after the package version and this architecture, as the README\'s Install command names it', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const arch = (await ok('dpkg', ['--print-architecture'])).trim()
    expect(path.basename(deb)).toBe(`nslocate_${pkg.version.replace(/-/, '~')}_${arch}.deb`)
    expect(README_APT).toBe(`sudo apt-get install ./${path.basename(deb)}`)
  })

  test('lists the man page, the binary, its own node, the addon, changelog and copyright', () => {
    expect(entry('usr/share/man/man1/nslocate.1.gz')).toMatch(/^-rw-r--r-- root\/root/)
    expect(entry('usr/bin/nslocate')).toMatch(/^lrwxrwxrwx root\/root .* -> \.\.\/lib\/nslocate\/bin\/run\.js$/)
    expect(entry('usr/lib/nslocate/bin/run.js')).toMatch(/^-rwxr-xr-x root\/root/)
    expect(entry('usr/lib/nslocate/node/bin/node')).toMatch(/^-rwxr-xr-x root\/root/)
    expect(entry('usr/lib/nslocate/build/nslocate.node')).toMatch(/^-rw-r--r-- root\/root/)
    expect(entry('usr/lib/nslocate/oclif.manifest.json')).toBeDefined()
    expect(entry('usr/lib/nslocate/node_modules/@oclif/core/package.json')).toBeDefined()
    for (const f of ['changelog.gz', 'copyright', 'README.md.gz', 'LICENSE.node.gz']) expect(entry(`usr/share/doc/nslocate/${f}`)).toMatch(/^-rw-r--r-- root\/root/)
    expect(entry('usr/share/lintian/overrides/nslocate')).toBeDefined()
    expect(entry('usr/share/bash-completion/completions/nslocate')).toMatch(/^-rw-r--r-- root\/root/)
    expect(entry('usr/share/zsh/vendor-completions/_nslocate')).toMatch(/^-rw-r--r-- root\/root/)
    // Production dependencies only, and none of the dot files lintian rejects.
    expect(listing.filter((l) => / \.\/usr\/lib\/nslocate\/node_modules\/(jest|typescript|ts-jest|oclif|testcontainers|nock)\//.test(l))).toEqual([])
    expect(listing.filter((l) => /\/(\.npmignore|\.eslintrc[^/]*|eslint\.config\.[^/]+)$/.test(l))).toEqual([])
  })

  test('run.js starts on the packaged node; the node and the addon are stripped', () => {
    expect(fs.readFileSync(path.join(unpacked, 'usr/lib/nslocate/bin/run.js'), 'utf8').split('\n')[0]).toBe('#!/usr/lib/nslocate/node/bin/node')
    for (const f of ['usr/lib/nslocate/node/bin/node', 'usr/lib/nslocate/build/nslocate.node']) {
      const sections = execFileSync('readelf', ['-S', '-W', path.join(unpacked, f)], {encoding: 'utf8'})
      expect({file: f, symtab: /\.symtab\b/.test(sections), debug: /\.debug_/.test(sections)}).toEqual({file: f, symtab: false, debug: false})
    }
  })

  test('control: Depends from dpkg-shlibdeps (libc6, libstdc++6, no nodejs), a description', async () => {
    const fields = await ok('dpkg-deb', ['-f', deb, 'Package', 'Depends', 'Architecture', 'Description'])
    expect(fields).toMatch(/^Package: nslocate$/m)
    const depends = fields.match(/^Depends: (.*)$/m)![1].split(/,\s*/).map((d) => d.split(' ')[0])
    expect(depends).toEqual(expect.arrayContaining(['libc6', 'libstdc++6']))
    expect(depends).not.toContain('nodejs')
    expect(fields).toMatch(/^Architecture: \S+$/m)
    expect(fields).toMatch(/^Description: .+/m)
    expect(fields.split('\n').every((l) => l.length <= 80)).toBe(true)
  })

  test('lintian: no error and no warning that packaging/deb/lintian-overrides does not justify', async () => {
    // Its own TMPDIR, removed with `dir`: lintian (MLDBM) leaves /tmp/mldbm-elf-* files behind.
    const tmp = path.join(dir, 'lintian-tmp')
    fs.mkdirSync(tmp)
    const r = await run('lintian', ['--tag-display-limit', '0', deb], {timeoutMs: 300_000, env: {TMPDIR: tmp}})
    const tags = r.stdout.split('\n').filter((l) => /^[EW]: /.test(l))
    // lintian's only other words here: that it runs as root, as the whole tier does.
    const stderr = r.stderr.split('\n').filter((l) => l && l !== 'running with root privileges is not recommended!')
    expect({tags, stderr, status: r.status}).toEqual({tags: [], stderr: [], status: 0})
  }, 360_000)

  test('the man page in the package is docs/nslocate.1', () => {
    const gz = fs.readFileSync(path.join(unpacked, 'usr/share/man/man1/nslocate.1.gz'))
    expect(zlib.gunzipSync(gz).toString('utf8')).toBe(fs.readFileSync(path.join(ROOT, 'docs/nslocate.1'), 'utf8'))
  })

  test('the unpacked app --help lists every command (with the packaged node)', async () => {
    const lib = path.join(unpacked, 'usr/lib/nslocate')
    const r = await run(path.join(lib, 'node/bin/node'), [path.join(lib, 'bin/run.js'), '--help'], {timeoutMs: 30_000})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expectHelpListsCommands(r.stdout)
  })

  describe('installed with apt into a debootstrapped Debian 12 (bookworm, minbase)', () => {
    let root: Chroot

    beforeAll(async () => {
      root = await Chroot.create('bookworm')
      fs.copyFileSync(deb, root.host(`/tmp/${path.basename(deb)}`))
      // The same holder the other tiers use (fixtures/holders/holder.c), static: the root has no compiler.
      execFileSync(process.env.CC || 'cc', ['-O2', '-static', '-o', root.host('/usr/local/bin/holder'), path.join(ROOT, 'fixtures/holders/holder.c')])
    }, 600_000)

    afterAll(async () => {
      if (root) await root.close()
    })

    test('a foreign /usr/bin/nslocate (npm i -g) makes the install stop, naming it and what to do; the file stays', async () => {
      fs.symlinkSync('../lib/node_modules/nslocate/bin/run.js', root.host('/usr/bin/nslocate'))
      const r = await root.run(APT_INSTALL, {timeoutMs: 300_000})
      expect(fs.readlinkSync(root.host('/usr/bin/nslocate'))).toBe('../lib/node_modules/nslocate/bin/run.js')
      fs.rmSync(root.host('/usr/bin/nslocate'), {force: true})
      expect(r.status).not.toBe(0)
      expect(r.stderr).toContain('/usr/bin/nslocate already exists (-> ../lib/node_modules/nslocate/bin/run.js)')
      expect(r.stderr).toContain('npm rm -g nslocate')
      const status = await root.run(['dpkg-query', '-W', '-f', '${db:Status-Status}', 'nslocate'])
      expect(status.stdout).not.toBe('installed')
    }, 360_000)

    test('apt-get install ./nslocate_*.deb needs nothing beyond the minbase root', async () => {
      const r = await root.run(APT_INSTALL, {timeoutMs: 300_000})
      expect({status: r.status, stderr: r.stderr.split('\n').filter((l) => /^E: /.test(l))}).toEqual({status: 0, stderr: []})
      expect((await root.run(['dpkg-query', '-W', '-f', '${db:Status-Status}', 'nslocate'])).stdout).toBe('installed')
      // No Node.js from Debian came along: the package runs on its own.
      expect((await root.run(['sh', '-c', 'command -v node || echo none'])).stdout.trim()).toBe('none')
    }, 360_000)

    test('nslocate --help lists every command', async () => {
      const r = await root.run(['nslocate', '--help'], {timeoutMs: 60_000})
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expectHelpListsCommands(r.stdout)
    })

    test('bash completion for nslocate is installed where bash-completion loads it', async () => {
      const r = await root.run(['bash', '-c', '. /usr/share/bash-completion/completions/nslocate && complete -p nslocate'])
      expect({status: r.status, stdout: r.stdout.trim(), stderr: r.stderr}).toEqual({status: 0, stdout: 'complete -o default -F _nslocate nslocate', stderr: ''})
    })

    test('man nslocate renders the page', async () => {
      const r = await root.run(['man', 'nslocate'], {env: {MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80'}, timeoutMs: 60_000})
      expect(r.status).toBe(0)
      expect(r.stdout.split('\n')[0]).toMatch(/^NSLOCATE\(1\)\s+User Commands\s+NSLOCATE\(1\)$/)
      expect(r.stdout).toContain('EXIT STATUS')
    })

    test('find: a POSIX-locked pidfile held by a process in the root is running, with the holder\'s pid', async () => {
      fs.mkdirSync(root.host('/run/svc'), {recursive: true})
      const holder = root.spawn(['/usr/local/bin/holder', 'posix', '/run/svc/web.pid', '--write-pid'])
      const ready = await new Promise<string>((resolve, reject) => {
        let out = ''
        const timer = setTimeout(() => reject(new Error(`holder not ready after 10 s: ${out}`)), 10_000)
        holder.stdout!.on('data', (d) => {
          out += d
          if (out.includes('\n')) { clearTimeout(timer); resolve(out) }
        })
        holder.once('exit', (code) => { clearTimeout(timer); reject(new Error(`holder exited ${code}: ${out}`)) })
      })
      // Same PID namespace as the test: the pid the holder reports is the host's pid of the holder.
      const pid = Number(ready.match(/^ready (\d+)$/m)![1])
      expect(fs.readlinkSync(`/proc/${pid}/root`)).toBe(root.root)
      const r = await root.run(['nslocate', 'find', 'web', '--dir', '/run/svc', '--json'], {timeoutMs: 60_000})
      expect({status: r.status, stderr: r.stderr}).toEqual({status: 0, stderr: ''})
      const json = JSON.parse(r.stdout)
      expect({state: json.state, pid: json.pid, holder: json.holder}).toEqual({state: 'running', pid, holder: pid})
      holder.kill('SIGKILL')
      await new Promise((r) => (holder.exitCode !== null || holder.signalCode !== null ? r(null) : holder.once('exit', r)))
      const after = await root.run(['nslocate', 'find', 'web', '--dir', '/run/svc', '--json'], {timeoutMs: 60_000})
      expect([after.status, JSON.parse(after.stdout).state]).toEqual([1, 'stale'])
    }, 120_000)
  })
})
