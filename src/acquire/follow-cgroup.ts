/**
 * `run` after COMMAND has exited, when the service has a cgroup of its own (issue 22): the service
 * is every process in that cgroup, so run goes on while the cgroup is populated, whatever those
 * processes did to leave COMMAND's process group, session or descriptors (setsid, a double fork,
 * `nohup ... &`, closing every descriptor). As systemd does for Type=forking:
 * - the pidfile names the service's main process: the process a `--daemon-pidfile` names once it
 *   names one in the cgroup; else the one left, or among several the one none of whose ancestors
 *   is among them, the oldest if that still leaves several (follow.ts mainOf). It is rewritten when
 *   that one exits and others remain (and its identity record with it);
 * - forwarded signals go to it (through a pidfd);
 * - run is the child subreaper of the service (PR_SET_CHILD_SUBREAPER, set before COMMAND starts):
 *   what COMMAND leaves orphaned becomes run's child, so run reaps it and exits with the daemon's
 *   own status (the daemon: the first main process followed, or the one a --daemon-pidfile names);
 *   with COMMAND's when it could not reap the daemon (it was not an orphan of the service);
 * - run keeps the pidfile and both its locks until the cgroup is empty (cgroup.events `populated
 *   0`, woken by inotify): a second run of NAME conflicts for as long as any process of the first lives.
 * When a signal killed COMMAND, what is left are stragglers, not a daemon: they are waited for and
 * signals forwarded to them the same way, but the file keeps COMMAND's pid.
 */
import fs = require('node:fs')
import path = require('node:path')

import {ServiceCgroup} from '../cgroup/service'
import {isPopulated, procsBelow, waitEmpty} from '../cgroup/v2'
import {pidfdExited, pidfdOpen, reapChild, waitPidfdFor} from '../native/binding'
import {mainOf} from './follow'
import {PidfileHandle} from './handle'

/** How long one look lasts before the cgroup's members are listed again (a member that exits is seen at once). */
const RESCAN_MS = 1000
/** How often a --daemon-pidfile not yet naming a process of the service is read again. */
const DAEMON_PIDFILE_MS = 100

/** An exit status as a shell gives it (N, or 128+N for signal N). */
type Status = number

/**
 * Reaps what run inherits as the child subreaper: every child but `keep` (COMMAND, until its own
 * reap), so that orphans leave no zombies. The status of a process being followed (watch()) is kept
 * for status(); the others' are dropped (a long-lived service may leave many orphans).
 */
export class Reaper {
  private readonly statuses = new Map<number, Status>()
  private readonly watched = new Set<number>()
  private timer: NodeJS.Timeout | null = null
  keep: number | null

  constructor(keep: number | null) {
    this.keep = keep
  }

  private readonly onChild = () => this.sweep()

  /** Sweeps on every SIGCHLD, and every `ms` (a safety net), until stop(). */
  start(ms = 1000): this {
    this.timer = setInterval(this.onChild, ms)
    this.timer.unref()
    process.on('SIGCHLD', this.onChild)
    return this
  }

  /** Stops sweeping, after a last sweep. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    process.removeListener('SIGCHLD', this.onChild)
    this.sweep()
  }

  /** Reaps every child that has exited (but `keep`). */
  sweep(): void {
    for (const pid of children()) if (pid !== this.keep) this.reap(pid)
  }

  /** Keeps the status of `pid` (the process now followed; whatever was known of an earlier holder of its pid is dropped). */
  watch(pid: number): void {
    this.statuses.delete(pid)
    this.watched.add(pid)
  }

  /** The status of `pid` (watched) once it exited and was reaped here (now, if it is our child); null otherwise. */
  status(pid: number): Status | null {
    this.reap(pid)
    const s = this.statuses.get(pid) ?? null
    this.statuses.delete(pid)
    this.watched.delete(pid)
    return s
  }

