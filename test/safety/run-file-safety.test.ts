/**
 * issue 12, item 7: another user must not choose which root files `run` writes or deletes. A real
 * unprivileged attacker (test/helpers/users.ts) plants, in a root-owned sticky directory that
 * everyone may write (a /tmp of the test's own), a hard link to a root file, a symbolic link
 * standing for --dir, a directory of hers, and a pidfile of hers. Root's `run` must refuse each
 * with 123 and a message, run nothing, and leave every root file byte-for-byte as it was.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, cliJson, killTracked} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {pidIn, runInBackground} from './run-helpers'

const PRECIOUS = 'root data: must never change\n'

let mallory: TestUser
let base: string
/** root's sticky world-writable directory, as /tmp */
let shared: string
/** root's own directory, holding the files the attacks aim at */
let rootDir: string

beforeAll(() => {
  mallory = createTestUser('runsafe')
  base = tempDir('nslocate-filesafety-')
  fs.chmodSync(base, 0o755)
  shared = path.join(base, 'shared')
  fs.mkdirSync(shared)
  fs.chmodSync(shared, 0o1777)
  rootDir = path.join(base, 'rootdir')
  fs.mkdirSync(rootDir, {mode: 0o755})
})
afterAll(async () => {
  mallory.remove()
  await stopAll()
})
afterEach(() => killTracked())

function asMallory(argv: string[]): void {
  const full = mallory.as(argv)
  const r = spawnSync(full[0], full.slice(1), {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`as ${mallory.name}: ${argv.join(' ')}: ${r.stderr}`)
}

/** A root file of PRECIOUS content; `groupWritable`: her group may write it (what a hard link to it needs, fs.protected_hardlinks=1). */
function rootFile(name: string, groupWritable = false): string {
  const file = path.join(rootDir, name)
  fs.writeFileSync(file, PRECIOUS, {mode: 0o644})
  if (groupWritable) {
    fs.chownSync(file, 0, mallory.gid)
    fs.chmodSync(file, 0o660)
  }
  return file
}

function unchanged(file: string, uid = 0): void {
  expect(fs.existsSync(file)).toBe(true)
  expect(fs.readFileSync(file, 'utf8')).toBe(PRECIOUS)
  expect(fs.statSync(file).uid).toBe(uid)
}

/** root's `run NAME ...ARGS -- touch MARKER`: returns the result and whether the command ran. */
async function rootRun(args: string[]): Promise<{status: number | null; stderr: string; ran: boolean}> {
  const marker = path.join(tempDir('nslocate-marker-'), 'ran')
  const r = await cli(['run', ...args, '--', 'touch', marker])
  return {status: r.status, stderr: r.stderr.trim(), ran: fs.existsSync(marker)}
}

test('a hard link to a root file planted as the pidfile: refused (123); the root file is unchanged', async () => {
  const target = rootFile('hardlink-target', true)
  const planted = path.join(shared, 'hl.pid')
  asMallory(['ln', target, planted])
  const r = await rootRun(['hl', '--dir', shared])
  expect(r).toEqual({
    status: 123,
    ran: false,
    stderr: `nslocate: ${planted} has 2 links: it is another file's name too, which the pid would overwrite; refusing it\nhint: remove ${planted} if it is a leftover`,
  })
  unchanged(target)
  expect(fs.statSync(planted).ino).toBe(fs.statSync(target).ino)
})

test('--dir through her symbolic link to a root directory: refused (123); the root pidfile there is unchanged and still exists', async () => {
  const target = rootFile('sl.pid')
  const link = path.join(shared, 'sl-dir')
  asMallory(['ln', '-s', rootDir, link])
  const r = await rootRun(['sl', '--dir', link])
  expect(r).toEqual({
    status: 123,
    ran: false,
    stderr: `nslocate: ${link} is a symbolic link owned by uid ${mallory.uid}; refusing to follow it\nhint: use a directory owned by root or by you`,
  })
  unchanged(target)
  // The same through --pidfile.
  const p = await rootRun(['sl', '--pidfile', path.join(link, 'sl.pid')])
  expect([p.status, p.ran]).toEqual([123, false])
  unchanged(target)
})

test('a directory of hers on the way (holding a link to a root directory): refused (123); the root pidfile is unchanged', async () => {
  const target = rootFile('md.pid')
  const hers = path.join(shared, 'mallorys')
  asMallory(['mkdir', hers])
  asMallory(['ln', '-s', rootDir, path.join(hers, 'run')])
  const r = await rootRun(['md', '--dir', path.join(hers, 'run')])
  expect(r).toEqual({
    status: 123,
    ran: false,
    stderr: `nslocate: refusing to write a pidfile in ${hers}: it is owned by uid ${mallory.uid}, not by root or by uid 0\nhint: use a directory owned by root or by you that no one else may write`,
  })
  unchanged(target)
})

test("a pidfile she created in advance: refused (123), left as it is, and root's service never runs under it", async () => {
  const planted = path.join(shared, 'pre.pid')
  asMallory(['sh', '-c', `printf '%s' '${PRECIOUS}' > ${planted}`])
  const r = await rootRun(['pre', '--dir', shared])
  expect(r).toEqual({
    status: 123,
    ran: false,
    stderr: `nslocate: ${planted} is owned by uid ${mallory.uid}, not by root or by uid 0: its owner could rewrite it; refusing it\nhint: remove it`,
  })
  unchanged(planted, mallory.uid)
})

test("what is safe still works: root's own symbolic link is followed, a sticky root directory is used, relative --dir is taken from the cwd", async () => {
  const link = path.join(shared, 'root-link')
  fs.symlinkSync(rootDir, link)
  const viaLink = await rootRun(['ok', '--dir', link])
  expect([viaLink.status, viaLink.ran]).toEqual([0, true])
  expect(fs.existsSync(path.join(rootDir, 'ok.pid'))).toBe(false)
  const sticky = await rootRun(['ok2', '--dir', shared])
  expect([sticky.status, sticky.ran]).toEqual([0, true])

  const sup = runInBackground(['rel', '--dir', path.relative(process.cwd(), rootDir), '--', 'sleep', '30'])
  const pid = await pidIn(path.join(rootDir, 'rel.pid'))
  const {json} = await cliJson(['find', 'rel', '--dir', rootDir])
  expect([json.state, json.pid, json.holder]).toEqual(['running', pid, sup.pid])
})

test('release unlinks only the inode it locked: a file put at the path meanwhile survives', async () => {
  const file = path.join(rootDir, 'swap.pid')
  const sup = runInBackground(['swap', '--dir', rootDir, '--', 'sleep', '30'])
  await pidIn(file)
  const other = path.join(rootDir, 'swap.new')
  fs.writeFileSync(other, PRECIOUS)
  fs.renameSync(other, file)
  sup.kill('SIGTERM')
  await new Promise((resolve) => sup.once('exit', resolve))
  unchanged(file)
})
