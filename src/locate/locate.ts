/**
 * locate(): is service NAME running, which process is it from where we stand, and how do we know.
 * This module finds and opens the pidfile; decide.ts reconciles the witnesses; confine.ts keeps the
 * answer inside a rootPid target. Nothing takes a lock. The types are in types.ts.
 */
import fs = require('node:fs')

import {NslocateError, isErrno} from '../errors'
import {proc} from '../proc/proc-fs'
import {confine} from './confine'
import {decide} from './decide'
import {resolveIdentity} from './identity-options'
import {rootOf} from './locate-root'
import {mergeNameArgs, resolvePidfile, validateName, validateRootPid, withAbsolutePaths} from './name'
import {OpenedPidfile, openPidfile} from './pidfile'
import {refusedResult} from './pidfile-look'
import type {LocateOptions, LocateResult, Located, Reason} from './types'

export type {LocateOptions, LocateResult, Located, LockKind, Reason, State} from './types'

/** locate(NAME), locate({name, ...}) or locate(NAME, {...}): the second argument is merged, never ignored. */
export function locate(nameOrOptions: string | LocateOptions, options?: Partial<LocateOptions>): LocateResult {
  return locateDetailed(nameOrOptions, options).result
}

/** A result saying NAME is not running, with no pidfile looked at (e.g. its container has stopped). */
export function stoppedResult(name: string, reasons: Reason[] = [], evidence: string[] = []): LocateResult {
  return {
    name,
    state: 'stopped',
    pid: null,
    pidfdId: null,
    pidfdRef: null,
    holder: null,
    holderPidfdId: null,
    visible: true,
    nspid: [],
    pidns: null,
    pidfile: null,
    starting: false,
    process: null,
    container: null,
    cgroup: null,
    reasons,
    evidence,
  }
}

/** How often locate() looks again when a process it names exits while being inspected (GONE). */
export const GONE_ATTEMPTS = 3

/**
 * locate(), with the facts of the processes it identified (signal() pins them by start time). A
 * process that exits while being inspected (the lock holder before its facts were read, or one
 * whose pidfs id no longer answers when pinned: NslocateError GONE, "run again") makes the whole
 * look start again, up to GONE_ATTEMPTS times in all: one service stopping meanwhile must not fail
 * find, list, serve or wait. GONE is thrown after the last attempt, or at once with `lookOnce`
 * (signal: a process that took the pid meanwhile is not signalled for it; the caller runs again).
 */
export function locateDetailed(nameOrOptions: string | LocateOptions, options?: Partial<LocateOptions>): Located {
  const attempts = (typeof nameOrOptions === 'object' && nameOrOptions.lookOnce) || options?.lookOnce ? 1 : GONE_ATTEMPTS
  for (let attempt = 1; ; attempt++) {
    try {
      return locateOnce(nameOrOptions, options)
    } catch (error) {
      if (!(error instanceof NslocateError && error.code === 'GONE') || attempt >= attempts) throw error
    }
  }
}

/** One look of locateDetailed(). */
function locateOnce(nameOrOptions: string | LocateOptions, options?: Partial<LocateOptions>): Located {
  // Relative pidfile/dir: against the caller's working directory, before anything else; empty: USAGE.
  const opts: LocateOptions = withAbsolutePaths(mergeNameArgs('locate', nameOrOptions, options))
  if (!opts.skipNameCheck) validateName(opts.name)
  const procfs = opts.procfs ?? proc
  if (opts.rootPid !== undefined) validateRootPid(opts.rootPid, procfs.pidMax())
  const result = stoppedResult(opts.name)
  const located: Located = {result, main: null, holder: null}
  if (opts.preEvidence) result.evidence.push(...opts.preEvidence)
  const inRoot = opts.rootPid !== undefined ? rootOf(opts.rootPid, opts, procfs) : null
  const identity = resolveIdentity(opts, inRoot?.root)
  const {path: file, searched} = resolvePidfile(opts.name, inRoot ? inRoot.search : opts)
  if (!file) {
    result.reasons.push('no_pidfile')
    result.evidence.push(`no pidfile: looked for ${searched.join(', ')}`)
    return located
  }
  const opened = openOrExplain(file, result, {...opts, pidMax: procfs.pidMax(), root: inRoot?.root})
  if (!opened) return located
  located.pidfileId = {dev: Number(opened.stat.dev), ino: Number(opened.stat.ino)}
  try {
    const where = inRoot ? {pidns: inRoot.pidns, innerPath: file.slice(inRoot.root.length) || '/', mountRef: inRoot.mountRef} : {}
    decide(located, opened, {...opts, identity, ...where}, procfs)
    mergeContainerHint(result, opts)
  } finally {
    if (!opened.borrowed) fs.closeSync(opened.fd)
  }
  if (opts.rootPid !== undefined) confine(located, opts.rootPid, procfs)
  if (located.result.pid === null) {
    located.main = null
    located.holder = null
  }
  return located
}

/** The pidfile, opened; or null with the result saying why it could not be (refused, gone, denied). */
function openOrExplain(file: string, result: LocateResult, opts: LocateOptions & {pidMax: number; root?: string}): OpenedPidfile | null {
  try {
    return openPidfile(file, {pidMax: opts.pidMax, root: opts.root, uid: opts.uid, allowUnsafe: opts.allowUnsafe, chaseCache: opts.chaseCache})
  } catch (error) {
    // A refused pidfile, or one that is a symbolic link leading to no file (dangling, looping, a
    // directory): unknown, never "no pidfile" (pidfile-look.ts).
    if (refusedResult(error, result, opts.allowUnsafe)) return null
    if (isErrno(error, 'ENOENT')) {
      result.reasons.push('no_pidfile')
      result.evidence.push(`${file} disappeared while being read`)
      return null
    }
    result.state = 'unknown'
    result.reasons.push(isErrno(error, 'EACCES', 'EPERM') ? 'permission_denied' : 'unreadable_pidfile')
    result.evidence.push(`cannot open ${file}: ${(error as Error).message}`)
    return null
  }
}

/** What the container engine said of the container (containerHint), merged into the answer's `container`. */
function mergeContainerHint(result: LocateResult, opts: LocateOptions): void {
  const hint = opts.containerHint
  if (!hint || result.pid === null) return
  if (!result.container || result.container.id === hint.id) result.container = {...hint, ...result.container, name: hint.name}
}
