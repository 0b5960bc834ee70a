/**
 * Kernel-free decision tests: the unlocked-pidfile decision (identity model) and the reconciliation
 * of a lock holder with the number in the file, table-driven over /proc trees captured from real
 * scenarios (fixtures/proc-trees/, made by scripts/capture-proc-scenarios.sh), plus malformed and
 * denied variants of them. Every read goes through ProcFs (FixtureProcFs answers from the tree).
 */
import {ResolvedIdentity, checkIdentity} from '../../src/locate/identity-options'
import {readFacts} from '../../src/locate/process-info'
import {reconcileWithHolders} from '../../src/locate/reconcile'
import {readNames, resolveUnlocked} from '../../src/locate/unlocked'
import {PidnsOwner} from '../../src/proc/proc-fs'
import {FixtureProcFs, ProcTree, loadTree, variant} from '../helpers/fixture-proc-fs'

interface Case {
  tree: string
  names?: string[]
  edit?: (t: ProcTree) => void
  pidns?: (t: ProcTree) => string
  placed?: (t: ProcTree) => {pidns: string; why: string}
  identity?: Omit<ResolvedIdentity, 'shown'>
  want: {state: string; reasons: string[]; pid?: (t: ProcTree) => number | null}
  evidence?: Array<string | RegExp>
}

const pids = (t: ProcTree) => Object.keys(t.processes).map(Number)
const byCmd = (t: ProcTree, re: RegExp) => {
  const p = pids(t).find((pid) => re.test(((t.processes[pid].cmdline as {value?: string}).value ?? '').replace(/\0/g, ' ')))
  if (p === undefined) throw new Error(`no process matching ${re} in the tree`)
  return p
}
const pidnsOf = (t: ProcTree, pid: number) => (t.processes[pid].links['ns/pid'] as {value: string}).value
const written = (t: ProcTree) => Number(t.pidfile.content.split('\n')[0].trim())
const denyAll = (t: ProcTree, pid: number) => {
  const p = t.processes[pid]
  p.links['ns/mnt'] = {error: 'EACCES'}
  p.root = {error: 'EACCES'}
  p.mountinfo = {error: 'EACCES'}
}

/** The process runs as `uid` (all four ids), in a PID namespace whose user namespace `owner` made (null: unreadable). */
function asUserNs(t: ProcTree, pid: number, uid: number, owner: PidnsOwner | null): void {
  const st = t.processes[pid].status as {value: string}
  st.value = st.value.replace(/^Uid:.*$/m, `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`)
  t.pidnsOwners = {...t.pidnsOwners, [pidnsOf(t, pid)]: owner}
}

function decide(c: Case) {
  let tree = loadTree(c.tree)
  if (c.edit) tree = variant(tree, c.edit)
  const procfs = new FixtureProcFs(tree)
  const mountRef = {mnt: (tree.self.links['ns/mnt'] as {value?: string}).value ?? null, who: 'this process'}
  const identity = c.identity ? {...c.identity, shown: 'the identity options'} : null
  const r = resolveUnlocked({
    content: written(tree),
    file: tree.pidfile.inner,
    stat: {...tree.pidfile, gid: 0},
    names: c.names ?? [tree.name],
    procfs,
    bootMs: tree.bootMs,
    pidns: c.pidns?.(tree),
    placedNs: c.placed?.(tree),
    mountRef,
    identity,
  })
  return {tree, r}
}

