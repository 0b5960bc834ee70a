/**
 * redis-server as Debian's init script starts it: start-stop-daemon --chuid redis:redis, a config
 * with `daemonize yes` (redis forks, the child writes the unlocked pidfile). Redis ignores SIGHUP,
 * so arrival is shown by strace -p; nslocate says it will not act (exit 1).
 */
import * as fs from 'node:fs'

import {Daemon, freePort, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('redis-server', async (d: Daemon) => {
  const port = await freePort()
  d.mkdir('run', 'redis:redis')
  d.mkdir('data', 'redis:redis')
  const pidfile = d.path('run', 'redis-server.pid')
  const log = d.path('data', 'redis-server.log')
  d.logs.push(log)
  const conf = d.write(
    'redis.conf',
    [
      'daemonize yes',
      `bind 127.0.0.1`,
      `port ${port}`,
      `pidfile ${pidfile}`,
      `logfile ${log}`,
      `dir ${d.path('data')}`,
      'save ""',
      'appendonly no',
      'loglevel notice',
    ].join('\n') + '\n',
  )
  d.launch([
    'start-stop-daemon',
    '--start',
    '--quiet',
    '--umask',
    '007',
    '--pidfile',
    pidfile,
    '--chuid',
    'redis:redis',
    '--exec',
    '/usr/bin/redis-server',
    '--',
    conf,
  ])
  await d.until(() => tcpOpen(port), `redis on 127.0.0.1:${port}`)
  const main = await d.discoverMain({exe: '/usr/bin/redis-server', marker: `127.0.0.1:${port}`})
  await d.until(() => fs.existsSync(pidfile), pidfile)
  return {
    targets: [{name: 'redis-server', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'strace'}, why: 'redis ignores SIGHUP; strace shows it arrive', ignored: true},
    ready: () => tcpOpen(port),
  }
})
