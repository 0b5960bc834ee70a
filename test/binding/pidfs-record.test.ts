/**
 * The foundation of issue 20 against the real kernel: pidfs ids (fstat of a pidfd) as coreutils
 * stat(1) sees them through /proc/PID/fd, PIDFD_GET_INFO on a pinned process, pinPid()'s refusals,
 * NSLOCATE_FORCE_FALLBACK, the addon's xattr calls, and the identity record's judgements, including
 * on a file system that keeps no user xattrs (ramfs).
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {bootId, forcedOff, idOfPid, openById, parsePidRef, pidfsAvailable, pidfsId, pinPid} from '../../src/kernel/pidfs'
import {RECORD_XATTR, formatRecord, parseRecord, readRecord, writeRecord} from '../../src/locate/record'
import {pidfdOpen, xattrGet, xattrRemove, xattrSet} from '../../src/native/binding'
import {proc} from '../../src/proc/proc-fs'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'

let dir: string
let ramfs: string | null = null
beforeAll(() => {
  dir = tempDir()
  ramfs = fs.mkdtempSync('/tmp/nslocate-ramfs-')
  execFileSync('mount', ['-t', 'ramfs', '-o', 'mode=0755', 'none', ramfs])
})
afterAll(async () => {
  await stopAll()
  if (ramfs) {
    execFileSync('umount', [ramfs])
    fs.rmdirSync(ramfs)
  }
})

/** stat -L -c %i of /proc/self/fd/FD as coreutils reads it: another program's view of the same inode. */
function statIno(pid: number, fd: number): number {
  return Number(execFileSync('stat', ['-L', '-c', '%i', `/proc/${pid}/fd/${fd}`], {encoding: 'utf8'}).trim())
}

function starttime(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19])
}

async function sleeper(): Promise<number> {
  const child = spawnTracked(['sleep', '100'])
  await sleep(20)
  return child.pid!
}