const CASES: Array<[string, Case]> = [
  // The writer rule (src/locate/writer.ts): who made the PID namespace, and whose process it is.
  [
    'child PID namespace made by an unprivileged user, its process of that uid named as asked: no candidate (stale), names do not outweigh the rule',
    {
      tree: 'child-ns',
      names: ['sleep'],
      edit: (t) => asUserNs(t, byCmd(t, /^sleep 600/), 1000, {kind: 'user', uid: 1000, root: 1000}),
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: [
        /dropped: it could not have written the file: its real uid 1000 is neither root nor the file's owner uid 0 .*, and the PID namespace of pid [0-9]+ belongs to a user namespace made by uid 1000 whose root is uid 1000, who may put any process/,
      ],
    },
  ],
  [
    'child PID namespace made by root, its process dropped to uid 1000: still the service (its number was not chosen by that user)',
    {
      tree: 'child-ns',
      names: ['sleep'],
      edit: (t) => asUserNs(t, byCmd(t, /^sleep 600/), 1000, {kind: 'ours'}),
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
    },
  ],
  [
    "child PID namespace made by the file's owner (a rootless container's file): its process counts",
    {
      tree: 'child-ns',
      names: ['sleep'],
      edit: (t) => {
        asUserNs(t, byCmd(t, /^sleep 600/), 1000, {kind: 'user', uid: 1000, root: 1000})
        t.pidfile.uid = 1000
      },
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
    },
  ],
  [
    'child PID namespace made by root whose user namespace maps its root to an unprivileged uid (LXC unprivileged, userns-remap): its root may force pids, so a process there that could not write the file is no candidate',
    {
      tree: 'child-ns',
      names: ['sleep'],
      edit: (t) => asUserNs(t, byCmd(t, /^sleep 600/), 300000, {kind: 'user', uid: 0, root: 300000}),
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: [/belongs to a user namespace made by uid 0 whose root is uid 300000, who may put any process at any pid number there/],
    },
  ],
  [
    'who made the child PID namespace cannot be read: unknown (permission_denied), never the process',
    {
      tree: 'child-ns',
      names: ['sleep'],
      edit: (t) => asUserNs(t, byCmd(t, /^sleep 600/), 1000, null),
      want: {state: 'unknown', reasons: ['permission_denied'], pid: () => null},
      evidence: [/so whether its pid number is the writer's cannot be checked/],
    },
  ],
  [
    'python3 app.py writing app.pid: its script names it',
    {
      tree: 'python-app',
      want: {state: 'running', reasons: [], pid: (t) => written(t)},
      evidence: [/is identified: its script "app" matches/, /the one of this process/],
    },
  ],
  [
    'python3 app.py writing svc.pid: own PID namespace, started before the write: running, name_mismatch with the names compared',
    {
      tree: 'python-svc',
      want: {state: 'running', reasons: ['name_mismatch'], pid: (t) => written(t)},
      evidence: [/it is the service although its name differs \(comm "python3", exe "python3\.[0-9]+", argv\[0\] "python3", script "app\.py"; tried "svc"\)/],
    },
  ],
  [
    'a bare prefix is no name: NAME "ap" for app.py is still name_mismatch',
    {tree: 'python-app', names: ['ap'], want: {state: 'running', reasons: ['name_mismatch'], pid: (t) => written(t)}},
  ],
  [
    'child PID namespace, name differs: unknown/ambiguous, never stale',
    {
      tree: 'child-ns',
      names: ['svc'],
      want: {state: 'unknown', reasons: ['ambiguous'], pid: () => null},
      evidence: [
        'is a kernel thread: not a candidate',
        /pid [0-9]+ is pid 2 in another PID namespace and sees the file, but nothing identifies it \(comm "sleep"/,
        /not guessing/,
      ],
    },
  ],
  [
    'child PID namespace, its name given: running',
    {tree: 'child-ns', names: ['sleep'], want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)}},
  ],
  [
    'child PID namespace given (--root-pid/--container): running without a name',
    {
      tree: 'child-ns',
      names: ['svc'],
      pidns: (t) => pidnsOf(t, byCmd(t, /^sleep 600/)),
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
      evidence: [/it is in the PID namespace given/],
    },
  ],
  [
    'child PID namespace whose root the path goes through: running',
    {
      tree: 'child-ns',
      names: ['svc'],
      placed: (t) => ({pidns: pidnsOf(t, byCmd(t, /^sleep 600/)), why: 'the file was reached through its root'}),
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
    },
  ],
  [
    'child PID namespace, --process-name sleep: running',
    {
      tree: 'child-ns',
      names: ['svc'],
      identity: {processName: 'sleep'},
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
      evidence: [/matches the identity options: comm "sleep" is --process-name sleep/],
    },
  ],
  [
    'child PID namespace, --user 0: running',
    {
      tree: 'child-ns',
      names: ['svc'],
      identity: {uid: 0},
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
      evidence: [/real uid 0 is 0/],
    },
  ],
  [
    'child PID namespace, --process-name nginx: unknown/identity_mismatch, with the values compared',
    {
      tree: 'child-ns',
      names: ['sleep'],
      identity: {processName: 'nginx'},
      want: {state: 'unknown', reasons: ['identity_mismatch'], pid: () => null},
      evidence: [/dropped: does not match the identity options: none of comm "sleep", exe "sleep", argv\[0\] "sleep" is --process-name nginx/],
    },
  ],
  [
    'own PID namespace, --user 1000: identity_mismatch (the own-namespace rule does not override it)',
    {
      tree: 'python-svc',
      identity: {uid: 1000},
      want: {state: 'unknown', reasons: ['identity_mismatch'], pid: () => null},
      evidence: [/real uid 0 is not 1000/],
    },
  ],
  [
    'a daemon that chroot()ed itself in this mount namespace sees the file: running',
    {
      tree: 'chroot',
      want: {state: 'running', reasons: ['name_mismatch'], pid: (t) => written(t)},
      evidence: [/is in mount namespace mnt:\[[0-9]+\], the one of this process, which holds/],
    },
  ],
  [
    'the same chrooted daemon asked about from another mount namespace: its root is the jail, so it does not see the file',
    {
      tree: 'chroot',
      edit: (t) => {
        t.self.links['ns/mnt'] = {value: 'mnt:[1]'}
      },
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: [/is in mount namespace mnt:\[[0-9]+\], not this process's mnt:\[1\]; neither .* nor jailed\.pid under any of its mount points/],
    },
  ],
  [
    'a stale 1 in a directory every namespace init sees: stale, every init dropped',
    {
      tree: 'stale-one',
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: [
        /pid 1 dropped: it is PID 1 of this PID namespace \(an init\)/,
        /pid [0-9]+ dropped: it is PID 1 of its PID namespace \(an init\), and nothing identifies it as the service \(none of comm "sleep"/,
      ],
    },
  ],
  [
    "a stale 1 whose NAME is the inits' name: three fit, ambiguous",
    {tree: 'stale-one', names: ['sleep'], want: {state: 'unknown', reasons: ['ambiguous'], pid: () => null}, evidence: [/3 processes fit/]},
  ],
  [
    "a 1 with the namespace given: that namespace's init",
    {tree: 'stale-one', pidns: (t) => pidnsOf(t, byCmd(t, /^sleep 600/)), want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)}},
  ],
  [
    'the pid names a process younger than the file: stale, pid_reused',
    {
      tree: 'reused',
      want: {state: 'stale', reasons: ['pid_reused'], pid: () => null},
      evidence: [/dropped: it started at .*, after the file was written at .*: the pid was reused/],
    },
  ],
  [
    'one number, two candidates (here and in a child namespace), no name: ambiguous',
    {tree: 'tie', want: {state: 'unknown', reasons: ['ambiguous'], pid: () => null}, evidence: [/2 processes fit/]},
  ],
  [
    "one number, two candidates: the name breaks the tie (the child namespace's sleep)",
    {tree: 'tie', names: ['sleep'], want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)}, evidence: [/identified by name or place/]},
  ],
  [
    'one number, two candidates: the name breaks the tie (python3 here)',
    {tree: 'tie', names: ['python3'], want: {state: 'running', reasons: [], pid: (t) => written(t)}},
  ],
  [
    'uid 65534 and a root process in another mount namespace: permission_denied, the capability named (the caller lacks it)',
    {
      tree: 'denied',
      want: {state: 'unknown', reasons: ['permission_denied'], pid: () => null},
      evidence: [
        /pid [0-9]+: not allowed to look into its mount namespace \(\/proc\/[0-9]+\/root; it is in its mount namespace \(ns\/mnt not readable\), not this process's mnt:\[[0-9]+\]\): another user's process: run as its user, or as root \(with CAP_SYS_PTRACE\)/,
      ],
    },
  ],
  [
    'root with CAP_SYS_PTRACE facing a protected process: said so, no capability asked for',
    {
      tree: 'denied',
      edit: (t) => {
        t.self.uid = 0
        t.self.status = {value: 'Name:\tnode\nPid:\t1\nTgid:\t1\nCapEff:\t000001fffeffffff\n'}
      },
      want: {state: 'unknown', reasons: ['permission_denied'], pid: () => null},
      evidence: [/denied to root with CAP_SYS_PTRACE: pid [0-9]+ is protected/],
    },
  ],
  [
    'root without CAP_SYS_PTRACE (a container without --cap-add SYS_PTRACE): the capability named',
    {
      tree: 'python-svc',
      edit: (t) => {
        t.self.uid = 0
        t.self.status = {value: 'Name:\tnode\nPid:\t1\nTgid:\t1\nCapEff:\t00000000a80425fb\n'}
        denyAll(t, written(t))
      },
      want: {state: 'unknown', reasons: ['permission_denied'], pid: () => null},
      evidence: [/runs as root without CAP_SYS_PTRACE \(e\.g\. in a container: --cap-add SYS_PTRACE\)/],
    },
  ],
  [
    "malformed: the candidate's status is garbage: not a candidate, stale",
    {
      tree: 'python-svc',
      edit: (t) => {
        t.processes[written(t)].status = {value: 'garbage\n'}
      },
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: ['no live process has innermost pid'],
    },
  ],
  [
    'malformed: stat unreadable (the process exited meanwhile): stale',
    {
      tree: 'python-svc',
      edit: (t) => {
        t.processes[written(t)].stat = {error: 'ENOENT'}
      },
      want: {state: 'stale', reasons: [], pid: () => null},
    },
  ],
  [
    'a thread (its id translated by the ioctl, /proc/TID answers) is not a candidate: stale',
    {
      tree: 'python-svc',
      edit: (t) => {
        const p = t.processes[written(t)]
        p.status = {value: (p.status as {value: string}).value.replace(/^Tgid:\t[0-9]+$/m, 'Tgid:\t1')}
      },
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: [/is a thread of process 1, not a process: not a candidate/],
    },
  ],
  [
    'malformed: a zombie is not a candidate',
    {
      tree: 'python-svc',
      edit: (t) => {
        const p = t.processes[written(t)]
        p.stat = {value: (p.stat as {value: string}).value.replace(/\) S /, ') Z ')}
      },
      want: {state: 'stale', reasons: [], pid: () => null},
      evidence: [/has exited \(state Z\)/],
    },
  ],
  [
    'malformed: empty cmdline and unreadable exe, in another mount namespace with garbage mountinfo: not seen, stale',
    {
      tree: 'python-svc',
      edit: (t) => {
        const p = t.processes[written(t)]
        p.cmdline = {value: ''}
        p.links.exe = {error: 'EACCES'}
        p.links['ns/mnt'] = {value: 'mnt:[2]'}
        p.under = {}
        p.mountinfo = {value: 'x\n\n1 2 3\n'}
      },
      want: {state: 'stale', reasons: [], pid: () => null},
    },
  ],
  [
    'kernel without NS_GET_PID_FROM_PIDNS: the NSpid scan finds the same candidate',
    {
      tree: 'child-ns',
      names: ['sleep'],
      edit: (t) => {
        for (const k of Object.keys(t.translations)) t.translations[k] = 'unsupported'
      },
      want: {state: 'running', reasons: [], pid: (t) => byCmd(t, /^sleep 600/)},
      evidence: [/0 by ioctl\(NS_GET_PID_FROM_PIDNS\), [0-9]+ by NSpid scan/],
    },
  ],
]