  /** status(), tried for a moment: a process whose pidfd has just said it exited may not be reapable yet. */
  async settled(pid: number): Promise<Status | null> {
    for (let i = 0; i < 20; i++) {
      const watched = this.watched.has(pid)
      const s = this.status(pid)
      if (s !== null || !isChild(pid)) return s
      if (watched) this.watched.add(pid)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return this.status(pid)
  }

  private reap(pid: number): void {
    try {
      const r = reapChild(pid)
      if (r && this.watched.has(pid)) this.statuses.set(pid, r.code >= 0 ? r.code : 128 + r.signal)
    } catch {} // ECHILD: not our child (or reaped already)
  }
}

/** Is `pid` a child of this process (its zombie not reaped yet, or alive)? */
function isChild(pid: number): boolean {
  return children().includes(pid)
}

/** This process's children (every thread's: an orphan is given to one of our threads). */
function children(): number[] {
  const pids: number[] = []
  let tasks: string[] = []
  try {
    tasks = fs.readdirSync('/proc/self/task')
  } catch {}
  for (const t of tasks) {
    try {
      for (const p of fs.readFileSync(`/proc/self/task/${t}/children`, 'latin1').split(' ')) if (p.trim()) pids.push(Number(p))
    } catch {}
  }
  return pids
}

/** The pid a --daemon-pidfile names, when it names one of `members`; null otherwise (absent, not yet written, another pid). */
function daemonPid(file: string | undefined, members: number[]): number | null {
  if (!file) return null
  let text: string
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
    try {
      const buf = Buffer.alloc(64)
      text = buf.subarray(0, fs.readSync(fd, buf, 0, 64, 0)).toString('latin1')
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return null
  }
  const m = /^\s*([1-9][0-9]{0,9})\s*(\n|$)/.exec(text)
  const pid = m ? Number(m[1]) : null
  return pid !== null && members.includes(pid) ? pid : null
}

export interface FollowOptions {
  /** COMMAND exited by itself (it may have daemonized: name the one left); false when a signal killed it */
  daemon: boolean
  /** --daemon-pidfile: the pidfile the daemon writes (absolute) */
  daemonPidfile?: string
  /** called with the pidfd signals should go to (-1: none for now) */
  onTarget: (pidfd: number) => void
  reaper: Reaper
}

/**
 * Waits until the cgroup is empty, keeping the pidfile naming its main process (see the header).
 * Resolves to the daemon's exit status when run could reap it (null otherwise).
 */
export async function followCgroup(handle: PidfileHandle, cg: ServiceCgroup, o: FollowOptions): Promise<Status | null> {
  let written = handle.pid
  let status: Status | null = null
  // The daemon: the first main process followed, or the one the --daemon-pidfile names once it
  // names one. Its status is run's; the stragglers' that outlive it are not.
  let daemon: number | null = null
  let named = false
  const exitedWith = (pid: number, s: Status | null) => {
    if (s !== null && pid === daemon) status = s
  }
  let prev: number | null = null
  for (;;) {
    o.reaper.sweep()
    // the main process followed last time, if it exited (and was reaped) since
    if (prev !== null) {
      exitedWith(prev, o.reaper.status(prev))
      prev = null
    }
    const populated = isPopulated(cg.dir)
    if (populated !== true) return status
    const members = procsBelow(cg.dir)
    if (members.length === 0) {
      // Populated, but by no process visible here (another PID namespace below ours): wait it out.
      await waitEmpty(cg.dir, RESCAN_MS)
      continue
    }
    const fromFile = daemonPid(o.daemonPidfile, members)
    const main = fromFile ?? mainOf(members)
    let fd: number
    try {
      fd = pidfdOpen(main)
    } catch {
      continue // exited already: look again
    }
    try {
      // The pidfd names the process listed, unless its pid was taken again meanwhile: it must still be in the cgroup.
      if (!procsBelow(cg.dir).includes(main) || pidfdExited(fd)) continue
      o.reaper.watch(main)
      prev = main
      if (fromFile !== null && !named) {
        named = true
        daemon = fromFile
        status = null
      } else if (daemon === null) daemon = main
      if (o.daemon && main !== written) {
        try {
          handle.write(main, {pidfd: fd})
          written = main
        } catch {} // the file keeps the pid it had; the lock still says the service runs
      }
      o.onTarget(fd)
      const waitingForFile = o.daemonPidfile !== undefined && fromFile === null
      const exited = await Promise.race([
        waitPidfdFor(fd, waitingForFile ? DAEMON_PIDFILE_MS : RESCAN_MS),
        waitEmpty(cg.dir, waitingForFile ? DAEMON_PIDFILE_MS : RESCAN_MS).then(() => false),
      ])
      // cgroup.events says empty as the last process exits, a moment before its pidfd says so and
      // it can be reaped: wait for that moment, so that its status is not lost.
      if (!exited && isPopulated(cg.dir) !== true) await waitPidfdFor(fd, 1000)
      if (exited || pidfdExited(fd)) {
        exitedWith(main, await o.reaper.settled(main))
        prev = null
      }
    } finally {
      o.onTarget(-1)
      fs.closeSync(fd)
    }
  }
}

/** --daemon-pidfile made absolute against the working directory. */
export function daemonPidfilePath(file: string | undefined): string | undefined {
  return file === undefined ? undefined : path.resolve(file)
}
