/**
 * Sockets and files chosen by the environment are used only when no other user can have planted
 * them (docs/nslocate.1.md, NOTES, "Trusted sockets and addons"): the Docker socket (DOCKER_HOST,
 * Docker Desktop's ~/.docker/run/docker.sock, /var/run/docker.sock) must be owned by root or the
 * caller, and so must every directory on its way, none writable by others unless sticky and
 * root's; NSLOCATE_ADDON likewise, and not writable by group or others itself.
 *
 * Against the world: a real unprivileged user (test/helpers/users.ts) owns the planted socket or
 * addon and its directories; root runs the built CLI. A planted socket must receive no connection
 * at all (the fake engine counts them); a planted addon must not be loaded (its ELF constructor
 * would write a marker file, which must not exist). Controls show that the same socket or addon
 * is used when root, or the user itself, may trust it.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, CliResult, cli, runCollect, tmpdir} from '../helpers/cli'
import {FakeEngine, startFakeEngine} from '../helpers/fake-engine'
import {expectOneError} from '../helpers/one-error'
import {stopAll} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnVictim} from '../helpers/victims'

if (process.getuid?.() !== 0) throw new Error('these tests plant files as a second user: run them as root (the test machines do)')

let mallory: TestUser
let dir: string
const engines: FakeEngine[] = []

beforeAll(() => {
  mallory = createTestUser('envtrust')
  dir = tmpdir('nslocate-envtrust-')
  fs.chmodSync(dir, 0o755)
})
afterAll(async () => {
  await stopAll()
  for (const e of engines) await e.close()
  mallory?.remove()
  fs.rmSync(dir, {recursive: true, force: true})
})

/** A fake engine that knows no container (404): reaching it gives exit 3. */
async function engineAt(socket: string): Promise<FakeEngine> {
  const e = await startFakeEngine(socket, (_m, url) =>
    url.startsWith('/containers/json') ? {kind: 'json', body: []} : {kind: 'json', status: 404, body: {message: 'No such container: web'}},
  )
  engines.push(e)
  return e
}

/** A fake engine that says container web runs with State.Pid `pid` (a process of root's): a lie the socket's owner tells. */
async function lyingEngineAt(socket: string, pid: number): Promise<FakeEngine> {
  const web = {Id: 'e'.repeat(64), Name: '/web', Config: {Image: 'web:latest', Labels: {}}, State: {Running: true, Pid: pid}, HostConfig: {PidMode: ''}}
  const e = await startFakeEngine(socket, (_m, url) =>
    url.startsWith('/containers/json') ? {kind: 'json', body: [{Id: web.Id, Names: ['/web']}]} : {kind: 'json', body: web},
  )
  engines.push(e)
  return e
}

function chownR(p: string, stopAt: string, u: TestUser): void {
  for (let q = p; q.startsWith(stopAt) && q !== stopAt; q = path.dirname(q)) fs.chownSync(q, u.uid, u.gid)
}

function json(stdout: string): any {
  try {
    return JSON.parse(stdout)
  } catch {
    return null
  }
}