describe('the unlocked decision over captured trees', () => {
  test.each(CASES)('%s', (_title, c) => {
    const {tree, r} = decide(c)
    const shown = r.evidence.join('\n')
    expect({state: r.state, reasons: r.reasons, pid: r.main?.pid ?? null, evidence: shown}).toEqual({
      state: c.want.state,
      reasons: c.want.reasons,
      pid: c.want.pid ? c.want.pid(tree) : expect.anything(),
      evidence: shown,
    })
    for (const e of c.evidence ?? []) expect(shown).toEqual(typeof e === 'string' ? expect.stringContaining(e) : expect.stringMatching(e))
  })
})

describe('the reconciliation of a lock holder with the number, over captured trees', () => {
  const reconcile = (name: string, edit?: (t: ProcTree) => void, writtenPid?: number | null) => {
    const tree = edit ? variant(loadTree(name), edit) : loadTree(name)
    const procfs = new FixtureProcFs(tree)
    const evidence: string[] = []
    const w = writtenPid === undefined ? written(tree) : writtenPid
    return {tree, evidence, r: reconcileWithHolders([tree.holder!], w, procfs, tree.bootMs, evidence)}
  }

  test('nslocate run: the supervisor holds the lock, the file names its child', () => {
    const {tree, r, evidence} = reconcile('supervised')
    expect([r.holder.pid, r.main.pid, r.mismatch]).toEqual([tree.holder, written(tree), false])
    expect(evidence.join('\n')).toMatch(/a descendant of the lock holder/)
  })
  test("in a child PID namespace: the inner number is the supervisor's child there", () => {
    const {tree, r} = reconcile('supervised-ns')
    expect([r.holder.pid, r.main.pid, r.mismatch]).toEqual([tree.holder, byCmd(tree, /^sleep 600/), false])
    expect(r.main.status.nspid[r.main.status.nspid.length - 1]).toBe(written(tree))
  })
  test('the same without NS_GET_PID_FROM_PIDNS: found by the NSpid scan', () => {
    const {tree, r} = reconcile('supervised-ns', (t) => {
      for (const k of Object.keys(t.translations)) t.translations[k] = 'unsupported'
    })
    expect(r.main.pid).toBe(byCmd(tree, /^sleep 600/))
  })
  test('a number that is neither the holder nor its descendant: content_mismatch, the holder reported', () => {
    const {tree, r, evidence} = reconcile('supervised', undefined, 4000000)
    expect([r.main.pid, r.mismatch]).toEqual([tree.holder, true])
    expect(evidence.join('\n')).toMatch(/^MISMATCH: the file says 4000000/m)
  })
  test('an empty locked file (starting): the holder, until the pid is written', () => {
    const {tree, r, evidence} = reconcile('supervised', undefined, null)
    expect([r.main.pid, r.mismatch]).toEqual([tree.holder, false])
    expect(evidence.join('\n')).toMatch(/has no pid yet/)
  })
  test('the holder gone from the tree: GONE', () => {
    expect(() =>
      reconcile('supervised', (t) => {
        delete t.processes[String(t.holder)]
      }),
    ).toThrow(expect.objectContaining({code: 'GONE'}))
  })
})

