/**
 * A privilege-separated lock holder (issue 17, "Too strict for real daemons"): atd as Debian's init
 * script starts it (`start_daemon -p /var/run/atd.pid /usr/sbin/atd`, i.e. start-stop-daemon
 * --start --oknodo --exec /usr/sbin/atd --pidfile /var/run/atd.pid). atd forks away, drops its
 * effective uid to `daemon` and keeps its real uid 0 (Uid: 0 1 1 1), then creates its compiled-in
 * pidfile /run/atd.pid (root:root 0644, in root's /run) and holds a POSIX write lock on it for its
 * whole life. That holder could have written the file (its real uid is root), so its lock counts:
 * `find atd` is running with atd's pid, with no foreign_lock_holder; so are `list` and `wait`.
 *
 * SIGHUP makes atd rescan its spool at once (the `at` command sends it after queueing a job). The
 * proof that our HUP arrived and was acted on: a job queued with `at` for tomorrow (atd then sleeps
 * up to an hour), renamed in the spool to a time that has passed, runs only when atd rescans, and
 * writes a line to our log. Only one atd can run (the pidfile and the spool are fixed): if one runs
 * already, the suite says so and fails.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {Daemon, procEntry, readOr, sleep} from './helpers/daemons'
import {daemonSuite, lockOf} from './helpers/suite'

const PIDFILE = '/run/atd.pid'
const SPOOL = '/var/spool/cron/atjobs'
const OUTPUT_SPOOL = '/var/spool/cron/atspool'

/** Uid:/Gid: of /proc/PID/status: [real, effective, saved, filesystem]. */
function ids(pid: number, which: 'Uid' | 'Gid'): number[] {
  const m = readOr(`/proc/${pid}/status`).match(new RegExp(`^${which}:\\s+(.*)$`, 'm'))
  return m ? m[1].trim().split(/\s+/).map(Number) : []
}

function uidOf(user: string): number {
  const line = readOr('/etc/passwd')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))
  if (!line) throw new Error(`no user ${user} in /etc/passwd`)
  return Number(line.split(':')[2])
}

const shown = (args: string[], r: {status: number | null; json: any; stderr: string}) =>
  `nslocate ${args.join(' ')} --json (exit ${r.status}):\n${JSON.stringify(r.json, null, 1)}\n${r.stderr}\n/proc/locks on ${PIDFILE}: ${lockOf(PIDFILE)}`

