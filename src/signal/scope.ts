/**
 * The members of a scope (signal()'s option scope), pinned. Discovery runs before the first signal and again before each
 * signal of a retry schedule, and it never trusts a pid NUMBER that outlived its process:
 * membership is derived only from processes that are pinned (a pidfd) and still alive AFTER the
 * /proc scan that named their members, so a pid reused meanwhile (an innocent forked onto the dead
 * main process's pid, with children of its own) is never proposed, let alone signalled.
 *   tree    children (by ppid) of pinned processes that are alive after the scan
 *   group   processes of the process group G read once from the pinned main process; looked for
 *           again only while a pinned member is still alive and still in G (so G is the same group)
 *   cgroup  cgroup.procs of the service's own cgroup (cgroup-own.ts), the same directory inode as
 *           at the start; each pid pinned, then checked to be in it, then checked alive again
 */
import {NslocateError} from '../errors'
import {pidfdExited} from '../native/binding'
import {ProcFs} from '../proc/proc-fs'
import {CgroupDir, cgroupMembers, inCgroup, ownCgroupOf, recordedCgroupOf, sameCgroup} from './cgroup-own'
import {Scope, childrenMap, groupMembers} from './members'
import {Pinned, pin, unpin} from './pin'
import type {Skipped} from './types'

/** A member that was not signalled, and why (types.ts Skipped). */
export type Skip = Skipped

/** Whether the pinned process has exited (true when its pidfd can no longer tell). */
export function isExited(p: Pinned): boolean {
  try {
    return pidfdExited(p.fd)
  } catch {
    return true
  }
}

/** The pinned members of a scope: the main process first, then the others as discover() finds them. */
export class Members {
  /** every pinned process, the main one first */
  readonly pinned: Pinned[]
  cgroup: CgroupDir | null = null
  private pgid: number | null = null
  private readonly seen = new Set<number>()

  constructor(
    private readonly scope: Scope,
    main: Pinned,
    private readonly procfs: ProcFs,
    private readonly skipped: Skip[],
    /** the cgroup run recorded for the service (find's result.cgroup), used when the main process is in it */
    private readonly recorded: {dir: string | null} | null = null,
  ) {
    this.pinned = [main]
    this.seen.add(main.pid)
  }

  /** the directory of the cgroup run recorded for the service (a wait lasts until it is empty), or null */
  get serviceCgroupDir(): string | null {
    return this.recorded?.dir ?? null
  }

  get main(): Pinned {
    return this.pinned[0]
  }

  /** Finds and pins members not pinned yet (until a pass finds nothing new); returns them. */
  discover(): Pinned[] {
    const found: Pinned[] = []
    if (this.scope === 'main') return found
    for (let round = 0; round < 50; round++) {
      const fresh = this.scope === 'tree' ? this.treePass() : this.scope === 'group' ? this.groupPass() : this.cgroupPass()
      found.push(...fresh)
      if (fresh.length === 0) break
    }
    return found
  }

  /** Unpins every member. */
  release(): void {
    for (const p of this.pinned) unpin(p)
  }

  /** Pins pid if it still is the process scanned (starttime) and `belongs()` holds while it is pinned. */
  private adopt(pid: number, starttime: number | null, belongs: () => boolean = () => true): Pinned | null {
    if (this.seen.has(pid)) return null
    const r = pin(pid, starttime, this.procfs)
    if ('failure' in r) {
      // A reused or exited pid is simply not a member; refusals of safety and permission are shown.
      if (r.failure === 'unsafe' || r.failure === 'permission') {
        this.seen.add(pid)
        this.skipped.push({pid, pidfdId: null, reason: r.failure === 'unsafe' ? `unsafe: ${r.detail}` : r.failure})
      }
      return null
    }
    if (!belongs() || isExited(r.pinned)) {
      unpin(r.pinned)
      return null
    }
    this.seen.add(pid)
    this.pinned.push(r.pinned)
    return r.pinned
  }

  private treePass(): Pinned[] {
    const children = childrenMap(this.procfs)
    // Checked AFTER the scan: a parent alive now was alive during it, so its pid number named it.
    const queue = this.pinned.filter((p) => !isExited(p))
    const found: Pinned[] = []
    while (queue.length) {
      const parent = queue.shift()!
      for (const c of children.get(parent.pid) ?? []) {
        // pin() checks the scanned start time: the child pinned is the one the scan saw.
        const p = this.adopt(c.pid, c.starttime)
        if (p) {
          found.push(p)
          queue.push(p)
        }
      }
    }
    return found
  }

  private groupPass(): Pinned[] {
    if (this.pgid === null) {
      let pgid: number
      try {
        pgid = this.procfs.readStat(this.main.pid).pgrp
      } catch {
        return [] // exited: nothing to look for
      }
      if (isExited(this.main)) return []
      const own = this.procfs.readStat('self').pgrp
      if (pgid === own)
        throw new NslocateError(
          'PERMISSION',
          (n) => `refusing ${n('scope', 'group')}: pid ${this.main.pid}'s process group ${pgid} is nslocate's own; nothing was signalled`,
        )
      if (pgid <= 1)
        throw new NslocateError('PERMISSION', (n) => `refusing ${n('scope', 'group')}: pid ${this.main.pid} has process group ${pgid}; nothing was signalled`)
      this.pgid = pgid
    }
    const g = this.pgid
    const inG = (p: Pinned) => {
      try {
        return this.procfs.readStat(p.pid).pgrp === g && !isExited(p)
      } catch {
        return false
      }
    }
    if (!this.pinned.some(inG)) return []
    const scanned = groupMembers(this.procfs, g)
    // A pinned member alive in G after the scan proves G was the service's group during it.
    if (!this.pinned.some(inG)) return []
    const found: Pinned[] = []
    for (const c of scanned) {
      const p = this.adopt(c.pid, c.starttime)
      if (p) found.push(p)
    }
    return found
  }

  private cgroupPass(): Pinned[] {
    if (this.cgroup === null) {
      let cg: CgroupDir
      try {
        cg = recordedCgroupOf(this.procfs, this.main.pid, this.recorded) ?? ownCgroupOf(this.procfs, this.main.pid)
      } catch (error) {
        if (isExited(this.main)) return [] // exited while its cgroup was read
        throw error
      }
      if (isExited(this.main)) return []
      this.cgroup = cg
    }
    const cg = this.cgroup
    if (!sameCgroup(cg)) return []
    let pids: number[]
    try {
      pids = cgroupMembers(cg)
    } catch {
      return []
    }
    const found: Pinned[] = []
    for (const pid of pids) {
      const p = this.adopt(pid, null, () => inCgroup(this.procfs, pid, cg) && sameCgroup(cg))
      if (p) found.push(p)
    }
    return found
  }
}
