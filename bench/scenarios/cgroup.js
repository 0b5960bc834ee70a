'use strict'
/**
 * cgroup (issue 22): what the service's cgroup adds to `run`'s start-up. `run` now makes a cgroup
 * for COMMAND (`--cgroup` auto, the default): mkdir CALLER/nslocate/NAME-HASH (and nslocate/), the
 * record beside the pidfile (one fsetxattr), COMMAND moved into it while held at the gate (one write
 * of cgroup.procs), and after COMMAND's exit a look at cgroup.events and two rmdir. All in ONE
 * hyperfine run, so the ratios compare figures taken together:
 *   cgroup-run              `run NAME --dir D --cgroup=auto -- true` against the same with --cgroup=none
 *   cgroup-run-vs-node      the same --cgroup=auto against `node -e 0`
 *   cgroup-run-none-vs-node --cgroup=none against `node -e 0`
 *   cgroup-probe            the kernel part alone, a tiny C program: mkdir a cgroup beside the
 *                           caller's nslocate/, fork a child held at a pipe, write its pid into
 *                           cgroup.procs, let it exec true, reap it, rmdir; against the same program
 *                           without the cgroup (fork, exec true, reap). Both idle IDLE_MS first: cold,
 *                           as one run is (the write of cgroup.procs takes cgroup_threadgroup_rwsem
 *                           for writing, which waits for an RCU grace period unless another
 *                           migration happened just before)
 *   cgroup-probe-warm       the same back to back (a burst of starts: the grace period is skipped)
 *   cgroup-orphan           `run NAME -- sh -c 'true & true'` (a child that outlives COMMAND briefly:
 *                           with a cgroup run follows it until the cgroup is empty) against the same
 *                           with --cgroup=none (run follows it until no process holds the pidfile's lock)
 * Before timing: COMMAND must be in NAME's cgroup with auto (and in the caller's with none), the probe's
 * child in the probe's, and every cgroup directory gone afterwards. The cgroups are removed on every
 * way out (an 'exit' listener rmdirs whichever is left and empty, should the bench be interrupted).
 */
const fs = require('node:fs')
const path = require('node:path')
const {execFileSync} = require('node:child_process')
const {hyperfine, cleanEnv} = require('../lib/measure')
const {BIN_RUN, NODE} = require('../lib/fixtures')
const {run} = require('../lib/procs')
const report = require('../lib/report')

/** The cold probe's idle before its work: a migration less than ~20 ms after another skips the grace period. */
const IDLE_MS = 50

/** The probe's source, compiled into the run's temp dir like the other helpers. Usage: probe IDLE_MS DIR|- COMMAND [ARG...] */
const PROBE_C = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
  fprintf(stderr, "nslbenchcgprobe: %s %s: %s\n", what, arg, strerror(errno));
  exit(125);
}

/*
 * IDLE_MS: sleep that long first (a cold start: no cgroup migration on the machine just before);
 * DIR: mkdir it, move the held child into it, rmdir it after reaping; "-": no cgroup.
 */
