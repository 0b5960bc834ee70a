/**
 * Issue 12 item 13: --scope cgroup signals only through a cgroup that belongs to the service alone
 * (a container's, or a unit's .service/.scope), on cgroup v1 and v2 alike; it refuses a slice, a
 * shared cgroup such as this machine's v1 memory cgroup, and a cgroup that holds the caller.
 * The cgroups are real ones made by the test, under a v1 controller and under the unified (v2) tree.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cliJson, isAlive} from '../helpers/cli'
import {settled, sleep} from '../helpers/timing'
import {stopAll, tempDir} from '../helpers/tracked'
import {Victim, spawnVictim} from '../helpers/victims'

jest.setTimeout(120_000)

const made: string[] = []
afterAll(async () => {
  await stopAll()
  for (const d of made.reverse()) fs.rmdirSync(d)
})

function cgroup(base: string, leaf: string): string {
  const dir = path.join(base, `${leaf.replace('ID', `${process.pid}-${made.length}`)}`)
  fs.mkdirSync(dir)
  made.push(dir)
  return dir
}

/** A victim started inside `cg` (it writes itself into cgroup.procs before exec). */
function victimIn(cg: string | null, opts: Parameters<typeof spawnVictim>[0] = {}): Promise<Victim> {
  const prefix = cg ? ['sh', '-c', `echo $$ > '${cg}/cgroup.procs' && exec "$@"`, 'sh'] : []
  return spawnVictim({...opts, prefix})
}

async function service(cg: string | null): Promise<{main: Victim; member: Victim; outsider: Victim; file: string}> {
  const dir = tempDir('nslocate-cgscope-')
  const file = path.join(dir, 'siglog.pid')
  const main = await victimIn(cg, {pidfile: file})
  const member = await victimIn(cg)
  const outsider = await spawnVictim()
  return {main, member, outsider, file}
}

const hierarchies: Array<[string, string]> = [
  ['cgroup v1 (pids controller)', '/sys/fs/cgroup/pids'],
  ['cgroup v2 (the unified tree)', '/sys/fs/cgroup/unified'],
]

describe.each(hierarchies)('%s', (_label, base) => {
  test("a unit's own cgroup (NAME.service): every member gets the signal, nobody outside it", async () => {
    const cg = cgroup(base, 'nsltest-ID.service')
    const s = await service(cg)
    const r = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', s.file, '--scope', 'cgroup'])
    expect(r.json).toMatchObject({exit_code: 0, scope: 'cgroup'})
    expect(r.json.delivered.map((d: {pid: number}) => d.pid).sort()).toEqual([s.main.pid, s.member.pid].sort())
    // both logged USR1 (polled: each runs when the scheduler lets it), then nothing more after a settle
    await settled(
      () => s.main.received().length + s.member.received().length,
      (n) => n >= 2,
      {settleMs: 100},
    )
    expect(s.main.received().map((x) => x.signo)).toEqual([10])
    expect(s.member.received().map((x) => x.signo)).toEqual([10])
    expect(s.outsider.received()).toEqual([])
  })

  test('a slice is shared: refused (4, shared_cgroup), nothing sent', async () => {
    const cg = cgroup(base, 'nsltest-ID.slice')
    const s = await service(cg)
    const r = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', s.file, '--scope', 'cgroup'])
    expect(r.status).toBe(4)
    expect(r.json.error?.message ?? r.json.message).toContain('shared_cgroup')
    await sleep(100)
    for (const v of [s.main, s.member, s.outsider]) expect(v.received()).toEqual([])
  })

  test('a cgroup that also holds the caller is refused (4), even a .service one; nothing sent', async () => {
    const cg = cgroup(base, 'nsltest-ID.service')
    const s = await service(cg)
    // nslocate itself started inside that cgroup.
    const r = await new Promise<{status: number | null; out: string}>((resolve) => {
      const {spawn} = require('node:child_process') as typeof import('node:child_process')
      const c = spawn(
        'sh',
        [
          '-c',
          `echo $$ > '${cg}/cgroup.procs' && exec "$@"`,
          'sh',
          process.execPath,
          BIN,
          'signal',
          'siglog',
          'USR1',
          '--pidfile',
          s.file,
          '--scope',
          'cgroup',
          '--json',
        ],
        {stdio: ['ignore', 'pipe', 'pipe']},
      )
      let out = ''
      c.stdout.on('data', (d) => (out += d))
      c.once('close', (status) => resolve({status, out}))
    })
    expect(r.status).toBe(4)
    expect(r.out).toContain('also holds nslocate itself')
    await sleep(100)
    for (const v of [s.main, s.member, s.outsider]) expect(v.received()).toEqual([])
  })
})

test("a process in no cgroup of its own (here: only the machine's shared v1 memory cgroup) is refused (4); nothing sent", async () => {
  const s = await service(null)
  const r = await cliJson(['signal', 'siglog', 'USR1', '--pidfile', s.file, '--scope', 'cgroup'])
  expect(r.status).toBe(4)
  expect(r.json.error?.message ?? r.json.message).toContain('shared_cgroup')
  await sleep(100)
  for (const v of [s.main, s.member, s.outsider]) {
    expect(v.received()).toEqual([])
    expect(isAlive(v.pid)).toBe(true)
  }
})
