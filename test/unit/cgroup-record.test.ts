/**
 * Issue 22: the parts of the service cgroup that are pure text and paths (src/cgroup/service.ts,
 * src/cgroup/v2.ts): the record beside the pid (`user.nslocate.cgroup`, parsed strictly: it is
 * read from files others may have written), the leaf's name, the mapping of a v2 cgroup path to a
 * directory through synthetic mounts (directories made here, holding a cgroup.procs), and the
 * cgroup2 lines of a mountinfo file written here.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {CgroupRecord, formatCgroupRecord, leafName, parseCgroupRecord} from '../../src/cgroup/service'
import {dirOfV2Path, v2Mounts} from '../../src/cgroup/v2'

const BOOT = '0f8fad5b-d9cb-469f-a165-70867728950e'
/** A path of the shape run makes: .../nslocate/NAME-HASH */
const P = '/nslocate/web-0123abcd'

describe('parseCgroupRecord / formatCgroupRecord', () => {
  const roundTrips: Array<[string, CgroupRecord, string]> = [
    ['a cgroup run made', {kind: 'made', path: P, ino: 93410, bootId: BOOT}, `v1 path=${P} ino=93410 boot_id=${BOOT}`],
    [
      'one under a systemd unit',
      {kind: 'made', path: '/system.slice/app@1.service/nslocate/w.e_b@x-ffffffff', ino: 1, bootId: BOOT},
      `v1 path=/system.slice/app@1.service/nslocate/w.e_b@x-ffffffff ino=1 boot_id=${BOOT}`,
    ],
    [
      'one under a test cgroup',
      {kind: 'made', path: '/nsl-tp-1/nslocate/_-00000000', ino: 2, bootId: BOOT},
      `v1 path=/nsl-tp-1/nslocate/_-00000000 ino=2 boot_id=${BOOT}`,
    ],
    ['the largest safe inode', {kind: 'made', path: P, ino: Number.MAX_SAFE_INTEGER, bootId: BOOT}, `v1 path=${P} ino=9007199254740991 boot_id=${BOOT}`],
    ['why none was made', {kind: 'none', why: 'no cgroup v2 hierarchy is mounted here'}, 'v1 none why=no cgroup v2 hierarchy is mounted here'],
    [
      'a why with punctuation and a path',
      {
        kind: 'none',
        why: 'cannot create /sys/fs/cgroup/unified/nslocate (EACCES): making a cgroup needs write access there (root, or a subtree delegated to this user)',
      },
      'v1 none why=cannot create /sys/fs/cgroup/unified/nslocate (EACCES): making a cgroup needs write access there (root, or a subtree delegated to this user)',
    ],
  ]
  test.each(roundTrips)('round trip: %s', (_what, record, text) => {
    expect(formatCgroupRecord(record)).toBe(text)
    expect(parseCgroupRecord(text)).toEqual(record)
  })

  test('the longest accepted: a path of 401 characters, a why of 400', () => {
    const long = `/${'a'.repeat(400 - P.length)}${P}`
    expect(long).toHaveLength(401)
    const made: CgroupRecord = {kind: 'made', path: long, ino: 5, bootId: BOOT}
    expect(parseCgroupRecord(formatCgroupRecord(made))).toEqual(made)
    const none: CgroupRecord = {kind: 'none', why: 'w'.repeat(400)}
    expect(parseCgroupRecord(formatCgroupRecord(none))).toEqual(none)
  })

  test('what formatCgroupRecord writes, parseCgroupRecord reads: a why too long for the record is cut, not left unreadable', () => {
    // run's why for a caller deep in a Kubernetes pod's cgroup on a v1 hybrid (no cgroup namespace), with a long NAME
    const dir = `/sys/fs/cgroup/unified/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1e2d4c_5b6a_4c7d_8e9f_0a1b2c3d4e5f.slice/cri-containerd-${'0123456789abcdef'.repeat(4)}.scope/nslocate/${'n'.repeat(64)}-0123abcd`
    const why = `cannot create ${dir} (EACCES): making a cgroup needs write access there (root, or a subtree delegated to this user)`
    expect(why.length).toBeGreaterThan(400)
    const r = parseCgroupRecord(formatCgroupRecord({kind: 'none', why}))
    expect(r).toEqual({kind: 'none', why: expect.any(String)})
    expect(why.startsWith((r as {why: string}).why.slice(0, 100))).toBe(true)
  })

  test('control characters in a why are written as spaces (the record stays one line, and parses)', () => {
    const text = formatCgroupRecord({kind: 'none', why: 'a\nb\tc\x00d\x7fe\x1b[31m'})
    expect(text).toBe('v1 none why=a b c d e [31m')
    expect(parseCgroupRecord(text)).toEqual({kind: 'none', why: 'a b c d e [31m'})
  })

  const rejected: Array<[string, string]> = [
    ['empty', ''],
    ['junk', 'garbage'],
    ['binary', '\x00\x01\x02\xff'],
    ['version 0', `v0 path=${P} ino=1 boot_id=${BOOT}`],
    ['version 2', `v2 path=${P} ino=1 boot_id=${BOOT}`],
    ['no version', `path=${P} ino=1 boot_id=${BOOT}`],
    ['a version in capitals', `V1 path=${P} ino=1 boot_id=${BOOT}`],
    // the path
    ['a relative path', `v1 path=nslocate/web-0123abcd ino=1 boot_id=${BOOT}`],
    ['a path with ..', `v1 path=/nslocate/../../etc/nslocate/web-0123abcd ino=1 boot_id=${BOOT}`],
    ['a path that is ..', `v1 path=/.. ino=1 boot_id=${BOOT}`],
    ['a path ending in ..', `v1 path=${P}/.. ino=1 boot_id=${BOOT}`],
    ['a path with a . component', `v1 path=/./nslocate/web-0123abcd ino=1 boot_id=${BOOT}`],
    ['a path with an empty component', `v1 path=//nslocate/web-0123abcd ino=1 boot_id=${BOOT}`],
    ['a path with a trailing slash', `v1 path=${P}/ ino=1 boot_id=${BOOT}`],
    ['the root', `v1 path=/ ino=1 boot_id=${BOOT}`],
    ['a path that is not a service cgroup', `v1 path=/system.slice/sshd.service ino=1 boot_id=${BOOT}`],
    ['the services directory itself', `v1 path=/nslocate ino=1 boot_id=${BOOT}`],
    ['a leaf without its hash', `v1 path=/nslocate/web ino=1 boot_id=${BOOT}`],
    ['a leaf with a hash in capitals', `v1 path=/nslocate/web-0123ABCD ino=1 boot_id=${BOOT}`],
    ['a leaf outside a services directory', `v1 path=/other/web-0123abcd ino=1 boot_id=${BOOT}`],
    ['a path with a space', `v1 path=/my app${P} ino=1 boot_id=${BOOT}`],
    ['a path with a newline', `v1 path=/a\n${P} ino=1 boot_id=${BOOT}`],
    ['a path with a tab', `v1 path=/a\t${P} ino=1 boot_id=${BOOT}`],
    ['a path with NUL', `v1 path=/a\x00${P} ino=1 boot_id=${BOOT}`],
    ['a path with DEL', `v1 path=/a\x7f${P} ino=1 boot_id=${BOOT}`],
    ['a path over 401 characters', `v1 path=/${'a'.repeat(401 - P.length)}${P} ino=1 boot_id=${BOOT}`],
    // the inode
    ['inode 0', `v1 path=${P} ino=0 boot_id=${BOOT}`],
    ['an inode with a leading zero', `v1 path=${P} ino=0123 boot_id=${BOOT}`],
    ['a negative inode', `v1 path=${P} ino=-1 boot_id=${BOOT}`],
    ['an inode past 2^53', `v1 path=${P} ino=9007199254740993 boot_id=${BOOT}`],
    ['a huge inode', `v1 path=${P} ino=${'9'.repeat(20)} boot_id=${BOOT}`],
    ['an inode of 21 digits', `v1 path=${P} ino=${'1'.repeat(21)} boot_id=${BOOT}`],
    ['a hex inode', `v1 path=${P} ino=0x10 boot_id=${BOOT}`],
    ['no inode', `v1 path=${P} boot_id=${BOOT}`],
    // the boot id, the layout
    ['no boot id', `v1 path=${P} ino=1`],
    ['a boot id in capitals', `v1 path=${P} ino=1 boot_id=${BOOT.toUpperCase()}`],
    ['a short boot id', `v1 path=${P} ino=1 boot_id=0f8fad5b-d9cb-469f-a165-70867728950`],
    ['fields in another order', `v1 ino=1 path=${P} boot_id=${BOOT}`],
    ['two spaces', `v1  path=${P} ino=1 boot_id=${BOOT}`],
    ['a trailing newline', `v1 path=${P} ino=1 boot_id=${BOOT}\n`],
    ['a trailing field', `v1 path=${P} ino=1 boot_id=${BOOT} extra=1`],
    ['a leading space', ` v1 path=${P} ino=1 boot_id=${BOOT}`],
    // none
    ['none without a why', 'v1 none'],
    ['none with an empty why', 'v1 none why='],
    ['none with a newline in its why', 'v1 none why=a\nb'],
    ['none with an escape in its why', 'v1 none why=a\x1b[2Jb'],
    ['none with NUL in its why', 'v1 none why=a\x00'],
    ['none with a why over 400 characters', `v1 none why=${'w'.repeat(401)}`],
    ['none with the fields of a made one instead of a why', `v1 none path=${P} ino=1 boot_id=${BOOT}`],
  ]
  test.each(rejected)('rejected: %s', (_what, text) => {
    const r = parseCgroupRecord(text)
    expect(typeof r).toBe('string')
  })

  test('a rejection says why on one line, quoting at most the first 60 characters, escaped', () => {
    const junk = `junk\n\x1b[31m${'x'.repeat(100)}`
    const r = parseCgroupRecord(junk) as string
    // eslint-disable-next-line no-control-regex
    expect(r).not.toMatch(/[\x00-\x1f\x7f]/)
    expect(r).toMatch(/is not a version 1 cgroup record$/)
    expect(r).toContain('junk\\n\\u001b[31m')
    expect(r.length).toBeLessThan(120)
  })

  test('an inode out of range, and a path that is not one run makes, are named as such', () => {
    expect(parseCgroupRecord(`v1 path=${P} ino=${'9'.repeat(20)} boot_id=${BOOT}`)).toMatch(/inode is out of range/)
    expect(parseCgroupRecord(`v1 path=/nslocate/../b-0123abcd ino=1 boot_id=${BOOT}`)).toMatch(/^its path \/nslocate\/\.\.\/b-0123abcd is not a service cgroup/)
    expect(parseCgroupRecord(`v1 path=/system.slice ino=1 boot_id=${BOOT}`)).toMatch(/^its path \/system\.slice is not a service cgroup/)
  })

  test('names that only look like ..: a cgroup named "..." or a NAME "a..b" is a path like any other', () => {
    expect(parseCgroupRecord(`v1 path=/.../nslocate/a..b-0123abcd ino=7 boot_id=${BOOT}`)).toEqual({
      kind: 'made',
      path: '/.../nslocate/a..b-0123abcd',
      ino: 7,
      bootId: BOOT,
    })
  })

  test('every leaf leafName makes, under a services directory, is a path the parser takes', () => {
    for (const name of ['web', 'a b', '..', '.x', '', 'n'.repeat(300), 'x..', '😀']) {
      const p = `/system.slice/x.service/nslocate/${leafName(name, '/run/x.pid')}`
      expect(parseCgroupRecord(formatCgroupRecord({kind: 'made', path: p, ino: 3, bootId: BOOT}))).toEqual({kind: 'made', path: p, ino: 3, bootId: BOOT})
    }
  })
})

