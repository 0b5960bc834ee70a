/**
 * The argument grammar of every command, as plain data, defined once. Two readers:
 * - src/cli/oclif-grammar.ts turns it into oclif's `static args` / `static flags` (help, the
 *   manifest, the man page, and oclif's parser with its messages for --help and every error);
 * - src/cli/fast-parse.ts parses the common invocations from it without loading oclif, and gives up
 *   (falls back to oclif) on anything it does not fully understand.
 * One import, src/outcomes.ts (SCOPES, a constant): the fast path bundles this for every start.
 * Longer than the ~250 lines files keep to: it is data, every flag of every command with its help
 * text, and one definition is the point of it.
 *
 * To add a flag, add it here (to the command's `flags`, or to a shared group) with the library
 * option it sets (`option`, and `duration` when the value is a DURATION given to the library in ms):
 * src/cli/options.ts then maps it to the option for both paths, back to a flag for the helper
 * container's argv, and names it in error messages. A flag without `option` is the CLI's own
 * (find --quiet, run --conflict-exit-code): the command's module (src/cli/commands/) reads it.
 */

import {SCOPES} from '../outcomes'

interface Common {
  summary: string
  char?: string
  helpValue?: string
  /** flags that may not be given with this one */
  exclusive?: readonly string[]
  /** must be given (the fast parser then falls back when it is missing) */
  required?: boolean
  /** may be repeated, giving an array (the fast parser falls back on it) */
  multiple?: boolean
  /** the library option this flag sets (contract 4 of issue 18); none: the CLI's own flag */
  option?: string
  /** a DURATION (500ms, 30s, 2m, 1h, plain seconds), given to the library option in milliseconds */
  duration?: boolean
}
/** One flag of a command, by type: what oclif's and the fast path's parsers accept. */
export type FlagSpec =
  | (Common & {type: 'boolean'; default?: boolean})
  | (Common & {type: 'string'; default?: string})
  /**
   * A path: an empty value is a usage error (never "not given"), a relative one is made absolute at
   * once. `file`: it must name a file ("/", "x/", "x/." are usage errors: run writes it).
   */
  | (Common & {type: 'path'; key: 'pidfile' | 'dir'; file?: boolean})
  | (Common & {type: 'integer'; default?: number; min?: number; max?: number})
  | (Common & {type: 'option'; options: readonly string[]; default: string})
/** One positional argument of a command. */
export interface ArgSpec {
  type: 'string'
  description: string
  required: true
  /** a service NAME: the fast path takes only a valid one (else oclif's path reports it) */
  name?: boolean
}
/** A command's arguments and flags: the one definition both parsers are built from. */
export interface CommandGrammar {
  args: Readonly<Record<string, ArgSpec>>
  flags: Readonly<Record<string, FlagSpec>>
  /** oclif's --json flag */
  json: boolean
  /** extra arguments allowed (run: `-- COMMAND [ARGS...]`) */
  strict: boolean
  /** the synopsis's words for more arguments after the named ones, before [flags] (serve's `[NAME...]`) */
  more?: string
  /** the synopsis's words after [flags] (run's `-- COMMAND [ARGS...]`) */
  rest?: string
}

const nameArg = (description: string) => ({type: 'string', description, required: true, name: true}) as const

/** --pidfile, --dir and --allow-unsafe-pidfile: where to look for the pidfile, and what to trust. */
export const pidfileFlags = {
  pidfile: {
    option: 'pidfile',
    type: 'path',
    key: 'pidfile',
    summary: 'Use this pidfile instead of searching for NAME.pid (relative: to the working directory).',
    helpValue: 'PATH',
    exclusive: ['dir'],
  },
  dir: {
    option: 'dir',
    type: 'path',
    key: 'dir',
    summary: 'Look for NAME.pid in this directory first (relative: to the working directory).',
    helpValue: 'DIR',
    exclusive: ['pidfile'],
  },
  'allow-unsafe-pidfile': {
    option: 'allowUnsafe',
    type: 'boolean',
    summary:
      'Trust a pidfile the safety rules refuse: symlinked, world- or group-writable, foreign-owned, locked by another user, or on an unsafe path (prints a warning; a non-regular file is never accepted).',
    default: false,
  },
} as const satisfies Record<string, FlagSpec>

