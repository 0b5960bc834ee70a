/**
 * A minimal Debian root for the packaging tier: debootstrap --variant=minbase (plus man-db and sudo) from
 * Debian's archive, cached under build/cache/debootstrap/ so only the first run pays (~30-60 s), then
 * copied for each test run so the cache stays pristine. /proc is mounted inside while the root is in
 * use (apt, dpkg and nslocate need it), and what bind() mounts; close() ends what ran inside,
 * unmounts them and removes the copy.
 *
 *   const root = await Chroot.create('bookworm')
 *   await root.run(['apt-get', 'install', '-y', '/tmp/x.deb'])
 *   await root.close()
 *
 * Root only (debootstrap, chroot, mount). NSLOCATE_DEBIAN_MIRROR overrides the archive URL.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, Run, ok, run, tempDir} from './exec'

const CACHE = path.join(ROOT, 'build', 'cache', 'debootstrap')
const MIRROR = process.env.NSLOCATE_DEBIAN_MIRROR || 'http://deb.debian.org/debian'
const INCLUDE = ['man-db', 'sudo']

/** The cached root for SUITE, made with debootstrap when missing (atomically: made beside, renamed). */
export async function cachedRoot(suite: string): Promise<string> {
  const dir = path.join(CACHE, `${suite}-minbase-${INCLUDE.join('+')}`)
  if (fs.existsSync(path.join(dir, 'usr', 'bin', 'apt-get'))) return dir
  fs.mkdirSync(CACHE, {recursive: true})
  const tmp = `${dir}.tmp-${process.pid}`
  fs.rmSync(tmp, {recursive: true, force: true})
  try {
    await ok('debootstrap', ['--variant=minbase', `--include=${INCLUDE.join(',')}`, suite, tmp, MIRROR], {timeoutMs: 600_000})
    // apt inside the root reads only the local .deb; no lists are needed, and none are kept.
    await ok('chroot', [tmp, 'apt-get', 'clean'])
    fs.renameSync(tmp, dir)
  } finally {
    fs.rmSync(tmp, {recursive: true, force: true})
  }
  return dir
}

export class Chroot {
  private procMounted = false
  /** Bind mounts inside the root, as host paths, in the order made. */
  private readonly binds: string[] = []
  private readonly children = new Set<ChildProcess>()

  private constructor(readonly dir: string, readonly root: string) {}

  static async create(suite: string): Promise<Chroot> {
    const cache = await cachedRoot(suite)
    const dir = tempDir(`chroot-${suite}`)
    const root = path.join(dir, 'root')
    const c = new Chroot(dir, root)
    try {
      await ok('cp', ['-a', '--reflink=auto', cache, root], {timeoutMs: 180_000})
      await ok('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')])
      c.procMounted = true
    } catch (error) {
      await c.close()
      throw error
    }
    return c
  }

  /** A path inside the root, as seen from the host. */
  host(p: string): string {
    return path.join(this.root, p)
  }

  /** Bind-mount the host's directory `from` at `inside` in the root (made if missing); close() unmounts it. */
  async bind(from: string, inside: string): Promise<void> {
    const target = this.host(inside)
    fs.mkdirSync(target, {recursive: true})
    await ok('mount', ['--bind', from, target])
    this.binds.push(target)
  }

  /** Run argv inside the root (chroot), with a plain environment like a login shell's. */
  run(argv: string[], opts: {env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<Run> {
    // Inside, timeout(1) ends the whole process group (npm and what it started) 5 s before run() gives up on chroot.
    const ms = opts.timeoutMs ?? 120_000
    const limited = ['timeout', '--kill-after=2', `${Math.max(1, Math.floor(ms / 1000) - 5)}`, ...argv]
    return run('chroot', [this.root, ...limited], {cwd: '/', env: {...CLEAN_ENV, ...opts.env}, replaceEnv: true, timeoutMs: ms})
  }

  /** Start argv inside the root and keep it running; close() kills it (by pid) if it is still alive. */
  spawn(argv: string[]): ChildProcess {
    const child = spawn('chroot', [this.root, ...argv], {cwd: '/', env: CLEAN_ENV, stdio: ['ignore', 'pipe', 'pipe']})
    this.children.add(child)
    child.on('exit', () => this.children.delete(child))
    return child
  }

  async close(): Promise<void> {
    for (const child of this.children) {
      child.kill('SIGKILL')
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)))
    }
    for (const target of this.binds.reverse()) {
      const r = await run('umount', [target])
      if (r.status !== 0) await ok('umount', ['-l', target])
    }
    this.binds.length = 0
    if (this.procMounted) {
      const r = await run('umount', [path.join(this.root, 'proc')])
      if (r.status !== 0) await ok('umount', ['-l', path.join(this.root, 'proc')])
      this.procMounted = false
    }
    // Only once /proc and the binds are unmounted: rm must not walk into the host's files.
    fs.rmSync(this.dir, {recursive: true, force: true})
  }
}

/** What a root shell on a fresh machine has: no host variables (npm's, jest's, NODE_OPTIONS...). */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
  DEBIAN_FRONTEND: 'noninteractive',
}
