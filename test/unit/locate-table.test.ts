/**
 * locate() itself, end to end, over /proc trees captured from real scenarios (fixtures/proc-trees/,
 * made by scripts/capture-proc-scenarios.sh): one row or more for every reason code locate() gives.
 *
 * What is real and what is faked:
 * - REAL: the pidfile. stage() writes it in a temp directory with the captured content, mode and
 *   mtime (or the row's), and locate() finds, walks, looks at, opens and reads it as always (the
 *   path checks, the O_PATH look, the /proc/self/fd reopen, the ownership and mode rules). Rows
 *   about the file itself (symlink, not_regular, world_writable, unsafe_directory...) make it so.
 * - FAKED, through ProcFs (test/helpers/fixture-proc-fs.ts): every /proc read, from the captured
 *   tree (statuses, stats, links, roots, mountinfo, namespaces, boot time), and the lock: what
 *   fcntl(F_GETLK) answers (ProcFs.probeLock), the /proc/locks lines and the holders' fd, fd link
 *   and fdinfo `lock:` lines come from the row's FakeLock. Nothing is locked for real.
 * - The FixtureProcFs is rooted at a directory that does not exist (or, for rootPid rows, at a
 *   temp directory holding PID/root/...), so a /proc read that bypasses the seam fails.
 * - Not from locate(): `container_not_running` (locateInContainer, the Docker route) and
 *   `root_exited` (waitFor under a rootPid) are results made without a pidfile; they are covered
 *   by the container and signal tests. Every other code has a row here (checked by the last test).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {bootId} from '../../src/kernel/pidfs'
import {locate} from '../../src/locate/locate'
import {RECORD_XATTR, formatRecord} from '../../src/locate/record'
import {xattrSet} from '../../src/native/binding'
import {LocateOptions, LocateResult, REASONS, Reason} from '../../src/locate/types'
import {FakeLock, ProcTree, StageOptions, stage} from '../helpers/fixture-proc-fs'

const NOT_FROM_LOCATE: Reason[] = ['container_not_running', 'root_exited']
const NOBODY = 65534

interface Row {
  tree: string
  stage?: StageOptions
  /** locate()'s options besides name, pidfile and procfs; `file`: the staged pidfile's path */
  opts?: (file: string, t: ProcTree, dir: string) => Partial<LocateOptions>
  /** the pidfile option, when it is not the staged file */
  pidfile?: (file: string, dir: string) => string
  want: {state: LocateResult['state']; reasons: Reason[]; pid?: (t: ProcTree) => number | null}
  evidence?: RegExp[]
}

const written = (t: ProcTree) => Number(t.pidfile.content.split('\n')[0].trim())
const holder = (t: ProcTree) => t.holder!
const none = () => null
const posixBy = (pid: number): FakeLock => ({probe: {type: 'write', pid}, holders: {[pid]: 'POSIX'}, lines: [{kind: 'POSIX', pid}]})
/** supervised.json: the supervisor 16579 holds the POSIX lock, the file names its child 16628. */
const SUPERVISOR = 16579
const CHILD = 16628

/** A boot id that is not this boot's. */
const OTHER_BOOT = bootId() === '00000000-0000-4000-8000-000000000001' ? '00000000-0000-4000-8000-000000000002' : '00000000-0000-4000-8000-000000000001'

/**
 * Sets the identity record (record.ts) on the staged pidfile, for the pid it says; `mtime`: the
 * file's own (the record describes the content) or another (it was rewritten since).
 */
const recordOn =
  (o: {boot: string; mtime?: 'same' | 'other'; pidfdId?: number}) =>
  (file: string): void => {
    const fd = fs.openSync(file, 'r')
    try {
      const mtimeNs = fs.fstatSync(fd, {bigint: true}).mtimeNs + (o.mtime === 'other' ? 1n : 0n)
      const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0])
      xattrSet(fd, RECORD_XATTR, Buffer.from(formatRecord({pid, pidfdId: o.pidfdId ?? 4242, bootId: o.boot, mtimeNs: String(mtimeNs)})))
    } finally {
      fs.closeSync(fd)
    }
  }

