/**
 * Issue 17, hole 7: `serve` (and `reload --listen`, the same server) against a real unprivileged
 * user who holds connections open. Under RLIMIT_NOFILE 1024, more idle connections than the
 * connection cap (and than the fd limit) must not make a fresh /healthz/NAME unanswerable; idle,
 * slow-header and idle keep-alive connections are closed within seconds; a malformed
 * percent-escape is a 400, not a 500.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'

import {killTracked, track, until} from '../helpers/cli'
import {stopAll} from '../helpers/tracked'
import {TestUser, createTestUser} from '../helpers/users'
import {spawnLockedVictim} from '../sidecar/locked-victim'
import {RunningCli, nextEvent, startCli, stopCli} from '../sidecar/run-cli'

let user: TestUser
beforeAll(() => {
  user = createTestUser('servefd')
})
afterAll(async () => {
  await killTracked()
  await stopAll()
  user?.remove()
})

/**
 * The attacker: opens N connections to HOST:PORT and holds them. MODE idle: sends nothing; slow: a
 * request line, then one header byte a second (slowloris); keepalive: one complete keep-alive
 * request, reads the answer, then nothing. Prints "held K failed F", then "closed C T" (C of its
 * sockets closed by the server, T seconds since "held") every 250 ms.
 */
const ATTACKER = String.raw`
import resource, select, socket, sys, time
host, port, n, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
socks, failed = [], 0
for i in range(n):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, port))
        if mode == 'slow':
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')
        elif mode == 'keepalive':
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
            s.recv(65536)
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
print('held %d failed %d' % (len(socks), failed), flush=True)
t0 = time.time()
# poll, not select: descriptors above 1023 are out of select()'s range
open_ = {s.fileno(): s for s in socks}
p = select.poll()
for fd in open_:
    p.register(fd, select.POLLIN)
last_print = 0
last_byte = t0
while True:
    for fd, _ in p.poll(50):
        s = open_.get(fd)
        if s is None:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b''
        if not data:
            p.unregister(fd)
            del open_[fd]
    now = time.time()
    if mode == 'slow' and now - last_byte >= 1:
        last_byte = now
        for fd, s in list(open_.items()):
            try:
                s.send(b'X')
            except OSError:
                pass
    if now - last_print >= 0.25:
        last_print = now
        print('closed %d %.2f' % (len(socks) - len(open_), now - t0), flush=True)
`

interface Attacker {
  child: ChildProcess
  held: number
  failed: number
  /** [closed, seconds] lines so far */
  closed(): Array<[number, number]>
}

function attack(address: string, n: number, mode: 'idle' | 'slow' | 'keepalive'): Promise<Attacker> {
  const i = address.lastIndexOf(':')
  const [cmd, ...args] = user.as(['/usr/bin/python3', '-c', ATTACKER, address.slice(0, i), address.slice(i + 1), String(n), mode])
  const child = track(spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']}))
  let out = ''
  let err = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`attacker did not report within 30 s: ${out} ${err}`)), 30_000)
    const check = () => {
      const m = /^held (\d+) failed (\d+)$/m.exec(out)
      if (!m) return
      clearTimeout(timer)
      child.stdout!.off('data', check)
      resolve({
        child,
        held: Number(m[1]),
        failed: Number(m[2]),
        closed: () => [...out.matchAll(/^closed (\d+) ([\d.]+)$/gm)].map((x) => [Number(x[1]), Number(x[2])]),
      })
    }
    child.stdout!.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`attacker exited ${code}: ${out} ${err}`))
    })
  })
}

async function stopAttacker(a: Attacker): Promise<void> {
  if (a.child.exitCode !== null || a.child.signalCode !== null) return
  const gone = new Promise((res) => a.child.once('exit', res))
  a.child.kill('SIGKILL')
  await gone
}

function request(address: string, urlPath: string, timeoutMs = 2000): Promise<{status: number; ms: number; body: string}> {
  const i = address.lastIndexOf(':')
  const t0 = Date.now()
  return new Promise((resolve) => {
    const req = http.request({host: address.slice(0, i), port: Number(address.slice(i + 1)), path: urlPath, agent: false, timeout: timeoutMs}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode!, ms: Date.now() - t0, body}))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({status: 0, ms: Date.now() - t0, body: String(e)}))
    req.end()
  })
}

function openFds(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return -1
  }
}

