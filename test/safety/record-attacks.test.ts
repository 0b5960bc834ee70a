/**
 * Issue 20: attacks on the identity record (src/locate/record.ts, src/locate/by-id.ts). The record
 * decides which process a pidfile names; these tests try to make it name the wrong one, or let an
 * unprivileged user write one where root would believe it. A real unprivileged user (users.ts) does
 * what an attacker can: pidfs ids are public (anyone may pidfd_open a visible process and fstat it),
 * so the attacker always knows the id of the process they would like root to signal.
 *
 * What holds:
 * - only a writer of the file can set the record: root's 0644 pidfile refuses the user (EACCES);
 * - a record is never read on a file its mode refuses (world_writable, ...: by-id.ts); on an
 *   attacker's own file, or one behind a path the attacker controls, it can pick only among the
 *   processes the content names, and the ownership and path rules then refuse any that is not the
 *   attacker's own (unsafe_owner, unsafe_directory): root's victim is never named, never signalled;
 * - the record's id can only confirm a process the content names, never add one: a record naming
 *   pid 1 or another process's id gives `stale`, not that process;
 * - malformed, oversized, and pid-mismatched records are ignored (evidence), today's answer stands;
 * - a record naming nslocate itself names it (it is what the file says) but nothing signals it.
 */
import {spawn, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {locate, signal} from '../../src/index'
import {pidfdOpen} from '../../src/native/binding'
import {cliJson, isAlive, killTracked, track, until} from '../helpers/cli'
import {withEvidence} from '../helpers/evidence'
import {BOOT_ID, RECORD_XATTR, recordText, setRecord, victimInChildNs} from '../helpers/pidfs'
import {stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnVictim} from '../helpers/victims'

let attacker: TestUser
beforeAll(() => {
  attacker = createTestUser('recatk')
})
afterAll(async () => {
  await killTracked()
  await stopAll()
  attacker.remove()
})

const SET_RECORD = `
import os, sys
f, pid, id_, boot = sys.argv[1:5]
os.setxattr(f, 'user.nslocate.identity', ('v1 pid=%s pidfd_id=%s boot_id=%s mtime=%d' % (pid, id_, boot, os.stat(f).st_mtime_ns)).encode())
`
/** What the attacker learns of any visible process: its pidfs id (pidfd_open needs no privilege). */
const ID_OF = 'import os, sys\nprint(os.fstat(os.pidfd_open(int(sys.argv[1]))).st_ino)'

/** argv run as the attacker: status, stdout, stderr. */
function attackerRuns(argv: string[]) {
  const [cmd, ...args] = attacker.as(argv)
  return spawnSync(cmd, args, {encoding: 'utf8'})
}
const asAttacker = (code: string, ...args: string[]) => attackerRuns(['/usr/bin/python3', '-c', code, ...args])

/** A directory root owns (0755), readable by all: where root's and the attacker's pidfiles live. */
function rootDir(): string {
  const dir = tempDir('nslocate-recatk-')
  fs.chmodSync(dir, 0o755)
  return dir
}

const idOf = (pid: number) => {
  const fd = pidfdOpen(pid)
  try {
    return Number(fs.fstatSync(fd, {bigint: true}).ino)
  } finally {
    fs.closeSync(fd)
  }
}

test("an unprivileged user cannot set a record on root's 0644 pidfile (EACCES): nothing recorded", async () => {
  const dir = rootDir()
  const file = path.join(dir, 'svc.pid')
  const victim = await spawnVictim({pidfile: file})
  fs.chmodSync(file, 0o644)
  const id = asAttacker(ID_OF, String(victim.pid))
  expect(id.status).toBe(0)
  const r = asAttacker(SET_RECORD, file, String(victim.pid), id.stdout.trim(), BOOT_ID)
  expect(r.status).not.toBe(0)
  expect(r.stderr).toMatch(/PermissionError: \[Errno (13|1)\] (Permission denied|Operation not permitted)/)
  expect(spawnSync('getfattr', ['-d', '-m', '.', file], {encoding: 'utf8'}).stdout).not.toContain(RECORD_XATTR)
})

describe("an attacker's own pidfile naming root's service in another PID namespace, with a record of its id", () => {
  test('in a root-owned directory: the record picks only among what the content names, and the ownership rule refuses it; signal sends nothing', async () => {
    const dir = rootDir()
    const own = path.join(dir, 'victim.pid')
    const {victim, hostPid, inner} = await victimInChildNs({pidfile: own, exitOn: ['TERM']})
    // The attacker's file: content the victim's inner pid, owned by the attacker, who sets the record.
    const file = path.join(dir, 'svc.pid')
    fs.writeFileSync(file, String(inner))
    fs.chownSync(file, attacker.uid, attacker.gid)
    const id = asAttacker(ID_OF, String(hostPid)).stdout.trim()
    expect(Number(id)).toBe(idOf(hostPid))
    const set = asAttacker(SET_RECORD, file, String(inner), id, BOOT_ID)
    expect([set.status, set.stderr]).toEqual([0, ''])
    const {status, json: j} = await cliJson(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.holder, j.process]).toEqual([4, 'unknown', null, null, null, null])
        expect(j.reasons).toContain('unsafe_owner')
        expect(j.evidence.join('\n')).toMatch(new RegExp(`^REFUSED: .* is owned by uid ${attacker.uid} but names pid ${hostPid} of uid 0`, 'm'))
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file])
    expect([s.status, s.json.delivered]).toEqual([4, []])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
  })

  test("in the attacker's own directory (a path the attacker controls): the record names root's process, and the path rules refuse it", async () => {
    const victim = await spawnVictim({exitOn: ['TERM']})
    const file = path.join(attacker.home, 'svc.pid')
    expect(attackerRuns(['sh', '-c', `echo ${victim.pid} > ${file}`]).status).toBe(0)
    const set = asAttacker(SET_RECORD, file, String(victim.pid), String(idOf(victim.pid)), BOOT_ID)
    expect(set.status).toBe(0)
    const {json: j} = await cliJson(['find', 'svc', '--pidfile', file])
    await withEvidence(
      () => {
        expect([j.state, j.pid, j.pidfd_id, j.holder, j.process]).toEqual(['unknown', null, null, null, null])
        expect(j.reasons).toEqual(['unlocked_pidfile', 'unsafe_owner', 'unsafe_directory'])
        expect(j.evidence.join('\n')).toMatch(new RegExp(`^REFUSED: the directory ${attacker.home} is owned by uid ${attacker.uid}, who could replace`, 'm'))
      },
      () => JSON.stringify(j, null, 1),
    )
    const s = await cliJson(['signal', 'svc', 'TERM', '--pidfile', file])
    expect(s.json.delivered).toEqual([])
    await new Promise((r) => setTimeout(r, 100))
    expect(victim.received()).toEqual([])
  })
})

