/**
 * issue 20: nslocate and util-linux agree on process ids. A pidfs id (the inode number of a pidfd,
 * Linux 6.9+) names a process for the life of the boot; util-linux 2.42 prints it
 * (`getino --pidfs -p PID` -> `PID:ID`) and takes `PID:ID` (`waitpid`). For services started by
 * `nslocate run`, in this PID namespace and in a child one (`unshare -pf`), `find --json` must give
 * the very number getino prints and `stat -L -c %i` reads from a pidfd another process holds, and
 * util-linux must accept nslocate's `pidfd_ref` as its own.
 *
 * util-linux >= 2.42 comes from scripts/setup.sh (/opt/nslocate/util-linux-2.42/bin): Debian 12
 * and 13 ship older ones. A missing install fails the test: CI runs setup.sh first.
 */
import {ChildProcess, spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, dumpEvidence, isAlive, killTracked, until} from '../helpers/cli'
import {BOOT_ID, FRESH_PID_NS, childrenOf, getfattr, pidfdHolder, startService, statInode} from '../helpers/pidfs'
import {DIE_WITH_PARENT, run, runIn} from '../helpers/run'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {exitOf, killPid, pidIn} from '../safety/run-helpers'

const UTIL_LINUX = '/opt/nslocate/util-linux-2.42/bin'
const GETINO = path.join(UTIL_LINUX, 'getino')
const WAITPID = path.join(UTIL_LINUX, 'waitpid')

afterEach(() => killTracked())
afterAll(() => stopAll())

beforeAll(() => {
  const v = spawnSync(GETINO, ['--version'], {encoding: 'utf8'})
  const version = /from util-linux (\d+)\.(\d+)/.exec(v.stdout ?? '')
  if (v.status !== 0 || !version || Number(version[1]) * 100 + Number(version[2]) < 242) {
    throw new Error(`${GETINO} is missing or older than util-linux 2.42 (${v.error?.message ?? v.stdout + v.stderr}): run bash scripts/setup.sh`)
  }
})

/** What `getino --pidfs -p PID` prints for `pid` (here, or with `argv` prefixed: in another namespace): PID:ID. */
function getino(pid: number): string {
  const r = spawnSync(GETINO, ['--pidfs', '-p', String(pid)], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`getino --pidfs -p ${pid}: exit ${r.status}: ${r.stderr}`)
  return r.stdout.trim()
}
const idOf = (ref: string) => Number(ref.split(':')[1])

/** A copy of sleep(1) called `name`, so its comm and executable are the service's NAME. */
function sleepCalled(dir: string, name: string): string {
  const bin = path.join(dir, name)
  fs.copyFileSync(fs.realpathSync('/bin/sleep'), bin)
  fs.chmodSync(bin, 0o755)
  return bin
}

