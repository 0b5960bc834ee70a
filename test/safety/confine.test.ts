/**
 * Issue 12 item 2: --root-pid and --container confine the answer to the target's PID namespace (and
 * those nested in it). Attacks: an unprivileged user's sandbox (unshare -r -m -p -f --mount-proc)
 * bind-mounts a directory over its /run that exposes a ROOT service's locked pidfile, or holds a
 * copy naming the root service's pid; and a lying Docker engine (a fake one on a unix socket) whose
 * State.Pid is the root service, placed in a look-alike /docker/<id> cgroup. Root's signal must not
 * reach the service: the victim's log stays empty and it lives.
 */
import {ChildProcess} from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {sleep} from '../helpers/timing'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {Victim, spawnVictim} from '../helpers/victims'

let user: TestUser
const cleanups: Array<() => void> = []
beforeAll(() => {
  user = createTestUser('confine')
})
afterAll(async () => {
  await stopAll()
  for (const c of cleanups.reverse()) c()
  user.remove()
})

/** A root service holding a flock on its pidfile (flock(1) runs siglog, which writes its pid). */
async function rootService(dir: string, name: string): Promise<{victim: Victim; pid: number; file: string}> {
  const file = path.join(dir, `${name}.pid`)
  fs.writeFileSync(file, '')
  const victim = await spawnVictim({prefix: ['flock', '-n', file], pidfile: file, env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
  return {victim, pid: victim.ready[0], file}
}

/** The attacker's sandbox: its /run is `dir`. Returns the unshare pid and the sandbox's init (its child). */
async function sandbox(dir: string): Promise<{unshare: ChildProcess; init: number}> {
  const unshare = spawnTracked(
    user.as(['unshare', '-r', '-m', '-p', '-f', '--kill-child', '--mount-proc', 'sh', '-c', `mount --bind '${dir}' /run && echo ready && exec sleep 600`]),
    {stdio: ['ignore', 'pipe', 'pipe']},
  )
  let err = ''
  unshare.stderr!.on('data', (d) => (err += d))
  await new Promise<void>((resolve, reject) => {
    unshare.stdout!.on('data', (d) => String(d).includes('ready') && resolve())
    unshare.once('exit', (c) => reject(new Error(`sandbox exited ${c}: ${err}`)))
  })
  const init = Number(fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(' ')[0])
  return {unshare, init}
}

const nothingReceived = async (v: Victim) => {
  await sleep(200)
  expect(v.received()).toEqual([])
  expect(fs.existsSync(`/proc/${v.ready[0]}`)).toBe(true)
}

test("a sandbox whose /run exposes a root service's locked pidfile: --root-pid SANDBOX is refused (outside_target_namespace), nothing sent", async () => {
  const dir = tempDir('nslocate-confine-')
  fs.chmodSync(dir, 0o755)
  const svc = await rootService(dir, 'rootsvc')
  const box = await sandbox(dir)
  // Root sees it as running in its own right (the control): the service is really there.
  expect((await cliJson(['find', 'rootsvc', '--pidfile', svc.file])).json).toMatchObject({state: 'running', pid: svc.pid})
  for (const root of [box.init, box.unshare.pid!]) {
    const s = await cliJson(['signal', 'rootsvc', 'USR1', '--root-pid', String(root)])
    expect(s.json).toMatchObject({exit_code: 4, delivered: []})
    expect(s.json.target.reasons).toContain('outside_target_namespace')
    expect(s.status).toBe(4)
    const f = await cliJson(['find', 'rootsvc', '--root-pid', String(root)])
    expect(f.json).toMatchObject({state: 'unknown', pid: null})
    expect(f.json.reasons).toContain('outside_target_namespace')
    expect(f.status).toBe(4)
  }
  await nothingReceived(svc.victim)
})

test("a sandbox's own pidfile naming the root service's pid: --root-pid SANDBOX signals nothing outside it", async () => {
  const dir = tempDir('nslocate-confine-')
  fs.chmodSync(dir, 0o755)
  const svc = await rootService(dir, 'realsvc')
  const fake = tempDir('nslocate-confine-fake-')
  fs.chownSync(fake, user.uid, user.gid)
  fs.chmodSync(fake, 0o755)
  const box = await sandbox(fake)
  // Written by the attacker inside the sandbox (its root is the user): a copy naming the root service.
  fs.writeFileSync(path.join(fake, 'siglog.pid'), String(svc.pid))
  fs.chownSync(path.join(fake, 'siglog.pid'), user.uid, user.gid)
  for (const root of [box.init, box.unshare.pid!]) {
    const s = await cliJson(['signal', 'siglog', 'USR1', '--root-pid', String(root)])
    expect(s.json.delivered).toEqual([])
    expect(s.status).not.toBe(0)
  }
  await nothingReceived(svc.victim)
})

/** A fake engine on a unix socket answering inspect with `body` for every container. */
async function fakeEngine(body: object): Promise<string> {
  const sock = path.join(tempDir('nslocate-engine-'), 'docker.sock')
  const server = http.createServer((req, res) => {
    if (/\/containers\/[^/]+\/json$/.test(req.url ?? '')) {
      res.writeHead(200, {'Content-Type': 'application/json'})
      res.end(JSON.stringify(body))
    } else {
      res.writeHead(404, {'Content-Type': 'application/json'})
      res.end(JSON.stringify({message: 'not here'}))
    }
  })
  await new Promise<void>((resolve) => server.listen(sock, resolve))
  cleanups.push(() => {
    server.closeAllConnections()
    server.close()
  })
  return sock
}

test('a lying engine: State.Pid is a host root service in a look-alike /docker/<id> cgroup; signal --container sends nothing', async () => {
  const id = crypto.randomBytes(32).toString('hex')
  const name = `nsltest-${id.slice(0, 8)}`
  const dir = tempDir('nslocate-confine-')
  fs.chmodSync(dir, 0o755)
  // The service's pidfile where the engine's State.Pid would make nslocate look: /proc/PID/root/run.
  const file = `/run/${name}.pid`
  fs.writeFileSync(file, '')
  cleanups.push(() => fs.rmSync(file, {force: true}))
  const victim = await spawnVictim({prefix: ['flock', '-n', file], pidfile: file, env: {NSLOCATE_SIGLOG_PDEATH: '1'}})
  const pid = victim.ready[0]
  // cgroup v1 and the unified v2 tree alike name the container id, as Docker's cgroupfs driver does.
  for (const base of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified']) {
    const cg = path.join(base, 'docker', id)
    fs.mkdirSync(cg, {recursive: true})
    fs.writeFileSync(path.join(cg, 'cgroup.procs'), String(pid))
    cleanups.push(() => fs.rmdirSync(cg))
  }
  for (const pidMode of ['', 'private']) {
    const sock = await fakeEngine({Id: id, Name: '/web', Config: {Image: 'x'}, State: {Running: true, Pid: pid}, HostConfig: {PidMode: pidMode}})
    const s = await cliJson(['signal', name, 'USR1', '--container', 'web'], {env: {DOCKER_HOST: `unix://${sock}`}})
    expect(s.json.error?.message ?? s.json.message).toMatch(/outside_target_namespace/)
    expect(s.status).toBe(4)
  }
  await nothingReceived(victim)
  process.kill(pid, 'SIGKILL')
  await victim.exited
})