describe('pidfs ids', () => {
  test('this kernel (6.18) has pidfs and PIDFD_GET_INFO', () => {
    expect(pidfsAvailable()).toBe(true)
    expect(forcedOff('pidfs')).toBe(false)
  })

  test("a pidfd's id is the inode stat(1) reports for it, and differs between processes", async () => {
    const a = await sleeper()
    const b = await sleeper()
    const fa = pidfdOpen(a)
    const fb = pidfdOpen(b)
    const fa2 = pidfdOpen(a)
    try {
      const ia = pidfsId(fa)!
      expect(ia).toBe(statIno(process.pid, fa))
      expect(pidfsId(fa2)).toBe(ia) // two pidfds, one process: one id
      expect(pidfsId(fb)).not.toBe(ia)
      expect(idOfPid(a, starttime(a), proc)).toBe(ia)
    } finally {
      for (const fd of [fa, fb, fa2]) fs.closeSync(fd)
    }
  })

  test('pinPid: the kernel reports the pinned pid; a wrong start time, a gone pid, or a captured /proc give null', async () => {
    const a = await sleeper()
    const p = pinPid(a, starttime(a), proc)!
    try {
      expect(p.info?.pid).toBe(a)
      expect(p.info?.ppid).toBe(process.pid)
      expect(p.info?.ruid).toBe(process.getuid!())
    } finally {
      fs.closeSync(p.fd)
    }
    expect(pinPid(a, starttime(a) + 1, proc)).toBeNull()
    process.kill(a, 'SIGKILL')
    // gone once it has died and node has reaped it (a fixed 50 ms can end before, on a loaded machine)
    for (let i = 0; i < 1000 && fs.existsSync(`/proc/${a}`); i++) await sleep(10)
    expect(pinPid(a, null, proc)).toBeNull()
    expect(pinPid(process.pid, null, new (proc.constructor as new (root: string) => typeof proc)('/tmp'))).toBeNull()
  })

  test('NSLOCATE_FORCE_FALLBACK=pidfs,pidfd-info turns both off in a fresh process', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        `const k=require(${JSON.stringify(path.resolve('dist/src/kernel/pidfs.js'))});const b=require(${JSON.stringify(path.resolve('dist/src/native/binding.js'))});const fd=b.pidfdOpen(process.pid);console.log(JSON.stringify([k.pidfsAvailable(),k.pidfsId(fd),k.pinnedInfo(fd)]))`,
      ],
      {encoding: 'utf8', env: {...process.env, NSLOCATE_FORCE_FALLBACK: 'pidfs,pidfd-info'}},
    )
    expect(JSON.parse(out)).toEqual([false, null, null])
  })

  test('openById: a live process is reopened from its id alone; a reaped one is gone; a plain file is no pidfd', async () => {
    const child = spawnTracked(['sleep', '100'])
    await sleep(20)
    const fd = pidfdOpen(child.pid!)
    const id = pidfsId(fd)!
    fs.closeSync(fd)
    const again = openById(id)
    if (typeof again === 'string') throw new Error(`openById: ${again}`)
    try {
      expect(pidfsId(again.fd)).toBe(id)
      expect(statIno(process.pid, again.fd)).toBe(id)
    } finally {
      fs.closeSync(again.fd)
    }
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    await sleep(20)
    expect(openById(id)).toBe('gone')
    const file = fs.openSync(path.join(dir, 'plain'), 'w')
    try {
      expect(pidfsId(file)).toBeNull()
    } finally {
      fs.closeSync(file)
    }
  })

  test('NSLOCATE_FORCE_FALLBACK=pidfs-handle: openById is unsupported', () => {
    const out = execFileSync(
      process.execPath,
      ['-e', `const k=require(${JSON.stringify(path.resolve('dist/src/kernel/pidfs.js'))});console.log(JSON.stringify([k.pidfsAvailable(),k.openById(2)]))`],
      {encoding: 'utf8', env: {...process.env, NSLOCATE_FORCE_FALLBACK: 'pidfs-handle'}},
    )
    expect(JSON.parse(out)).toEqual([true, 'unsupported'])
  })

  test('pidOfPidfd: the pid here from PIDFD_GET_INFO, or from /proc/self/fdinfo when the ioctl is turned off; liveProc on our own /proc', () => {
    const script = `const k=require(${JSON.stringify(path.resolve('dist/src/kernel/pidfs.js'))});const b=require(${JSON.stringify(path.resolve('dist/src/native/binding.js'))});const {proc}=require(${JSON.stringify(path.resolve('dist/src/proc/proc-fs.js'))});const fd=b.pidfdOpen(process.pid);console.log(JSON.stringify([k.pidOfPidfd(fd)===process.pid,process.pid,k.liveProc(proc),k.inInitialPidns()]))`
    for (const env of [{}, {NSLOCATE_FORCE_FALLBACK: 'pidfd-info'}]) {
      const out = execFileSync(process.execPath, ['-e', script], {encoding: 'utf8', env: {...process.env, ...env}})
      expect(JSON.parse(out)).toEqual([true, expect.any(Number), true, true])
    }
    // In a fresh PID namespace with its own /proc: the pid there, our /proc, not the initial namespace.
    const inner = execFileSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '-e', script], {encoding: 'utf8'})
    expect(JSON.parse(inner)).toEqual([true, 1, true, false])
    // Without --mount-proc, /proc is the host's: not live for the new namespace's pids.
    const foreign = execFileSync('unshare', ['--pid', '--fork', '--kill-child', process.execPath, '-e', script], {encoding: 'utf8'})
    expect(JSON.parse(foreign).slice(1, 3)).toEqual([1, false])
  })

  test('PID:ID parses strictly', () => {
    expect(parsePidRef('12:34')).toEqual({pid: 12, id: 34})
    expect(parsePidRef('12')).toEqual({pid: 12, id: null})
    for (const bad of ['', '0:1', '1:0', '-1:2', '1:2:3', ' 1:2', '1:2 ', '01:2', '1:x', '99999999999:1', '1:99999999999999999'])
      expect(parsePidRef(bad)).toBeNull()
  })

  test("the boot id is the kernel's", () => {
    expect(bootId()).toBe(fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())
  })
})