describe('identity options against captured processes', () => {
  test.each([
    [{uid: 0}, true, /real uid 0 is 0/],
    [{uid: 33}, false, /real uid 0 is not 33/],
    [{processName: 'sleep'}, true, /comm "sleep" is --process-name sleep/],
    [{exec: {path: '/usr/bin/sleep', dev: -1, ino: -1}}, false, /exe "\/usr\/bin\/sleep" is not \/usr\/bin\/sleep|is not \/usr\/bin\/sleep/],
  ])('%j', (id, ok, detail) => {
    const tree = loadTree('child-ns')
    const procfs = new FixtureProcFs(tree)
    const f = readFacts(procfs, byCmd(tree, /^sleep 600/), tree.bootMs)!
    const r = checkIdentity(procfs, f, readNames(procfs, f), {...id, shown: 'x'})
    expect(r.ok).toBe(ok)
    expect(r.detail).toMatch(detail)
  })
  test('--exec compares device and inode with /proc/PID/exe', () => {
    const tree = loadTree('child-ns')
    const procfs = new FixtureProcFs(tree)
    const pid = byCmd(tree, /^sleep 600/)
    const exe = (tree.processes[pid].exeStat as {value: {dev: number; ino: number}}).value
    const f = readFacts(procfs, pid, tree.bootMs)!
    expect(checkIdentity(procfs, f, readNames(procfs, f), {exec: {path: '/bin/sleep', ...exe}, shown: '--exec /bin/sleep'}).ok).toBe(true)
  })
})
