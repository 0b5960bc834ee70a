/**
 * ProcFs.forPass(): one view of a ProcFs for a pass over many pidfiles (list). What it reuses, and
 * for how long, is documented at ProcFs.forPass().
 */
import fs = require('node:fs')

import {NS_TRANSLATE_UNSUPPORTED, nsPidFromPidns} from '../native/binding'
import {LockLine, devMajor, devMinor} from './parse-locks'
import type {ProcFs} from './proc-fs'
import {monotonicMs} from './read-text'

/** At most this many namespace descriptors are held by a pass (one per PID namespace). */
const MAX_NS_FDS = 256

/** ProcFs.forPass(): the same readers, and release() to close what the pass holds. */
export type PassProcFs = ProcFs & {release(): void}

type Links = Map<number, {link: string} | {error: unknown}>

/** A view of `inner` for one pass (ProcFs.forPass()); `ownTranslate`: `inner` translates with its own method. */
export function passView(inner: ProcFs, ttlMs: number, ownTranslate: boolean): PassProcFs {
  const view = Object.create(inner) as PassProcFs
  const links = walkOnce(view, inner, ttlMs)
  const release = translateByNamespace(view, inner, links, ownTranslate)
  reuseLocks(view, inner, ttlMs)
  // This process's own mount namespace (every unlocked pidfile is placed by it): setns(2) is never
  // called, so it is the same for the whole pass.
  let selfMnt: string | null = null
  view.readLink = (pid: number | 'self', ...rest: string[]) => {
    if (pid !== 'self' || rest.length !== 2 || rest[0] !== 'ns' || rest[1] !== 'mnt') return inner.readLink(pid, ...rest)
    return (selfMnt ??= inner.readLink(pid, ...rest))
  }
  view.release = release
  return view
}

/** The process table walk: pids, and their ns/pid links as read during the walk (returned: the links of the current walk). */
function walkOnce(view: PassProcFs, inner: ProcFs, ttlMs: number): () => Links {
  let walkedAt = Number.NEGATIVE_INFINITY
  let pids: number[] = []
  let links: Links = new Map()
  let walk = -1 // index in `pids` of the link the walk asks for next; -1: not walking
  view.listPids = () => {
    const now = monotonicMs()
    if (!(now - walkedAt < ttlMs)) {
      pids = inner.listPids()
      links = new Map()
      walkedAt = now
    }
    walk = 0
    return pids.slice() // a copy: no caller can change what the next one walks (a frozen array would slow every for-of over it)
  }
  view.readPidnsLink = (pid: number | 'self') => {
    if (walk < 0 || walk >= pids.length || pid !== pids[walk]) {
      walk = -1 // anything else ends the walk: from here on, every link is read afresh
      return inner.readPidnsLink(pid)
    }
    walk++
    let known = links.get(pid)
    if (!known) {
      try {
        known = {link: inner.readPidnsLink(pid)}
      } catch (error) {
        known = {error} // ENOENT (exited) or EACCES (another user's, without CAP_SYS_PTRACE): the same for this pass
      }
      links.set(pid, known)
    }
    if ('error' in known) throw known.error
    return known.link
  }
  return () => links
}

/** Translations: one descriptor per namespace of the walk (it names the namespace, not a process); returns release(). */
function translateByNamespace(view: PassProcFs, inner: ProcFs, linksOf: () => Links, ownTranslate: boolean): () => void {
  const nsFds = new Map<string, number>()
  view.pidFromPidns = (nsOf: number, n: number) => {
    const known = linksOf().get(nsOf)
    if (!ownTranslate || !known || !('link' in known)) return inner.pidFromPidns(nsOf, n)
    let fd = nsFds.get(known.link)
    if (fd === undefined) {
      if (nsFds.size >= MAX_NS_FDS) return inner.pidFromPidns(nsOf, n)
      try {
        fd = fs.openSync(inner.file(nsOf, 'ns', 'pid'), 'r')
      } catch {
        return NS_TRANSLATE_UNSUPPORTED
      }
      // The namespace the walk saw for nsOf, or nsOf is another process by now: then no shortcut.
      if (`pid:[${fs.fstatSync(fd).ino}]` !== known.link) {
        fs.closeSync(fd)
        return inner.pidFromPidns(nsOf, n)
      }
      nsFds.set(known.link, fd)
    }
    try {
      return nsPidFromPidns(fd, n)
    } catch {
      return NS_TRANSLATE_UNSUPPORTED
    }
  }
  return () => {
    for (const fd of nsFds.values()) fs.closeSync(fd)
    nsFds.clear()
  }
}

/** /proc/locks: reused only for the file just probed, and only when it says nothing about it. */
function reuseLocks(view: PassProcFs, inner: ProcFs, ttlMs: number): void {
  let probed: string | null = null
  view.probeLock = (fd: number) => {
    const r = inner.probeLock(fd)
    try {
      const st = fs.fstatSync(fd)
      probed = `${devMajor(st.dev)}:${devMinor(st.dev)}:${st.ino}`
    } catch {
      probed = null
    }
    return r
  }
  // One reading per way of reading it (whole, or bounded to so many bytes).
  const readings = new Map<string, {at: number; value: unknown; files: Set<string>}>()
  const reuse = <T>(key: string, read: () => T, lines: (v: T) => readonly LockLine[]): T => {
    const file = probed
    probed = null
    const now = monotonicMs()
    const last = readings.get(key)
    if (file !== null && last && now - last.at < ttlMs && !last.files.has(file)) return last.value as T
    const value = read()
    readings.set(key, {at: now, value, files: new Set(lines(value).map((l) => `${l.major}:${l.minor}:${l.inode}`))})
    return value
  }
  // Copies of what is kept: no caller can change what the next one reads.
  view.readLocksBounded = (maxBytes: number) => {
    const r = reuse(
      `bounded ${maxBytes}`,
      () => inner.readLocksBounded(maxBytes),
      (v) => v.lines,
    )
    return {lines: r.lines.slice(), truncated: r.truncated}
  }
}