describe('xattr calls', () => {
  test('get (absent: null), set, get, bounded get (ERANGE), remove (twice)', () => {
    const f = path.join(dir, 'x')
    fs.writeFileSync(f, '1')
    const fd = fs.openSync(f, 'r+')
    try {
      expect(xattrGet(fd, 'user.t')).toBeNull()
      xattrSet(fd, 'user.t', Buffer.from('hello'))
      expect(xattrGet(fd, 'user.t')?.toString()).toBe('hello')
      expect(
        execFileSync('sh', ['-c', `/usr/bin/python3 -c 'import os,sys;print(os.getxattr(sys.argv[1],"user.t").decode())' ${f}`], {encoding: 'utf8'}).trim(),
      ).toBe('hello')
      expect(() => xattrGet(fd, 'user.t', 3)).toThrow(expect.objectContaining({code: 'ERANGE'}))
      xattrRemove(fd, 'user.t')
      xattrRemove(fd, 'user.t')
      expect(xattrGet(fd, 'user.t')).toBeNull()
    } finally {
      fs.closeSync(fd)
    }
  })

  test('a file system without user xattrs (ramfs) says EOPNOTSUPP', () => {
    const f = path.join(ramfs!, 'x')
    fs.writeFileSync(f, '1')
    const fd = fs.openSync(f, 'r+')
    try {
      expect(() => xattrSet(fd, 'user.t', Buffer.from('1'))).toThrow(expect.objectContaining({code: 'EOPNOTSUPP'}))
    } finally {
      fs.closeSync(fd)
      fs.unlinkSync(f)
    }
  })
})

describe('the identity record', () => {
  function pidfile(where: string, pid: number): number {
    const f = path.join(where, `r${Math.random().toString(36).slice(2)}.pid`)
    fs.writeFileSync(f, String(pid))
    return fs.openSync(f, 'r+')
  }

  test('written, then read back as current; the stored text is the documented format', async () => {
    const a = await sleeper()
    const fd = pidfile(dir, a)
    try {
      const id = idOfPid(a, starttime(a), proc)!
      const w = writeRecord(fd, a, id)
      expect('recorded' in w).toBe(true)
      const text = xattrGet(fd, RECORD_XATTR)!.toString('latin1')
      const mtime = fs.fstatSync(fd, {bigint: true}).mtimeNs
      expect(text).toBe(`v1 pid=${a} pidfd_id=${id} boot_id=${bootId()} mtime=${mtime}`)
      expect(readRecord(fd, a)).toEqual({kind: 'current', record: parseRecord(text)})
    } finally {
      fs.closeSync(fd)
    }
  })

  test('voided by a rewrite of the content (even the same pid), by another pid, and by malformed text; another boot is previous_boot', async () => {
    const a = await sleeper()
    const fd = pidfile(dir, a)
    try {
      writeRecord(fd, a, idOfPid(a, null, proc))
      expect(readRecord(fd, a + 1)).toMatchObject({kind: 'ignored'})
      const good = parseRecord(xattrGet(fd, RECORD_XATTR)!.toString('latin1'))
      if (typeof good === 'string') throw new Error(good)
      xattrSet(fd, RECORD_XATTR, Buffer.from(formatRecord({...good, bootId: '00000000-1111-2222-3333-444444444444'})))
      expect(readRecord(fd, a)).toMatchObject({kind: 'previous_boot', bootId: bootId()})
      xattrSet(fd, RECORD_XATTR, Buffer.from(formatRecord(good) + ' '))
      expect(readRecord(fd, a)).toMatchObject({kind: 'ignored', record: null})
      xattrSet(fd, RECORD_XATTR, Buffer.alloc(300, 'v'))
      expect(readRecord(fd, a)).toMatchObject({kind: 'ignored', record: null})
      xattrSet(fd, RECORD_XATTR, Buffer.from(formatRecord(good)))
      expect(readRecord(fd, a).kind).toBe('current')
      await sleep(20) // more than a clock tick (the mtime's granularity without fine-grained timestamps)
      fs.writeSync(fd, String(a), 0) // the same pid, written again by someone else: the mtime moves
      expect(readRecord(fd, a)).toMatchObject({kind: 'ignored', why: expect.stringContaining('rewritten')})
    } finally {
      fs.closeSync(fd)
    }
  })

  test('on ramfs nothing is recorded and nothing is read', async () => {
    const a = await sleeper()
    const fd = pidfile(ramfs!, a)
    try {
      expect(writeRecord(fd, a, idOfPid(a, null, proc))).toEqual({why: expect.stringContaining('no user extended attributes')})
      expect(readRecord(fd, a)).toEqual({kind: 'none', why: expect.stringContaining('no user extended attributes')})
    } finally {
      fs.closeSync(fd)
      for (const f of fs.readdirSync(ramfs!)) fs.unlinkSync(path.join(ramfs!, f))
    }
  })
})
