/**
 * nginx (nginx-light) as Debian's init script starts it: start-stop-daemon --start --exec
 * /usr/sbin/nginx with our own config (-c); the master forks away and writes the unlocked pidfile.
 * SIGHUP makes it re-read its config and log "signal 1 (SIGHUP) received from PID, reconfiguring".
 */
import {Daemon, freePort, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('nginx', async (d: Daemon) => {
  const port = await freePort()
  const pidfile = d.path('run', 'nginx.pid')
  const errlog = d.path('error.log')
  d.mkdir('run')
  d.logs.push(errlog)
  const conf = d.write(
    'nginx.conf',
    `user www-data;
worker_processes 1;
pid ${pidfile};
error_log ${errlog} notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${d.path('tmp')};
  server { listen 127.0.0.1:${port}; location / { return 200 "ok\\n"; } }
}
`,
  )
  d.mkdir('tmp')
  d.launch(['start-stop-daemon', '--start', '--quiet', '--pidfile', pidfile, '--exec', '/usr/sbin/nginx', '--', '-c', conf, '-p', d.dir])
  await d.until(() => tcpOpen(port), `nginx on 127.0.0.1:${port}`)
  const main = await d.discoverMain({exe: '/usr/sbin/nginx', marker: conf})
  return {
    targets: [{name: 'nginx', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: errlog, pattern: /signal 1 \(SIGHUP\) received.*reconfiguring/}, why: 'nginx logs the reload'},
    ready: () => tcpOpen(port),
  }
})
