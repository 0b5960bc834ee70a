/**
 * apache2 as Debian starts it: apache2ctl start with APACHE_CONFDIR pointing at our own config
 * directory (its envvars and apache2.conf), which runs `apache2 -d DIR -k start`; the parent forks
 * away and writes the unlocked pidfile. SIGUSR1 is apache's graceful restart (apache2ctl graceful);
 * it logs "AH00493: SIGUSR1 received.  Doing graceful restart".
 */
import {Daemon, freePort, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('apache2', async (d: Daemon) => {
  const port = await freePort()
  const confdir = d.mkdir('apache2')
  const pidfile = d.path('run', 'apache2.pid')
  const errlog = d.path('log', 'error.log')
  d.mkdir('run')
  d.mkdir('lock')
  d.mkdir('log')
  d.mkdir('www')
  d.logs.push(errlog)
  d.write(
    'apache2/envvars',
    `unset HOME
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=${pidfile}
export APACHE_RUN_DIR=${d.path('run')}
export APACHE_LOCK_DIR=${d.path('lock')}
export APACHE_LOG_DIR=${d.path('log')}
export LANG=C
`,
  )
  d.write(
    'apache2/apache2.conf',
    `ServerRoot ${confdir}
ServerName localhost
PidFile \${APACHE_PID_FILE}
Mutex file:\${APACHE_LOCK_DIR} default
DefaultRuntimeDir \${APACHE_RUN_DIR}
User \${APACHE_RUN_USER}
Group \${APACHE_RUN_GROUP}
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4
Listen 127.0.0.1:${port}
ErrorLog ${errlog}
LogLevel notice
DocumentRoot ${d.path('www')}
`,
  )
  d.launch(['/usr/sbin/apache2ctl', 'start'], {env: {APACHE_CONFDIR: confdir}})
  await d.until(() => tcpOpen(port), `apache2 on 127.0.0.1:${port}`)
  const main = await d.discoverMain({exe: '/usr/sbin/apache2', marker: confdir})
  return {
    targets: [{name: 'apache2', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'USR1', proof: {kind: 'log', file: errlog, pattern: /AH00493: SIGUSR1 received/}, why: 'apache logs the graceful restart'},
    ready: () => tcpOpen(port),
  }
})
