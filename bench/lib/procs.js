'use strict'
/**
 * Everything the bench starts, and how it is stopped: only ever by the pid or process group it
 * created, the temp directory by its path, containers by this run's label. On normal exit, an
 * error and SIGINT/SIGTERM/SIGHUP, whatever still runs is SIGKILLed and the rest removed
 * (`installCleanup`). If the bench itself is SIGKILLed, the C helpers die too (PR_SET_PDEATHSIG).
 */
const {spawn, spawnSync} = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')

/** @type {Set<{child: import('node:child_process').ChildProcess, pid: number, group: boolean, exited: boolean, what: string, exitPromise: Promise<void>}>} */
const tracked = new Set()
const state = {tmpDir: null, containers: false, cleanedUp: false}
const RUN_LABEL = `nslocate.bench=${process.pid}-${Date.now()}`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function track(child, what, group) {
  const entry = {child, pid: child.pid, group, exited: false, what, exitPromise: null}
  entry.exitPromise = new Promise((resolve) => {
    const done = () => {
      entry.exited = true
      resolve()
    }
    child.once('exit', done)
    child.once('error', done)
  })
  tracked.add(entry)
  return entry
}

/** A temp directory removed on every way out. */
function makeTmpDir() {
  state.tmpDir = fs.mkdtempSync(`${os.tmpdir()}/nslocate-bench-`)
  return state.tmpDir
}

/** A fresh path in the run's temp directory. */
let tmpFiles = 0
const tmpFile = (name) => `${state.tmpDir}/${++tmpFiles}-${name}`

/** Containers started with `containerLabel()` are removed by that label on every way out. */
function containerLabel() {
  state.containers = true
  return RUN_LABEL
}

function removeContainersSync() {
  if (!state.containers) return
  const ps = spawnSync('docker', ['ps', '-aq', '--filter', `label=${RUN_LABEL}`], {encoding: 'utf8', timeout: 30_000})
  const ids = String(ps.stdout || '')
    .split('\n')
    .filter(Boolean)
  if (ids.length > 0) spawnSync('docker', ['rm', '-f', ...ids], {stdio: 'ignore', timeout: 30_000})
}

/** SIGKILL whatever is still running; synchronous, so usable from 'exit' and signal handlers. */
function cleanupSync() {
  if (state.cleanedUp) return
  state.cleanedUp = true
  for (const e of tracked) {
    if (e.exited || !e.pid) continue
    try {
      // A group made by a detached spawn: its leader is our unreaped child, so the id is not reused.
      process.kill(e.group ? -e.pid : e.pid, 'SIGKILL')
    } catch {}
  }
  removeContainersSync()
  if (state.tmpDir) fs.rmSync(state.tmpDir, {recursive: true, force: true})
}

function installCleanup() {
  process.on('exit', cleanupSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping everything started here\n`)
      cleanupSync()
      process.exit(128 + os.constants.signals[sig])
    })
  }
}

function within(promise, ms) {
  let timer
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer))
}

/** Stop one tracked child: `signal` to the pid, then SIGKILL (pid or group) after `graceMs`. */
async function stop(entry, {signal = 'SIGKILL', graceMs = 5000} = {}) {
  if (!entry) return
  if (!entry.exited) {
    try {
      process.kill(signal === 'SIGKILL' && entry.group ? -entry.pid : entry.pid, signal)
    } catch {}
    if (!(await within(entry.exitPromise, graceMs))) {
      try {
        process.kill(entry.group ? -entry.pid : entry.pid, 'SIGKILL')
      } catch {}
      if (!(await within(entry.exitPromise, 10_000))) throw new Error(`${entry.what} (pid ${entry.pid}) did not exit after SIGKILL`)
    }
  }
  tracked.delete(entry)
}

/** Line reader over a child's stdout: next(prefix, ms) resolves with the next line starting with prefix. */
function lines(child, what) {
  const queue = []
  const waiters = []
  let buf = ''
  let ended = false
  const pump = () => {
    while (waiters.length) {
      const w = waiters[0]
      const idx = queue.findIndex((l) => l.startsWith(w.prefix))
      if (idx < 0 && !ended) break
      waiters.shift()
      clearTimeout(w.timer)
      if (idx >= 0) w.resolve(queue.splice(idx, 1)[0])
      else w.reject(new Error(`${what}: output ended before a "${w.prefix}" line (got: ${JSON.stringify(queue.join('\n'))})`))
    }
  }
  child.stdout.setEncoding('utf8').on('data', (d) => {
    const parts = (buf + d).split('\n')
    buf = parts.pop()
    queue.push(...parts)
    pump()
  })
  child.stdout.on('end', () => {
    ended = true
    pump()
  })
  const next = (prefix, ms = 10_000) =>
    new Promise((resolve, reject) => {
      const w = {prefix, resolve, reject, timer: null}
      w.timer = setTimeout(() => {
        const k = waiters.indexOf(w)
        if (k >= 0) waiters.splice(k, 1)
        reject(new Error(`${what}: no "${prefix}" line within ${ms} ms`))
      }, ms)
      waiters.push(w)
      pump()
    })
  return {next}
}

/** Spawn a tracked child; stderr is kept for error messages. */
function startTracked(file, args, {what, group = false, env}) {
  const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe'], detached: group, env})
  const entry = track(child, what, group)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d
  })
  return {entry, pid: child.pid, reader: lines(child, what), stderr: () => stderr}
}

/** Spawn a helper that prints "ready ..." once set up; resolves with {entry, pid, ready, reader}. */
async function startReady(file, args, {what, group = false, timeoutMs = 10_000} = {}) {
  const c = startTracked(file, args, {what, group})
  try {
    return {...c, ready: await c.reader.next('ready', timeoutMs)}
  } catch (error) {
    await stop(c.entry).catch(() => undefined)
    error.message += c.stderr() ? `\nstderr: ${c.stderr().trim()}` : ''
    throw error
  }
}

/**
 * Run a command to its end, asynchronously (a signal to the bench is handled meanwhile, which it is
 * not during spawnSync), in a process group of its own, killed on every way out or after timeoutMs.
 */
async function run(file, args, {env, timeoutMs = 120_000} = {}) {
  const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe'], detached: true, env})
  const entry = track(child, `${file} ${args.join(' ')}`, true)
  const out = {stdout: '', stderr: ''}
  child.stdout.setEncoding('utf8').on('data', (d) => (out.stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (out.stderr += d))
  const timer = setTimeout(() => stop(entry).catch(() => undefined), timeoutMs)
  const [status, signal] = await new Promise((resolve) => {
    child.once('close', (code, sig) => resolve([code, sig]))
    child.once('error', (error) => resolve([null, error.message]))
  })
  clearTimeout(timer)
  tracked.delete(entry)
  return {status, signal, ...out}
}

module.exports = {run, sleep, makeTmpDir, tmpFile, containerLabel, removeContainersSync, cleanupSync, installCleanup, stop, startTracked, startReady}
