// Leak check around the whole suite (scripts/test.js): what the tests started must be gone when jest
// has exited.
//   const before = snapshot()          // before jest starts; also sets the run's marker
//   ...run jest with env {...process.env, ...markerEnv(before)}...
//   const leaks = await check(before)   // after jest exited: leaked processes, dirs, users
//   report(leaks)                       // one line per leak; kills the leaked processes by pid
// A process is the tests' when it is new (its pid and start time were not there before) and
//   - carries the run's marker NSLOCATE_TEST_RUN=<token> in /proc/PID/environ (every child of jest
//     inherits it unless a test replaced the environment), or
//   - is an orphan (PPid 1) in our PID namespace that is not one of the machine's own daemons
//     (dockerd, containerd and its shims, docker-proxy: they start processes of their own) and
//     that names this checkout or a temp dir in its command line or working directory, or runs
//     as a test user (nsl-*).
// Kernel threads, zombies, this process and its ancestors are never counted. A temp dir is the
// tests' when it is a new entry of os.tmpdir(), /tmp, /var/tmp or /dev/shm that is not a tool's
// cache or lock (jest_*, node-compile-cache, *.lock). A test user is a new /etc/passwd name nsl-*.
// A test container is one labelled nslocate.test=1 (test/helpers/engine.ts) that was not there before.
// Only a marked process is certainly the tests'; the other rules compare before and after, which is
// exact in CI (nothing else runs beside the suite) but not on a shared machine. So they fail the run
// in strict mode only: CI=true or NSLOCATE_LEAK_CHECK=strict; otherwise they are printed as warnings.
'use strict'
const {spawnSync} = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const MARKER = 'NSLOCATE_TEST_RUN'
const TEMP_DIRS = [...new Set([os.tmpdir(), '/tmp', '/var/tmp', '/dev/shm'])]
/** Entries of the temp dirs that tools keep on purpose (caches, lock files), not a test's leftovers. */
const TOOL_ENTRY = /^(jest_.*|node-compile-cache|v8-compile-cache.*|hsperfdata_.*|.*\.lock|bash_jobs\..*|bash_tool_.*)$/
/** The machine's own daemons: they start processes of their own (shims, proxies) that outlive a test. */
const MACHINE = /^(dockerd|containerd|containerd-shim.*|docker-proxy|docker-init|runc|tini)$/
const PF_KTHREAD = 0x00200000

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** pid, ppid, state, flags and start time from /proc/PID/stat (fields counted after the last ')'). */
function stat(pid) {
  const text = read(`/proc/${pid}/stat`)
  if (!text) return null
  const close = text.lastIndexOf(')')
  const f = text.slice(close + 2).split(' ')
  return {pid, comm: text.slice(text.indexOf('(') + 1, close), state: f[0], ppid: Number(f[1]), flags: Number(f[6]), start: f[19]}
}

function processes() {
  const out = new Map()
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const s = stat(Number(name))
    if (s) out.set(s.pid, s)
  }
  return out
}

function tempEntries() {
  const out = new Set()
  for (const dir of TEMP_DIRS) {
    let names = []
    try {
      names = fs.readdirSync(dir)
    } catch {}
    for (const n of names) out.add(path.join(dir, n))
  }
  return out
}

function testUsers() {
  return new Set(
    (read('/etc/passwd') ?? '')
      .split('\n')
      .map((l) => l.split(':')[0])
      .filter((n) => n.startsWith('nsl-')),
  )
}

/** Ids of the containers labelled nslocate.test=1 ([] when there is no engine). */
function testContainers() {
  const r = spawnSync('docker', ['ps', '-aq', '--no-trunc', '--filter', 'label=nslocate.test=1'], {encoding: 'utf8', timeout: 10_000})
  return new Set(r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [])
}

/** Before the suite: the processes, temp entries and test users there are, and a fresh marker token. */
function snapshot() {
  return {token: crypto.randomBytes(8).toString('hex'), procs: processes(), temp: tempEntries(), users: testUsers(), containers: testContainers()}
}

/** The environment entry that marks the suite's processes. */
function markerEnv(before) {
  return {[MARKER]: before.token}
}

function ancestors() {
  const out = new Set()
  for (let p = process.pid, i = 0; p > 0 && i < 256; i++) {
    out.add(p)
    p = stat(p)?.ppid ?? 0
  }
  return out
}