/** The CLI as user u (no supplementary groups, a clean environment plus env). */
function cliAs(u: TestUser, args: string[], env: Record<string, string>): Promise<CliResult> {
  const argv = u.as(['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, BIN, ...args])
  return runCollect(argv, {timeoutMs: 30_000, what: `nslocate ${args.join(' ')} as ${u.name}`})
}

describe('the Docker socket', () => {
  test("as root with another user's HOME (sudo -E): her ~/.docker/run/docker.sock is refused (4) and receives no connection, on every path", async () => {
    const socket = path.join(mallory.home, '.docker', 'run', 'docker.sock')
    const e = await engineAt(socket)
    chownR(socket, path.dirname(mallory.home), mallory)
    for (const args of [
      ['find', 'app', '--container', 'web'],
      ['signal', 'app', 'TERM', '--container', 'web'],
      ['containers'],
      ['list', '--container', 'web'],
    ]) {
      for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
        const r = await cli([...args, '--json'], {env: {HOME: mallory.home, DOCKER_HOST: undefined, ...extra}})
        const err = json(r.stdout)?.error
        expect({args, status: r.status, code: err?.code}).toEqual({args, status: 4, code: 'DOCKER'})
        expect(err.message).toBe(
          `refusing the Docker socket ${socket} (on its path: ${mallory.home}): owned by uid ${mallory.uid} (${mallory.name}), not by root or uid 0; set DOCKER_HOST=unix:///var/run/docker.sock or use sudo without -E, or run as uid ${mallory.uid}`,
        )
        // where it was found (Docker Desktop's socket under HOME) is in the details; what to do, the hint
        expect(err).toMatchObject({
          source: 'desktop',
          home: mallory.home,
          hint: `set DOCKER_HOST=unix:///var/run/docker.sock or use sudo without -E, or run as uid ${mallory.uid}`,
        })
      }
    }
    // Text output says the same on stderr, without a stack trace: the fact, then the advice as the hint.
    const t = await cli(['find', 'app', '--container', 'web'], {env: {HOME: mallory.home, DOCKER_HOST: undefined}})
    expect([t.status, expectOneError(t.stderr, [socket, mallory.home, mallory.name])]).toEqual([
      4,
      [
        `nslocate: refusing the Docker socket ${socket} (on its path: ${mallory.home}): owned by uid ${mallory.uid} (${mallory.name}), not by root or uid 0`,
        `hint: set DOCKER_HOST=unix:///var/run/docker.sock or use sudo without -E, or run as uid ${mallory.uid}`,
      ],
    ])
    expect(e.connections).toBe(0)
  })

  test("DOCKER_HOST naming the other user's own socket: used as hers, for her containers only; an answer naming root's process is refused and it receives nothing", async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'own-'))
    fs.chmodSync(sub, 0o755)
    const socket = path.join(sub, 'docker.sock')
    const victim = await spawnVictim()
    const e = await lyingEngineAt(socket, victim.pid)
    fs.chownSync(socket, mallory.uid, mallory.gid)
    for (const args of [
      ['find', 'app', '--container', 'web'],
      ['signal', 'app', 'TERM', '--container', 'web'],
      ['signal', 'app', 'KILL', '--container', 'web', '--scope', 'cgroup'],
      ['wait', 'app', '--for', 'stopped', '--container', 'web', '--timeout', '1s'],
    ]) {
      const r = await cli([...args, '--json'], {env: {DOCKER_HOST: `unix://${socket}`}})
      const err = json(r.stdout)?.error
      expect({args, status: r.status, code: err?.code}).toEqual({args, status: 4, code: 'DOCKER'})
      expect(err.message).toContain(`refusing the answer of uid ${mallory.uid}'s socket unix://${socket}`)
      expect(err.message).toContain('; nothing was signalled')
      expect(err).toMatchObject({reason: 'foreign_socket', container: expect.stringMatching(/^[0-9a-f]{64}$/)})
    }
    expect(e.requests.length).toBeGreaterThan(0) // asked, as her socket
    // `containers` lists it, but looks inside nothing the socket names.
    const c = await cli(['containers', '--json'], {env: {DOCKER_HOST: `unix://${socket}`}})
    expect(c.status).toBe(0)
    expect(json(c.stdout)).toEqual([expect.objectContaining({name: 'web', runtime: 'docker', visible: false, services: []})])
    expect(victim.received()).toEqual([])
    expect(fs.readFileSync(`/proc/${victim.pid}/stat`, 'utf8')).not.toMatch(/\) [ZX] /)
  })

  test('a root-owned socket in a directory others may write (0777, not sticky): refused; the same directory made sticky (1777): used', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'open-'))
    const socket = path.join(sub, 'docker.sock')
    const e = await engineAt(socket)
    fs.chmodSync(sub, 0o777)
    const r = await cli(['containers', '--json'], {env: {DOCKER_HOST: `unix://${socket}`}})
    expect(r.status).toBe(4)
    expect(json(r.stdout).error.message).toContain(
      `refusing the Docker socket ${socket} (on its path: ${sub}): writable by group and others (mode 0777); point DOCKER_HOST at a socket owned by root or by you`,
    )
    expect(e.connections).toBe(0)
    fs.chmodSync(sub, 0o1777)
    const ok = await cli(['find', 'app', '--container', 'web', '--json'], {env: {DOCKER_HOST: `unix://${socket}`}})
    expect(ok.status).toBe(3) // the engine was asked, and knows no container web
    expect(e.requests).toEqual(['GET /containers/web/json'])
  })

  test("a root-owned symlink to a socket in the other user's directory: the target is judged, hers; a lie about root's process is refused", async () => {
    const theirs = fs.mkdtempSync(path.join(dir, 'theirs-'))
    fs.chmodSync(theirs, 0o755)
    const socket = path.join(theirs, 'docker.sock')
    const victim = await spawnVictim()
    const e = await lyingEngineAt(socket, victim.pid)
    chownR(socket, dir, mallory)
    const link = path.join(dir, 'link.sock')
    fs.symlinkSync(socket, link)
    const r = await cli(['signal', 'app', 'TERM', '--container', 'web', '--json'], {env: {DOCKER_HOST: `unix://${link}`}})
    expect(r.status).toBe(4)
    expect(json(r.stdout).error.message).toContain(`refusing the answer of uid ${mallory.uid}'s socket unix://${link}`)
    expect(e.requests).toContain('GET /containers/web/json')
    expect(victim.received()).toEqual([])
  })

  test("the other user's socket in a directory a third user may write: refused outright, no connection", async () => {
    const shared = fs.mkdtempSync(path.join(dir, 'shared-'))
    fs.chmodSync(shared, 0o777)
    const socket = path.join(shared, 'docker.sock')
    const e = await engineAt(socket)
    fs.chownSync(socket, mallory.uid, mallory.gid)
    const r = await cli(['find', 'app', '--container', 'web', '--json'], {env: {DOCKER_HOST: `unix://${socket}`}})
    expect(r.status).toBe(4)
    expect(json(r.stdout).error.message).toContain(`refusing the Docker socket ${socket}`)
    expect(e.connections).toBe(0)
  })

  test("controls: a root-owned socket in root-owned directories is used by root; the user's own socket is used by the user, and by root as hers", async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'root-'))
    fs.chmodSync(sub, 0o755)
    const rootSock = path.join(sub, 'docker.sock')
    const e = await engineAt(rootSock)
    fs.chmodSync(rootSock, 0o660) // like /var/run/docker.sock (root:docker 0660): who may connect, not who answers
    const r = await cli(['find', 'app', '--container', 'web', '--json'], {env: {DOCKER_HOST: `unix://${rootSock}`}})
    expect(r.status).toBe(3)
    expect(e.connections).toBe(1)

    const own = path.join(mallory.home, 'rootless', 'docker.sock')
    const mine = await engineAt(own)
    chownR(own, path.dirname(mallory.home), mallory)
    const m = await cliAs(mallory, ['find', 'app', '--container', 'web', '--json'], {DOCKER_HOST: `unix://${own}`})
    expect({status: m.status, state: json(m.stdout)?.state, container: json(m.stdout)?.container}).toEqual({status: 3, state: 'stopped', container: null})
    expect(mine.connections).toBe(1)
    // ... and root, naming it in DOCKER_HOST, uses it as hers (her running containers only): her
    // socket's "no such container" settles nothing for root (src/runtime/resolve.ts), it cannot tell.
    const asRoot = await cli(['find', 'app', '--container', 'web', '--json'], {env: {DOCKER_HOST: `unix://${own}`}})
    const refused = json(asRoot.stdout)?.error
    expect({status: asRoot.status, code: refused?.code}).toEqual({status: 4, code: 'DOCKER'})
    expect(refused).toMatchObject({
      message: `cannot tell whether container web runs: uid ${mallory.uid}'s socket says it does not exist; run nslocate as uid ${mallory.uid} to take its answer`,
      hint: `run nslocate as uid ${mallory.uid} to take its answer`,
      failed: [
        {
          runtime: `Docker at unix://${own} (DOCKER_HOST; a socket owned by uid ${mallory.uid}, another user)`,
          said: `it does not exist, but the socket is uid ${mallory.uid}'s, trusted only for a running container of that user's own`,
        },
      ],
    })
    expect(mine.connections).toBe(2)
  })
})

