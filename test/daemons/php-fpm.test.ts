/**
 * A root daemon whose pidfile lies in a directory owned by its worker user (issue 17, "Too strict
 * for real daemons"): php8.2-fpm as Debian's init script starts it. Its runtime directory is made as
 * /usr/lib/tmpfiles.d/php8.2-fpm.conf makes /run/php (`d /run/php 0755 www-data www-data`), here
 * $DIR/run/php; then start-stop-daemon --start --pidfile PIDFILE --exec /usr/sbin/php-fpm8.2 --
 * --daemonize --fpm-config CONF, with our own config (its pid, error log, one static pool of
 * www-data on a free loopback port). The master stays root (Uid: 0 0 0 0) and writes the
 * unlocked pidfile php8.2-fpm.pid (root:root 0644) into www-data's directory; the pool's workers
 * run as www-data.
 *
 * www-data could plant that file, so by default the answer is unknown (unsafe_directory, exit 4),
 * and the refusal names the identity options that would settle it. With `--exec
 * /usr/sbin/php-fpm8.2 --user root`, which the master matches (as start-stop-daemon checks a
 * pidfile), it is accepted, still reporting unsafe_directory as a warning; with a wrong --exec or
 * --user it stays unknown, and so does a file that www-data pointed at one of its workers.
 *
 * The reload signal is USR1, the init script's `reopen-logs` (php-fpm logs "error log file
 * re-opened"). Its `reload` (USR2) is not used: under --daemonize php-fpm re-executes itself and
 * daemonizes again, so the master gets a new pid.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson} from '../helpers/cli'
import {allProcs, Daemon, freePort, readOr, sleep, tcpOpen} from './helpers/daemons'
import {daemonSuite} from './helpers/suite'

const EXE = '/usr/sbin/php-fpm8.2'
const IDENTITY = ['--exec', EXE, '--user', 'root']
const ERRLOG = 'php8.2-fpm.log'

function ids(pid: number): number[] {
  const m = readOr(`/proc/${pid}/status`).match(/^Uid:\s+(.*)$/m)
  return m ? m[1].trim().split(/\s+/).map(Number) : []
}

function uidOf(user: string): number {
  const line = readOr('/etc/passwd')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))
  if (!line) throw new Error(`no user ${user} in /etc/passwd`)
  return Number(line.split(':')[2])
}

type Run = {status: number | null; json: any; stderr: string}

async function find(pidfile: string, extra: string[]): Promise<{args: string[]; r: Run}> {
  const args = ['find', 'php8.2-fpm', '--pidfile', pidfile, ...extra]
  return {args, r: await cliJson(args, {timeoutMs: 60_000})}
}

async function explain(args: string[], r: Run, fn: () => void | Promise<void>): Promise<void> {
  const pidfile = args[args.indexOf('--pidfile') + 1]
  try {
    await fn()
  } catch (error) {
    ;(error as Error).message +=
      `\nnslocate ${args.join(' ')} --json (exit ${r.status}; ${pidfile} holds ${JSON.stringify(readOr(pidfile))}):\n${JSON.stringify(r.json, null, 1)}\n${r.stderr}`
    throw error
  }
}

/** Refused the way an unknown answer is: no process, exit 4. */
async function expectUnknown(args: string[], r: Run, reason: string): Promise<void> {
  await explain(args, r, () => {
    expect({status: r.status, state: r.json.state, pid: r.json.pid}).toEqual({status: 4, state: 'unknown', pid: null})
    expect(r.json.reasons).toContain(reason)
  })
}

