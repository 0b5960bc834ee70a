// The suite's own cgroup (scripts/test.js): `npm test` moves itself, and so jest and everything the
// tests start, into a cgroup v2 of its own, nslocate-tests-PID, beside the caller's cgroup's
// services (CALLER/nslocate-tests-PID). Every service cgroup `nslocate run` makes during the suite
// is then under it (nslocate-tests-PID/nslocate/NAME-HASH), including the empty ones a test leaves
// by SIGKILLing run on purpose, and none of the host's own services' cgroups is ever touched.
// After jest: a process still in it is a leak (reported, then killed through cgroup.kill); the
// empty cgroups under it are removed, deepest first, and the suite moves back and removes it.
// Nothing happens where no cgroup can be made (no cgroup2 mount, not root): the tests that need one
// make their own or run as the caller.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

function v2Dir() {
  let own = null
  try {
    const line = fs
      .readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
    own = line ? line.slice(3) : null
  } catch {}
  if (own === null) return null
  let mounts = []
  try {
    mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => / - cgroup2 /.test(l))
      .map((l) => l.split(' '))
      .map((f) => ({root: f[3], at: f[4]}))
  } catch {}
  for (const m of mounts) {
    const root = m.root === '/' ? '' : m.root
    if (root && own !== root && !own.startsWith(`${root}/`)) continue
    const dir = path.resolve(m.at, `.${own.slice(root.length)}`)
    if (fs.existsSync(path.join(dir, 'cgroup.procs'))) return dir
  }
  return null
}

/** Moves this process into a new cgroup of the suite's; returns {dir, from} or null when none can be made. */
function enter() {
  const from = v2Dir()
  if (from === null || process.getuid() !== 0) return null
  const dir = path.join(from, `nslocate-tests-${process.pid}`)
  try {
    fs.mkdirSync(dir)
  } catch {
    return null
  }
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(process.pid))
  } catch {
    fs.rmdirSync(dir)
    return null
  }
  return {dir, from}
}

function procsBelow(dir) {
  const out = []
  const visit = (d) => {
    try {
      for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p && p !== '0') out.push({pid: Number(p), cgroup: d})
      for (const e of fs.readdirSync(d, {withFileTypes: true})) if (e.isDirectory()) visit(path.join(d, e.name))
    } catch {}
  }
  visit(dir)
  return out
}

/** Dirs below `dir`, deepest first. */
function dirsBelow(dir) {
  const out = []
  const visit = (d) => {
    try {
      for (const e of fs.readdirSync(d, {withFileTypes: true})) if (e.isDirectory()) visit(path.join(d, e.name))
    } catch {}
    out.push(d)
  }
  visit(dir)
  return out
}

/** Is `pid` exiting: state Z or X, or PF_EXITING (0x4) in its flags (field 9 of /proc/PID/stat)? Gone counts too. */
function exiting(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return f[0] === 'Z' || f[0] === 'X' || (Number(f[6]) & 0x4) !== 0
  } catch {
    return true
  }
}

/**
 * After jest: moves back, reports what still runs in the suite's cgroup (each one a leak, killed
 * through cgroup.kill), removes every cgroup under it and it. Returns the number of leaks.
 */
function leave(scope, log = console.error) {
  if (!scope) return 0
  let out = false
  try {
    fs.writeFileSync(path.join(scope.from, 'cgroup.procs'), String(process.pid))
    out = !procsBelow(scope.dir).some((p) => p.pid === process.pid)
  } catch {}
  // A process the last test file killed can still be on its way out for a moment, longer on a
  // loaded machine: while every one left is exiting (a zombie, or PF_EXITING set), wait up to 5 s.
  // Any other process is a leak at once, however soon it would end by itself.
  const graceEnd = Date.now() + 5000
  for (;;) {
    const others = procsBelow(scope.dir).filter((p) => p.pid !== process.pid)
    if (others.length === 0 || !others.every((p) => exiting(p.pid)) || Date.now() >= graceEnd) break
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
  }
  const left = procsBelow(scope.dir).filter((p) => p.pid !== process.pid)
  for (const p of left) {
    let comm = '?'
    try {
      comm = fs.readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim()
    } catch {}
    log(`leak: pid ${p.pid} (${comm}) still runs in the suite's cgroup ${p.cgroup}`)
  }
  if (left.length > 0) {
    // cgroup.kill only once this process is out of it; else each leaked process by its pid
    try {
      if (out) fs.writeFileSync(path.join(scope.dir, 'cgroup.kill'), '1')
      else for (const p of left) process.kill(p.pid, 'SIGKILL')
    } catch {}
    // gone before the leak check looks at processes (no leak counted twice)
    const until = Date.now() + 3000
    while (procsBelow(scope.dir).some((p) => p.pid !== process.pid) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
  }
  const end = Date.now() + 5000
  for (const d of dirsBelow(scope.dir)) {
    for (;;) {
      try {
        fs.rmdirSync(d)
        break
      } catch (error) {
        if (error.code === 'ENOENT') break
        if (error.code !== 'EBUSY' || Date.now() > end) {
          log(`leak: cannot remove the cgroup ${d} (${error.code})`)
          break
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
      }
    }
  }
  return left.length
}

module.exports = {enter, leave}