daemonSuite(
  'atd',
  async (d: Daemon) => {
    const held = fs.existsSync(PIDFILE) ? Number(readOr(PIDFILE).trim()) : 0
    if (held && procEntry(held)) throw new Error(`${PIDFILE} names running pid ${held}: an atd runs already; the tier starts its own`)
    d.onStop(() => fs.rmSync(PIDFILE, {force: true}))
    d.launch([
      'start-stop-daemon',
      '--start',
      '--nicelevel',
      '0',
      '--quiet',
      '--oknodo',
      '--chdir',
      d.dir,
      '--exec',
      '/usr/sbin/atd',
      '--oknodo',
      '--pidfile',
      '/var/run/atd.pid',
      '--',
    ])
    const main = await d.discoverMain({exe: '/usr/sbin/atd'})
    await d.until(() => readOr(PIDFILE).trim() === String(main) && lockOf(PIDFILE) !== 'no', `${PIDFILE} written and locked by ${main}`)

    // The reload proof: a job for tomorrow, made due by renaming it (queue letter, 5 hex digits of
    // job number, 8 hex digits of minutes since the epoch), which atd sees only on its next rescan.
    const log = d.path('atjob.log')
    d.logs.push(log)
    const job = d.write('job.sh', `echo "atd ran the job of the nslocate daemons tier" >> ${log}\n`)
    const out = d.run(['at', '-f', job, 'now', '+', '1', 'day'])
    const no = Number((out.match(/job (\d+) at/) ?? [])[1])
    if (!no) throw new Error(`at did not say which job it queued:\n${out}`)
    const prefix = `a${no.toString(16).padStart(5, '0')}`
    d.onStop(() => {
      for (const dir of [SPOOL, OUTPUT_SPOOL]) {
        for (const f of fs.readdirSync(dir)) if (f.slice(1).startsWith(prefix.slice(1))) fs.rmSync(path.join(dir, f), {force: true})
      }
    })
    const queued = fs.readdirSync(SPOOL).find((f) => f.startsWith(prefix))
    if (!queued) throw new Error(`job ${no} (${prefix}...) not in ${SPOOL}: ${fs.readdirSync(SPOOL).join(' ')}`)
    // `at` woke atd (HUP) to rescan; atd skips a rescan while the spool's mtime (seconds) is the one it
    // saw last, so the rename waits for the next second, after atd's rescan of the new job.
    await sleep(1500)
    fs.renameSync(path.join(SPOOL, queued), path.join(SPOOL, prefix + (Math.floor(Date.now() / 60_000) - 1).toString(16).padStart(8, '0')))
    await sleep(1500)
    if (readOr(log) !== '') throw new Error(`atd ran the job before any HUP from nslocate (${log}: ${readOr(log)}): the proof would prove nothing`)

    return {
      targets: [{name: 'atd', pidfile: PIDFILE, args: []}],
      main,
      reload: {
        signal: 'HUP',
        proof: {kind: 'log', file: log, pattern: /atd ran the job of the nslocate daemons tier/},
        why: 'atd rescans its spool on HUP and runs the job we made due',
      },
    }
  },
  (get) => {
    test('the lock holder is privilege-separated: real uid 0, effective uid daemon, on a root-owned 0644 pidfile in /run', () => {
      const {spec} = get()
      const daemon = uidOf('daemon')
      const st = fs.statSync(PIDFILE)
      const dir = fs.statSync(path.dirname(PIDFILE))
      const locks = lockOf(PIDFILE)
      expect({
        lock: locks,
        uids: ids(spec.main, 'Uid'),
        file: {uid: st.uid, mode: (st.mode & 0o7777).toString(8)},
        dir: {uid: dir.uid, mode: (dir.mode & 0o7777).toString(8)},
      }).toEqual({
        lock: `POSIX WRITE (pid ${spec.main})`,
        uids: [0, daemon, daemon, daemon],
        file: {uid: 0, mode: '644'},
        dir: {uid: 0, mode: '755'},
      })
    })

    test("find counts its lock: running, holder and pid atd's, no foreign_lock_holder, exit 0", async () => {
      const {spec} = get()
      const args = ['find', 'atd']
      const r = await cliJson(args, {timeoutMs: 60_000})
      try {
        expect({status: r.status, state: r.json.state, pid: r.json.pid, holder: r.json.holder, lock: r.json.pidfile?.lock, path: r.json.pidfile?.path}).toEqual(
          {status: 0, state: 'running', pid: spec.main, holder: spec.main, lock: 'posix', path: PIDFILE},
        )
        expect(r.json.reasons).not.toContain('foreign_lock_holder')
        expect((r.json.evidence as string[]).filter((l) => /^REFUSED/.test(l))).toEqual([])
      } catch (error) {
        ;(error as Error).message += `\n${shown(args, r)}`
        throw error
      }
    }, 60_000)

    test('list --dir /run shows atd running with its pid, no foreign_lock_holder', async () => {
      const {spec} = get()
      const args = ['list', '--dir', '/run']
      const r = await cliJson(args, {timeoutMs: 60_000})
      const row = (r.json as any[]).find((x) => x.pidfile?.path === PIDFILE)
      try {
        expect({state: row?.state, pid: row?.pid, holder: row?.holder}).toEqual({state: 'running', pid: spec.main, holder: spec.main})
        expect(row.reasons).not.toContain('foreign_lock_holder')
      } catch (error) {
        ;(error as Error).message += `\nrow for ${PIDFILE}: ${JSON.stringify(row, null, 1)}\n(exit ${r.status}) ${r.stderr}`
        throw error
      }
    }, 60_000)

    test('wait --for running returns at once (exit 0)', async () => {
      const args = ['wait', 'atd', '--for', 'running', '--timeout', '5s']
      const t0 = Date.now()
      const r = await cliJson(args, {timeoutMs: 60_000})
      try {
        expect(r.status).toBe(0)
        expect(Date.now() - t0).toBeLessThan(5000)
      } catch (error) {
        ;(error as Error).message += `\n${shown(args, r)}`
        throw error
      }
    }, 60_000)
  },
)