daemonSuite(
  'php8.2-fpm',
  async (d: Daemon) => {
    const port = await freePort()
    const rundir = d.mkdir('run/php', 'www-data:www-data')
    fs.chmodSync(rundir, 0o755)
    const pidfile = `${rundir}/php8.2-fpm.pid`
    const errlog = d.path(ERRLOG)
    d.logs.push(errlog)
    const conf = d.write(
      'php-fpm.conf',
      `[global]
pid = ${pidfile}
error_log = ${errlog}
log_level = notice
daemonize = yes

[www]
user = www-data
group = www-data
listen = 127.0.0.1:${port}
pm = static
pm.max_children = 1
`,
    )
    d.launch(['start-stop-daemon', '--start', '--quiet', '--pidfile', pidfile, '--exec', EXE, '--', '--daemonize', '--fpm-config', conf])
    await d.until(() => tcpOpen(port), `php-fpm on 127.0.0.1:${port}`)
    const main = await d.discoverMain({exe: EXE, marker: conf})
    return {
      targets: [{name: 'php8.2-fpm', pidfile, args: ['--pidfile', pidfile, ...IDENTITY]}],
      main,
      reload: {
        signal: 'USR1',
        proof: {kind: 'log', file: errlog, pattern: /NOTICE: error log file re-opened/},
        why: "php-fpm logs the reopening of its logs (the init script's reopen-logs)",
      },
      ready: () => tcpOpen(port),
    }
  },
  (get) => {
    const workers = (main: number) => allProcs().filter((p) => p.ppid === main && p.exe === EXE)
    const files = () => {
      const {d, spec} = get()
      const pidfile = spec.targets[0].pidfile
      return {pidfile, rundir: path.dirname(pidfile), errlog: d.path(ERRLOG)}
    }

    test('the master is root and the pidfile lies in a directory of its worker user www-data', () => {
      const {spec} = get()
      const {pidfile, rundir} = files()
      const www = uidOf('www-data')
      const dir = fs.statSync(rundir)
      const st = fs.statSync(pidfile)
      const ws = workers(spec.main)
      expect({
        master: ids(spec.main),
        workers: ws.map((w) => ids(w.pid)),
        pidfile: {uid: st.uid, mode: (st.mode & 0o7777).toString(8)},
        dir: {uid: dir.uid, gid: dir.gid, mode: (dir.mode & 0o7777).toString(8)},
      }).toEqual({
        master: [0, 0, 0, 0],
        workers: ws.map(() => [www, www, www, www]),
        pidfile: {uid: 0, mode: '644'},
        dir: {uid: www, gid: www, mode: '755'},
      })
      expect(ws.length).toBeGreaterThan(0)
    })

    test('by default: unknown (unsafe_directory, exit 4), and the refusal names --exec /usr/sbin/php-fpm8.2 --user root', async () => {
      const {args, r} = await find(files().pidfile, [])
      await expectUnknown(args, r, 'unsafe_directory')
      await explain(args, r, () => {
        // One line of the evidence tells exactly what to add.
        const hint = (r.json.evidence as string[]).filter((l) => l.includes(`--exec ${EXE}`) && /--user (root|0)\b/.test(l))
        expect(hint).not.toEqual([])
      })
    }, 60_000)

    test('by default signal refuses too: exit 4, nothing delivered, nothing arrives', async () => {
      const {pidfile, errlog} = files()
      const args = ['signal', 'php8.2-fpm', 'USR1', '--pidfile', pidfile]
      const before = readOr(errlog).length
      const r = await cliJson(args, {timeoutMs: 60_000})
      await sleep(1000)
      await explain(args, r, () => {
        expect({status: r.status, delivered: r.json.delivered ?? []}).toEqual({status: 4, delivered: []})
        expect(readOr(errlog).slice(before)).not.toMatch(/re-opened/)
      })
    }, 60_000)

    test("with --exec /usr/sbin/php-fpm8.2 --user root: running, the master's pid, unsafe_directory kept as a warning", async () => {
      const {spec} = get()
      const {pidfile, rundir} = files()
      const {args, r} = await find(pidfile, IDENTITY)
      await explain(args, r, () => {
        expect({status: r.status, state: r.json.state, pid: r.json.pid}).toEqual({status: 0, state: 'running', pid: spec.main})
        expect(r.json.reasons).toContain('unsafe_directory')
        const evidence = r.json.evidence as string[]
        expect(evidence.filter((l) => /WARNING/.test(l) && l.includes(rundir))).not.toEqual([])
        expect(evidence.filter((l) => /^REFUSED/.test(l))).toEqual([])
      })
    }, 60_000)

    test("with a wrong --exec (/usr/bin/php8.2) or the workers' --user www-data: still unknown", async () => {
      for (const extra of [
        ['--exec', '/usr/bin/php8.2', '--user', 'root'],
        ['--exec', EXE, '--user', 'www-data'],
      ]) {
        const {args, r} = await find(files().pidfile, extra)
        await explain(args, r, () => expect({status: r.status, state: r.json.state, pid: r.json.pid}).toEqual({status: 4, state: 'unknown', pid: null}))
      }
    }, 60_000)

    test('www-data points the pidfile at one of its workers: not accepted with --exec/--user root', async () => {
      const {spec} = get()
      const {pidfile, rundir} = files()
      const worker = workers(spec.main)[0]
      expect(worker).toBeDefined()
      const original = readOr(pidfile)
      const tmp = `${rundir}/.planted`
      const plant = spawnSync(
        'setpriv',
        [
          '--reuid=www-data',
          '--regid=www-data',
          '--clear-groups',
          'sh',
          '-c',
          'printf "%s\\n" "$1" > "$2" && mv -f "$2" "$3"',
          'sh',
          String(worker.pid),
          tmp,
          pidfile,
        ],
        {encoding: 'utf8'},
      )
      try {
        expect({status: plant.status, stderr: plant.stderr, owner: fs.statSync(pidfile).uid, pid: readOr(pidfile).trim()}).toEqual({
          status: 0,
          stderr: '',
          owner: uidOf('www-data'),
          pid: String(worker.pid),
        })
        const {args, r} = await find(pidfile, IDENTITY)
        await explain(args, r, () => expect({status: r.status, state: r.json.state, pid: r.json.pid}).toEqual({status: 4, state: 'unknown', pid: null}))
      } finally {
        // Put the master's file back as it wrote it (root, 0644), for the signals that follow.
        const back = `${rundir}/.restore`
        fs.writeFileSync(back, original, {mode: 0o644})
        fs.chownSync(back, 0, 0)
        fs.renameSync(back, pidfile)
        fs.rmSync(tmp, {force: true})
      }
    }, 60_000)
  },
)
