/**
 * list(): every pidfile `find` would find, each located as `find` would (the library side of
 * `nslocate list`). Synchronous, as locate() is; a Docker container is listInContainer()
 * (src/runtime/in-container.ts), asynchronous, as locateInContainer() is.
 */
import fs = require('node:fs')
import path = require('node:path')

import {NslocateError, isErrno} from '../errors'

import type {IdentityOptions} from '../locate/identity-options'
import {eachListed, listPidfiles} from '../locate/list-pidfiles'
import {locate} from '../locate/locate'
import type {LocateOptions, LocateResult} from '../locate/locate'
import {validateRootPid} from '../locate/name'
import {ProcFs, proc} from '../proc/proc-fs'

/** list()'s options as its implementation takes them (the public ones are checked in src/api/library.ts). */
export interface ListOptions extends IdentityOptions {
  /** list the *.pid files of this directory only (instead of the search path) */
  dir?: string
  /** trust pidfiles the safety rules refuse (as find's allowUnsafe) */
  allowUnsafe?: boolean
  /** look inside the mount and PID namespaces of this process (e.g. 1 in a sidecar sharing the app's PID namespace) */
  rootPid?: number
  /** /proc to read (tests) */
  procfs?: ProcFs
  /** with rootPid: what the container is, and how it was found (listInContainer()) */
  containerHint?: LocateOptions['containerHint']
  preEvidence?: string[]
}

/**
 * `complete`: every directory of the search path could be read; `incomplete`: some could not (see
 * `unreadable`); `not_running`: the container asked for does not run or does not exist (see `notRunning`).
 */
export type ListOutcome = 'complete' | 'incomplete' | 'not_running'

/** What list() found: the rows, located lazily, and the directories it could not read. */
export interface ListResult {
  /**
   * One row per pidfile, located as it is iterated (once only): a long listing never sits in
   * memory. In the order of the files' paths.
   */
  services: Iterable<LocateResult>
  /** directories that could not be read (the others are still listed) */
  unreadable: Array<{dir: string; message: string}>
  /** directories that could not be looked into (permission denied): a NAME.pid there is not listed */
  denied: string[]
  outcome: ListOutcome
  /**
   * listInContainer() of a container that does not run or does not exist (src/runtime/down.ts): why
   * (which container, and its state); `services` is then empty, as no service runs there.
   */
  notRunning?: string
}

/** Every pidfile find would find (or, with `dir`, that directory's *.pid), each as find reports it. */
export function list(options: ListOptions = {}): ListResult {
  if (options.rootPid !== undefined) return listInRoot(options.rootPid, options)
  const listing = listPidfiles({dir: options.dir})
  const {allowUnsafe, exec, processName, user, procfs} = options
  return {
    services: eachListed(listing, {allowUnsafe, exec, processName, user, procfs}),
    unreadable: listing.unreadable,
    denied: listing.denied,
    outcome: listing.unreadable.length > 0 ? 'incomplete' : 'complete',
  }
}

/**
 * list() inside ROOTPID's mount namespace. As locate() does for find: a rootPid at or above this
 * kernel's pid_max is a usage error, and one that has exited is NOT_RUNNING (never an empty, complete
 * listing: a health check would read "nothing runs there"). Directories that cannot be read there
 * are reported as they are on the host, by their path inside the root.
 */
function listInRoot(rootPidOption: number, options: ListOptions): ListResult {
  const procfs = options.procfs ?? proc
  const rootPid = validateRootPid(rootPidOption, procfs.pidMax())
  const root = procfs.file(rootPid, 'root')
  try {
    fs.statSync(root)
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ESRCH'))
      throw new NslocateError('NOT_RUNNING', `pid ${rootPid} (whose mount namespace holds the pidfiles) has exited`, {cause: error})
    throw new NslocateError('PERMISSION', `cannot enter the files of pid ${rootPid} through ${root}: ${(error as Error).message}`, {cause: error})
  }
  const listing = listPidfiles({root, dir: options.dir ? path.join(root, path.resolve(options.dir)) : undefined, env: {}, uid: 0})
  const inside = (p: string): string => (p.startsWith(root) ? p.slice(root.length) || '/' : p)
  return {
    services: inRoot(rootPid, root, listing.files, options),
    unreadable: listing.unreadable.map((u) => ({...u, dir: inside(u.dir)})),
    denied: listing.denied.map(inside),
    outcome: listing.unreadable.length > 0 ? 'incomplete' : 'complete',
  }
}

/** What `find NAME --root-pid ROOTPID` would find, for every pidfile listed inside ROOTPID's root. */
function* inRoot(rootPid: number, root: string, files: ReturnType<typeof listPidfiles>['files'], opts: ListOptions): Generator<LocateResult, void, undefined> {
  for (const f of files) {
    yield locate({
      name: f.name,
      pidfile: f.path.slice(root.length) || '/',
      rootPid,
      skipNameCheck: !f.validName,
      allowUnsafe: opts.allowUnsafe,
      containerHint: opts.containerHint,
      preEvidence: opts.preEvidence,
      exec: opts.exec,
      processName: opts.processName,
      user: opts.user,
    })
  }
}