describe('in this PID namespace, a service under nslocate run', () => {
  let dir: string
  let file: string
  let sup: ChildProcess
  let child: number
  beforeEach(async () => {
    dir = tempDir('nslocate-interop-')
    file = path.join(dir, 'svc.pid')
    ;({sup, pid: child} = await startService(['svc', '--dir', dir, '--', 'sleep', '300'], file, 'sleep'))
  })
  afterEach(() => killPid(child))

  test('find --json gives the ids getino --pidfs prints, and the inode stat reads from a pidfd on it', async () => {
    const ref = getino(child)
    const supRef = getino(sup.pid!)
    const {status, json} = await cliJson(['find', 'svc', '--dir', dir])
    if (status !== 0) console.log(dumpEvidence([child, sup.pid!]), json.evidence)
    expect([status, json.state, json.pid, json.holder]).toEqual([0, 'running', child, sup.pid])
    expect({pidfd_ref: json.pidfd_ref, pidfd_id: json.pidfd_id, holder_pidfd_id: json.holder_pidfd_id}).toEqual({
      pidfd_ref: ref,
      pidfd_id: idOf(ref),
      holder_pidfd_id: idOf(supRef),
    })
    expect(ref).toMatch(new RegExp(`^${child}:[1-9][0-9]*$`))
    // The ids are JSON numbers (a counter far below 2^53), printed as the digits getino prints.
    expect(typeof json.pidfd_id).toBe('number')

    // A third party holding a pidfd on the service sees the same inode, and the kernel's fdinfo names the pid.
    const {
      pid: holder,
      fds: [fd],
    } = await pidfdHolder([child])
    expect(statInode(holder, fd)).toBe(json.pidfd_id)
    expect(fs.readFileSync(`/proc/${holder}/fdinfo/${fd}`, 'utf8')).toMatch(new RegExp(`^Pid:\\s+${child}$`, 'm'))

    // The text output shows the service as PID:ID, and list's row carries the same ids.
    const text = await cli(['find', 'svc', '--dir', dir])
    expect(text.stdout).toContain(ref)
    const listed = await cliJson(['list', '--dir', dir])
    expect(listed.json.map((r: any) => [r.name, r.pidfd_ref, r.pidfd_id, r.holder_pidfd_id])).toEqual([['svc', ref, idOf(ref), idOf(supRef)]])
  })

  test('the pidfile nslocate run wrote records the id getino prints, beside the bare pid', async () => {
    const ref = getino(child)
    expect(fs.readFileSync(file, 'utf8')).toBe(String(child))
    const raw = getfattr(file).value
    expect(raw).toMatch(new RegExp(`^v1 pid=${child} pidfd_id=${idOf(ref)} boot_id=[0-9a-f-]{36} mtime=[0-9]+$`))
    const {json} = await cliJson(['find', 'svc', '--dir', dir])
    expect(json.pidfile.recorded).toMatchObject({pid: child, pidfd_id: idOf(ref), boot_id: BOOT_ID})
  })

  test("util-linux waitpid takes find's pidfd_ref: it waits while the service runs, returns when it exits, refuses a wrong id", async () => {
    const {json} = await cliJson(['find', 'svc', '--dir', dir])
    const ref: string = json.pidfd_ref
    expect(ref).toBe(getino(child))

    // A wrong id: waitpid cannot open that process (pidfs ids are never reused), fails at once, and the service runs on.
    const wrong = `${child}:${json.pidfd_id + 1}`
    const refused = await run([WAITPID, '--timeout', '5', wrong], {timeoutMs: 10_000})
    expect({status: refused.status, stderr: refused.stderr}).toEqual({status: 1, stderr: expect.stringContaining(`PID ${child}`)})
    expect(isAlive(child)).toBe(true)

    // The right id while the service runs: waitpid waits, here until its timeout (exit status 3).
    const timedOut = await run([WAITPID, '--timeout', '1', ref], {timeoutMs: 10_000})
    expect(timedOut.status).toBe(3)

    // Waiting with no timeout: it returns 0 once the service exits, and not before.
    const waiter = spawnTracked([WAITPID, ref], {stdio: 'ignore'})
    const waited = exitOf(waiter)
    await new Promise((r) => setTimeout(r, 300))
    expect(waiter.exitCode).toBeNull()
    const stop = await cliJson(['signal', 'svc', 'TERM', '--dir', dir, '--wait'])
    expect([stop.status, stop.json.delivered.map((d: any) => [d.pid, d.pidfd_id])]).toEqual([0, [[child, json.pidfd_id]]])
    expect(await waited).toEqual({code: 0, signal: null})
    expect(isAlive(child)).toBe(false)

    // The process is gone: the same reference names nothing any more.
    const gone = await run([WAITPID, ref], {timeoutMs: 10_000})
    expect({status: gone.status, stderr: gone.stderr}).toEqual({status: 1, stderr: expect.stringContaining(`PID ${child}`)})
    await exitOf(sup)
  })

  test('nslocate signal --pid and wait --pid take what getino prints; a wrong id is refused with nothing sent', async () => {
    const ref = getino(child)
    // An id newer than the process at that pid has: no process with it ever had that pid (exit 4, wrong_id).
    const wrong = `${child}:${idOf(ref) + 1}`
    const refused = await cliJson(['signal', 'svc', 'TERM', '--pid', wrong])
    expect([refused.status, refused.json.delivered, refused.json.skipped]).toEqual([4, [], [{pid: child, pidfd_id: idOf(ref) + 1, reason: 'wrong_id'}]])
    expect(isAlive(child)).toBe(true)
    const waitTimeout = await cliJson(['wait', 'svc', '--pid', ref, '--timeout', '300ms'])
    expect([waitTimeout.status, waitTimeout.json.pinned]).toEqual([1, [{pid: child, pidfd_id: idOf(ref), role: 'main'}]])

    // The man page's pipeline: find's pidfd_ref through jq into signal --pid.
    const nsl = `${process.execPath} ${BIN}`
    const piped = spawnSync('bash', ['-c', `${nsl} signal svc TERM --wait --json --pid "$(${nsl} find svc --dir ${dir} --json | jq -r .pidfd_ref)"`], {
      encoding: 'utf8',
    })
    const sent = JSON.parse(piped.stdout)
    expect([piped.status, sent.delivered.map((d: any) => [d.pid, d.pidfd_id, d.signal]), sent.exited]).toEqual([0, [[child, idOf(ref), 'TERM']], true])
    expect(isAlive(child)).toBe(false)
    await exitOf(sup)
  })
})

