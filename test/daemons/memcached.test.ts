/**
 * memcached as its documentation starts it by hand: -d (daemonize), -P (pidfile, unlocked),
 * -u memcache, on 127.0.0.1 only, UDP off. The pidfile is /run/memcached/memcached.pid (Debian's
 * path), found by the natural NAME `memcached` with no --pidfile: `find` searches /run/NAME/NAME.pid.
 * memcached has no reload and ignores SIGHUP (its USR1 is a graceful stop); SIGHUP's arrival is
 * shown by strace -p, and nslocate says it will not act (exit 1).
 */
import * as fs from 'node:fs'

import {Daemon, freePort, procEntry, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('memcached', async (d: Daemon) => {
  const port = await freePort()
  const pidfile = '/run/memcached/memcached.pid'
  const held = fs.existsSync(pidfile) ? Number(fs.readFileSync(pidfile, 'utf8')) : 0
  if (held && procEntry(held)) throw new Error(`${pidfile} names running pid ${held}: another memcached uses Debian's pidfile; stop it first`)
  if (!fs.existsSync('/run/memcached')) {
    fs.mkdirSync('/run/memcached', {mode: 0o755}) // tmpfiles.d makes it at install and boot; not if it is gone
    d.onStop(() => fs.rmSync('/run/memcached', {recursive: true, force: true}))
  }
  d.onStop(() => fs.rmSync(pidfile, {force: true}))
  d.launch(['/usr/bin/memcached', '-d', '-u', 'memcache', '-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '16', '-P', pidfile])
  await d.until(() => tcpOpen(port), `memcached on 127.0.0.1:${port}`)
  await d.until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '', pidfile)
  const main = await d.discoverMain({exe: '/usr/bin/memcached', marker: `-p ${port}`})
  return {
    targets: [{name: 'memcached', pidfile, args: []}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'strace'}, why: 'memcached ignores SIGHUP (its USR1 is a shutdown); strace shows it arrive', ignored: true},
    ready: () => tcpOpen(port),
  }
})