describe('leafName', () => {
  const hashOf = (p: string) => crypto.createHash('sha256').update(p).digest('hex').slice(0, 8)

  test('NAME, a dash and the first 8 hex digits of the SHA-256 of the absolute pidfile path', () => {
    expect(leafName('web', '/run/web.pid')).toBe(`web-${hashOf('/run/web.pid')}`)
    expect(leafName('web', '/run/web.pid')).toMatch(/^web-[0-9a-f]{8}$/)
  })

  test('stable per pidfile: the same file however its path is spelled', () => {
    const a = leafName('web', '/run/web.pid')
    expect(leafName('web', '/run/web.pid')).toBe(a)
    expect(leafName('web', '/run/./x/../web.pid')).toBe(a)
    expect(leafName('web', '//run//web.pid')).toBe(a)
    // a relative path is taken from the working directory
    expect(leafName('web', 'web.pid')).toBe(`web-${hashOf(path.resolve('web.pid'))}`)
  })

  test('differs between pidfiles of one NAME (two --dir), and between NAMEs of one pidfile', () => {
    const names = new Set([
      leafName('web', '/run/web.pid'),
      leafName('web', '/tmp/a/web.pid'),
      leafName('web', '/tmp/b/web.pid'),
      leafName('web', '/run/web.pid2'),
    ])
    expect(names.size).toBe(4)
    expect(leafName('web', '/run/x.pid')).not.toBe(leafName('api', '/run/x.pid'))
    expect(leafName('web', '/run/x.pid').slice(-8)).toBe(leafName('api', '/run/x.pid').slice(-8))
  })

  test.each([
    ['a/b c', 'a_b_c'],
    ['naïve', 'na_ve'],
    ['tab\there', 'tab_here'],
    ['new\nline', 'new_line'],
    ['.hidden', '_hidden'],
    ['...', '_'],
    ['..', '_'],
    ['.', '_'],
    ['a.b', 'a.b'],
    ['x..', 'x..'],
    ['A-Z_a-z.0-9@host', 'A-Z_a-z.0-9@host'],
    ['', '_'],
    ['cgroup.procs', 'cgroup.procs'],
  ])('sanitized: %j -> %j-HASH', (name, safe) => {
    const leaf = leafName(name, '/run/x.pid')
    expect(leaf).toBe(`${safe}-${hashOf('/run/x.pid')}`)
    expect(leaf).toMatch(/^[A-Za-z0-9_@-][A-Za-z0-9_.@-]*-[0-9a-f]{8}$/)
    expect(leaf).not.toContain('/')
  })

  test('a long NAME is cut to 64 characters (the leaf stays far below NAME_MAX)', () => {
    const leaf = leafName('n'.repeat(300), '/run/x.pid')
    expect(leaf).toBe(`${'n'.repeat(64)}-${hashOf('/run/x.pid')}`)
    expect(Buffer.byteLength(leaf)).toBeLessThanOrEqual(255)
  })

  test('every leaf is a single safe path component, whatever NAME is', () => {
    for (const name of ['..', '../../etc', '/', '\x00', ' ', '-', '-rf', '😀', 'a'.repeat(1000)]) {
      const leaf = leafName(name, '/run/x.pid')
      expect(leaf.startsWith('.') || leaf.includes('/') || leaf.includes('\0')).toBe(false)
      expect(path.basename(leaf)).toBe(leaf)
      expect(leaf).not.toBe('..')
    }
  })
})

