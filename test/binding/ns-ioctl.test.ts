/**
 * nsfs ioctls on /proc/PID/ns/pid (ioctl_ns(2), include/uapi/linux/nsfs.h):
 *   NS_GET_ID              a 64-bit id that, unlike the inode, is not reused
 *   NS_GET_PID_FROM_PIDNS  pid as numbered inside the namespace -> the caller's number
 *   NS_GET_PID_IN_PIDNS    the caller's number -> the number inside the namespace
 * Checked against the NSpid line of real holders 1..3 levels down.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {NS_TRANSLATE_UNSUPPORTED, nsId, nsPidFromPidns, nsPidInPidns} from '../../src/native/binding'
import {evidence, withEvidence} from '../helpers/evidence'
import {Holder, spawnHolder} from '../helpers/lock-holders'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

let dir: string
const holders: Holder[] = []
const open: number[] = []
beforeAll(async () => {
  dir = tempDir()
  for (const levels of [1, 2, 3]) holders.push(await spawnHolder({kind: 'none', file: path.join(dir, `ns-${levels}`), levels}))
})
afterAll(async () => {
  for (const fd of open.splice(0)) fs.closeSync(fd)
  await stopAll()
})

function nsFd(pid: number): number {
  const fd = fs.openSync(`/proc/${pid}/ns/pid`, 'r')
  open.push(fd)
  return fd
}

describe('nsId', () => {
  test('a bigint, equal within a namespace, different across namespaces, not the inode', () => {
    const child = spawnTracked(['sleep', '30'])
    const self = nsId(nsFd(process.pid))
    const sameNs = nsId(nsFd(child.pid!))
    const ids = holders.map((h) => nsId(nsFd(h.hostPid)))
    // Two processes of the same nested namespace: the holder and its mini-init.
    const holderAgain = nsId(nsFd(holders[2].nsTargets[2].hostPid))
    child.kill('SIGKILL')
    expect(typeof self).toBe('bigint')
    expect(sameNs).toBe(self)
    expect(holderAgain).toBe(ids[2])
    expect(new Set([self, ...ids]).size).toBe(4)
    expect(ids.map((id) => id === BigInt(0))).toEqual([false, false, false])
    const inode = BigInt(holders[0].pidnsInode)
    expect(ids[0]).not.toBe(inode)
  })
})

describe('pid translation', () => {
  test.each([1, 2, 3])('%i level(s): FROM_PIDNS(inner pid) is the host pid, IN_PIDNS(host pid) each NSpid column', async (levels) => {
    const h = holders[levels - 1]
    await withEvidence(
      () => {
        const fd = nsFd(h.hostPid)
        expect(nsPidFromPidns(fd, h.innerPid)).toBe(h.hostPid)
        expect(nsPidInPidns(fd, h.hostPid)).toBe(h.innerPid)
        // Every level: the caller's pid -> that level's NSpid column, and back.
        const levelFds = h.nsTargets.map((t) => nsFd(t.hostPid))
        expect(levelFds.map((f) => nsPidInPidns(f, h.hostPid))).toEqual(h.nspid.slice(1))
        expect(levelFds.map((f, k) => nsPidFromPidns(f, h.nspid[k + 1]))).toEqual(levelFds.map(() => h.hostPid))
        // pid 1 of each level is that level's init.
        expect(levelFds.map((f) => nsPidFromPidns(f, 1))).toEqual(h.nsTargets.map((t) => t.hostPid))
      },
      () => evidence({holder: h}),
    )
  })

  test('a pid that is not visible gives null', () => {
    const [a, b] = holders
    const fdA = nsFd(a.hostPid)
    expect(nsPidInPidns(fdA, process.pid)).toBeNull() // the test process is outside (above) the namespace
    expect(nsPidInPidns(fdA, b.hostPid)).toBeNull() // a holder in a sibling namespace
    expect(nsPidFromPidns(fdA, 4000)).toBeNull() // nothing has that number in there
    expect(nsPidFromPidns(fdA, 3)).toBeNull() // only mini-init (1) and the holder (2) live there
    expect(nsPidFromPidns(fdA, 2)).toBe(a.hostPid)
  })

  test('this kernel supports the ioctls (6.11+), so no fallback symbol is returned', () => {
    const fd = nsFd(process.pid)
    expect(nsPidInPidns(fd, process.pid)).toBe(process.pid)
    expect(nsPidFromPidns(fd, process.pid)).not.toBe(NS_TRANSLATE_UNSUPPORTED)
  })
})
