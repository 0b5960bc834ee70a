/**
 * issue 12, item 6: SIGKILL of `nslocate run` must not leave the service unlocked. The child
 * inherits the flock'd descriptor, so the lock lives as long as the service: after a real SIGKILL
 * of the supervisor, find names the child, a second run exits with the conflict code without
 * starting anything, and the first child keeps running, having received nothing.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, cliJson, dumpEvidence, isAlive, killTracked} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {readLog, siglogBinary} from '../helpers/victims'
import {exitOf, killPid, pidIn, processesWith, runInBackground, untilRunning} from './run-helpers'

afterEach(() => killTracked())
afterAll(() => stopAll())

test('after SIGKILL of the supervisor: find names the child, a second run conflicts (122), the child runs on untouched', async () => {
  const dir = tempDir('nslocate-supkill-')
  const file = path.join(dir, 'svc.pid')
  const log = path.join(dir, 'signals.log')
  const sup = runInBackground(['svc', '--dir', dir, '--', siglogBinary(), log])
  const child = await pidIn(file)
  try {
    await untilRunning(child, 'siglog', 15)
    sup.kill('SIGKILL')
    expect(await exitOf(sup)).toEqual({code: null, signal: 'SIGKILL'})
    expect(isAlive(child)).toBe(true)

    const {status, json} = await cliJson(['find', 'svc', '--dir', dir])
    if (status !== 0) console.log(dumpEvidence([child]), json.evidence)
    expect([status, json.state, json.pid, json.holder, json.pidfile.lock]).toEqual([0, 'running', child, child, 'flock'])

    const token = `nslocate-duplicate-${process.pid}-${Date.now()}`
    const second = await cli(['run', 'svc', '--dir', dir, '--', 'sh', '-c', `sleep 30 # ${token}`])
    expect(second.status).toBe(122)
    expect(second.stderr.trim()).toBe(`nslocate: svc already running (pid ${child})`)
    expect(processesWith(token)).toEqual([])
    expect(fs.readFileSync(file, 'utf8')).toBe(String(child))
    expect(isAlive(child)).toBe(true)
    expect(readLog(log)).toEqual([])

    // The lock goes with the service: once it is stopped, the file is stale and run starts again.
    const stop = await cliJson(['signal', 'svc', 'KILL', '--dir', dir, '--wait'])
    expect(stop.status).toBe(0)
    expect(isAlive(child)).toBe(false)
    const after = await cliJson(['find', 'svc', '--dir', dir])
    expect([after.status, after.json.state]).toEqual([1, 'stale'])
    const again = await cli(['run', 'svc', '--dir', dir, '--', 'true'])
    expect(again.status).toBe(0)
    expect(fs.existsSync(file)).toBe(false)
  } finally {
    await killPid(child)
  }
})

test('--replace after a SIGKILLed supervisor stops the orphaned service (TERM) and takes over', async () => {
  const dir = tempDir('nslocate-supkill-replace-')
  const file = path.join(dir, 'svc.pid')
  const log = path.join(dir, 'signals.log')
  const sup = runInBackground(['svc', '--dir', dir, '--', siglogBinary(), log, '--exit-on', 'TERM'])
  const child = await pidIn(file)
  try {
    await untilRunning(child, 'siglog', 15)
    sup.kill('SIGKILL')
    await exitOf(sup)
    const next = runInBackground(['svc', '--dir', dir, '--replace', '--lock-timeout', '2s', '--', 'sleep', '30'])
    const fresh = await (async () => {
      for (let i = 0; i < 500; i++) {
        let text = ''
        try {
          text = fs.readFileSync(file, 'utf8')
        } catch {} // not there (yet, or for a moment while the replacement takes the name)
        if (/^[0-9]+$/.test(text) && Number(text) !== child) return Number(text)
        await new Promise((r) => setTimeout(r, 20))
      }
      throw new Error('the replacement never wrote its pid')
    })()
    expect(readLog(log).map((l) => [l.signo, l.pid])).toEqual([[15, child]])
    expect(isAlive(child)).toBe(false)
    const {json} = await cliJson(['find', 'svc', '--dir', dir])
    expect([json.state, json.pid, json.holder]).toEqual(['running', fresh, next.pid])
  } finally {
    await killPid(child)
  }
})
