/**
 * `npm install -g nslocate` as the README's Install section says, on a machine set up as its Set up
 * section says, with no C compiler: a debootstrapped Debian 12 (minbase, man-db, sudo) given Node.js
 * 24 the way scripts/setup.sh gives it (scripts/install-node.sh --link: /opt/nslocate/node-24, linked
 * from /usr/local/bin, npm's global prefix /usr/local). The packed tarball stands in for the registry's
 * `nslocate`; its dependencies come from the registry (through this machine's npm cache, mounted in).
 * Installed by root, then by a sudo user from a login shell: `nslocate` and `man nslocate` are found
 * through the normal PATH and manpath, and run, find and signal work with the prebuilt addon.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {Chroot} from './chroot'
import {ROOT, ok, readmeInstallCommands, tempDir} from './exec'

const USER = 'nsl-p-user'
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {name: string; version: string}
const TARBALL = `/tmp/${PKG.name}-${PKG.version}.tgz`
/** The README's command (Install: `sudo npm install -g nslocate`), with the packed tarball for the registry's name. */
const NPM_INSTALL = readmeInstallCommands().npm.replace(/ nslocate$/, ` ${TARBALL}`)
/** The man page npm -g links as /usr/local/share/man/man1/nslocate.1. */
const PAGE = '/usr/local/lib/node_modules/nslocate/docs/nslocate.1'

let dir: string
let root: Chroot

beforeAll(async () => {
  dir = tempDir('install-chroot')
  const packed = JSON.parse(await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {timeoutMs: 60_000}))[0]
  root = await Chroot.create('bookworm')
  fs.copyFileSync(path.join(dir, packed.filename), root.host(TARBALL))
  // Node.js as setup.sh installs it: the pinned Node 24 (here already, so copied in), then install-node.sh --link run inside.
  const bin = (await ok('bash', ['scripts/install-node.sh', '24'], {timeoutMs: 240_000})).trim().split('\n').pop()!
  fs.mkdirSync(root.host('/opt/nslocate'), {recursive: true})
  await ok('cp', ['-a', path.dirname(bin), root.host('/opt/nslocate/node-24')], {timeoutMs: 120_000})
  fs.copyFileSync(path.join(ROOT, 'scripts', 'install-node.sh'), root.host('/tmp/install-node.sh'))
  const linked = await root.run(['bash', '/tmp/install-node.sh', '--link', '24'])
  expect({status: linked.status, stdout: linked.stdout}).toEqual({status: 0, stdout: '/opt/nslocate/node-24/bin\n'})
  // This machine's extra CA (NODE_EXTRA_CA_CERTS: e.g. a TLS-inspecting proxy between it and the
  // registry), trusted by the root's npm too (its builtin config: root's and sudo's npm alike read it).
  if (process.env.NODE_EXTRA_CA_CERTS) {
    fs.mkdirSync(root.host('/etc/ssl/certs'), {recursive: true})
    fs.copyFileSync(process.env.NODE_EXTRA_CA_CERTS, root.host('/etc/ssl/certs/nslocate-test-host-ca.crt'))
    fs.writeFileSync(root.host('/opt/nslocate/node-24/lib/node_modules/npm/npmrc'), 'cafile=/etc/ssl/certs/nslocate-test-host-ca.crt\n')
  }
  // A machine set up knows its own name (sudo looks it up).
  fs.appendFileSync(root.host('/etc/hosts'), `127.0.1.1\t${os.hostname()}\n`)
  // npm's cache: this machine's (dependencies are fetched once), as root's in the root.
  const cache = (await ok('npm', ['config', 'get', 'cache'])).trim()
  await root.bind(cache, '/root/.npm')
}, 600_000)

afterAll(async () => {
  if (root) await root.close()
  if (dir) fs.rmSync(dir, {recursive: true, force: true})
})

