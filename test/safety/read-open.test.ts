/**
 * The reader looks before it opens (pidfile-look.ts). In a directory owned by a service user, that
 * user plants NAME.pid as a symlink to a FIFO (standing in for /dev/ptmx or /dev/watchdog: a
 * target whose opening is itself an effect) or to a root-only secret. Root's find must not open
 * the target, and nothing of the secret may appear in its text or JSON. A FIFO, a socket or a
 * directory named NAME.pid is just not_regular (unknown, exit 4), and list agrees with find.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'

import {cli, cliJson} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'

let svc: TestUser
beforeAll(() => {
  svc = createTestUser('rdopen')
})
afterAll(async () => {
  await stopAll()
  svc.remove()
})

/** A directory owned by the service user, as /run/NAME is (others may traverse it). */
function serviceDir(): string {
  const top = tempDir('nslocate-rdopen-')
  fs.chmodSync(top, 0o755)
  const dir = path.join(top, 'svc')
  fs.mkdirSync(dir)
  fs.chownSync(dir, svc.uid, svc.gid)
  fs.chmodSync(dir, 0o755)
  return dir
}

const plant = (argv: string[]) => {
  const r = spawnSync(svc.as(argv)[0], svc.as(argv).slice(1), {stdio: 'pipe'})
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`)
}

test("a symlink to a FIFO: root's find never opens the target (its writer is never released)", async () => {
  const dir = serviceDir()
  const fifoDir = tempDir('nslocate-rdopen-fifo-')
  const fifo = path.join(fifoDir, 'watch')
  const opened = path.join(fifoDir, 'opened')
  execFileSync('mkfifo', [fifo])
  // The writer's open(2) returns only once somebody opens the FIFO for reading: then it records it.
  spawnTracked(['sh', '-c', `exec 3>'${fifo}'; echo opened > '${opened}'; exec sleep 600`], {stdio: 'ignore'})
  plant(['ln', '-s', fifo, path.join(dir, 'wd.pid')])
  for (const args of [
    ['find', 'wd', '--dir', dir, '--json'],
    ['find', 'wd', '--pidfile', path.join(dir, 'wd.pid'), '--json'],
    ['list', '--dir', dir, '--json'],
  ]) {
    const r = await cliJson(args)
    expect(r.stderr).not.toMatch(/\/proc\/self\/fd/)
    if (args[0] === 'find') {
      expect(r.status).toBe(4)
      expect(r.json.state).toBe('unknown')
      expect(r.json.reasons).toEqual(['symlink'])
      expect(r.json.evidence.join('\n')).toContain(`symbolic link to ${fifo}`)
    }
  }
  // With --allow-unsafe-pidfile the link is followed, but a FIFO is still not opened.
  const allowed = await cliJson(['find', 'wd', '--dir', dir, '--json', '--allow-unsafe-pidfile'])
  expect(allowed.json.reasons).toEqual(['not_regular'])
  await sleep(300)
  expect(fs.existsSync(opened)).toBe(false)
})

test("a symlink to a root-only secret: nothing of it in find's text or JSON, nor in list", async () => {
  const dir = serviceDir()
  const secretDir = tempDir('nslocate-rdopen-secret-')
  const secret = path.join(secretDir, 'secret')
  fs.writeFileSync(secret, 'TOPSECRET-4711-do-not-print\n', {mode: 0o600})
  plant(['ln', '-s', secret, path.join(dir, 'leak.pid')])
  const text = await cli(['find', 'leak', '--dir', dir])
  const json = await cliJson(['find', 'leak', '--dir', dir, '--json'])
  const list = await cli(['list', '--dir', dir, '--json'])
  for (const out of [text.stdout + text.stderr, JSON.stringify(json.json) + json.stderr, list.stdout + list.stderr]) {
    expect(out).not.toContain('TOPSECRET')
    expect(out).not.toContain('4711')
  }
  expect(text.status).toBe(4)
  expect(json.json.reasons).toEqual(['symlink'])
  expect(json.json.evidence.join('\n')).toContain(`${path.join(dir, 'leak.pid')} is a symbolic link to ${secret}`)
})

test('a FIFO, a socket and a directory named NAME.pid: just not_regular (unknown, exit 4), in find and list alike', async () => {
  const dir = serviceDir()
  execFileSync('mkfifo', [path.join(dir, 'pipe.pid')])
  fs.mkdirSync(path.join(dir, 'folder.pid'))
  const server = net.createServer().listen(path.join(dir, 'sock.pid'))
  await new Promise((r) => server.once('listening', r))
  try {
    const kinds: Record<string, string> = {pipe: 'a FIFO', folder: 'a directory', sock: 'a unix socket'}
    for (const [name, kind] of Object.entries(kinds)) {
      const r = await cliJson(['find', name, '--dir', dir, '--json'])
      expect(r.status).toBe(4)
      expect(r.json.state).toBe('unknown')
      expect(r.json.reasons).toEqual(['not_regular'])
      const ev = r.json.evidence.join('\n')
      expect(ev).toContain(`${path.join(dir, `${name}.pid`)} is ${kind}`)
      expect(ev).not.toMatch(/\/proc\/self\/fd|ENXIO|EAGAIN/)
    }
    const list = await cliJson(['list', '--dir', dir, '--json'])
    const rows = (list.json as Array<{name: string; state: string; reasons: string[]}>).filter((x) => x.name in kinds)
    expect(rows.map((x) => [x.name, x.state, x.reasons]).sort()).toEqual(
      Object.keys(kinds)
        .sort()
        .map((n) => [n, 'unknown', ['not_regular']]),
    )
  } finally {
    server.close()
  }
})

test('a pidfile under a write lease: unknown (unreadable_pidfile) with a message naming the file and the lease, no raw error', async () => {
  const dir = serviceDir()
  const file = path.join(dir, 'leased.pid')
  fs.writeFileSync(file, `${process.pid}\n`)
  const py =
    'import fcntl,os,signal,sys,time\nsignal.signal(signal.SIGIO, signal.SIG_IGN)\nfd=os.open(sys.argv[1], os.O_RDWR)\nfcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\nprint("ready", flush=True)\ntime.sleep(600)\n'
  const holder = spawnTracked(['python3', '-c', py, file], {stdio: ['ignore', 'pipe', 'inherit']})
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d) => String(d).includes('ready') && resolve())
    holder.once('exit', (c) => reject(new Error(`lease holder exited ${c}`)))
  })
  const r = await cliJson(['find', 'leased', '--dir', dir, '--json'])
  expect(r.status).toBe(4)
  expect(r.json.state).toBe('unknown')
  expect(r.json.reasons).toEqual(['unreadable_pidfile'])
  const ev = r.json.evidence.join('\n')
  expect(ev).toContain(`cannot open ${file}: another process holds a lease on it`)
  expect(ev + r.stderr).not.toMatch(/\/proc\/self\/fd|EAGAIN: resource/)
})
