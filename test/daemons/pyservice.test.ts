/**
 * python3 services, whose comm and exe (python3, python3.11) never match their NAME:
 *  - pyservice: under start-stop-daemon --start --background --make-pidfile, as a Debian init
 *    script for a program that does not daemonize itself does: start-stop-daemon forks, writes the
 *    child's pid to the (unlocked) pidfile and execs python3;
 *  - app: a plain `/usr/bin/python3 app.py` put in the background by a shell (nohup ... &), writing its own app.pid.
 * The service waits for signals with sigwaitinfo and logs each one with its sender's pid
 * ("got SIGHUP from pid N"); TERM ends it.
 */
import {Daemon, readOr} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

const APP = `import os, signal, sys, time
log = open(sys.argv[1], 'a', buffering=1)
wanted = {signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
if len(sys.argv) > 2:
    with open(sys.argv[2] + '.tmp', 'w') as f:
        f.write('%d\\n' % os.getpid())
    os.rename(sys.argv[2] + '.tmp', sys.argv[2])
log.write('ready pid %d\\n' % os.getpid())
while True:
    info = signal.sigwaitinfo(wanted)
    log.write('got %s from pid %d\\n' % (signal.Signals(info.si_signo).name, info.si_pid))
    if info.si_signo == signal.SIGTERM:
        sys.exit(0)
`

daemonSuite('pyservice', async (d: Daemon) => {
  const pidfile = d.path('run', 'pyservice.pid')
  const log = d.path('pyservice.log')
  d.mkdir('run')
  d.logs.push(log)
  const app = d.write('app.py', APP)
  d.launch(['start-stop-daemon', '--start', '--background', '--make-pidfile', '--pidfile', pidfile, '--exec', '/usr/bin/python3', '--', app, log])
  await d.until(() => /ready pid/.test(readOr(log)), `pyservice's "ready" in ${log}`)
  const main = await d.discoverMain({exe: '/usr/bin/python3', marker: app})
  return {
    targets: [{name: 'pyservice', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /got SIGHUP from pid \d+/}, why: 'the service logs each signal'},
  }
})

daemonSuite('python3-app', async (d: Daemon) => {
  const pidfile = d.path('run', 'app.pid')
  const log = d.path('app.log')
  d.mkdir('run')
  d.logs.push(log)
  const app = d.write('app.py', APP)
  d.launch(['sh', '-c', 'nohup /usr/bin/python3 "$0" "$1" "$2" >/dev/null 2>&1 &', app, log, pidfile])
  await d.until(() => /ready pid/.test(readOr(log)), `app's "ready" in ${log}`)
  const main = await d.discoverMain({exe: '/usr/bin/python3', marker: app})
  return {
    targets: [{name: 'app', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /got SIGHUP from pid \d+/}, why: 'the service logs each signal'},
  }
})