int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: nslbenchcgprobe IDLE_MS DIR|- COMMAND [ARG...]\n");
    return 2;
  }
  long idle = atol(argv[1]);
  struct timespec pause = {idle / 1000, (idle % 1000) * 1000000L};
  while (idle > 0 && nanosleep(&pause, &pause) != 0 && errno == EINTR) {}
  const char *dir = argv[2];
  int cg = strcmp(dir, "-") != 0;
  if (cg && mkdir(dir, 0755) != 0) die("mkdir", dir);
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) != 0) die("pipe2", "");
  pid_t pid = fork();
  if (pid < 0) die("fork", "");
  if (pid == 0) {
    char c;
    close(gate[1]);
    while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
    execvp(argv[3], argv + 3);
    _exit(127);
  }
  close(gate[0]);
  if (cg) {
    char procs[4096], buf[32];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die("open", procs);
    int n = snprintf(buf, sizeof buf, "%d", (int)pid);
    if (write(fd, buf, n) != n) die("write", procs);
    close(fd);
  }
  close(gate[1]); /* the gate opens: the child execs */
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) die("waitpid", "");
  if (cg) {
    long busy = 0;
    struct timespec ts = {0, 50000};
    while (rmdir(dir) != 0) {
      if (errno != EBUSY || busy >= 100000) die("rmdir", dir);
      busy++;
      nanosleep(&ts, NULL);
    }
    if (busy) fprintf(stderr, "nslbenchcgprobe: rmdir EBUSY %ld times\n", busy);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
`

/** The v2 hierarchy's mount point (the unified one, or the v2 part of a hybrid) and this process's cgroup in it. */
function ownV2() {
  const mount = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup2' && f[3] === '/')
  const line = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))
  if (!mount || !line) throw new Error('no cgroup v2 hierarchy here (no cgroup2 mount, or no 0:: line in /proc/self/cgroup)')
  const unescape = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
  const root = unescape(mount[4])
  return {root, own: line[1], dir: path.join(root, line[1])}
}

/** Every directory this scenario may leave behind, rmdir'd (when empty) on every way out. */
const leftovers = new Set()
function removeLeftoversSync() {
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (const dir of leftovers) {
    for (let i = 0; i < 50 && fs.existsSync(dir); i++) {
      try {
        fs.rmdirSync(dir)
      } catch (error) {
        if (error.code !== 'EBUSY') break
        Atomics.wait(pause, 0, 0, 20) // a process killed with the bench is still exiting
        continue
      }
      // and nslocate/ when no other service's cgroup is in it (as run does; run copes with the race)
      if (path.basename(path.dirname(dir)) === 'nslocate') {
        try {
          fs.rmdirSync(path.dirname(dir))
        } catch {}
      }
    }
  }
}

/** COMMAND's v2 cgroup, as `run` (or the probe) starts it: the 0:: line of `cat /proc/self/cgroup`. */
async function cgroupOfCommand(argv, what) {
  const r = await run(argv[0], [...argv.slice(1), 'cat', '/proc/self/cgroup'], {env: cleanEnv(), timeoutMs: 60_000})
  const m = /^0::(.*)$/m.exec(r.stdout)
  if (r.status !== 0 || !m) throw new Error(`${what}: exit ${r.status ?? r.signal}, no 0:: line: ${r.stdout}${r.stderr}`)
  return {path: m[1], stderr: r.stderr}
}

async function cgroup(ctx) {
  const v2 = ownV2()
  const dir = path.join(ctx.dir, 'cgroup')
  fs.mkdirSync(dir, {recursive: true})
  const probeSrc = path.join(dir, 'cgprobe.c')
  fs.writeFileSync(probeSrc, PROBE_C)
  const probe = path.join(ctx.dir, 'bin', 'nslbenchcgprobe')
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-o', probe, probeSrc], {stdio: ['ignore', 'pipe', 'pipe']})
  // beside the caller's nslocate/ (never in it: run removes nslocate/ when it finds it empty)
  const probeDir = path.join(v2.dir, `nslbench-probe-${process.pid}`)
  const name = 'nslbenchcg'
  const orphanName = 'nslbenchcgo'
  const runArgv = (n, mode) => [NODE, BIN_RUN, 'run', n, '--dir', dir, `--cgroup=${mode}`, '--']
  const onExit = () => removeLeftoversSync()
  process.on('exit', onExit)
  leftovers.add(probeDir)
  try {
    // Correctness before timing: with auto COMMAND is in NAME's own cgroup under the caller's nslocate/,
    // with none in the caller's; the probe's child in the probe's; nothing is left afterwards.
    const auto = await cgroupOfCommand(runArgv(name, 'auto'), `run ${name} --cgroup=auto`)
    const expected = path.posix.join(v2.own, 'nslocate', `${name}-`)
    if (!auto.path.startsWith(expected) || !/^[0-9a-f]{8}$/.test(auto.path.slice(expected.length)) || /no cgroup/.test(auto.stderr))
      throw new Error(`run ${name} --cgroup=auto: COMMAND is in ${auto.path}, expected ${expected}XXXXXXXX (${auto.stderr.trim() || 'no stderr'}); not root?`)
    const leaf = path.join(v2.root, auto.path)
    leftovers.add(leaf)
    const none = await cgroupOfCommand(runArgv(name, 'none'), `run ${name} --cgroup=none`)
    if (none.path !== v2.own) throw new Error(`run ${name} --cgroup=none: COMMAND is in ${none.path}, expected the caller's ${v2.own}`)
    const probed = await cgroupOfCommand([probe, '0', probeDir], 'nslbenchcgprobe')
    if (path.join(v2.root, probed.path) !== probeDir) throw new Error(`nslbenchcgprobe: its child is in ${probed.path}, expected ${probeDir}`)
    // the orphan case: its own leaf (another pidfile, another hash), found the same way
    const orphan = await cgroupOfCommand([...runArgv(orphanName, 'auto'), 'sh', '-c', 'true & exec "$@"', 'sh'], `run ${orphanName}`)
    if (!path.basename(orphan.path).startsWith(`${orphanName}-`))
      throw new Error(`run ${orphanName}: COMMAND is in ${orphan.path}, expected ${orphanName}-XXXXXXXX`)
    leftovers.add(path.join(v2.root, orphan.path))
    const left = () => [...leftovers].filter((d) => fs.existsSync(d))
    if (left().length) throw new Error(`cgroup directories left after the checks: ${left().join(', ')}`)

    const sh = ['sh', '-c', 'true & true']
    const cmds = [
      {key: 'auto', argv: [...runArgv(name, 'auto'), 'true']},
      {key: 'none', argv: [...runArgv(name, 'none'), 'true']},
      {key: 'orphan', argv: [...runArgv(orphanName, 'auto'), ...sh]},
      {key: 'orphan-none', argv: [...runArgv(orphanName, 'none'), ...sh]},
      {key: 'node', argv: [NODE, '-e', '0']},
      {key: 'probe', argv: [probe, String(IDLE_MS), probeDir, 'true']},
      {key: 'probe-none', argv: [probe, String(IDLE_MS), '-', 'true']},
      {key: 'probe-warm', argv: [probe, '0', probeDir, 'true']},
      {key: 'probe-warm-none', argv: [probe, '0', '-', 'true']},
    ]
    ctx.log(`cgroup: hyperfine, run with --cgroup=auto and none, node -e 0, the bare probe (${ctx.opts.runs} runs each)`)
    const s = await hyperfine(cmds, {runs: ctx.opts.runs, warmup: ctx.opts.warmup, log: ctx.log})
    if (left().length) throw new Error(`cgroup directories left after timing: ${left().join(', ')}`)

    const ms = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} ms`
    const added = s.auto.median - s.none.median
    const kernel = s.probe.median - s['probe-none'].median
    const runShown = (mode, cmd = 'true') => `nslocate run NAME --dir DIR --cgroup=${mode} -- ${cmd}`
    const noneRef = (key, cmd) => ({label: '--cgroup=none', command: runShown('none', cmd), stats: s[key]})
    const nodeRef = {label: 'node -e 0', command: 'node -e 0', stats: s.node}
    report.row({
      id: 'cgroup-run',
      metric: 'run -- true with a cgroup (CLI)',
      unit: 'ms',
      tool: 'hyperfine',
      ours: s.auto,
      ref: noneRef('none', 'true'),
      note: `the cgroup adds ${ms(added)} (median) to run's whole command; the kernel part (cgroup-probe) is ${ms(kernel)}; the leaf is ${v2.own === '/' ? '' : v2.own}/nslocate/${name}-XXXXXXXX`,
    })
    report.row({
      id: 'cgroup-run-vs-node',
      metric: 'run -- true with a cgroup, vs node -e 0 (CLI)',
      unit: 'ms',
      tool: 'hyperfine',
      ours: s.auto,
      ref: nodeRef,
      note: `${runShown('auto')} (auto is the default); ${ms(s.auto.median - s.node.median)} over node -e 0`,
    })
    report.row({
      id: 'cgroup-run-none-vs-node',
      metric: 'run -- true without a cgroup, vs node -e 0 (CLI)',
      unit: 'ms',
      tool: 'hyperfine',
      ours: s.none,
      ref: nodeRef,
      note: `${runShown('none')}; ${ms(s.none.median - s.node.median)} over node -e 0`,
    })
    report.row({
      id: 'cgroup-probe',
      metric: `mkdir cgroup + move a held child + exec true + rmdir, cold (C probe, +${IDLE_MS} ms idle)`,
      unit: 'ms',
      tool: 'hyperfine',
      ours: s.probe,
      ref: {
        label: 'probe without cgroup',
        command: `the same C program without the cgroup: ${IDLE_MS} ms idle, fork, exec true, waitpid`,
        stats: s['probe-none'],
      },
      note: `the kernel part of a service cgroup as run pays it: ${ms(kernel)} (mkdir, one write of cgroup.procs, rmdir, in ${v2.dir}); both sides idle ${IDLE_MS} ms first, so no migration precedes theirs closely: the write takes cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period`,
    })
    report.row({
      id: 'cgroup-probe-warm',
      metric: 'mkdir cgroup + move a held child + exec true + rmdir, back to back (C probe)',
      unit: 'ms',
      tool: 'hyperfine',
      ours: s['probe-warm'],
      ref: {label: 'probe without cgroup', command: 'the same C program without the cgroup: fork, exec true, waitpid', stats: s['probe-warm-none']},
      note: `${ms(s['probe-warm'].median - s['probe-warm-none'].median)}: runs ~${s['probe-warm'].median.toFixed(0)} ms apart, each migration follows the previous one within a grace period, which is then not waited for again (information: what a burst of service starts pays, not one run)`,
    })
    report.row({
      id: 'cgroup-orphan',
      metric: "run -- sh -c 'true & true' with a cgroup (CLI)",
      unit: 'ms',
      tool: 'hyperfine',
      ours: s.orphan,
      ref: noneRef('orphan-none', "sh -c 'true & true'"),
      note: `a child that outlives COMMAND briefly (${ms(s.orphan.median - s['orphan-none'].median)}): with a cgroup run follows it until the cgroup is empty; without, until no process holds the pidfile's lock (the child inherited it)`,
    })
  } finally {
    removeLeftoversSync()
    process.removeListener('exit', onExit)
  }
}

module.exports = {cgroup}