/** --container, --pod (+ --container-name, --runtime) and --root-pid: the namespaces to look in (mutually exclusive). */
export const containerFlags = {
  // An empty value (CID=$(docker ps -q ...) found nothing) must never mean "no container", which
  // would search the host: commands test `!== undefined`, and select.ts refuses '' (USAGE).
  container: {
    option: 'container',
    type: 'string',
    summary:
      'The service runs in this container (name or id; docker://REF, podman://REF or cri://REF names the runtime): read its pidfile inside the container, found through its runtime.',
    helpValue: 'REF',
    exclusive: ['root-pid', 'pod'],
  },
  pod: {
    option: 'pod',
    type: 'string',
    summary:
      'The service runs in a container of this Kubernetes pod (NAMESPACE/NAME, or NAME in namespace default), found through the CRI (containerd, CRI-O); with --runtime podman, a Podman pod NAME.',
    helpValue: 'NAMESPACE/NAME',
    exclusive: ['root-pid', 'container'],
  },
  'container-name': {
    option: 'containerName',
    type: 'string',
    summary: "With --pod: the pod's container the service runs in (needed when the pod has more than one).",
    helpValue: 'NAME',
  },
  runtime: {
    option: 'runtime',
    type: 'option',
    options: ['auto', 'docker', 'podman', 'cri'],
    default: 'auto',
    summary:
      'The runtime --container or --pod asks: docker, podman, cri (Kubernetes: containerd, CRI-O), or auto, the first socket that answers and knows the container (the order is in nslocate(1)).',
    helpValue: 'auto|docker|podman|cri',
  },
  // max: PID_MAX_LIMIT - 1 (2^22 - 1), above which no kernel has a pid; the running kernel's pid_max
  // is checked by the library (validateRootPid in src/locate/name.ts): a usage error either way.
  'root-pid': {
    option: 'rootPid',
    type: 'integer',
    summary: "Look inside the mount and PID namespaces of process PID (e.g. 1 in a sidecar that shares the app's PID namespace).",
    helpValue: 'PID',
    min: 1,
    max: 4194303,
    exclusive: ['container', 'pod'],
  },
} as const satisfies Record<string, FlagSpec>

/**
 * Explicit identity, as start-stop-daemon's --exec, --name and --user: required of every answer,
 * locked pidfile or not (a process that does not match is never reported or signalled).
 */
export const identityFlags = {
  exec: {
    option: 'exec',
    type: 'string',
    summary: 'The service runs this executable: a process whose /proc/PID/exe is another file is not it (as start-stop-daemon --exec).',
    helpValue: 'PATH',
  },
  'process-name': {
    option: 'processName',
    type: 'string',
    summary: 'The service is named NAME: its comm, executable, argv[0] or script name, exactly (as start-stop-daemon --name).',
    helpValue: 'NAME',
  },
  user: {
    option: 'user',
    type: 'string',
    summary: 'The service runs as this user (real uid; a name or a number), as start-stop-daemon --user.',
    helpValue: 'USER|UID',
  },
} as const satisfies Record<string, FlagSpec>

/** --quiet/-q of every command: print nothing on success (the CLI's own flag: each command module reads it). */
export const quietFlag = {
  quiet: {type: 'boolean', char: 'q', summary: 'Print nothing on success; only set the exit status (an error is still one line on stderr).', default: false},
} as const satisfies Record<string, FlagSpec>

/** What --pid replaces: where to look for a pidfile, and what the located process must be (src/signal/pid-ref.ts NOT_WITH_PID). */
const NOT_WITH_PID = ['pidfile', 'dir', 'container', 'pod', 'container-name', 'root-pid', 'exec', 'process-name', 'user'] as const

/** --pid PID:ID of signal and wait: the target named by its pid and pidfs id (as util-linux kill PID:INODE), instead of by a pidfile. */
const pidRefFlag = (summary: string) =>
  ({
    pid: {option: 'pid', type: 'string', summary, helpValue: 'PID:ID', exclusive: NOT_WITH_PID},
  }) as const satisfies Record<string, FlagSpec>

/** `find`'s grammar. */
export const find = {
  args: {name: nameArg('Service name: the pidfile is NAME.pid in the runtime directories.')},
  flags: {
    ...pidfileFlags,
    ...containerFlags,
    ...identityFlags,
    ...quietFlag,
  },
  json: true,
  strict: true,
} as const satisfies CommandGrammar

/** `list`'s grammar. */
export const list = {
  args: {},
  flags: {
    dir: {
      option: 'dir',
      type: 'path',
      key: 'dir',
      summary: 'List the *.pid files of this directory only (relative: to the working directory).',
      helpValue: 'DIR',
    },
    'allow-unsafe-pidfile': {
      option: 'allowUnsafe',
      type: 'boolean',
      summary: 'Trust pidfiles the safety rules refuse: symlinked, world- or group-writable, foreign-owned, or on an unsafe path.',
      default: false,
    },
    ...containerFlags,
    ...identityFlags,
    ...quietFlag,
  },
  json: true,
  strict: true,
} as const satisfies CommandGrammar