describe('dirOfV2Path through synthetic mounts', () => {
  let root: string
  let mnt: string
  let other: string
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-cgunit-'))
    mnt = path.join(root, 'mnt')
    other = path.join(root, 'other')
    // a cgroup directory is one that has cgroup.procs
    for (const d of ['mnt', 'mnt/a', 'mnt/a/b', 'mnt/nslocate', 'mnt/nslocate/web-0123abcd', 'mnt/nocg', 'other', 'other/x'])
      fs.mkdirSync(path.join(root, d), {recursive: true})
    for (const d of ['mnt', 'mnt/a', 'mnt/a/b', 'mnt/nslocate', 'mnt/nslocate/web-0123abcd', 'other', 'other/x'])
      fs.writeFileSync(path.join(root, d, 'cgroup.procs'), '')
  })
  afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

  test('a mount of the root ("/"): every path below it', () => {
    const mounts = [{mountpoint: mnt, root: '/'}]
    // (the root comes back as "MNT/": the same directory)
    expect(path.resolve(dirOfV2Path('/', mounts) ?? '')).toBe(mnt)
    expect(dirOfV2Path('/a', mounts)).toBe(path.join(mnt, 'a'))
    expect(dirOfV2Path('/a/b', mounts)).toBe(path.join(mnt, 'a/b'))
    expect(dirOfV2Path('/nslocate/web-0123abcd', mounts)).toBe(path.join(mnt, 'nslocate/web-0123abcd'))
  })

  test('a mount of a subtree: paths under its root map below the mount point', () => {
    const mounts = [{mountpoint: mnt, root: '/system.slice/app.service'}]
    expect(dirOfV2Path('/system.slice/app.service', mounts)).toBe(mnt)
    expect(dirOfV2Path('/system.slice/app.service/a/b', mounts)).toBe(path.join(mnt, 'a/b'))
    expect(dirOfV2Path('/system.slice/app.service/nslocate/web-0123abcd', mounts)).toBe(path.join(mnt, 'nslocate/web-0123abcd'))
  })

  test("a path outside the mount's root is not mapped (a sibling, a parent, a name that only shares a prefix)", () => {
    const mounts = [{mountpoint: mnt, root: '/system.slice/app.service'}]
    expect(dirOfV2Path('/system.slice/other.service', mounts)).toBeNull()
    expect(dirOfV2Path('/system.slice', mounts)).toBeNull()
    expect(dirOfV2Path('/', mounts)).toBeNull()
    expect(dirOfV2Path('/system.slice/app.service2/a', mounts)).toBeNull()
    expect(dirOfV2Path('/system.slice/app.servicea', mounts)).toBeNull()
  })

  test('the first mount that shows the path wins; a mount that does not show it is passed over', () => {
    const mounts = [
      {mountpoint: other, root: '/elsewhere'},
      {mountpoint: mnt, root: '/'},
      {mountpoint: other, root: '/'},
    ]
    expect(dirOfV2Path('/a/b', mounts)).toBe(path.join(mnt, 'a/b'))
    // /x is only a cgroup under the third mount
    expect(dirOfV2Path('/x', mounts)).toBe(path.join(other, 'x'))
    expect(dirOfV2Path('/elsewhere/x', mounts)).toBe(path.join(other, 'x'))
  })

  test('null for a path that exists under no mount, a directory with no cgroup.procs, no mounts at all', () => {
    const mounts = [{mountpoint: mnt, root: '/'}]
    expect(dirOfV2Path('/gone', mounts)).toBeNull()
    expect(dirOfV2Path('/nocg', mounts)).toBeNull()
    expect(dirOfV2Path('/a', [])).toBeNull()
  })

  test('refused: a relative path, and any path with a .. component (even one that would land inside)', () => {
    const mounts = [{mountpoint: mnt, root: '/'}]
    expect(dirOfV2Path('a/b', mounts)).toBeNull()
    expect(dirOfV2Path('', mounts)).toBeNull()
    expect(dirOfV2Path('/a/../a', mounts)).toBeNull()
    expect(dirOfV2Path('/..', mounts)).toBeNull()
    expect(dirOfV2Path('/../other', mounts)).toBeNull()
    expect(dirOfV2Path('/system.slice/app.service/../../other', [{mountpoint: mnt, root: '/system.slice/app.service'}])).toBeNull()
  })
})

