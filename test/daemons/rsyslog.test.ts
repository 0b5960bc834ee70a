/**
 * rsyslogd as Debian's init script starts it: start-stop-daemon --exec /usr/sbin/rsyslogd with
 * our own config (-f) and pidfile (-i); rsyslogd forks, the parent exits once the child runs.
 * Input: imtcp on 127.0.0.1 only; every message, rsyslog's own too (processInternalMessages: it
 * would send them to /dev/log, which nothing reads here), to a file in the temp dir. SIGHUP makes rsyslog
 * close its files and log "rsyslogd was HUPed".
 */
import {Daemon, freePort, readOr, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('rsyslogd', async (d: Daemon) => {
  const port = await freePort()
  const pidfile = d.path('run', 'rsyslogd.pid')
  const log = d.path('all.log')
  d.mkdir('run')
  d.mkdir('work')
  d.logs.push(log)
  const conf = d.write(
    'rsyslog.conf',
    `global(workDirectory="${d.path('work')}" processInternalMessages="on")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${port}")
*.* action(type="omfile" file="${log}")
`,
  )
  d.launch(['start-stop-daemon', '--start', '--quiet', '--pidfile', pidfile, '--exec', '/usr/sbin/rsyslogd', '--', '-f', conf, '-i', pidfile])
  await d.until(() => tcpOpen(port), `rsyslogd on 127.0.0.1:${port}`)
  await d.until(() => /\] start/.test(readOr(log)), `rsyslogd's start message in ${log}`)
  const main = await d.discoverMain({exe: '/usr/sbin/rsyslogd', marker: conf})
  return {
    targets: [{name: 'rsyslogd', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /rsyslogd was HUPed/}, why: 'rsyslog logs the HUP'},
    ready: () => tcpOpen(port),
  }
})