describe('a record cannot add a process the content does not name', () => {
  test("the content names the attacker's own process, the record another's id (root's victim, pid 1): stale, neither is named", async () => {
    const dir = rootDir()
    const victim = await spawnVictim({exitOn: ['TERM']})
    const mine = track(spawn('setpriv', [`--reuid=${attacker.uid}`, `--regid=${attacker.gid}`, '--clear-groups', '--', 'sleep', '600'], {stdio: 'ignore'}))
    await until(() => fs.readFileSync(`/proc/${mine.pid}/comm`, 'utf8') === 'sleep\n', "the attacker's sleep runs")
    for (const [target, what] of [
      [victim.pid, "root's victim"],
      [1, 'pid 1'],
    ] as const) {
      const file = path.join(dir, `sleep-${target}.pid`)
      fs.writeFileSync(file, String(mine.pid))
      fs.chownSync(file, attacker.uid, attacker.gid)
      expect(asAttacker(SET_RECORD, file, String(mine.pid), String(idOf(target)), BOOT_ID).status).toBe(0)
      const {status, json: j} = await cliJson(['find', 'sleep', '--pidfile', file])
      await withEvidence(
        () => {
          expect([what, status, j.state, j.pid, j.pidfd_id, j.reasons]).toEqual([
            what,
            1,
            'stale',
            null,
            null,
            ['unlocked_pidfile', 'pid_reused', 'stale_pidfile'],
          ])
          expect(j.evidence).toContain(
            `pid ${mine.pid} is now pidfs id ${idOf(mine.pid!)}; the file recorded ${idOf(target)}: not the process it was written for`,
          )
        },
        () => JSON.stringify(j, null, 1),
      )
      const s = await cliJson(['signal', 'sleep', 'TERM', '--pidfile', file, '--dry-run'])
      expect([s.status, s.json.would_deliver, s.json.delivered]).toEqual([7, [], []])
    }
    // The same file with the record's pid pointing at pid 1 (the content still the attacker's): ignored.
    const file = path.join(dir, 'sleep.pid')
    fs.writeFileSync(file, String(mine.pid))
    fs.chownSync(file, attacker.uid, attacker.gid)
    expect(asAttacker(SET_RECORD, file, '1', String(idOf(1)), BOOT_ID).status).toBe(0)
    const {json: j} = await cliJson(['find', 'sleep', '--pidfile', file])
    expect([j.state, j.pid]).toEqual(['running', mine.pid]) // what the content names, the attacker's own process
    expect(j.evidence).toContain(
      `identity record ignored: the identity recorded is for pid 1, the file says ${mine.pid}; the lock and the process table decide`,
    )
    expect(victim.received()).toEqual([])
    mine.kill('SIGKILL')
  })
})