/** `signal`'s grammar. */
export const signal = {
  args: {
    name: nameArg('Service name (NAME.pid in the runtime directories).'),
    signal: {
      type: 'string',
      description: 'TERM, SIGTERM, term, 15, a real-time signal (RTMIN+2, RTMAX-1, 34..64), or 0 to only probe (not with --wait or --retry).',
      required: true,
    },
  },
  flags: {
    ...pidfileFlags,
    ...containerFlags,
    ...identityFlags,
    ...pidRefFlag(
      'Signal the process PID (in this PID namespace) only if its pidfs id is ID, as util-linux kill PID:INODE: no pidfile is read and NAME only labels the answer. Get it from find: nslocate find NAME --json | jq -r .pidfd_ref (Linux 6.9+).',
    ),
    scope: {
      option: 'scope',
      type: 'option',
      options: SCOPES,
      default: 'main',
      summary:
        "main: the main process; group: its process group; cgroup: every process in its own cgroup (the one run made for it, a container's or a unit's); tree: it and all its descendants.",
    },
    wait: {option: 'wait', type: 'boolean', summary: 'Wait for the signalled process(es) to exit (see --timeout).', default: false},
    timeout: {
      option: 'timeoutMs',
      duration: true,
      type: 'string',
      summary: 'How long --wait waits: 500ms, 30s, 2m, 1h or plain seconds (at most 100000h).',
      default: '30s',
      helpValue: 'DURATION',
    },
    retry: {
      option: 'retry',
      type: 'string',
      summary: 'Escalation schedule, e.g. TERM/30/KILL/5 or a number of seconds; implies --wait.',
      helpValue: 'SCHEDULE',
    },
    'dry-run': {
      option: 'dryRun',
      type: 'boolean',
      summary: "Print what would be signalled, after every check of a real run (the kernel's permission check included); send nothing.",
      default: false,
    },
    'require-handler': {
      option: 'requireHandler',
      type: 'boolean',
      summary: 'Send only to targets that catch SIGNAL (SigCgt), as util-linux kill --require-handler; the others are skipped (no_handler).',
      default: false,
    },
    verbose: {
      type: 'boolean',
      summary: "Also print each target's disposition (handled, ignored, default action...) on stderr.",
      default: false,
    },
    ...quietFlag,
  },
  json: true,
  strict: true,
} as const satisfies CommandGrammar

/** `wait`'s grammar. */
export const wait = {
  args: {name: nameArg('Service name (NAME.pid in the runtime directories).')},
  flags: {
    ...pidfileFlags,
    ...containerFlags,
    ...identityFlags,
    ...pidRefFlag(
      'Wait for the process PID (in this PID namespace) to exit, if its pidfs id is ID (--for stopped only): no pidfile is read and NAME only labels the answer. Get it from find: nslocate find NAME --json | jq -r .pidfd_ref (Linux 6.9+).',
    ),
    for: {
      option: 'condition',
      type: 'option',
      options: ['running', 'stopped', 'main-stopped'],
      default: 'stopped',
      summary:
        'The condition to wait for. stopped: every process of the service has exited (for a service run gave a cgroup, the cgroup is empty); main-stopped: the main process found at the start has exited.',
    },
    timeout: {
      option: 'timeoutMs',
      duration: true,
      type: 'string',
      summary: 'Give up after this long: 500ms, 30s, 2m, 1h or plain seconds (at most 100000h).',
      default: '30s',
      helpValue: 'DURATION',
    },
    ...quietFlag,
  },
  json: true,
  strict: true,
} as const satisfies CommandGrammar

/** src/acquire/acquire.ts DEFAULT_LOCK_TIMEOUT_MS and src/acquire/run-status.ts RUN_STATUS.CONFLICT; test/unit/fast-parse.test.ts checks they agree. */
export const RUN_DEFAULT_LOCK_TIMEOUT = '10s'
/** run's exit status when NAME is already running (--conflict-exit-code's default). */
export const RUN_DEFAULT_CONFLICT_EXIT = 122

