import * as fs from 'node:fs'
import * as path from 'node:path'

import {containerFromCgroup, parseCgroup} from '../../src/proc/parse-cgroup'
import {devMajor, devMinor, parseFdinfoLocks, parseLockLine, parseLocks} from '../../src/proc/parse-locks'
import {isKernelThread, parseStat} from '../../src/proc/parse-stat'
import {parseStatus} from '../../src/proc/parse-status'

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '../../fixtures/proc', name), 'utf8')

describe('parseStatus (captured /proc/PID/status)', () => {
  test('host process: NSpid has one column', () => {
    const s = parseStatus(fixture('status-host.txt'))
    expect(s.nspid).toHaveLength(1)
    expect(s.nspid[0]).toBe(s.pid)
    expect(s.uid).toEqual([0, 0, 0, 0])
  })
  test('two namespace levels deep: outermost first, own pid last', () => {
    const s = parseStatus(fixture('status-nested.txt'))
    expect(s.name).toBe('sleep')
    expect(s.nspid.length).toBe(2)
    expect(s.nspid[0]).toBe(s.pid)
    expect(s.nspid[1]).toBeLessThan(s.nspid[0])
  })
  test.each([
    ['Name:\tx\nPid:\t5\nTgid:\t5\nPPid:\t1\nNSpid:\t12968\t21\t11\t4\n', [12968, 21, 11, 4]],
    ['Name:\tx\nPid:\t5\nTgid:\t5\nPPid:\t1\n', [5]], // kernels before 4.1: no NSpid line
  ])('NSpid from %j', (text, nspid) => {
    expect(parseStatus(text).nspid).toEqual(nspid)
  })
  test.each(['', 'garbage', 'Name:\tx\n'])('malformed %j throws', (text) => {
    expect(() => parseStatus(text)).toThrow(/not a \/proc\/PID\/status/)
  })
  test('name with an escaped newline', () => {
    expect(parseStatus('Name:\ta\\nb\nPid:\t1\nTgid:\t1\n').name).toBe('a\nb')
  })
})

describe('parseStat (captured /proc/PID/stat)', () => {
  test('init', () => {
    const s = parseStat(fixture('stat-init.txt'))
    expect(s.pid).toBe(1)
    expect(s.ppid).toBe(0)
    expect(s.starttime).toBeGreaterThanOrEqual(0)
    expect(isKernelThread(s)).toBe(false)
  })
  test('comm with spaces and parentheses is cut at the last ")"', () => {
    const s = parseStat(fixture('stat-weird-comm.txt'))
    expect(s.comm).toBe('we (ird)) x')
    expect(s.state).toBe('S')
    expect(s.ppid).toBeGreaterThan(0)
  })
  test('kernel thread has PF_KTHREAD', () => {
    const s = parseStat(fixture('stat-kthread.txt'))
    expect(s.comm).toBe('kthreadd')
    expect(isKernelThread(s)).toBe(true)
  })
  test.each(['', '12 noparen S 1', '12 (x) S'])('malformed %j throws', (text) => {
    expect(() => parseStat(text)).toThrow(/not a \/proc\/PID\/stat/)
  })
})

describe('parseLocks (captured /proc/locks and fdinfo)', () => {
  test('every kind', () => {
    const locks = parseLocks(fixture('locks.txt'))
    expect(locks.map((l) => l.kind)).toEqual(expect.arrayContaining(['POSIX', 'FLOCK', 'OFDLCK']))
    const ofd = locks.find((l) => l.kind === 'OFDLCK')!
    expect(ofd.pid).toBe(-1)
    const posix = locks.find((l) => l.kind === 'POSIX')!
    expect(posix.major).toBe(0xfe)
    expect(posix.access).toBe('WRITE')
    expect(posix.end).toBe('EOF')
  })
  test('fdinfo lock: lines', () => {
    const locks = parseFdinfoLocks(fixture('fdinfo-locks.txt'))
    expect(locks.map((l) => l.kind)).toEqual(['POSIX', 'FLOCK', 'OFDLCK'])
  })
  test.each([
    ['1: -> POSIX  ADVISORY  WRITE 99 00:1a:13 0 EOF', null], // a blocked waiter, not a holder
    ['garbage', null],
    ['', null],
    ['7: FLOCK  ADVISORY  WRITE 3549 fe:00:1507580 0 EOF', {kind: 'FLOCK', pid: 3549, major: 254, minor: 0, inode: 1507580}],
    ['12: POSIX  ADVISORY  READ 1 103:02:99 100 200', {kind: 'POSIX', pid: 1, major: 0x103, minor: 2, start: '100', end: '200'}],
  ])('line %j', (line, want) => {
    const got = parseLockLine(line)
    if (want === null) expect(got).toBeNull()
    else expect(got).toMatchObject(want)
  })
  test('dev_t decoding matches glibc (major 254 minor 0, and a large minor)', () => {
    expect([devMajor(65024), devMinor(65024)]).toEqual([254, 0])
    // makedev(259, 300) per glibc: ((300 & 0xff) | ((259 & 0xfff) << 8) | ((300 & ~0xff) << 12))
    const dev = (300 & 0xff) | ((259 & 0xfff) << 8) | ((300 & ~0xff) << 12)
    expect([devMajor(dev), devMinor(dev)]).toEqual([259, 300])
  })
})

describe('containerFromCgroup', () => {
  const id = '3f4e'.repeat(16)
  test.each([
    [`12:pids:/docker/${id}\n0::/docker/${id}`, 'docker'],
    [`0::/system.slice/docker-${id}.scope`, 'docker'],
    [`0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_5678.slice/cri-containerd-${id}.scope`, 'containerd'],
    [`0::/system.slice/crio-${id}.scope`, 'cri-o'],
    [`0::/machine.slice/libpod-${id}.scope`, 'podman'],
    [`0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${id}.scope/container`, 'podman'],
    [`0::/kubepods/besteffort/pod0123abcd-1111-2222-3333-444455556666/${id}`, 'kubernetes'],
  ])('%s -> %s', (text, runtime) => {
    expect(containerFromCgroup(parseCgroup(text))).toMatchObject({id, runtime})
  })
  test.each(['0::/init.scope', '0::/user.slice/user-0.slice/session-1.scope', '', `0::/docker/${id.slice(1)}`])('no container in %j', (text) => {
    expect(containerFromCgroup(parseCgroup(text))).toBeNull()
  })
})