test('the root has Node.js 24 and npm from /usr/local/bin, npm -g goes to /usr/local, and there is no C compiler', async () => {
  const r = await root.run(['sh', '-c', 'for c in node npm cc gcc c99 clang tcc; do command -v $c; done; node --version; npm prefix -g'])
  expect(r.stdout).toBe(`/usr/local/bin/node\n/usr/local/bin/npm\nv24.22.3\n/usr/local\n`)
})

test('as root: the README\'s sudo npm install -g installs without compiling anything of nslocate (no build/)', async () => {
  const t0 = Date.now()
  expect(NPM_INSTALL).toBe(`sudo npm install -g ${TARBALL}`)
  const r = await root.run(['sh', '-c', NPM_INSTALL], {timeoutMs: 240_000})
  console.log(`npm install -g (no compiler) took ${Date.now() - t0} ms; stderr:\n${r.stderr}`)
  expect(r.status).toBe(0)
  expect(fs.existsSync(root.host('/usr/local/lib/node_modules/nslocate/prebuilds'))).toBe(true)
  expect(fs.existsSync(root.host('/usr/local/lib/node_modules/nslocate/build'))).toBe(false)
}, 300_000)

test('as root: nslocate and man nslocate are found through the normal PATH and manpath', async () => {
  const r = await root.run(['sh', '-c', 'command -v nslocate && nslocate --version && man -w nslocate && man nslocate | head -1'], {
    env: {MANPAGER: 'cat', MANWIDTH: '80'},
    timeoutMs: 60_000,
  })
  expect({status: r.status, stderr: r.stderr}).toEqual({status: 0, stderr: ''})
  expect(r.stdout.split('\n')).toEqual([
    '/usr/local/bin/nslocate',
    expect.stringMatching(new RegExp(`^nslocate/${PKG.version.replace(/\./g, '\\.')} linux-\\w+ node-v24\\.`)),
    // man -w names the page npm linked into /usr/local/share/man by where the link leads
    PAGE,
    expect.stringMatching(/^NSLOCATE\(1\)\s+User Commands\s+NSLOCATE\(1\)$/),
    '',
  ])
  expect(fs.readlinkSync(root.host('/usr/local/share/man/man1/nslocate.1'))).toBe('../../../lib/node_modules/nslocate/docs/nslocate.1')
})

test('with --ignore-scripts too: a project\'s local install works (exit 3: not running)', async () => {
  const r = await root.run(['sh', '-c', `mkdir -p /tmp/proj && cd /tmp/proj && npm install --ignore-scripts --no-audit --no-fund ${TARBALL} >/dev/null && npx nslocate find nothere`], {
    timeoutMs: 240_000,
  })
  expect({status: r.status, first: r.stdout.split('\n')[0], stderr: r.stderr}).toEqual({status: 3, first: 'nothere: not running (no pidfile)', stderr: ''})
}, 300_000)

