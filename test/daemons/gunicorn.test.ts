/**
 * gunicorn as its documentation runs it detached: `gunicorn --pid FILE --daemon` (the issue's
 * case: /run/gunicorn/myapp.pid, here under the temp dir). The master's comm is gunicorn, its exe
 * python3.11, the NAME myapp: the name does not match, and the unlocked pidfile is still the
 * service's. SIGHUP reloads (new workers) and logs "Handling signal: hup".
 */
import * as fs from 'node:fs'

import {Daemon, freePort, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('gunicorn', async (d: Daemon) => {
  const port = await freePort()
  const pidfile = d.path('run', 'gunicorn', 'myapp.pid')
  const log = d.path('gunicorn.log')
  d.mkdir('run/gunicorn')
  d.logs.push(log)
  d.write(
    'app/myapp.py',
    `def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'ok\\n']
`,
  )
  d.launch([
    '/usr/bin/gunicorn',
    '--pid',
    pidfile,
    '--daemon',
    '--bind',
    `127.0.0.1:${port}`,
    '--workers',
    '1',
    '--chdir',
    d.path('app'),
    '--error-logfile',
    log,
    '--log-level',
    'info',
    'myapp:app',
  ])
  await d.until(() => tcpOpen(port), `gunicorn on 127.0.0.1:${port}`)
  await d.until(() => fs.existsSync(pidfile), pidfile)
  const main = await d.discoverMain({exe: '/usr/bin/python3', marker: pidfile})
  return {
    targets: [{name: 'myapp', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /Handling signal: hup/}, why: 'gunicorn logs the HUP'},
    ready: () => tcpOpen(port),
  }
})
