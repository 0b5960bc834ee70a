/**
 * PostgreSQL 15 the Debian way: a cluster made with pg_createcluster (its own name, data directory
 * under the temp dir, a free port, listen_addresses 127.0.0.1) and started with pg_ctlcluster, as
 * the init script does. It writes two unlocked pidfiles: Debian's external_pid_file
 * /run/postgresql/15-NAME.pid (one line) and the data directory's postmaster.pid (pid on the first
 * line, then data dir, start time, port, socket dir, listen address, shm key, status). The cluster
 * is ours, not 15-main, so a cluster of the machine is never touched; pg_dropcluster removes it.
 * NAME for the first file is the cluster's name 15-NAME (pg_ctlcluster's), searched with --dir;
 * the comm is postgres. SIGHUP reloads the configuration and logs
 * "received SIGHUP, reloading configuration files".
 */
import * as fs from 'node:fs'

import {Daemon, freePort, readOr, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('postgresql', async (d: Daemon) => {
  const port = await freePort()
  const cluster = `nslt${process.pid}`
  const data = d.path('pgdata')
  const log = d.write('postgresql.log', '')
  d.run(['chown', 'postgres:postgres', log])
  d.logs.push(log)
  d.onStop(() => d.run(['pg_dropcluster', '--stop', '15', cluster], {allowFail: true}))
  d.run(['pg_createcluster', '15', cluster, '--datadir', data, '--port', String(port), '--logfile', log, '--start-conf', 'manual'])
  // Debian's postgresql.conf includes conf.d/: listen on loopback only (the default is localhost).
  fs.writeFileSync(`/etc/postgresql/15/${cluster}/conf.d/nslocate-test.conf`, "listen_addresses = '127.0.0.1'\n")
  const conf = readOr(`/etc/postgresql/15/${cluster}/postgresql.conf`)
  const external = (conf.match(/^external_pid_file\s*=\s*'([^']+)'/m) ?? [])[1]
  if (!external) throw new Error(`no external_pid_file in /etc/postgresql/15/${cluster}/postgresql.conf`)
  const pidfile = external.replace(/^\/var\/run\//, '/run/')
  d.launch(['pg_ctlcluster', '15', cluster, 'start'])
  await d.until(() => tcpOpen(port), `postgres on 127.0.0.1:${port}`, 60_000)
  await d.until(() => fs.existsSync(pidfile), pidfile)
  const main = await d.discoverMain({exe: '/usr/lib/postgresql/15/bin/postgres', marker: data})
  return {
    targets: [
      {name: `15-${cluster}`, pidfile, args: ['--dir', '/run/postgresql']},
      {name: 'postgres', pidfile: `${data}/postmaster.pid`, args: ['--pidfile', `${data}/postmaster.pid`]},
    ],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /received SIGHUP, reloading configuration files/}, why: 'postgres logs the reload'},
    ready: () => tcpOpen(port),
  }
})