function cmdline(pid) {
  const text = read(`/proc/${pid}/cmdline`)
  return text ? text.replace(/\0+$/, '').split('\0').join(' ') : '?'
}

function ownPidns(pid) {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`) === fs.readlinkSync('/proc/self/ns/pid')
  } catch {
    return false
  }
}

/** Why `s` is the suite's ('marked' or 'orphan'), or null. */
function whyOurs(s, before, mine) {
  if (mine.has(s.pid) || s.state === 'Z' || s.state === 'X' || s.flags & PF_KTHREAD) return null
  if (before.procs.get(s.pid)?.start === s.start) return null
  const env = read(`/proc/${s.pid}/environ`)
  if (env && env.split('\0').includes(`${MARKER}=${before.token}`)) return 'marked'
  if (s.ppid === 1 && !MACHINE.test(s.comm) && ownPidns(s.pid) && looksLikeTheSuites(s.pid)) return 'orphan'
  return null
}

const ROOT = path.resolve(__dirname, '../..')
const TEST_USER = /^nsl-/

/**
 * An unmarked orphan (a test replaced its environment: su, runuser, env -i) is counted only when it
 * points at the suite: its command line or working directory names this checkout or a temp dir, or
 * it runs as a test user. A process the machine's own tooling starts meanwhile (an agent, a shell
 * backend) names none of these and is not the suite's.
 */
function looksLikeTheSuites(pid) {
  const where = [
    cmdline(pid),
    (() => {
      try {
        return fs.readlinkSync(`/proc/${pid}/cwd`)
      } catch {
        return ''
      }
    })(),
  ]
  if (where.some((w) => w.includes(ROOT) || TEMP_DIRS.some((t) => w.includes(`${t}/`)))) return true
  const uid = /^Uid:\s+(\d+)/m.exec(read(`/proc/${pid}/status`) ?? '')?.[1]
  const user =
    uid === undefined
      ? undefined
      : (read('/etc/passwd') ?? '')
          .split('\n')
          .find((l) => l.split(':')[2] === uid)
          ?.split(':')[0]
  return user !== undefined && TEST_USER.test(user)
}

function leakedProcesses(before) {
  const mine = ancestors()
  const out = []
  for (const s of processes().values()) {
    const why = whyOurs(s, before, mine)
    if (why) out.push({pid: s.pid, start: s.start, why, cmdline: cmdline(s.pid)})
  }
  return out
}

/**
 * After the suite: the leaks, once they persist for `graceMs` (processes killed at the end of a test
 * file take a moment to exit and be reaped).
 */
async function check(before, graceMs = 5000) {
  const deadline = Date.now() + graceMs
  let procs = leakedProcesses(before)
  while (procs.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    procs = leakedProcesses(before)
  }
  const dirs = [...tempEntries()].filter((e) => !before.temp.has(e) && !TOOL_ENTRY.test(path.basename(e)))
  const users = [...testUsers()].filter((u) => !before.users.has(u))
  const containers = [...testContainers()].filter((c) => !before.containers.has(c))
  return {procs, dirs, users, containers}
}

/** Strict unless told otherwise: CI=true or NSLOCATE_LEAK_CHECK=strict. */
function strictMode(env = process.env) {
  return env.CI === 'true' || env.NSLOCATE_LEAK_CHECK === 'strict'
}

/**
 * Print each leak ("leak:" when it fails the run, "possible leak:" when not in strict mode), and
 * SIGKILL the marked processes (by pid, same start time): they are the suite's. Returns the number
 * of leaks that fail the run.
 */
function report(leaks, strict = strictMode(), log = console.error) {
  let failing = 0
  const say = (certain, text) => {
    if (certain || strict) failing++
    log(`${certain || strict ? 'leak' : 'possible leak'}: ${text}`)
  }
  for (const p of leaks.procs) {
    say(p.why === 'marked', `process ${p.pid} (${p.why}) still runs: ${p.cmdline}`)
    if (p.why === 'marked' && stat(p.pid)?.start === p.start) {
      try {
        process.kill(p.pid, 'SIGKILL')
      } catch {}
    }
  }
  for (const d of leaks.dirs) say(false, `temp entry ${d} remains`)
  for (const u of leaks.users) say(false, `test user ${u} remains`)
  for (const c of leaks.containers) say(false, `test container ${c.slice(0, 12)} remains`)
  return failing
}

module.exports = {MARKER, snapshot, markerEnv, check, report, strictMode}
