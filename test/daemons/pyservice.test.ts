/**
 * A python3 service under start-stop-daemon --start --background --make-pidfile, as a Debian init
 * script for a program that does not daemonize itself does: start-stop-daemon forks, writes the
 * child's pid to the (unlocked) pidfile and execs python3. The service waits for signals with
 * sigwaitinfo and logs each one with its sender's pid ("got SIGHUP from pid N"); TERM ends it.
 */
import {Daemon, readOr} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('pyservice', async (d: Daemon) => {
  const pidfile = d.path('run', 'pyservice.pid')
  const log = d.path('pyservice.log')
  d.mkdir('run')
  d.logs.push(log)
  const app = d.write('app.py', `import os, signal, sys, time
log = open(sys.argv[1], 'a', buffering=1)
wanted = {signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
log.write('ready pid %d\\n' % os.getpid())
while True:
    info = signal.sigwaitinfo(wanted)
    log.write('got %s from pid %d\\n' % (signal.Signals(info.si_signo).name, info.si_pid))
    if info.si_signo == signal.SIGTERM:
        sys.exit(0)
`)
  d.launch(['start-stop-daemon', '--start', '--background', '--make-pidfile', '--pidfile', pidfile,
    '--exec', '/usr/bin/python3', '--', app, log])
  await d.until(() => /ready pid/.test(readOr(log)), `pyservice's "ready" in ${log}`)
  const main = await d.discoverMain({exe: '/usr/bin/python3', marker: app})
  return {
    targets: [{name: 'pyservice', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /got SIGHUP from pid \d+/}, why: 'the service logs each signal'},
  }
})
