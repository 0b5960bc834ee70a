/**
 * sshd as Debian's init script starts it: the privilege-separation directory /run/sshd made first
 * (check_privsep_dir), then start-stop-daemon --exec /usr/sbin/sshd with our own config (-f) and
 * a log file (-E); sshd forks away and writes the unlocked pidfile. SIGHUP makes sshd re-execute
 * itself (same pid) and log "Received SIGHUP; restarting.".
 */
import * as fs from 'node:fs'

import {Daemon, freePort, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('sshd', async (d: Daemon) => {
  const port = await freePort()
  const pidfile = d.path('run', 'sshd.pid')
  const log = d.path('sshd.log')
  d.mkdir('run')
  d.logs.push(log)
  if (!fs.existsSync('/run/sshd')) {
    fs.mkdirSync('/run/sshd', {mode: 0o755})
    d.onStop(() => fs.rmdirSync('/run/sshd'))
  }
  d.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', d.path('host_ed25519_key')])
  const conf = d.write(
    'sshd_config',
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `PidFile ${pidfile}`,
      `HostKey ${d.path('host_ed25519_key')}`,
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'LogLevel INFO',
    ].join('\n') + '\n',
  )
  d.launch(['start-stop-daemon', '--start', '--quiet', '--chuid', '0:0', '--pidfile', pidfile, '--exec', '/usr/sbin/sshd', '--', '-f', conf, '-E', log])
  await d.until(() => tcpOpen(port), `sshd on 127.0.0.1:${port}`)
  const main = await d.discoverMain({exe: '/usr/sbin/sshd', marker: conf})
  return {
    targets: [{name: 'sshd', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'log', file: log, pattern: /Received SIGHUP; restarting/}, why: 'sshd logs the re-exec'},
    ready: () => tcpOpen(port),
  }
})
