/**
 * Evidence for failing namespace tests: when an assertion fails, show what the kernel showed.
 *   await withEvidence(() => expect(probe).toEqual({type: 'write', pid: h.hostPid}), () => evidence({holder: h}))
 */
import * as fs from 'node:fs'

import {Holder} from './lock-holders'
import {lockKey, readPpid, statOf, statusOf} from './proc'

/** The file's dev:inode as /proc/locks writes it, and its /proc/locks lines (all lines without a file). */
function locksOf(file: string | undefined, out: string[]): fs.Stats | undefined {
  let st: fs.Stats | undefined
  if (file) {
    try {
      st = fs.statSync(file)
      out.push(`file ${file}: ${lockKey(st)} (as /proc/locks writes it)`)
    } catch (error) {
      out.push(`file ${file}: ${(error as Error).message}`)
    }
  }
  const key = st && lockKey(st)
  try {
    const locks = fs.readFileSync('/proc/locks', 'utf8').trim().split('\n')
    const mine = key === undefined ? locks : locks.filter((l) => l.split(/\s+/).includes(key))
    out.push(`/proc/locks (${locks.length} lines, ${key === undefined ? 'all' : 'those on ' + key}):`, ...mine.map((l) => '  ' + l))
  } catch (error) {
    out.push(`/proc/locks: ${(error as Error).message}`)
  }
  return st
}

/** One process: its status lines, ns/pid link, and the fdinfo of every fd open on `st` (the `lock:` lines). */
function processEvidence(pid: number, st: fs.Stats | undefined, out: string[]): void {
  const s = statusOf(pid)
  if (!s) {
    out.push(`pid ${pid}: gone`)
    return
  }
  let link = '?'
  try {
    link = fs.readlinkSync(`/proc/${pid}/ns/pid`)
  } catch {
    /* permission or gone */
  }
  const state = statOf(pid)?.state ?? '?'
  out.push(`pid ${pid} (${s.name}, ${state}) PPid ${s.ppid} NSpid ${s.nspid.join(' ')} NStgid ${s.nstgid.join(' ')} ns ${link}`)
  let fds: string[] = []
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    /* gone */
  }
  for (const fd of fds) {
    try {
      const fst = fs.statSync(`/proc/${pid}/fd/${fd}`)
      if (st === undefined || fst.ino !== st.ino || fst.dev !== st.dev) continue
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').trim().split('\n')
      out.push(`  fd ${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`, ...info.map((l) => '    ' + l))
    } catch {
      /* closed meanwhile */
    }
  }
}

/**
 * What the kernel shows about a lock and its holders, as text for a failure message:
 * the file's dev:inode and its /proc/locks lines (from the test's /proc), and for each process
 * (the holder, the chain above it up to the launcher, plus `pids`): name, state, PPid, NSpid,
 * NStgid, ns/pid link, and the fdinfo of every fd open on the file (the `lock:` lines).
 */
export function evidence(opts: {holder?: Holder; file?: string; pids?: number[]}): string {
  const out: string[] = []
  const st = locksOf(opts.file ?? opts.holder?.options.file, out)
  const pids = new Set<number>(opts.pids ?? [])
  if (opts.holder) {
    for (let p: number | null = opts.holder.hostPid, i = 0; p && i < 16; i++) {
      pids.add(p)
      if (p === opts.holder.launcherPid) break
      p = readPpid(p)
    }
  }
  for (const pid of pids) processEvidence(pid, st, out)
  return out.join('\n')
}

/**
 * Run `fn`; if it throws (an assertion failed), append `describe()` to the error message and rethrow.
 */
export async function withEvidence<T>(fn: () => T | Promise<T>, describe: () => string | Promise<string>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    let text: string
    try {
      text = await describe()
    } catch (e) {
      text = `(collecting evidence failed: ${(e as Error).message})`
    }
    const e = error as Error
    const extra = `\n\n--- evidence ---\n${text}\n`
    if (e && typeof e === 'object') e.message += extra
    throw error
  }
}