test("a record a shell script writes with getino, setfattr and stat (the man page's example) is read as nslocate's own, and voided by a rewrite", async () => {
  const dir = tempDir('nslocate-interop-sh-')
  const file = path.join(dir, 'shsvc.pid')
  // docs/nslocate.1.md, NOTES, "The identity record": the snippet for a shell script, with $pid a background sleep.
  const script = `sleep 300 </dev/null >/dev/null 2>&1 & pid=$!
printf %s "$pid" > ${file}
setfattr -n user.nslocate.identity -v "v1 pid=$pid pidfd_id=$(getino --pidfs "$pid") \\
boot_id=$(cat /proc/sys/kernel/random/boot_id) mtime=$(stat -c %.9Y ${file} | tr -d .)" ${file}
echo "$pid"`
  const sh = spawnSync('bash', ['-c', script], {encoding: 'utf8', env: {...process.env, PATH: `${UTIL_LINUX}:${process.env.PATH}`}})
  expect({status: sh.status, stderr: sh.stderr}).toEqual({status: 0, stderr: ''})
  const pid = Number(sh.stdout.trim())
  try {
    const ref = getino(pid)
    const {status, json} = await cliJson(['find', 'shsvc', '--pidfile', file])
    if (status !== 0) console.log(json.evidence)
    expect([status, json.state, json.pid, json.pidfd_ref]).toEqual([0, 'running', pid, ref])
    const mtimeNs = fs.statSync(file, {bigint: true}).mtimeNs.toString()
    expect(json.pidfile.recorded).toEqual({pid, pidfd_id: idOf(ref), boot_id: BOOT_ID, mtime_ns: mtimeNs})

    // The same pid written again, as a program that knows nothing of records would: the mtime moves, the record is void.
    await new Promise((r) => setTimeout(r, 20))
    fs.writeFileSync(file, String(pid))
    expect(getfattr(file).value).not.toBeNull()
    const after = await cliJson(['find', 'shsvc', '--pidfile', file])
    expect([after.json.state, after.json.pid, after.json.pidfile.recorded]).toEqual(['running', pid, null])
    expect(after.json.evidence.join('\n')).toMatch(/rewritten/)
  } finally {
    await killPid(pid)
  }
})

describe('in a child PID namespace (unshare -pf), found through its pidfile from the host', () => {
  /**
   * `argv` under setpriv (which execs unshare in place) in a fresh PID namespace; resolves once
   * unshare -> its child (pid 1 inside) -> that one's child runs `comm`: both pids here, and the
   * inner pid the program wrote into `file`.
   */
  async function inChildNs(argv: string[], file: string, comm: string): Promise<{init: number; host: number; inner: number}> {
    const u = spawnTracked([...DIE_WITH_PARENT, ...FRESH_PID_NS, ...argv])
    const inner = await pidIn(file)
    let init = 0
    let host = 0
    await until(() => {
      init = childrenOf(u.pid!)[0] ?? 0
      host = init ? (childrenOf(init)[0] ?? 0) : 0
      return host > 0 && fs.readFileSync(`/proc/${host}/comm`, 'utf8').trim() === comm
    }, `${comm} to run in the namespace of unshare ${u.pid}`)
    return {init, host, inner}
  }

  test('an unlocked pidfile with the inner pid: find gives the id getino prints on the host and inside the namespace', async () => {
    const dir = tempDir('nslocate-interop-ns-')
    const name = 'nslidsvc'
    const file = path.join(dir, `${name}.pid`)
    const bin = sleepCalled(dir, name)
    const script = `${bin} 300 & printf %s "$!" > ${file}; wait`
    // unshare -> sh (pid 1 inside) -> the service
    const {init: sh, host, inner} = await inChildNs(['sh', '-c', script], file, name)

    const ref = getino(host)
    const inside = await runIn({hostPid: sh}, [GETINO, '--pidfs', '-p', String(inner)])
    expect({status: inside.status, stdout: inside.stdout.trim()}).toEqual({status: 0, stdout: `${inner}:${idOf(ref)}`})

    const {status, json} = await cliJson(['find', name, '--pidfile', file])
    if (status !== 0) console.log(dumpEvidence([host]), json.evidence)
    expect([status, json.state, json.pid, json.nspid, json.pidfile.pid]).toEqual([0, 'running', host, [host, inner], inner])
    // The id is the process's, whichever namespace numbers it: the host's pid with it, not the inner one.
    expect([json.pidfd_id, json.pidfd_ref]).toEqual([idOf(ref), ref])
    const {
      pid: holder,
      fds: [fd],
    } = await pidfdHolder([host])
    expect(statInode(holder, fd)).toBe(json.pidfd_id)
  })

  test('nslocate run inside the namespace records the id; from the host, find and getino agree with the record', async () => {
    const dir = tempDir('nslocate-interop-nsrun-')
    const file = path.join(dir, 'svc.pid')
    // unshare -> nslocate run (pid 1 inside) -> sleep
    const {init: sup, host, inner} = await inChildNs([process.execPath, BIN, 'run', 'svc', '--dir', dir, '--', 'sleep', '300'], file, 'sleep')

    const ref = getino(host)
    expect(getfattr(file).value).toMatch(new RegExp(`^v1 pid=${inner} pidfd_id=${idOf(ref)} boot_id=`))
    const {status, json} = await cliJson(['find', 'svc', '--dir', dir])
    if (status !== 0) console.log(dumpEvidence([host, sup]), json.evidence)
    expect([status, json.state, json.pid, json.holder, json.nspid]).toEqual([0, 'running', host, sup, [host, inner]])
    expect([json.pidfd_id, json.pidfd_ref, json.holder_pidfd_id]).toEqual([idOf(ref), ref, idOf(getino(sup))])
    expect(json.pidfile.recorded).toMatchObject({pid: inner, pidfd_id: idOf(ref)})
  })
})
