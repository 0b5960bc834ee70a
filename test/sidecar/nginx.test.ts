/**
 * A real nginx (Debian's nginx-light) on a free loopback port, with its own prefix and config in a
 * temp dir, `daemon off` and its (unlocked) pidfile: `nslocate reload` validates the new config
 * with `nginx -t`, HUPs the master by pidfd, and nginx replaces its workers and serves the new config.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as net from 'node:net'
import * as path from 'node:path'

import {isAlive, killTracked, until} from '../helpers/cli'
import {spawnTracked, stopAll, tempDir} from '../helpers/tracked'
import {writeAtomic} from './configmap'
import {events, nextEvent, startCli, stopCli} from './run-cli'

afterAll(async () => {
  await killTracked()
  await stopAll()
})

const NGINX = '/usr/sbin/nginx'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function conf(dir: string, port: number, body: string): string {
  return `daemon off;
master_process on;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port}; location / { return 200 "${body}\\n"; } }
}
`
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({host: '127.0.0.1', port, path: '/', agent: false}, (res) => {
        let b = ''
        res.on('data', (d) => (b += d))
        res.on('end', () => resolve(b.trim()))
      })
      .on('error', reject)
  })
}

const workers = (master: number) => fs.readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).sort()

test('nginx -t validates, the HUP reaches the master by pidfd, the workers are replaced and the new config is served; a broken config sends nothing', async () => {
  expect(fs.existsSync(NGINX)).toBe(true)
  const dir = tempDir('nslocate-nginx-')
  fs.mkdirSync(path.join(dir, 'tmp'))
  const cdir = path.join(dir, 'conf')
  fs.mkdirSync(cdir)
  const file = path.join(cdir, 'nginx.conf')
  const port = await freePort()
  fs.writeFileSync(file, conf(dir, port, 'v1'))
  const nginxArgs = ['-p', dir, '-c', file, '-e', path.join(dir, 'error.log')]
  expect(spawnSync(NGINX, ['-t', ...nginxArgs], {encoding: 'utf8'}).status).toBe(0)
  const master = spawnTracked([NGINX, ...nginxArgs], {stdio: 'ignore'})
  const pidfile = path.join(dir, 'nginx.pid')
  await until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() === String(master.pid), 'nginx.pid written')
  await until(() => workers(master.pid!).length === 2, 'two workers')
  expect(await get(port)).toBe('v1')
  const before = workers(master.pid!)

  const r = startCli(['reload', 'nginx', '--pidfile', pidfile, '--watch', cdir, '--debounce', '200ms', '--validate', `${NGINX} -t -q ${nginxArgs.join(' ')}`])
  expect(await nextEvent(r, (e) => e.event === 'service')).toMatchObject({state: 'running', pid: master.pid})

  // A broken config: nginx -t fails, nothing is sent, the old workers still serve v1.
  writeAtomic(file, conf(dir, port, 'v2').replace('events {', 'events { bogus_directive on;'))
  const bad = await nextEvent(r, (e) => e.event === 'validation')
  expect(bad.ok).toBe(false)
  expect(bad.output).toContain('bogus_directive')
  await new Promise((res) => setTimeout(res, 500))
  expect(events(r).some((e) => e.event === 'signal')).toBe(false)
  expect(workers(master.pid!)).toEqual(before)
  expect(await get(port)).toBe('v1')

  // A good one, written the way editors do (a temp file renamed over it).
  writeAtomic(file, conf(dir, port, 'v2'))
  const sig = await nextEvent(r, (e) => e.event === 'signal')
  expect(sig).toMatchObject({result: 'signalled', pid: master.pid, dispositions: [expect.objectContaining({disposition: 'handled', signal: 'HUP'})]})
  // (a connection refused or reset while the workers change is a "not yet", not a failure)
  await until(async () => (await get(port).catch(() => '')) === 'v2', 'nginx serving v2', 10000)
  await until(
    () => {
      const now = workers(master.pid!)
      return now.length === 2 && now.every((w) => !before.includes(w))
    },
    'both workers replaced',
    10000,
  )
  expect(fs.readFileSync(path.join(dir, 'error.log'), 'utf8')).toContain(`signal 1 (SIGHUP) received from ${r.pid}, reconfiguring`) // the sender is the reloader itself
  expect((await stopCli(r)).status).toBe(0)
  // Graceful stop, waited for: SIGKILL of the master by afterAll's clean-up left its workers
  // running, reparented to pid 1.
  const last = workers(master.pid!)
  master.kill('SIGQUIT')
  await until(() => master.exitCode !== null || master.signalCode !== null, 'nginx master to quit', 15000)
  await until(() => last.every((w) => !isAlive(w)), 'nginx workers to quit', 15000)
})
