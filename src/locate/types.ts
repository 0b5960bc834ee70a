/**
 * What locate() takes and answers. The types live here, apart from the orchestrator (locate.ts),
 * so the modules locate() calls (confine, pidfile-look, pidfile-trust, decide) import them without
 * importing locate() back. Output fields are documented in docs/nslocate.1.md (OUTPUT).
 */
import type {State} from '../outcomes'
import type {ContainerRef} from '../proc/parse-cgroup'
import type {ProcFs} from '../proc/proc-fs'
import type {IdentityOptions} from './identity-options'
import type {IdentityRecord} from './record'
import type {CgroupFacts} from '../cgroup/service'
import type {ChaseCache} from './path-safety'
import type {ProcessFacts, ProcessInfo} from './process-info'
import type {SearchOptions} from './search-path'

export type {State} from '../outcomes'
export type {ProcessInfo} from './process-info'
export type {IdentityRecord} from './record'
export type {CgroupFacts} from '../cgroup/service'

/**
 * Every reason code a LocateResult can carry (docs/nslocate.1.md, "Reason codes"), in the order of
 * that list. `container_not_running` and `root_exited` come from the container and root-pid
 * routes (a result made without looking at a pidfile). `foreign_lock_holder` is given no more.
 */
export type Reason =
  | 'no_pidfile'
  | 'permission_denied'
  | 'container_not_running'
  | 'root_exited'
  | 'unreadable_pidfile'
  | ContentProblem
  | 'unlocked_pidfile'
  | 'stale_pidfile'
  | 'pid_reused'
  | 'previous_boot'
  | 'ambiguous'
  | 'name_mismatch'
  | 'identity_mismatch'
  | 'holder_not_visible'
  | 'content_mismatch'
  | 'outside_target_namespace'
  | SafetyReason

/** What the pidfile's first line can be wrong with (pidfile.ts). */
export type ContentProblem = 'empty_pidfile' | 'garbage_pidfile' | 'invalid_pid'

/** The safety codes (docs/nslocate.1.md, NOTES, "Pidfile safety"). */
export type SafetyReason = 'symlink' | 'not_regular' | 'world_writable' | 'group_writable' | 'unsafe_directory' | 'unsafe_symlink' | 'unsafe_owner'

/** Every reason code, for callers that check a value (and for the table tests, which cover each). */
export const REASONS: readonly Reason[] = [
  'no_pidfile',
  'permission_denied',
  'container_not_running',
  'root_exited',
  'unreadable_pidfile',
  'empty_pidfile',
  'garbage_pidfile',
  'invalid_pid',
  'unlocked_pidfile',
  'stale_pidfile',
  'pid_reused',
  'previous_boot',
  'ambiguous',
  'name_mismatch',
  'identity_mismatch',
  'holder_not_visible',
  'content_mismatch',
  'outside_target_namespace',
  'symlink',
  'not_regular',
  'world_writable',
  'group_writable',
  'unsafe_directory',
  'unsafe_symlink',
  'unsafe_owner',
]

/** The kind of lock held on the pidfile (`none`: unlocked, or held only by processes that could not have written it). */
export type LockKind = 'posix' | 'ofd' | 'flock' | 'none'

/** What locate() knows about the pidfile it read. */
export interface PidfileFacts {
  path: string
  /** the number written in it (in the writer's PID namespace), null when there is none */
  pid: number | null
  lock: LockKind
  uid: number
  /** its permission bits, four octal digits */
  mode: string
  /**
   * The identity record on the file (record.ts) when it describes the current content: written in
   * this boot (the service is the process with its pidfs id), or in an earlier one (`previous_boot`).
   * null: none, or one that was ignored (rewritten since, malformed); the evidence says which.
   */
  recorded: IdentityRecord | null
}

/** locate()'s answer: is NAME running, which process is it from here, and how that is known. */
export interface LocateResult {
  name: string
  state: State
  /** the service's main process in the caller's PID namespace */
  pid: number | null
  /**
   * The pidfs id of `pid` (Linux 6.9+): never reused during a boot, the same in every namespace
   * (util-linux `getino --pidfs`). Read from a pidfd opened on the process whose facts are reported;
   * null when there is no pid, before 6.9, or when the process exited while being inspected.
   */
  pidfdId: number | null
  /** `PID:ID` of the main process, as util-linux and `signal --pid` take it; null without an id */
  pidfdRef: string | null
  /** the lock holder in the caller's namespace (a supervisor may hold the lock for its child) */
  holder: number | null
  /** the pidfs id of `holder` (see pidfdId) */
  holderPidfdId: number | null
  visible: boolean
  /** NSpid chain of `pid` as seen here, outermost first; the last entry is the pid inside its own namespace */
  nspid: number[]
  pidns: string | null
  pidfile: PidfileFacts | null
  /** the pidfile is locked but holds no pid yet: the service is starting (`pid` is the lock holder, maybe its supervisor) */
  starting: boolean
  process: ProcessInfo | null
  container: ContainerRef | null
  /**
   * The service's own cgroup, as `run` recorded it beside the pidfile (issue 22): every process of
   * the service, escapes included, in `processes`. null when the pidfile records none (not written
   * by `run`, or `run --cgroup=none`); with `path: null` and `why` when run could not make one.
   */
  cgroup: CgroupFacts | null
  /** Why the state is what it is, in the order found; [] when the witnesses agree (serve adds its error codes, see src/serve/observe.ts). */
  reasons: Reason[]
  /** one line per fact looked at, for people */
  evidence: string[]
}

/** locate()'s options (docs/library.md). */
export interface LocateOptions extends SearchOptions, IdentityOptions {
  name: string
  allowUnsafe?: boolean
  /** /proc mount to read (tests point it at another mount) */
  procfs?: ProcFs
  /** restrict unlocked-pidfile candidates to this pid namespace (`pid:[inode]`) */
  pidns?: string
  /** names the process may have besides NAME (e.g. the pidfile's base name) */
  alsoNamed?: string[]
  /** set by list: the NAME need not be valid (it comes from a file name) */
  skipNameCheck?: boolean
  /**
   * Work inside the mount and PID namespaces of this process (e.g. a container's init): the search
   * path, the dir and pidfile options are read under /proc/ROOTPID/root, and a bare pid is looked
   * for in its PID namespace only.
   */
  rootPid?: number
  /** what is known of the container (from the Docker API), merged into `container` */
  containerHint?: ContainerRef
  /** evidence gathered before locate (e.g. from the Docker API) */
  preEvidence?: string[]
  /** set by list: the walks of the pidfiles' directories, shared by the files of one pass */
  chaseCache?: ChaseCache
  /**
   * set by signal: a process that exits while being inspected is GONE at once (nothing is
   * signalled), not looked for again (locateDetailed); the caller runs it again if it wants to
   */
  lookOnce?: boolean
}

/** The identified processes' facts as read during locate (start times pin identity for signal). */
export interface Located {
  result: LocateResult
  main: ProcessFacts | null
  holder: ProcessFacts | null
  /** device and inode of the pidfile that was read (to tell it from one made later at the same path) */
  pidfileId?: {dev: number; ino: number}
}
