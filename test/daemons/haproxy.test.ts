/**
 * A daemon that chroots itself: haproxy with `chroot DIR` in its global section, started as
 * Debian's init script does (start-stop-daemon --exec /usr/sbin/haproxy -- -f CONF -D -p PIDFILE).
 * The parent writes the unlocked pidfile outside the chroot and exits; the daemon chroots (an empty
 * directory) and drops to user haproxy. /proc/PID/root is the chroot, in our own mount namespace:
 * the pidfile is still its. haproxy's SIGHUP dumps server states to its log (none is set up here);
 * arrival is shown by strace -p.
 */
import * as fs from 'node:fs'

import {Daemon, freePort, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite(
  'haproxy',
  async (d: Daemon) => {
    const port = await freePort()
    const pidfile = d.path('run', 'haproxy.pid')
    const chroot = d.mkdir('chroot')
    d.mkdir('run')
    const conf = d.write(
      'haproxy.cfg',
      `global
  chroot ${chroot}
  user haproxy
  group haproxy
  daemon
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  http-request return status 200 content-type text/plain string ok
`,
    )
    d.launch([
      'start-stop-daemon',
      '--quiet',
      '--oknodo',
      '--start',
      '--pidfile',
      pidfile,
      '--exec',
      '/usr/sbin/haproxy',
      '--',
      '-f',
      conf,
      '-D',
      '-p',
      pidfile,
    ])
    await d.until(() => tcpOpen(port), `haproxy on 127.0.0.1:${port}`)
    const main = await d.discoverMain({exe: '/usr/sbin/haproxy', marker: conf})
    return {
      targets: [{name: 'haproxy', pidfile, args: ['--pidfile', pidfile]}],
      main,
      reload: {signal: 'HUP', proof: {kind: 'strace'}, why: 'no log target; strace shows SIGHUP arrive'},
      ready: () => tcpOpen(port),
    }
  },
  (get) => {
    test('it really runs chrooted, in our mount namespace', () => {
      const {d, spec} = get()
      expect(fs.readlinkSync(`/proc/${spec.main}/root`)).toBe(d.path('chroot'))
      expect(fs.readlinkSync(`/proc/${spec.main}/ns/mnt`)).toBe(fs.readlinkSync('/proc/self/ns/mnt'))
    })
  },
)