test('run, find and signal with the prebuilt addon: found running (exit 0), stopped (exit 0), then not running (exit 3)', async () => {
  const service = root.spawn(['nslocate', 'run', 'demo', '--', 'sleep', '600'])
  const exited = new Promise<number | null>((resolve) => service.once('exit', (code) => resolve(code)))
  let pid = 0
  try {
    let found = await root.run(['nslocate', 'find', 'demo', '--json'], {timeoutMs: 60_000})
    for (let i = 0; i < 50 && found.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      found = await root.run(['nslocate', 'find', 'demo', '--json'], {timeoutMs: 60_000})
    }
    expect({status: found.status, stderr: found.stderr}).toEqual({status: 0, stderr: ''})
    const json = JSON.parse(found.stdout)
    pid = json.pid
    // the lock is held by `run` (the supervisor), the pid is its service's
    expect(json).toMatchObject({name: 'demo', state: 'running', holder: service.pid})
    // run writes the pid before it lets its held child execute sleep: polled
    const cmdline = () => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      } catch {
        return ''
      }
    }
    for (let i = 0; i < 100 && cmdline() !== 'sleep\u0000600\u0000'; i++) await new Promise((r) => setTimeout(r, 100))
    expect(cmdline()).toBe('sleep\u0000600\u0000')
    // The same from the project's local install (--ignore-scripts).
    const local = await root.run(['/tmp/proj/node_modules/.bin/nslocate', 'find', 'demo', '--quiet'], {timeoutMs: 60_000})
    expect(local.status).toBe(0)
    const stopped = await root.run(['nslocate', 'signal', 'demo', 'TERM', '--wait'], {timeoutMs: 60_000})
    expect({status: stopped.status, stderr: stopped.stderr}).toEqual({status: 0, stderr: ''})
    await exited
    const after = await root.run(['nslocate', 'find', 'demo'], {timeoutMs: 60_000})
    expect(after.status).toBe(3)
  } finally {
    // On a failure above: the service (run itself is ended by close())
    if (pid) await ok('kill', ['-KILL', String(pid)]).catch(() => undefined)
  }
}, 120_000)

test('NSLOCATE_BUILD_FROM_SOURCE=1 asks for the source build, which fails here for want of a compiler, and says so', async () => {
  const r = await root.run(['sh', '-c', `mkdir -p /tmp/src && cd /tmp/src && npm install --no-audit --no-fund ${TARBALL}`], {
    env: {NSLOCATE_BUILD_FROM_SOURCE: '1'},
    timeoutMs: 240_000,
  })
  expect(r.status).not.toBe(0)
  expect(r.stderr).toContain(`nslocate: no prebuilt addon fits linux-${process.arch}, and building it failed: cc `)
  expect(r.stderr).toContain('cc not found')
  expect(r.stderr).toContain('A C compiler is needed for that (Debian: apt-get install gcc libc6-dev).')
}, 300_000)

test('a sudo user: the README\'s sudo npm install -g, then nslocate and man -w from a login shell, and sudo nslocate', async () => {
  const gone = await root.run(['sh', '-c', 'npm uninstall -g nslocate >/dev/null && ls /usr/local/bin /usr/local/share/man/man1'])
  expect(gone.stdout.split('\n')).not.toContain('nslocate')
  expect(gone.stdout.split('\n')).not.toContain('nslocate.1')
  await ok('chroot', [root.root, 'useradd', '--create-home', '--shell', '/bin/bash', USER])
  fs.writeFileSync(root.host(`/etc/sudoers.d/${USER}`), `${USER} ALL=(ALL) NOPASSWD: ALL\n`, {mode: 0o440})
  const as = (command: string) => root.run(['su', '--login', USER, '--command', command], {timeoutMs: 240_000})
  const t0 = Date.now()
  const installed = await as(NPM_INSTALL)
  console.log(`sudo npm install -g (no compiler) took ${Date.now() - t0} ms; stderr:\n${installed.stderr}`)
  expect(installed.status).toBe(0)
  const r = await as('id -un; echo "$PATH"; command -v nslocate; nslocate --version; man -w nslocate; sudo nslocate --version; nslocate find nothere; echo "exit $?"')
  expect(r.stderr).toBe('')
  const lines = r.stdout.split('\n')
  expect(lines[0]).toBe(USER)
  expect(lines[1].split(':')).toContain('/usr/local/bin')
  expect(lines.slice(2, 5)).toEqual(['/usr/local/bin/nslocate', expect.stringMatching(/^nslocate\//), PAGE])
  expect(lines[5]).toBe(lines[3])
  expect(lines[6]).toBe('nothere: not running (no pidfile)')
  expect(lines.slice(-2)).toEqual(['exit 3', ''])
  // sudo npm left nothing of root's in the user's home (npm's cache went to root's).
  expect((await root.run(['find', `/home/${USER}`, '-user', 'root'])).stdout).toBe('')
}, 300_000)
