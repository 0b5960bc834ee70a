/**
 * cron as Debian's init script starts it: start-stop-daemon --start --pidfile /run/crond.pid
 * --name cron --startas /usr/sbin/cron. cron forks away and writes its compiled-in pidfile
 * /run/crond.pid, which it keeps locked. It has no port. NAME `cron` for the file crond.pid (the
 * daemon suffix `d`). SIGHUP's arrival is shown by strace -p.
 * Only one cron can run (the pidfile is fixed): if one runs already, the suite says so and fails.
 */
import * as fs from 'node:fs'

import {Daemon, procEntry} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

daemonSuite('cron', async (d: Daemon) => {
  const pidfile = '/run/crond.pid'
  const held = fs.existsSync(pidfile) ? Number(fs.readFileSync(pidfile, 'utf8')) : 0
  if (held && procEntry(held)) throw new Error(`${pidfile} names running pid ${held}: a cron runs already; the tier starts its own`)
  d.onStop(() => fs.rmSync(pidfile, {force: true}))
  d.launch(['start-stop-daemon', '--start', '--quiet', '--pidfile', pidfile, '--name', 'cron', '--startas', '/usr/sbin/cron', '--'])
  const main = await d.discoverMain({exe: '/usr/sbin/cron'})
  await d.until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '', pidfile)
  return {
    targets: [{name: 'cron', pidfile, args: ['--pidfile', pidfile]}],
    main,
    reload: {signal: 'HUP', proof: {kind: 'strace'}, why: 'cron logs only to syslog; strace shows SIGHUP arrive'},
  }
})
