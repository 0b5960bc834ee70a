/**
 * Real Debian daemons for the daemons tier: a temp dir per daemon, free loopback ports, launch the
 * way the init script or the documentation does, find the main process in /proc, stop by pid.
 *
 *   const d = new Daemon('nginx')            // /tmp/nslocate-daemon-nginx-XXXX (0755), removed by stop()
 *   const port = await freePort()            // free now on 127.0.0.1; the daemon is configured onto it
 *   d.write('nginx.conf', '...')
 *   d.launch(['/usr/sbin/nginx', '-c', d.path('nginx.conf')])   // waits for the launcher to exit
 *   await d.until(() => tcpOpen(port), 'nginx listening')
 *   const pid = await d.discoverMain({exe: '/usr/sbin/nginx', marker: d.dir})
 *   await d.stop()                           // afterAll: TERM, then KILL, each pid checked by start time
 *
 * The main pid comes from /proc, never from a pidfile: the process of that executable, started
 * after the Daemon was made, whose cmdline names the marker and whose parent is not of that
 * executable (the top of the daemon's own tree; its parent is then PID 1 or the launcher).
 * Clean-up only touches processes recorded here (the main process and its descendants, each with
 * its start time) and pids whose start time still matches: never a name, never a process that
 * merely reuses a recorded pid.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'

export interface ProcEntry {
  pid: number
  ppid: number
  /** start time in clock ticks after boot (/proc/PID/stat field 22) */
  start: number
  state: string
  comm: string
  /** readlink /proc/PID/exe, '' when unreadable */
  exe: string
  cmdline: string[]
}

export function procEntry(pid: number): ProcEntry | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(')')
    const f = stat.slice(close + 2).split(' ')
    let exe = ''
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')
    } catch {}
    let cmdline: string[] = []
    try {
      cmdline = fs
        .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((s) => s !== '')
    } catch {}
    return {pid, ppid: Number(f[1]), start: Number(f[19]), state: f[0], comm: stat.slice(stat.indexOf('(') + 1, close), exe, cmdline}
  } catch {
    return null
  }
}

export function allProcs(): ProcEntry[] {
  const out: ProcEntry[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue
    const e = procEntry(Number(name))
    if (e && e.ppid !== 2 && e.pid !== 2) out.push(e)
  }
  return out
}