/** `run`'s grammar (strict: false, for `-- COMMAND [ARGS...]`). */
export const run = {
  args: {name: nameArg('Service name: the pidfile is NAME.pid.')},
  flags: {
    pidfile: {
      ...pidfileFlags.pidfile,
      file: true,
      summary:
        'Write this pidfile instead of DIR/NAME.pid (relative: to the working directory; empty, or a path naming a directory such as "/" or "x/": usage error).',
    },
    dir: {...pidfileFlags.dir, summary: 'Directory for NAME.pid (relative: to the working directory; empty: usage error).'},
    replace: {option: 'replace', type: 'boolean', summary: 'Stop a running instance (TERM, then KILL after --lock-timeout) and take over.', default: false},
    'lock-timeout': {
      option: 'lockTimeoutMs',
      duration: true,
      type: 'string',
      summary: 'How long to contend for the lock, and with --replace how long the old instance gets to exit.',
      default: RUN_DEFAULT_LOCK_TIMEOUT,
      helpValue: 'DURATION',
    },
    'conflict-exit-code': {type: 'integer', summary: 'Exit status when NAME is already running.', default: RUN_DEFAULT_CONFLICT_EXIT, min: 0, max: 255},
    cgroup: {
      option: 'cgroup',
      type: 'option',
      options: ['auto', 'required', 'none'],
      default: 'auto',
      summary:
        "Give the service a cgroup of its own (cgroup v2, under the caller's: CALLER/nslocate/NAME-HASH), so that no process of it escapes: auto makes one when it can and says why not; required fails (125) when it cannot; none makes none.",
    },
    'daemon-pidfile': {
      option: 'daemonPidfile',
      type: 'string',
      summary:
        "For a COMMAND that daemonizes: the pidfile its daemon writes. Once COMMAND has exited and this file names a process in the service's cgroup, NAME's pidfile names that process.",
      helpValue: 'PATH',
    },
    ...quietFlag,
  },
  json: false,
  strict: false,
  rest: '-- COMMAND [ARGS...]',
} as const satisfies CommandGrammar

// reload and serve run until stopped: no fast path; their flags are defined here all the same.
/** `reload`'s grammar. */
export const reload = {
  args: {name: nameArg('Service name (NAME.pid in the runtime directories).')},
  flags: {
    ...pidfileFlags,
    ...containerFlags,
    watch: {option: 'watch', type: 'string', summary: 'A file or directory to watch (repeatable).', helpValue: 'PATH', multiple: true, required: true},
    signal: {option: 'signal', type: 'string', summary: 'The signal to send on a change.', default: 'HUP', helpValue: 'SIGNAL'},
    validate: {option: 'validate', type: 'string', summary: 'Run this with /bin/sh -c first; signal only if it exits 0.', helpValue: 'CMD'},
    'validate-timeout': {
      option: 'validateTimeoutMs',
      duration: true,
      type: 'string',
      summary: 'Kill --validate after this long (counts as failed).',
      default: '30s',
      helpValue: 'DURATION',
    },
    debounce: {option: 'debounceMs', duration: true, type: 'string', summary: 'Act once no event came for this long.', default: '1s', helpValue: 'DURATION'},
    'require-handler': {
      option: 'requireHandler',
      type: 'boolean',
      summary: 'Signal only if the target catches the signal (see signal --require-handler).',
      default: false,
    },
    listen: {
      option: 'listen',
      type: 'string',
      summary: 'Also serve /healthz/NAME and /metrics here (loopback unless another address is given).',
      helpValue: 'ADDR:PORT',
    },
    ...quietFlag,
  },
  json: false,
  strict: true,
} as const satisfies CommandGrammar

/** `serve`'s grammar (strict: false: one or more NAMEs). */
export const serve = {
  args: {name: {type: 'string', description: 'Service name(s) (NAME.pid in the runtime directories).', required: true}},
  flags: {
    // `path` as in the other commands: empty is a usage error, relative is made absolute against the working directory.
    pidfile: {...pidfileFlags.pidfile, summary: 'With one NAME: use this pidfile instead of searching for NAME.pid (relative: to the working directory).'},
    dir: pidfileFlags.dir,
    'allow-unsafe-pidfile': {option: 'allowUnsafe', type: 'boolean', summary: 'Trust a symlinked, world-writable or foreign-owned pidfile.', default: false},
    ...containerFlags,
    listen: {
      option: 'listen',
      type: 'string',
      summary: 'Where to listen: PORT (loopback), HOST:PORT or [V6]:PORT.',
      default: '127.0.0.1:9090',
      helpValue: 'ADDR:PORT',
    },
    interval: {
      option: 'intervalMs',
      duration: true,
      type: 'string',
      summary: 'Observe every service this often between requests (restarts seen).',
      default: '5s',
      helpValue: 'DURATION',
    },
    ...quietFlag,
  },
  json: false,
  strict: false,
  more: '[NAME...]',
} as const satisfies CommandGrammar

/** `containers`'s grammar: no arguments, no flags. */
export const containers = {args: {}, flags: {...quietFlag}, json: true, strict: true} as const satisfies CommandGrammar

/** Every command's grammar, by command id. */
export const GRAMMAR = {find, list, signal, wait, run, reload, serve, containers} as const satisfies Record<string, CommandGrammar>
