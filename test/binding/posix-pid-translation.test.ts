/**
 * F_GETLK reports a POSIX lock holder's pid as numbered in the *caller's* PID namespace
 * (fs/locks.c, locks_translate_pid): the host sees the host pid, a probe inside the holder's
 * namespace (or any namespace between) sees that level's NSpid column, and a probe from a sibling
 * namespace, where the holder is invisible, gets l_pid 0 with the lock type still reported.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {probeOfdLock, probePosixLock} from '../../src/native/binding'
import {evidence, withEvidence} from '../helpers/evidence'
import {Holder, spawnHolder} from '../helpers/lock-holders'
import {pidnsInodeOf} from '../helpers/proc'
import {LockProbeResult, lockProbeArgv, parseJsonResult, runIn, runInSiblingNs} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'

let dir: string
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => stopAll())

function probeHere(file: string): Pick<LockProbeResult, 'posix' | 'ofd'> {
  const fd = fs.openSync(file, 'r')
  try {
    return {posix: probePosixLock(fd), ofd: probeOfdLock(fd)}
  } finally {
    fs.closeSync(fd)
  }
}

describe('POSIX holder pid as F_GETLK reports it, by namespace of the caller', () => {
  test('level 0: the host sees the holder pid; NSpid has one column', async () => {
    const file = path.join(dir, 'posix-0.pid')
    const h = await spawnHolder({kind: 'posix', file, writePid: true})
    try {
      const host = probeHere(file)
      await withEvidence(
        () => {
          expect(h.nspid).toEqual([h.hostPid])
          expect(h.innerPid).toBe(h.hostPid)
          expect(host).toEqual({posix: {type: 'write', pid: h.hostPid}, ofd: {type: 'write', pid: h.hostPid}})
          expect(fs.readFileSync(file, 'utf8')).toBe(String(h.hostPid))
        },
        () => evidence({holder: h}),
      )
    } finally {
      await h.stop()
    }
  })

  test.each([1, 2, 3])('%i nested level(s): host pid on the host, each level its own NSpid column, 0 from a sibling', async (levels) => {
    const file = path.join(dir, `posix-${levels}.pid`)
    const h: Holder = await spawnHolder({kind: 'posix', file, levels, writePid: true})
    try {
      // One probe per level k = 1..levels, run in the namespace of that level's pid 1; and one sibling.
      const [sibling, ...inside] = await Promise.all([
        runInSiblingNs(lockProbeArgv(file)),
        ...h.nsTargets.map((target) => runIn(target, lockProbeArgv(file))),
      ]).then((results) => results.map((r) => parseJsonResult<LockProbeResult>(r)))
      const host = probeHere(file)
      await withEvidence(
        () => {
          expect(h.nspid).toHaveLength(levels + 1)
          expect(h.nspid[0]).toBe(h.hostPid)
          // Under mini-init the holder is pid 2 of the innermost namespace.
          expect(h.innerPid).toBe(2)
          expect(fs.readFileSync(file, 'utf8')).toBe('2')
          // The test's namespace: the host pid, through both F_GETLK and F_OFD_GETLK (a POSIX lock
          // keeps its owner's pid under F_OFD_GETLK; only OFD locks give -1).
          expect(host).toEqual({posix: {type: 'write', pid: h.hostPid}, ofd: {type: 'write', pid: h.hostPid}})
          // Level k sees column k of NSpid; the innermost sees what the holder's getpid() returns.
          expect(inside.map((r) => r.posix)).toEqual(h.nspid.slice(1).map((pid) => ({type: 'write', pid})))
          expect(inside.map((r) => r.ofd)).toEqual(h.nspid.slice(1).map((pid) => ({type: 'write', pid})))
          expect(inside[levels - 1].posix.pid).toBe(h.innerPid)
          // Each prober really ran at its level: its pid namespace is that of the level's pid 1.
          expect(inside.map((r) => r.pidns)).toEqual(h.nsTargets.map((t) => `pid:[${pidnsInodeOf(t.hostPid)}]`))
          // A sibling namespace cannot see the holder: l_pid 0, but the lock is still reported.
          expect(sibling.posix).toEqual({type: 'write', pid: 0})
          expect(sibling.ofd).toEqual({type: 'write', pid: 0})
          expect(sibling.self).toBe(1)
          expect([h.pidnsInode, ...h.nsTargets.map((t) => pidnsInodeOf(t.hostPid))]).not.toContain(Number(/\d+/.exec(sibling.pidns)![0]))
        },
        () => `${evidence({holder: h})}\nhost probe ${JSON.stringify(host)}\nlevel probes ${JSON.stringify(inside)}\nsibling ${JSON.stringify(sibling)}`,
      )
    } finally {
      await h.stop()
    }
  })
})