describe('v2Mounts over a mountinfo file', () => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-cgunit-'))
  })
  afterAll(() => fs.rmSync(dir, {recursive: true, force: true}))
  const write = (text: string) => {
    const file = path.join(dir, `mountinfo-${Math.random().toString(36).slice(2)}`)
    fs.writeFileSync(file, text)
    return file
  }

  test('the cgroup2 lines of a v1 hybrid, in their order; v1 cgroup, tmpfs and the rest passed over', () => {
    const file = write(
      [
        '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw',
        '30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
        '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
        '32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
        '33 30 0:29 /process_api /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory',
        // a container's view: a subtree of the hierarchy, no optional fields
        '40 22 0:27 /docker/0123abcd /mnt/ctr-cg rw,relatime - cgroup2 cgroup2 rw',
        '',
      ].join('\n'),
    )
    expect(v2Mounts(file)).toEqual([
      {root: '/', mountpoint: '/sys/fs/cgroup/unified'},
      {root: '/docker/0123abcd', mountpoint: '/mnt/ctr-cg'},
    ])
  })

  test('octal escapes (\\040 space, \\011 tab, \\012 newline, \\134 backslash) are undone in the root and the mount point', () => {
    const file = write(
      [
        String.raw`50 22 0:27 /my\040slice/a\011b /mnt/cg\040v2/x\134y rw,relatime shared:3 master:1 - cgroup2 cgroup2 rw`,
        String.raw`51 22 0:27 / /mnt/new\012line rw - cgroup2 none rw`,
        String.raw`52 22 0:27 / /mnt/not\08escape rw - cgroup2 none rw`,
      ].join('\n'),
    )
    expect(v2Mounts(file)).toEqual([
      {root: '/my slice/a\tb', mountpoint: '/mnt/cg v2/x\\y'},
      {root: '/', mountpoint: '/mnt/new\nline'},
      {root: '/', mountpoint: '/mnt/not\\08escape'},
    ])
  })

  test('many optional fields before the separator; a " - " only as the separator', () => {
    const file = write(
      '60 22 0:27 / /sys/fs/cgroup rw,nosuid shared:7 master:2 propagate_from:3 unbindable - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n',
    )
    expect(v2Mounts(file)).toEqual([{root: '/', mountpoint: '/sys/fs/cgroup'}])
  })

  test('a unified host (cgroup2 at /sys/fs/cgroup only): one mount', () => {
    const file = write('35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n')
    expect(v2Mounts(file)).toEqual([{root: '/', mountpoint: '/sys/fs/cgroup'}])
  })

  test('no cgroup2 line, truncated and junk lines, an empty file, a missing file: no mounts (never a throw)', () => {
    expect(v2Mounts(write('22 1 0:21 / / rw - ext4 /dev/vda rw\n'))).toEqual([])
    expect(v2Mounts(write('31 30 0:27 / - cgroup2 cgroup2 rw\n'))).toEqual([])
    expect(v2Mounts(write('junk\n - cgroup2\n\x00\x01\n'))).toEqual([])
    expect(v2Mounts(write(''))).toEqual([])
    expect(v2Mounts(path.join(dir, 'missing'))).toEqual([])
  })
})
