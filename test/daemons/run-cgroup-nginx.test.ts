/**
 * issue 22 against a real forking daemon nobody here wrote: Debian's nginx (nginx-light), started by
 * `nslocate run --daemon-pidfile` as systemd's Type=forking with PIDFile= would start it. The master
 * forks away from COMMAND and writes its own pidfile; run follows it in the service's cgroup: NAME's
 * pidfile names the master, find lists the master and its workers, HUP reloads (nginx logs it and
 * replaces its workers), TERM --scope cgroup stops them all, and run exits with nginx's own status
 * leaving no pidfile and no cgroup.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {SERVICES, procsOf, readOr} from '../helpers/cgroup'
import {cli, cliJson, killTracked, until} from '../helpers/cli'
import {stopAll, tempDir} from '../helpers/tracked'
import {exitOf, runInBackground} from '../safety/run-helpers'
import {leafName} from '../../src/cgroup/service'
import {freePort, tcpOpen} from './helpers/daemons'

afterEach(() => killTracked())
afterAll(() => stopAll())

/** The pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readOr(`/proc/${pid}/task/${pid}/children`).split(' ').filter(Boolean).map(Number)
}

test('nginx under run --daemon-pidfile: the master named, its workers in the cgroup, HUP reloads, TERM --scope cgroup stops all, run exits 0', async () => {
  const dir = tempDir('nslocate-run-nginx-')
  fs.chmodSync(dir, 0o755)
  const port = await freePort()
  const own = path.join(dir, 'nginx.pid')
  const errlog = path.join(dir, 'error.log')
  const conf = path.join(dir, 'nginx.conf')
  fs.mkdirSync(path.join(dir, 'tmp'))
  fs.writeFileSync(
    conf,
    `worker_processes 2;
pid ${own};
error_log ${errlog} notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${path.join(dir, 'tmp')};
  server { listen 127.0.0.1:${port}; location / { return 200 "ok\\n"; } }
}
`,
  )
  const file = path.join(dir, 'ngx.pid')
  const cgdir = path.join(SERVICES, leafName('ngx', file))
  const sup = runInBackground(['ngx', '--dir', dir, '--daemon-pidfile', own, '--', '/usr/sbin/nginx', '-c', conf, '-p', dir])
  await until(() => tcpOpen(port), `nginx on 127.0.0.1:${port}`)
  await until(() => /^[0-9]+\n$/.test(readOr(own)) && readOr(file) === readOr(own).trim(), `NAME's pidfile to name the pid nginx wrote (${readOr(own).trim()})`)
  const master = Number(readOr(file))
  // nginx writes its pidfile before it sets its process title: polled
  await until(() => readOr(`/proc/${master}/cmdline`).includes('nginx: master process'), `pid ${master} to call itself the nginx master`).catch(() => {})
  expect(readOr(`/proc/${master}/cmdline`)).toContain('nginx: master process')
  await until(() => childrenOf(master).length === 2, 'the two workers')
  const workers = childrenOf(master)
  expect(sup.exitCode).toBeNull() // COMMAND (the nginx that forked the master) has exited; run follows the master

  const found = await cliJson(['find', 'ngx', '--dir', dir])
  expect([found.status, found.json.state, found.json.pid]).toEqual([0, 'running', master])
  expect(found.json.cgroup).toMatchObject({dir: cgdir, populated: true, processes: [master, ...workers].sort((a, b) => a - b)})
  expect(procsOf(cgdir)).toEqual([master, ...workers].sort((a, b) => a - b))

  // HUP: nginx itself says it reconfigured, and its workers are new processes
  const hup = await cli(['signal', 'ngx', 'HUP', '--dir', dir])
  expect(hup.status).toBe(0)
  await until(() => /signal 1 \(SIGHUP\) received.*reconfiguring/.test(readOr(errlog)), 'nginx to log the reload')
  await until(() => childrenOf(master).length === 2 && childrenOf(master).every((w) => !workers.includes(w)), 'new workers')
  expect(await tcpOpen(port)).toBe(true)

  const stop = await cliJson(['signal', 'ngx', 'TERM', '--scope', 'cgroup', '--dir', dir, '--wait', '--timeout', '20s'])
  expect([stop.status, stop.json.exited]).toEqual([0, true])
  expect(stop.json.delivered.map((d: {pid: number}) => d.pid)).toContain(master)
  expect(await exitOf(sup)).toEqual({code: 0, signal: null})
  expect(fs.existsSync(file)).toBe(false)
  expect(fs.existsSync(cgdir)).toBe(false)
  expect(await tcpOpen(port)).toBe(false)
})
