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
 *   own status (the daemon: see followCgroup()); with COMMAND's when it could not reap the daemon
 *   (it was not an orphan of the service), or when a signal killed COMMAND;
 * - run keeps the pidfile and both its locks until the cgroup is empty (cgroup.events `populated
 *   0`, woken by inotify): a second run of NAME conflicts for as long as any process of the first lives.
 * When a signal killed COMMAND, what is left is followed the same way (the service is the cgroup),
 * and run exits 128+N as COMMAND did.
 */
import fs = require('node:fs')
import path = require('node:path')

import {ServiceCgroup} from '../cgroup/service'
import {isPopulated, procsBelow, waitEmpty} from '../cgroup/v2'
import {pidfdExited, pidfdOpen, reapChild, waitPidfdFor} from '../native/binding'
import {proc} from '../proc/proc-fs'
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
  /** --daemon-pidfile: the pidfile the daemon writes (absolute) */
  daemonPidfile?: string
  /** called with the pidfd signals should go to (-1: none for now) */
  onTarget: (pidfd: number) => void
  reaper: Reaper
}

/** Clock ticks since boot now (the unit of a process's start time in /proc/PID/stat). */
function ticksNow(): number {
  try {
    return Math.floor(Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * 100)
  } catch {
    return 0
  }
}

/** pid -> {ppid, start} of the members, as read now (the exited ones left out). */
function factsOf(pids: number[]): Map<number, {ppid: number; start: number}> {
  const facts = new Map<number, {ppid: number; start: number}>()
  for (const pid of pids) {
    try {
      const st = proc.readStat(pid)
      facts.set(pid, {ppid: st.ppid, start: st.starttime})
    } catch {}
  }
  return facts
}

/** The members below `pid` by their parents as read (its descendants then). */
function descendants(pid: number, facts: Map<number, {ppid: number; start: number}>): Set<number> {
  const out = new Set<number>()
  for (const m of facts.keys()) {
    const seen = new Set<number>()
    for (let p = facts.get(m)?.ppid ?? 0; p > 1 && !seen.has(p); p = facts.get(p)?.ppid ?? 0) {
      if (p === pid) {
        out.add(m)
        break
      }
      seen.add(p)
    }
  }
  return out
}

/** followCgroup()'s state: the main process followed, and the one that exited last. */
interface Following {
  /** the main process that exited last, its status, and what it could have handed over to */
  pending: {status: Status | null; heirs: Set<number>; since: number} | null
  /** the main process followed, what it had started when last looked at, and when it was chosen */
  current: {pid: number; start: number; heirs: Set<number>; since: number} | null
}

/**
 * Waits until the cgroup is empty, keeping the pidfile naming its main process (see the header).
 * Resolves to the daemon's exit status when run could reap it (null otherwise).
 *
 * Which exit is the daemon's: a main process that exits leaving, as the next main, a process it
 * started (one of its descendants when it was last looked at, or one born since it was chosen)
 * has handed over, as the middle process of a double fork does: its status is not the service's,
 * the next one's may be. The first main process whose exit is no hand-over is the daemon; what
 * outlives it are stragglers, whose statuses do not count. With --daemon-pidfile, the process that
 * file names, once it names one, is the daemon.
 */
export async function followCgroup(handle: PidfileHandle, cg: ServiceCgroup, o: FollowOptions): Promise<Status | null> {
  let written = handle.pid
  /** the daemon's status, once its exit is known to be the daemon's */
  let status: Status | null = null
  let settled = false
  let named = false
  const f: Following = {pending: null, current: null}
  /** the daemon a --daemon-pidfile named: its exit settles the status */
  let byFile: number | null = null
  const exited = (pid: number, s: Status | null) => {
    const c = f.current
    if (c === null || c.pid !== pid) return
    if (pid === byFile && !settled) {
      status = s
      settled = true
    } else if (!settled) f.pending = {status: s, heirs: c.heirs, since: c.since}
    f.current = null
  }
  for (;;) {
    o.reaper.sweep()
    // the main process followed last time, if it exited (and was reaped) since
    const was = f.current
    if (was !== null) {
      const s = o.reaper.status(was.pid)
      if (s !== null || !isAlive(was.pid, was.start)) exited(was.pid, s)
    }
    const populated = isPopulated(cg.dir)
    if (populated !== true) {
      if (f.pending && !settled) status = f.pending.status
      return status
    }
    const members = procsBelow(cg.dir)
    if (members.length === 0) {
      // Populated, but by no process visible here (another PID namespace below ours): wait it out.
      await waitEmpty(cg.dir, RESCAN_MS)
      continue
    }
    // each member's parent and start time, read once: for the main process's choice and its heirs
    const facts = factsOf(members)
    const fromFile = daemonPid(o.daemonPidfile, members)
    const main = fromFile ?? mainOf(members, facts)
    let fd: number
    try {
      fd = pidfdOpen(main)
    } catch {
      continue // exited already: look again
    }
    try {
      // The pidfd names the process listed, unless its pid was taken again meanwhile: it must still be in the cgroup.
      if (!procsBelow(cg.dir).includes(main) || pidfdExited(fd)) continue
      if (fromFile !== null && !named) {
        // the daemon, by its own pidfile: its status is the one that counts, whatever follows it
        named = true
        settled = false
        f.pending = null
        status = null
        byFile = fromFile
      } else if (f.pending !== null && f.current?.pid !== main) {
        const p = f.pending
        const handedOver = p.heirs.has(main) || (facts.get(main)?.start ?? 0) >= p.since
        if (!handedOver) {
          status = p.status
          settled = true
        }
        f.pending = null
      }
      if (f.current?.pid !== main) f.current = {pid: main, start: facts.get(main)?.start ?? -1, heirs: new Set(), since: ticksNow()}
      for (const d of descendants(main, facts)) f.current.heirs.add(d)
      o.reaper.watch(main)
      if (main !== written) {
        try {
          handle.write(main, {pidfd: fd})
          written = main
        } catch {} // the file keeps the pid it had; the lock still says the service runs
      }
      o.onTarget(fd)
      const waitingForFile = o.daemonPidfile !== undefined && fromFile === null
      let gone = await Promise.race([
        waitPidfdFor(fd, waitingForFile ? DAEMON_PIDFILE_MS : RESCAN_MS),
        waitEmpty(cg.dir, waitingForFile ? DAEMON_PIDFILE_MS : RESCAN_MS).then(() => false),
      ])
      // cgroup.events says empty as the last process exits, a moment before its pidfd says so and
      // it can be reaped: wait for that moment, so that its status is not lost.
      if (!gone && isPopulated(cg.dir) !== true) gone = await waitPidfdFor(fd, 1000)
      if (gone || pidfdExited(fd)) exited(main, await o.reaper.settled(main))
    } finally {
      o.onTarget(-1)
      fs.closeSync(fd)
    }
  }
}

/** Is the process that had start time `start` still at `pid`, and not a zombie? (Not one that took its pid since.) */
function isAlive(pid: number, start: number): boolean {
  try {
    const st = proc.readStat(pid)
    return st.starttime === start && st.state !== 'Z'
  } catch {
    return false
  }
}

/** --daemon-pidfile made absolute against the working directory. */
export function daemonPidfilePath(file: string | undefined): string | undefined {
  return file === undefined ? undefined : path.resolve(file)
}
