/**
 * The cgroup v2 hierarchy as this process sees it: where it is mounted, which cgroup a process is
 * in, and the few files of a cgroup that `run`, `find`, `signal` and `wait` use (issue 22):
 *   cgroup.procs   the processes in it (pids in the reader's PID namespace)
 *   cgroup.events  `populated 1|0`: whether it or a descendant holds a live process; the kernel
 *                  notifies a change as a modification of the file (inotify), so a wait is no poll
 *   cgroup.kill    writing 1 sends SIGKILL to every process in it and its descendants (Linux 5.14)
 *
 * Paths in /proc/PID/cgroup and the root field of /proc/self/mountinfo are both relative to the
 * reader's cgroup namespace, so a path maps to a directory through a mount whose root is a prefix
 * of it. On a v1 hybrid (this project's CI machine) the v2 part is mounted at
 * /sys/fs/cgroup/unified; on a unified host at /sys/fs/cgroup.
 */
import fs = require('node:fs')
import path = require('node:path')

import type {ProcFs} from '../proc/proc-fs'

/** One cgroup2 mount: its mount point and the cgroup it shows (relative to our cgroup namespace). */
export interface V2Mount {
  mountpoint: string
  root: string
}

/** Undo mountinfo's octal escapes (\040 for a space, ...). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** Every cgroup2 mount in /proc/self/mountinfo, in its order. */
export function v2Mounts(mountinfo = '/proc/self/mountinfo'): V2Mount[] {
  let text: string
  try {
    text = fs.readFileSync(mountinfo, 'utf8')
  } catch {
    return []
  }
  const mounts: V2Mount[] = []
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const left = line.slice(0, sep).split(' ')
    const right = line.slice(sep + 3).split(' ')
    if (right[0] !== 'cgroup2' || left.length < 5) continue
    mounts.push({root: unescape(left[3]), mountpoint: unescape(left[4])})
  }
  return mounts
}

/** The v2 cgroup path of `pid` (the `0::` line of /proc/PID/cgroup), null when it has none or cannot be read. */
export function v2PathOf(procfs: ProcFs, pid: number | 'self'): string | null {
  try {
    const line = procfs.readCgroup(pid === 'self' ? process.pid : pid).find((l) => l.hierarchy === 0)
    return line ? line.path : null
  } catch {
    return null
  }
}

/**
 * The directory of the v2 cgroup `cgPath` (relative to our cgroup namespace), through the first
 * mount that shows it; null when no mount here shows it (or it does not exist).
 */
export function dirOfV2Path(cgPath: string, mounts: V2Mount[] = v2Mounts()): string | null {
  if (!cgPath.startsWith('/') || cgPath.split('/').includes('..')) return null
  for (const m of mounts) {
    const root = m.root === '/' ? '' : m.root
    if (root !== '' && cgPath !== root && !cgPath.startsWith(`${root}/`)) continue
    const dir = path.resolve(m.mountpoint, `.${cgPath.slice(root.length)}`)
    if (fs.existsSync(path.join(dir, 'cgroup.procs'))) return dir
  }
  return null
}

/** `populated` from the cgroup's cgroup.events: true, false, or null when it cannot be read (removed). */
export function isPopulated(dir: string): boolean | null {
  try {
    const m = /^populated ([01])$/m.exec(fs.readFileSync(path.join(dir, 'cgroup.events'), 'latin1'))
    return m ? m[1] === '1' : null
  } catch {
    return null
  }
}

/** The pids in the cgroup and every cgroup below it (cgroup.procs, in our PID namespace; 0s dropped). */
export function procsBelow(dir: string): number[] {
  const pids: number[] = []
  const visit = (d: string, depth: number) => {
    try {
      for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'latin1').split('\n')) if (p && p !== '0') pids.push(Number(p))
    } catch {
      return
    }
    if (depth >= 32) return
    let entries: fs.Dirent[] = []
    try {
      entries = fs.readdirSync(d, {withFileTypes: true})
    } catch {}
    for (const e of entries) if (e.isDirectory()) visit(path.join(d, e.name), depth + 1)
  }
  visit(dir, 0)
  return [...new Set(pids)]
}

/** The directory's inode (kernfs: an id the cgroup keeps for its life), null when it is gone. */
export function inodeOf(dir: string): number | null {
  try {
    return fs.statSync(dir).ino
  } catch {
    return null
  }
}

/**
 * Resolves once the cgroup at `dir` holds no process (cgroup.events says `populated 0`, or the
 * directory is gone), to true; to false when `timeoutMs` passes first. Woken by inotify on
 * cgroup.events, with a poll every `pollMs` as a safety net.
 */
export function waitEmpty(dir: string, timeoutMs: number, pollMs = 500): Promise<boolean> {
  if (isPopulated(dir) !== true) return Promise.resolve(true)
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | null = null
    let done = false
    const finish = (value: boolean) => {
      if (done) return
      done = true
      clearInterval(poll)
      clearTimeout(timer)
      try {
        watcher?.close()
      } catch {}
      resolve(value)
    }
    const check = () => {
      if (isPopulated(dir) !== true) finish(true)
    }
    const poll = setInterval(check, pollMs)
    const timer = setTimeout(() => finish(isPopulated(dir) !== true), Math.max(0, timeoutMs))
    try {
      watcher = fs.watch(path.join(dir, 'cgroup.events'), {persistent: false}, check)
      watcher.on('error', () => {})
    } catch {} // no inotify here: the poll alone
    check()
  })
}