const ROWS: Array<[string, Row]> = [
  // The witnesses agree.
  [
    'locked, the holder supervises the process the file names: running, no reason',
    {
      tree: 'supervised',
      stage: {lock: posixBy(SUPERVISOR)},
      want: {state: 'running', reasons: [], pid: written},
      evidence: [/fcntl\(F_GETLK\): POSIX write lock held by pid 16579/, /a descendant of the lock holder 16579/],
    },
  ],
  [
    'flock lock named by /proc/locks, its holder the pid written: running',
    {
      tree: 'supervised',
      stage: {
        content: `${SUPERVISOR}\n`,
        lock: {probe: {type: 'unlocked', pid: 0}, holders: {[SUPERVISOR]: 'FLOCK'}, lines: [{kind: 'FLOCK', pid: SUPERVISOR}]},
      },
      want: {state: 'running', reasons: [], pid: holder},
      evidence: [/fd check: pid 16579 holds the flock lock/],
    },
  ],
  [
    "OFD lock (no owner), found by its holder's fdinfo: running",
    {
      tree: 'supervised',
      stage: {content: `${SUPERVISOR}\n`, lock: {probe: {type: 'write', pid: -1}, holders: {[SUPERVISOR]: 'OFDLCK'}, lines: [{kind: 'OFDLCK', pid: -1}]}},
      want: {state: 'running', reasons: [], pid: holder},
      evidence: [/OFD lock held/, /holds the ofd lock/],
    },
  ],
  // no_pidfile
  [
    'no file at the path given: stopped, no_pidfile',
    {
      tree: 'python-app',
      pidfile: (_f, dir) => path.join(dir, 'absent.pid'),
      want: {state: 'stopped', reasons: ['no_pidfile'], pid: none},
      evidence: [/^no pidfile: looked for .*absent\.pid$/m],
    },
  ],
  // unreadable_pidfile
  [
    'a path locate() cannot open for another reason (a name too long): unknown, unreadable_pidfile',
    {
      tree: 'python-app',
      pidfile: (_f, dir) => path.join(dir, `${'x'.repeat(300)}.pid`),
      want: {state: 'unknown', reasons: ['unreadable_pidfile'], pid: none},
      evidence: [/^cannot open /m],
    },
  ],
  // content
  [
    'locked empty file: starting (the holder), empty_pidfile',
    {
      tree: 'supervised',
      stage: {content: '', lock: posixBy(SUPERVISOR)},
      want: {state: 'running', reasons: ['empty_pidfile'], pid: holder},
      evidence: [/starting: pid 16579 holds the lock on an empty file/],
    },
  ],
  [
    'unlocked empty file: stale, empty_pidfile',
    {
      tree: 'python-app',
      stage: {content: ''},
      want: {state: 'stale', reasons: ['empty_pidfile', 'unlocked_pidfile', 'stale_pidfile'], pid: none},
      evidence: [/no lock and no usable pid/],
    },
  ],
  [
    'garbage in the file: garbage_pidfile',
    {tree: 'python-app', stage: {content: 'abc\n'}, want: {state: 'stale', reasons: ['garbage_pidfile', 'unlocked_pidfile', 'stale_pidfile'], pid: none}},
  ],
  [
    'a negative number: invalid_pid',
    {tree: 'python-app', stage: {content: '-5\n'}, want: {state: 'stale', reasons: ['invalid_pid', 'unlocked_pidfile', 'stale_pidfile'], pid: none}},
  ],
  [
    'pid_max or more: invalid_pid',
    {tree: 'python-app', stage: {content: '4194304\n'}, want: {state: 'stale', reasons: ['invalid_pid', 'unlocked_pidfile', 'stale_pidfile'], pid: none}},
  ],
  // unlocked: the identity model
  [
    'unlocked, the script names it: running, unlocked_pidfile',
    {tree: 'python-app', want: {state: 'running', reasons: ['unlocked_pidfile'], pid: written}, evidence: [/is identified: its script "app" matches/]},
  ],
  [
    'unlocked, own PID namespace, another name: running, name_mismatch',
    {tree: 'python-svc', want: {state: 'running', reasons: ['unlocked_pidfile', 'name_mismatch'], pid: written}},
  ],
  [
    'unlocked, the process started after the file was written: stale, pid_reused',
    {tree: 'reused', want: {state: 'stale', reasons: ['unlocked_pidfile', 'pid_reused', 'stale_pidfile'], pid: none}, evidence: [/the pid was reused/]},
  ],
  [
    'unlocked, nobody has the number: stale, stale_pidfile',
    {
      tree: 'python-app',
      stage: {content: '4000000\n'},
      want: {state: 'stale', reasons: ['unlocked_pidfile', 'stale_pidfile'], pid: none},
      evidence: [/no live process has innermost pid 4000000/],
    },
  ],
  [
    'unlocked, the number here and in a child namespace: unknown, ambiguous',
    {tree: 'tie', want: {state: 'unknown', reasons: ['unlocked_pidfile', 'ambiguous'], pid: none}, evidence: [/2 processes fit/]},
  ],
  [
    'unlocked, the process in another mount namespace may not be looked into: unknown, permission_denied',
    {
      tree: 'denied',
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'permission_denied'], pid: none},
      evidence: [/not allowed to look into its mount namespace/],
    },
  ],
  [
    "unlocked, user 1000 stated, the process is root's: unknown, identity_mismatch",
    {
      tree: 'python-svc',
      opts: () => ({user: 1000}),
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'identity_mismatch'], pid: none},
      evidence: [/real uid 0 is not 1000/],
    },
  ],
  // the identity record (by-id.ts)
  [
    'unlocked, a record from another boot, the process lives and its name matches: stale, previous_boot',
    {
      tree: 'python-app',
      stage: {prepare: recordOn({boot: OTHER_BOOT})},
      want: {state: 'stale', reasons: ['unlocked_pidfile', 'previous_boot', 'stale_pidfile'], pid: none},
      evidence: [new RegExp(`pidfs id 4242 in boot ${OTHER_BOOT}; this is boot ${bootId()}`)],
    },
  ],
  [
    'locked, a record from another boot: stale, previous_boot (a lock cannot outlive a boot)',
    {
      tree: 'supervised',
      stage: {lock: posixBy(SUPERVISOR), prepare: recordOn({boot: OTHER_BOOT})},
      want: {state: 'stale', reasons: ['previous_boot', 'stale_pidfile'], pid: none},
      evidence: [/this is boot/, /the posix lock on it \(held by pid 16579\) was taken in this boot without rewriting the content/],
    },
  ],
  [
    "a record from another boot, but the content was rewritten since (mtime differs): ignored, today's answer",
    {
      tree: 'python-app',
      stage: {prepare: recordOn({boot: OTHER_BOOT, mtime: 'other'})},
      want: {state: 'running', reasons: ['unlocked_pidfile'], pid: written},
      evidence: [/^identity record ignored: the content was rewritten after the identity was recorded/m],
    },
  ],
  [
    "a record of this boot over a captured /proc: no ids to compare, today's answer",
    {
      tree: 'python-app',
      stage: {prepare: recordOn({boot: bootId()!})},
      want: {state: 'running', reasons: ['unlocked_pidfile'], pid: written},
      evidence: [/^identity record \(pid [0-9]+ is pidfs id 4242\) not used: this is not the live \/proc/m],
    },
  ],
  [
    'a record on a file the safety rules refuse is not used',
    {
      tree: 'python-app',
      stage: {mode: 0o666, prepare: recordOn({boot: OTHER_BOOT})},
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'world_writable'], pid: none},
      evidence: [/^identity record ignored: .* fails the safety rules \(world_writable\)/m],
    },
  ],
  // locked: the holder
  [
    'locked, processName nginx stated, the process is a sleep: unknown, identity_mismatch',
    {
      tree: 'supervised',
      stage: {lock: posixBy(SUPERVISOR)},
      opts: () => ({processName: 'nginx'}),
      want: {state: 'unknown', reasons: ['identity_mismatch'], pid: none},
      evidence: [/^MISMATCH: pid 16628 does not match option processName|^MISMATCH: pid 16628 does not match/m],
    },
  ],
  [
    'F_GETLK names a pid with no descriptor showing the lock (its owner shared its fds and exited): not its lock, the file counts as unlocked',
    {
      tree: 'supervised',
      stage: {lock: {probe: {type: 'write', pid: SUPERVISOR}}},
      opts: () => ({name: 'sleep'}),
      want: {state: 'running', reasons: ['unlocked_pidfile'], pid: written},
      evidence: [/has no descriptor of the file showing it/, /it counts as unlocked/],
    },
  ],
  [
    'locked by a process this PID namespace cannot see (l_pid 0): running, holder_not_visible',
    {
      tree: 'supervised',
      stage: {lock: {probe: {type: 'write', pid: 0}}},
      want: {state: 'running', reasons: ['holder_not_visible'], pid: none},
      evidence: [/l_pid 0/],
    },
  ],
  [
    'locked, the file names neither the holder nor its descendant: running (the holder), content_mismatch',
    {
      tree: 'supervised',
      stage: {content: '4000000\n', lock: posixBy(SUPERVISOR)},
      want: {state: 'running', reasons: ['content_mismatch'], pid: holder},
      evidence: [/^MISMATCH: the file says 4000000/m],
    },
  ],
  [
    'an OFD lock, and the fds of a process that could hold it may not be read: running, permission_denied, nobody named',
    {
      tree: 'supervised',
      stage: {lock: {probe: {type: 'write', pid: -1}, lines: [{kind: 'OFDLCK', pid: -1}], denied: [SUPERVISOR]}},
      want: {state: 'running', reasons: ['permission_denied'], pid: none},
      evidence: [/not allowed to read the fds of 1 process\(es\) \(16579\)/, /its holder is not among the processes whose fds could be read/],
    },
  ],
  // rootPid
  [
    "rootPid: the holder is outside the target's PID namespace: unknown, outside_target_namespace",
    {
      tree: 'supervised',
      stage: {
        underRootOf: CHILD,
        subdir: 'run',
        lock: posixBy(SUPERVISOR),
        edit: (t) => {
          t.processes[CHILD].links['ns/pid'] = {value: 'pid:[4026599999]'}
        },
      },
      pidfile: (file, dir) => file.slice(path.join(dir, 'proc', String(CHILD), 'root').length),
      opts: () => ({rootPid: CHILD}),
      want: {state: 'unknown', reasons: ['outside_target_namespace'], pid: none},
      evidence: [/^refused: pid 16579 \(pid:\[4026531836\]\) is outside the target's PID namespace pid:\[4026599999\]/m],
    },
  ],
  // safety
  [
    'the pidfile is a symlink: unknown, symlink (its target never read)',
    {
      tree: 'python-app',
      stage: {
        prepare: (file, dir) => {
          fs.renameSync(file, path.join(dir, 'target'))
          fs.symlinkSync(path.join(dir, 'target'), file)
        },
      },
      want: {state: 'unknown', reasons: ['symlink'], pid: none},
      evidence: [/^REFUSED: .*symbolic link/m],
    },
  ],
  [
    'the pidfile is a FIFO: unknown, not_regular',
    {
      tree: 'python-app',
      pidfile: (_f, dir) => {
        const fifo = path.join(dir, 'fifo.pid')
        require('node:child_process').execFileSync('mkfifo', [fifo])
        return fifo
      },
      want: {state: 'unknown', reasons: ['not_regular'], pid: none},
      evidence: [/a FIFO \(named pipe\), not a regular file/],
    },
  ],
  [
    'world-writable: unknown, world_writable',
    {
      tree: 'python-app',
      stage: {mode: 0o666},
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'world_writable'], pid: none},
      evidence: [/^REFUSED: .* is world-writable/m],
    },
  ],
  [
    "group-writable by a group that is not root's: unknown, group_writable",
    {
      tree: 'python-app',
      stage: {mode: 0o664, prepare: (file) => fs.chownSync(file, 0, NOBODY)},
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'group_writable'], pid: none},
      evidence: [/^REFUSED: .* is writable by group 65534/m],
    },
  ],
  [
    "in a directory another user owns, naming root's process: unknown, unsafe_directory",
    {
      tree: 'python-app',
      stage: {subdir: 'theirs', prepare: (_file, dir) => fs.chownSync(path.join(dir, 'theirs'), NOBODY, NOBODY)},
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'unsafe_directory'], pid: none},
      evidence: [/^REFUSED: .*uid 65534/m],
    },
  ],
  [
    'through a directory symlink another user owns: unknown, unsafe_symlink',
    {
      tree: 'python-app',
      stage: {subdir: 'real'},
      pidfile: (file, dir) => {
        fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'))
        fs.lchownSync(path.join(dir, 'link'), NOBODY, NOBODY)
        return path.join(dir, 'link', path.basename(file))
      },
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'unsafe_symlink'], pid: none},
      evidence: [/^REFUSED: .*symlink/m],
    },
  ],
  [
    "owned by another user, naming root's process: unknown, unsafe_owner",
    {
      tree: 'python-app',
      stage: {prepare: (file) => fs.chownSync(file, NOBODY, 0)},
      want: {state: 'unknown', reasons: ['unlocked_pidfile', 'unsafe_owner'], pid: none},
      evidence: [/^REFUSED: .* is owned by uid 65534 but names pid [0-9]+ of uid 0/m],
    },
  ],
  [
    'the same, allowUnsafe: running, the reason kept as a warning',
    {
      tree: 'python-app',
      stage: {prepare: (file) => fs.chownSync(file, NOBODY, 0)},
      opts: () => ({allowUnsafe: true}),
      want: {state: 'running', reasons: ['unlocked_pidfile', 'unsafe_owner'], pid: written},
      evidence: [/^WARNING: .* is owned by uid 65534/m],
    },
  ],
]