/** The process `pid` still is the one that started at `start` and has not exited (zombies count as gone). */
export function sameProcess(pid: number, start: number): boolean {
  const e = procEntry(pid)
  return e !== null && e.start === start && e.state !== 'Z' && e.state !== 'X'
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100

function uptimeTicks(): number {
  return Math.floor(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * CLK_TCK)
}

/** A TCP port on 127.0.0.1 that is free now (the kernel picks it from the ephemeral range). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

/** Something accepts a TCP connection on 127.0.0.1:port. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({host: '127.0.0.1', port})
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1000, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

export function readOr(file: string, fallback = ''): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export class Daemon {
  readonly dir: string
  /** Files whose last lines go into every failure message (the daemon's own logs, the launcher's output). */
  readonly logs: string[] = []
  main: ProcEntry | null = null
  private readonly since = uptimeTicks() - CLK_TCK
  private readonly before = new Set(allProcs().map((p) => p.pid))
  private readonly recorded = new Map<number, number>()
  private readonly cleanups: Array<() => void> = []

  constructor(readonly label: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `nslocate-daemon-${label}-`))
    fs.chmodSync(this.dir, 0o755) // daemons that drop privileges must reach their files
    this.logs.push(this.path('launch.log'))
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts)
  }

  /** Write a file under the temp dir (directories made as needed); returns its absolute path. */
  write(rel: string, text: string, mode = 0o644): string {
    const p = this.path(rel)
    fs.mkdirSync(path.dirname(p), {recursive: true, mode: 0o755})
    fs.writeFileSync(p, text, {mode})
    return p
  }

  mkdir(rel: string, owner?: string): string {
    const p = this.path(rel)
    fs.mkdirSync(p, {recursive: true, mode: 0o755})
    if (owner) this.run(['chown', owner, p])
    return p
  }

  /** Run at stop(), last first (e.g. pg_dropcluster, removing a file made outside the temp dir). */
  onStop(fn: () => void): void {
    this.cleanups.push(fn)
  }

  /**
   * Run a launcher to its exit (a daemon forks away from it). Its stdout and stderr go to
   * launch.log as files, not pipes, so a daemon that keeps them open cannot hold us up.
   */
  launch(argv: string[], opts: {env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string} = {}): void {
    const log = this.path('launch.log')
    fs.appendFileSync(log, `$ ${argv.join(' ')}\n`)
    const fd = fs.openSync(log, 'a')
    try {
      const r = spawnSync(argv[0], argv.slice(1), {
        stdio: ['ignore', fd, fd],
        env: {...process.env, ...opts.env},
        cwd: opts.cwd ?? this.dir,
        timeout: opts.timeoutMs ?? 60_000,
      })
      if (r.error || r.status !== 0)
        throw new Error(`${this.label}: ${argv.join(' ')} failed (${r.error?.message ?? `exit ${r.status}, signal ${r.signal}`})${this.logTail()}`)
    } finally {
      fs.closeSync(fd)
    }
  }

  /** A short command whose output we want (setup steps: keys, clusters). Throws with its output. */
  run(argv: string[], opts: {env?: NodeJS.ProcessEnv; allowFail?: boolean} = {}): string {
    const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', env: {...process.env, ...opts.env}, timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe']})
    if (!opts.allowFail && (r.error || r.status !== 0)) {
      throw new Error(`${this.label}: ${argv.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`)
    }
    return r.stdout + r.stderr
  }

  /** Poll until predicate() holds; the error names `what` and carries the daemon's logs. */
  async until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs
    for (;;) {
      if (await predicate()) return
      if (Date.now() > end) throw new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}${this.logTail()}`)
      await sleep(50)
    }
  }

  /**
   * The daemon's main process, from /proc: exactly one process of `exe` started since this Daemon
   * was made, whose cmdline contains `marker` (when given) and whose parent is not of `exe` too;
   * the same answer twice, 200 ms apart (a launcher that forks and exits has gone by then).
   * It and its descendants are recorded for stop().
   */
  async discoverMain(opts: {exe: string; marker?: string; timeoutMs?: number}): Promise<number> {
    const exe = fs.realpathSync(opts.exe)
    let last = -1
    let seen: ProcEntry[] = []
    await this.until(
      async () => {
        const mine = allProcs().filter(
          (p) =>
            p.exe === exe && p.start >= this.since && !this.before.has(p.pid) && p.state !== 'Z' && (!opts.marker || p.cmdline.join(' ').includes(opts.marker)),
        )
        const pids = new Set(mine.map((p) => p.pid))
        seen = mine.filter((p) => !pids.has(p.ppid))
        const now = seen.length === 1 ? seen[0].pid : -1
        const stable = now !== -1 && now === last
        last = now
        if (!stable) await sleep(200)
        return stable
      },
      `exactly one main process of ${exe}${opts.marker ? ` naming ${opts.marker}` : ''} (top of its tree); saw ${JSON.stringify(seen.map((p) => [p.pid, p.ppid, p.cmdline.join(' ')]))}`,
      opts.timeoutMs ?? 30_000,
    )
    this.main = procEntry(last)!
    this.record()
    return last
  }

  /** Record the main process and its current descendants (pid + start time) for stop(). */
  record(): void {
    if (!this.main) return
    for (const p of this.descendants(this.main)) this.recorded.set(p.pid, p.start)
  }

  private descendants(root: ProcEntry): ProcEntry[] {
    const procs = allProcs()
    const out = [root]
    for (let i = 0; i < out.length; i++) for (const p of procs) if (p.ppid === out[i].pid && p.start >= root.start) out.push(p)
    return out.filter((p) => sameProcess(p.pid, p.start))
  }

  /** The last lines of every log, for failure messages. */
  logTail(lines = 40): string {
    const parts: string[] = []
    for (const f of this.logs) {
      const text = readOr(f, '(missing)').split('\n').slice(-lines).join('\n')
      parts.push(`--- ${f} ---\n${text}`)
    }
    return `\n${parts.join('\n')}`
  }

  /**
   * Stop whatever of ours still runs: TERM to the main process (or, without one, to every recorded
   * process), up to 15 s for all recorded processes (plus new descendants of the main process) to
   * exit, then KILL to those still alive with the same start time; then the onStop() steps; then
   * the temp dir. Never by name.
   */
  async stop(): Promise<void> {
    if (this.main && sameProcess(this.main.pid, this.main.start)) this.record()
    // Started but never identified (a readiness wait failed): ours are the processes started since
    // this Daemon was made whose cmdline names its temp dir.
    if (!this.main) {
      for (const p of allProcs()) {
        if (p.start >= this.since && !this.before.has(p.pid) && p.cmdline.join(' ').includes(this.dir)) this.recorded.set(p.pid, p.start)
      }
    }
    const alive = () => [...this.recorded].filter(([pid, start]) => sameProcess(pid, start))
    const send = (sig: NodeJS.Signals) => {
      for (const [pid] of alive()) {
        try {
          process.kill(pid, sig)
        } catch {}
      }
    }
    if (alive().length > 0) {
      // The main process first (it stops its workers the way it was built to), everyone else only
      // when it is not there to do so.
      if (this.main && sameProcess(this.main.pid, this.main.start)) {
        try {
          process.kill(this.main.pid, 'SIGTERM')
        } catch {}
      } else {
        send('SIGTERM')
      }
      const end = Date.now() + 15_000
      while (alive().length > 0 && Date.now() < end) await sleep(100)
      send('SIGKILL')
      const kend = Date.now() + 5_000
      while (alive().length > 0 && Date.now() < kend) await sleep(50)
    }
    for (const fn of this.cleanups.reverse()) {
      try {
        fn()
      } catch (error) {
        console.error(`${this.label}: clean-up step failed: ${(error as Error).message}`)
      }
    }
    fs.rmSync(this.dir, {recursive: true, force: true})
  }
}