describe('NSLOCATE_ADDON', () => {
  let addonSrc: string
  let pidfile: string
  beforeAll(() => {
    // A shared object whose ELF constructor writes $NSLOCATE_TEST_MARKER: it runs at dlopen(), before
    // Node could reject the file as an addon, so the marker proves whether the file was loaded.
    const c = path.join(dir, 'planted.c')
    fs.writeFileSync(
      c,
      `#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
  const char *m = getenv("NSLOCATE_TEST_MARKER");
  if (!m) return;
  int fd = open(m, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) { (void)write(fd, "loaded\\n", 7); close(fd); }
}
`,
    )
    addonSrc = path.join(dir, 'planted.node')
    execFileSync('cc', ['-shared', '-fPIC', '-o', addonSrc, c])
    pidfile = path.join(dir, 'app.pid')
    fs.writeFileSync(pidfile, '4194304')
  })

  function plant(where: string, owner: TestUser | null, mode: number): string {
    fs.mkdirSync(path.dirname(where), {recursive: true})
    fs.copyFileSync(addonSrc, where)
    fs.chmodSync(where, mode)
    if (owner) fs.chownSync(where, owner.uid, owner.gid)
    return where
  }

  test("an addon in the other user's directory, owned by her: refused (NATIVE_LOAD, 4) and never loaded", async () => {
    const addon = plant(path.join(mallory.home, 'lib', 'nslocate.node'), mallory, 0o755)
    chownR(addon, path.dirname(mallory.home), mallory)
    const marker = path.join(dir, 'marker-theirs')
    for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const r = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {env: {NSLOCATE_ADDON: addon, NSLOCATE_TEST_MARKER: marker, ...extra}})
      expect(r.status).toBe(4)
      expect(json(r.stdout).error).toEqual({
        code: 'NATIVE_LOAD',
        message: `refusing to load NSLOCATE_ADDON=${addon} (on its path: ${mallory.home}): owned by uid ${mallory.uid} (${mallory.name}), not by root or uid 0. Put it where only root or you can write (chown root, chmod go-w), or unset NSLOCATE_ADDON`,
        hint: 'put it where only root or you can write (chown root, chmod go-w), or unset NSLOCATE_ADDON',
      })
      expect(fs.existsSync(marker)).toBe(false)
    }
  })

  test('a root-owned addon that others may write (0666), or in a directory others may write: refused, never loaded', async () => {
    const writable = plant(path.join(dir, 'w', 'nslocate.node'), null, 0o666)
    fs.chmodSync(path.dirname(writable), 0o755)
    const openDir = plant(path.join(dir, 'o', 'nslocate.node'), null, 0o755)
    fs.chmodSync(path.dirname(openDir), 0o777)
    for (const [addon, why] of [
      [writable, `refusing to load NSLOCATE_ADDON=${writable}: writable by group and others (mode 0666). Put it`],
      [openDir, `refusing to load NSLOCATE_ADDON=${openDir} (on its path: ${path.dirname(openDir)}): writable by group and others (mode 0777). Put it`],
    ]) {
      const marker = path.join(dir, `marker-${path.basename(path.dirname(addon))}`)
      const r = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {env: {NSLOCATE_ADDON: addon, NSLOCATE_TEST_MARKER: marker}})
      expect(r.status).toBe(4)
      expect(json(r.stdout).error.code).toBe('NATIVE_LOAD')
      expect(json(r.stdout).error.message).toContain(why)
      expect(fs.existsSync(marker)).toBe(false)
    }
  })

  test('controls: the same file, root-owned 0755 in root-owned directories, is loaded by root (marker written); hers is loaded by her', async () => {
    const addon = plant(path.join(dir, 'ok', 'nslocate.node'), null, 0o755)
    fs.chmodSync(path.dirname(addon), 0o755)
    const marker = path.join(dir, 'marker-ok')
    const r = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {env: {NSLOCATE_ADDON: addon, NSLOCATE_TEST_MARKER: marker}})
    expect(fs.existsSync(marker)).toBe(true) // dlopen() ran it; Node then refuses it as an addon ...
    expect({status: r.status, state: json(r.stdout)?.state}).toEqual({status: 1, state: 'stale'}) // ... and the package's own addon is loaded next, as before

    const hers = plant(path.join(mallory.home, 'own', 'nslocate.node'), mallory, 0o755)
    chownR(hers, path.dirname(mallory.home), mallory)
    const herMarker = path.join(mallory.home, 'marker')
    const m = await cliAs(mallory, ['find', 'app', '--pidfile', pidfile, '--json'], {NSLOCATE_ADDON: hers, NSLOCATE_TEST_MARKER: herMarker})
    expect(fs.existsSync(herMarker)).toBe(true)
    expect(m.status).toBe(1) // her addon ran (hers to trust), then the package's: app is stale
  })
})