function run(row: Row): {result: LocateResult; tree: ProcTree} {
  const s = stage(row.tree, row.stage)
  try {
    const pidfile = row.pidfile ? row.pidfile(s.file, s.dir) : s.file
    const result = locate({name: s.tree.name, pidfile, procfs: s.procfs, ...row.opts?.(s.file, s.tree, s.dir)})
    return {result, tree: s.tree}
  } finally {
    s.cleanup()
  }
}

const covered = new Set<string>()

describe('locate() over captured trees', () => {
  test.each(ROWS)('%s', (_title, row) => {
    const {result, tree} = run(row)
    const shown = result.evidence.join('\n')
    expect({state: result.state, reasons: result.reasons, pid: result.pid, evidence: shown}).toEqual({
      state: row.want.state,
      reasons: row.want.reasons,
      pid: row.want.pid ? row.want.pid(tree) : expect.anything(),
      evidence: shown,
    })
    for (const e of row.evidence ?? []) expect(shown).toMatch(e)
    for (const r of result.reasons) covered.add(r)
  })

  test('every reason code locate() gives has a row', () => {
    const rowed = new Set(ROWS.flatMap(([, r]) => r.want.reasons))
    expect(REASONS.filter((r) => !rowed.has(r) && !NOT_FROM_LOCATE.includes(r))).toEqual([])
    expect([...covered].filter((r) => !(REASONS as readonly string[]).includes(r))).toEqual([])
  })
})