describe("malformed records on root's pidfile: ignored, said in the evidence, today's answer", () => {
  let victim: Awaited<ReturnType<typeof spawnVictim>>
  let file: string
  beforeAll(async () => {
    file = path.join(rootDir(), 'siglog.pid')
    victim = await spawnVictim({pidfile: file})
  })

  test.each([
    [
      'not a record',
      () => 'garbage',
      /^identity record ignored: user\.nslocate\.identity: "garbage" is not a version 1 record; the lock and the process table decide$/m,
    ],
    ['a 4000-byte value', () => Buffer.alloc(4000, 'v'), /^identity record ignored: user\.nslocate\.identity is longer than 256 bytes: not a record/m],
    [
      'control characters',
      () => `v1 pid=\x1b[2J${victim.pid}`,
      /^identity record ignored: user\.nslocate\.identity: "v1 pid=\\u001b\[2J[0-9]+" is not a version 1 record/m,
    ],
    ['its pid is not the content', () => recordText(file, victim.pid + 1, idOf(victim.pid)), /the identity recorded is for pid [0-9]+, the file says [0-9]+/],
    ['an id out of range', () => recordText(file, victim.pid, 1).replace('pidfd_id=1 ', 'pidfd_id=99999999999999999 '), /is not a version 1 record/],
  ])('%s', async (_what, value, evidence) => {
    setRecord(file, value())
    const {status, json: j} = await cliJson(['find', 'siglog', '--pidfile', file])
    await withEvidence(
      () => {
        expect([status, j.state, j.pid, j.pidfd_id, j.pidfile.recorded, j.reasons]).toEqual([
          0,
          'running',
          victim.pid,
          idOf(victim.pid),
          null,
          ['unlocked_pidfile'],
        ])
        expect(j.evidence.join('\n')).toMatch(evidence)
      },
      () => JSON.stringify(j, null, 1),
    )
  })
})

test('a record naming nslocate itself: it is what the file says, so find names it; signal refuses to signal itself', async () => {
  const file = path.join(rootDir(), 'self.pid')
  fs.writeFileSync(file, String(process.pid))
  setRecord(file, recordText(file, process.pid, idOf(process.pid)))
  const r = await locate('self', {pidfile: file})
  expect([r.state, r.pid, r.pidfdId, r.reasons]).toEqual(['running', process.pid, idOf(process.pid), ['unlocked_pidfile']])
  const s = await signal('self', 'TERM', {pidfile: file})
  expect([s.outcome, s.delivered]).toEqual(['refused', []])
  expect(s.skipped).toEqual([{pid: process.pid, pidfdId: idOf(process.pid), reason: 'unsafe'}])
  expect(s.message).toContain(`pid ${process.pid} is nslocate itself`)
  expect(isAlive(process.pid)).toBe(true)
})
