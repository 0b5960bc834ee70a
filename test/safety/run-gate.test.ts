/**
 * The gate under run's child (native spawnGated, docs/architecture.md "run's child"): until the
 * parent opens the gate, the program does not run; if the parent closes the gate or dies, the child
 * exits 125 having run nothing. Tested on the addon directly, with a real SIGKILL of the parent.
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {isAlive, killTracked, track, until} from '../helpers/cli'
import {ADDON_PATH} from '../helpers/paths'
import {stopAll, tempDir} from '../helpers/tracked'
import {exitOf} from './run-helpers'

// killTracked: a failed expectation must not leave the parent (and so its gated child) running:
// it kept jest from exiting until its timeout.
afterEach(() => killTracked())
afterAll(() => stopAll())

/** A node parent that forks a gated `touch MARKER; sleep 30`, prints the child's pid, and then does what `then` says. */
function parent(marker: string, then: string) {
  const script = `
    const a = require(${JSON.stringify(ADDON_PATH)}); const fs = require('fs')
    const c = a.spawnGated('/bin/sh', ['sh', '-c', 'touch ${marker}; exec sleep 30'], [], -1)
    console.log(c.pid)
    ${then}`
  const child = track(spawn(process.execPath, ['-e', script], {stdio: ['ignore', 'pipe', 'inherit']}))
  const pid = new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))))
  return {child, pid}
}

test('the parent SIGKILLed before the gate opens: the child exits without running the program', async () => {
  const marker = path.join(tempDir('nslocate-gate-'), 'ran')
  const {child, pid} = parent(marker, 'setInterval(() => {}, 1000)')
  const gated = await pid
  await new Promise((r) => setTimeout(r, 300))
  expect(isAlive(gated)).toBe(true)
  // still before execve: the fork's name is the parent's ('node'; 'MainThread' on Node 24), not sh or sleep
  expect(fs.readFileSync(`/proc/${gated}/comm`, 'utf8').trim()).toBe(fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim())
  child.kill('SIGKILL')
  await exitOf(child)
  await until(() => !isAlive(gated), 'the gated child to exit')
  expect(fs.existsSync(marker)).toBe(false)
})

test('the gate closed by the parent: exit 125, nothing ran; opened: the program runs, errFd reports a failed execve', async () => {
  const marker = path.join(tempDir('nslocate-gate-'), 'ran')
  const closed = parent(
    marker,
    `fs.closeSync(c.gateFd); const t = setInterval(() => { const r = a.reapChild(c.pid); if (r) { console.log(JSON.stringify(r)); clearInterval(t) } }, 10)`,
  )
  let out = ''
  closed.child.stdout!.on('data', (d) => (out += d))
  await exitOf(closed.child)
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({code: 125, signal: 0})
  expect(fs.existsSync(marker)).toBe(false)

  const script = `
    const a = require(${JSON.stringify(ADDON_PATH)}); const fs = require('fs')
    const c = a.spawnGated('/nonexistent/prog', ['prog'], [], -1)
    fs.writeSync(c.gateFd, 'g'); fs.closeSync(c.gateFd)
    const b = Buffer.alloc(4); const n = fs.readSync(c.errFd, b, 0, 4, null)
    const t = setInterval(() => { const r = a.reapChild(c.pid); if (r) { console.log(JSON.stringify({n, errno: b.readInt32LE(0), r})); clearInterval(t) } }, 10)`
  const failed = track(spawn(process.execPath, ['-e', script], {stdio: ['ignore', 'pipe', 'inherit']}))
  let text = ''
  failed.stdout!.on('data', (d) => (text += d))
  await exitOf(failed)
  expect(JSON.parse(text)).toEqual({n: 4, errno: 2, r: {code: 127, signal: 0}})
})