/** The open fd count once it has not changed for 500 ms (at most 5 s). */
async function settledFds(pid: number): Promise<number> {
  const end = Date.now() + 5000
  let last = openFds(pid)
  let same = 0
  while (same < 5 && Date.now() < end) {
    await new Promise((res) => setTimeout(res, 100))
    const now = openFds(pid)
    same = now === last ? same + 1 : 0
    last = now
  }
  return last
}

async function serveUnderLimit(pidfile: string, nofile = 1024): Promise<{r: RunningCli; address: string}> {
  const r = startCli(['serve', 'victim', '--pidfile', pidfile, '--listen', '0', '--interval', '1s'], {}, ['prlimit', `--nofile=${nofile}:${nofile}`, '--'])
  const e = await nextEvent(r, (x) => x.event === 'listen')
  return {r, address: e.address}
}

test('more idle connections than the cap (and than RLIMIT_NOFILE 1024) from an unprivileged user: a fresh GET /healthz/NAME still answers 200 within 2 s', async () => {
  const v = await spawnLockedVictim()
  const {r, address} = await serveUnderLimit(v.pidfile)
  expect((await request(address, '/healthz/victim')).status).toBe(200)
  const a = await attack(address, 1100, 'idle')
  // The attacker's connect()s return once the kernel has them (backlog): wait until serve has taken them all.
  const fdsUnderAttack = await settledFds(r.pid)
  const fresh = await request(address, '/healthz/victim', 2000)
  const again = await request(address, '/healthz/victim', 2000)
  process.stderr.write(
    `serve-limits (1100 idle connections, nofile 1024): attacker held ${a.held} (failed ${a.failed}); serve had ${fdsUnderAttack} fds; fresh /healthz/victim ${fresh.status} in ${fresh.ms} ms, again ${again.status} in ${again.ms} ms\n`,
  )
  expect(a.child.exitCode).toBeNull() // still holding every socket it has
  expect(fresh.status).toBe(200)
  expect(JSON.parse(fresh.body)).toMatchObject({name: 'victim', state: 'running', pid: v.hostPid})
  expect(fresh.ms).toBeLessThan(2000)
  expect(again.status).toBe(200)
  // The cap (256 with this limit) holds the server's descriptors well below the limit.
  expect(fdsUnderAttack).toBeLessThan(256 + 64)
  expect(r.child.exitCode).toBeNull()
  await stopAttacker(a)
  expect((await stopCli(r)).status).toBe(0)
}, 60_000)

test.each([
  ['idle', 'connect and send nothing'],
  ['slow', 'send a request line, then one header byte a second (slowloris)'],
  ['keepalive', 'one keep-alive request, then nothing'],
] as const)(
  'connections that %s (%s) are closed by the server within 8 s',
  async (mode, _what: string) => {
    const v = await spawnLockedVictim()
    const {r, address} = await serveUnderLimit(v.pidfile)
    const a = await attack(address, 20, mode)
    expect(a.held).toBe(20)
    await until(() => a.closed().some(([c]) => c === 20), `all 20 ${mode} connections closed by the server`, 8000).catch((error) => {
      throw new Error(`${(error as Error).message}; last report: ${JSON.stringify(a.closed().slice(-1))}`)
    })
    const at = a.closed().find(([c]) => c === 20)![1]
    process.stderr.write(`serve-limits (${mode}): 20 connections closed by the server after ${at.toFixed(2)} s\n`)
    expect((await request(address, '/healthz/victim')).status).toBe(200)
    await stopAttacker(a)
    expect((await stopCli(r)).status).toBe(0)
  },
  60_000,
)

test('a malformed percent-escape in the URL is 400 with a JSON error, never 500; the server goes on', async () => {
  const v = await spawnLockedVictim()
  const {r, address} = await serveUnderLimit(v.pidfile)
  for (const bad of ['/healthz/%E0%A4%A', '/healthz/%', '/healthz/%ZZ', '/healthz/%C0%80']) {
    const res = await request(address, bad)
    expect({bad, status: res.status}).toEqual({bad, status: 400})
    expect(JSON.parse(res.body).error.code).toBe('BAD_REQUEST')
  }
  // A well-formed escape of a served name still works.
  expect((await request(address, '/healthz/%76ictim')).status).toBe(200)
  expect((await request(address, '/healthz/victim')).status).toBe(200)
  expect((await stopCli(r)).status).toBe(0)
}, 60_000)
