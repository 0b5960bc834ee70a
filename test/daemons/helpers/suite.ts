/**
 * The daemons tier's checks, the same for every daemon (issue 11, "Tests"):
 *   1. `nslocate find NAME --json` (each pidfile the daemon writes) is running with the main pid
 *      that /proc shows (Daemon.discoverMain), not the number in the pidfile;
 *   2. `nslocate signal NAME SIG` delivers to that pid, the daemon shows it received it (a log
 *      line it writes, or `strace -p` seeing the signal arrive: the spec says which), and it lives;
 *   3. `nslocate signal NAME TERM --wait` stops it (the pid is gone from /proc), and `find` is
 *      then not 0.
 * Each failure message carries nslocate's JSON and the daemon's logs. Every daemon adds one row
 * per pidfile to the table (build/daemons-table.md, or $NSLOCATE_DAEMONS_TABLE).
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cliJson, ROOT} from '../../helpers/cli'
import {procLocks} from '../../helpers/proc'
import {Daemon, procEntry, readOr, sameProcess, sleep} from './daemons'

export interface Target {
  /** NAME given to nslocate */
  name: string
  /** the pidfile this target reads (for the table and the lock column) */
  pidfile: string
  /** extra arguments: --pidfile FILE, or [] for the natural NAME search */
  args: string[]
}

export type Proof = {kind: 'log'; file: string; pattern: RegExp} | {kind: 'strace'}

export interface Spec {
  /** targets[0] is used for the signals; every target is checked by find before and after */
  targets: Target[]
  /** main pid from /proc */
  main: number
  /**
   * `ignored`: the daemon has no reload and ignores the signal (SIG_IGN, /proc/PID/status SigIgn):
   * nslocate still sends it, says it will not act, and exits 1 (see signal in the man page).
   */
  reload: {signal: string; proof: Proof; why: string; ignored?: boolean}
  /** still serving after the reload (e.g. its port accepts) */
  ready?: () => Promise<boolean>
}

interface Row {
  daemon: string
  pidfile: string
  locked: string
  main: string
  find: string
  reload: string
  term: string
  after: string
}

const TABLE_ROWS = path.join(ROOT, 'build', 'daemons-table', 'rows')
export const TABLE_FILE = process.env.NSLOCATE_DAEMONS_TABLE || path.join(ROOT, 'build', 'daemons-table.md')

export function lockOf(file: string): string {
  try {
    const locks = procLocks(file)
    return locks.length === 0 ? 'no' : locks.map((l) => `${l.kind} ${l.type} (pid ${l.pid})`).join(', ')
  } catch (error) {
    return `? (${(error as Error).message})`
  }
}

async function withContext<T>(d: Daemon, fn: () => Promise<T>, context: () => string): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    const e = error as Error
    e.message += `\n${context()}${d.logTail()}`
    throw e
  }
}

const brief = (j: any) => (j?.error ? `error ${j.error.code}` : `${j?.state} ${j?.pid ?? '-'}`)

/** The identity options a target's find needs (--exec, --user, --process-name), for the table: "" when none. */
function identityOf(t: Target): string {
  const out: string[] = []
  for (let i = 0; i < t.args.length - 1; i++) if (['--exec', '--user', '--process-name'].includes(t.args[i])) out.push(t.args[i], t.args[i + 1])
  return out.length > 0 ? ` with ${out.join(' ')}` : ''
}

/** Run `action` while strace watches every thread of `pid`; resolve with the line showing SIG arriving. */
export async function straceArrival(d: Daemon, pid: number, sig: string, action: () => Promise<boolean>): Promise<string | null> {
  const out = d.path(`strace-${sig}-${Date.now()}.txt`)
  d.logs.push(out)
  let err = ''
  const st: ChildProcess = spawn('strace', ['-f', '-e', 'trace=none', '-o', out, '-p', String(pid)], {stdio: ['ignore', 'ignore', 'pipe']})
  st.stderr!.on('data', (b) => (err += b))
  const exited = new Promise((r) => st.once('exit', r))
  try {
    await d.until(() => /attached/.test(err), `strace -p ${pid} to attach (stderr: ${err})`, 15_000)
    if (!(await action())) return null
    const re = new RegExp(`--- SIG${sig} \\{si_signo=SIG${sig}, si_code=SI_USER[^}]*\\} ---`)
    let line: string | null = null
    await d.until(() => (line = (readOr(out).match(re) ?? [null])[0]) !== null, `strace to show SIG${sig} arriving at ${pid}`, 15_000)
    return line
  } finally {
    st.kill('SIGINT') // strace detaches from every thread and exits
    await Promise.race([exited, sleep(5000)])
    if (st.exitCode === null && st.signalCode === null) st.kill('SIGKILL')
  }
}

/** Run `action` and wait for `pattern` in the part of `file` written after it started. */
export async function logArrival(d: Daemon, file: string, pattern: RegExp, action: () => Promise<boolean>): Promise<string | null> {
  const offset = readOr(file).length
  if (!(await action())) return null
  let line: string | null = null
  await d.until(
    () => {
      const m = readOr(file)
        .slice(offset)
        .split('\n')
        .find((l) => pattern.test(l))
      line = m ?? null
      return m !== undefined
    },
    `a line matching ${pattern} in ${file}`,
    20_000,
  )
  return line
}

/**
 * The three checks for one daemon. `setup` starts it (in beforeAll) and returns the Spec; `extra`
 * may add tests that run while it is up (after find, before the signals).
 */
export function daemonSuite(label: string, setup: (d: Daemon) => Promise<Spec>, extra?: (get: () => {d: Daemon; spec: Spec}) => void): void {
  describe(label, () => {
    let d: Daemon
    let spec: Spec
    const rows: Row[] = []
    const rowOf = (t: Target) => rows[spec.targets.indexOf(t)]
    let stopped = false

    beforeAll(async () => {
      d = new Daemon(label)
      try {
        spec = await setup(d)
      } catch (error) {
        const e = error as Error
        e.message = `${label} did not start: ${e.message}\n(the tier's Debian packages come from scripts/setup-daemons.sh, run as root)`
        throw e
      }
      for (const t of spec.targets) await d.until(() => /^\s*[0-9]+/.test(readOr(t.pidfile)), `a pid in ${t.pidfile}`)
      for (const t of spec.targets) {
        rows.push({
          daemon: spec.targets.length > 1 ? `${label} (${path.basename(t.pidfile)})` : label,
          pidfile: t.pidfile.replace(d.dir, '$DIR'),
          locked: lockOf(t.pidfile),
          main: String(spec.main),
          find: 'not run',
          reload: 'not run',
          term: 'not run',
          after: 'not run',
        })
      }
    }, 180_000)

    afterAll(async () => {
      if (rows.length === 0) rows.push({daemon: label, pidfile: '?', locked: '?', main: '?', find: 'did not start', reload: '-', term: '-', after: '-'})
      saveRows(label, rows)
      await d?.stop()
    }, 60_000)

    test('find gives the main pid that /proc shows', async () => {
      const got: unknown[] = []
      const shown: string[] = []
      for (const t of spec.targets) {
        const r = await cliJson(['find', t.name, ...t.args], {timeoutMs: 60_000})
        rowOf(t).find =
          `${brief(r.json)} (exit ${r.status})${(r.json as any).reasons?.length ? ` [${(r.json as any).reasons.join(', ')}]` : ''}${identityOf(t)}`
        got.push({pidfile: t.pidfile, status: r.status, state: r.json.state, pid: r.json.pid})
        shown.push(
          `nslocate find ${t.name} ${t.args.join(' ')} --json (pidfile holds ${JSON.stringify(readOr(t.pidfile).slice(0, 80))}):\n${JSON.stringify(r.json, null, 1)}\n${r.stderr}`,
        )
      }
      await withContext(
        d,
        async () => {
          expect(got).toEqual(spec.targets.map((t) => ({pidfile: t.pidfile, status: 0, state: 'running', pid: spec.main})))
        },
        () => shown.join('\n'),
      )
    }, 120_000)

    if (extra) extra(() => ({d, spec}))

    test('a reload signal arrives and the daemon lives', async () => {
      const t = spec.targets[0]
      const {signal: sig, proof} = spec.reload
      let r: {status: number | null; json: any; stderr: string} | undefined
      const send = async () => {
        r = await cliJson(['signal', t.name, sig, ...t.args], {timeoutMs: 60_000})
        return (r.json as any).delivered?.length > 0
      }
      const arrival = await withContext(
        d,
        () => (proof.kind === 'log' ? logArrival(d, proof.file, proof.pattern, send) : straceArrival(d, spec.main, sig, send)),
        () => `nslocate signal ${t.name} ${sig}: ${JSON.stringify(r?.json, null, 1)}`,
      )
      const how = proof.kind === 'log' ? `log line in ${path.basename(proof.file)}` : 'strace -p'
      await sleep(500)
      // Still serving: polled (up to 15 s), as a daemon that re-executes itself on the signal (sshd)
      // has its port closed until the new image listens again, which takes longer on a loaded machine.
      let serving = !spec.ready
      for (const end = Date.now() + 15_000; !serving && Date.now() < end;) {
        serving = await spec.ready!()
        if (!serving) await sleep(100)
      }
      const lives = sameProcess(spec.main, d.main!.start) && serving
      const ignored = spec.reload.ignored ? ` (ignored by the daemon; nslocate exit ${r!.status})` : ''
      rowOf(t).reload = arrival
        ? `${sig} arrived (${how})${ignored}; ${lives ? 'lives' : 'DIED'}`
        : `${sig} not delivered: ${brief(r!.json.target ?? r!.json)}, exit ${r!.status}`
      await withContext(
        d,
        async () => {
          expect({status: r!.status, delivered: (r!.json as any).delivered?.map((x: any) => x.pid)}).toEqual({
            status: spec.reload.ignored ? 1 : 0,
            delivered: [spec.main],
          })
          if (spec.reload.ignored) expect((r!.json as any).message).toContain(`it ignores ${sig.replace(/^SIG/, '')} (SIG_IGN)`)
          expect(arrival).toBeTruthy()
          expect(lives).toBe(true)
        },
        () => `nslocate signal ${t.name} ${sig} ${t.args.join(' ')} --json:\n${JSON.stringify(r!.json, null, 1)}\n${r!.stderr}\narrival: ${arrival}`,
      )
    }, 150_000)

    test('signal TERM --wait stops it, and find is then not 0', async () => {
      const t = spec.targets[0]
      const t0 = Date.now()
      const r = await cliJson(['signal', t.name, 'TERM', '--wait', '--timeout', '60s', ...t.args], {timeoutMs: 90_000})
      const ms = Date.now() - t0
      const gone = !sameProcess(spec.main, d.main!.start)
      rowOf(t).term =
        r.status === 0
          ? `exit 0, ${gone ? 'stopped' : 'STILL RUNNING'} (${ms} ms)`
          : `exit ${r.status}: ${String((r.json as any).message ?? brief(r.json)).slice(0, 120)}`
      stopped = gone
      await withContext(
        d,
        async () => {
          expect({status: r.status, exited: (r.json as any).exited, delivered: (r.json as any).delivered?.map((x: any) => x.pid)}).toEqual({
            status: 0,
            exited: true,
            delivered: [spec.main],
          })
          expect(gone).toBe(true)
        },
        () => `nslocate signal ${t.name} TERM --wait ${t.args.join(' ')} --json:\n${JSON.stringify(r.json, null, 1)}\n${r.stderr}`,
      )
      const after: unknown[] = []
      const shown: string[] = []
      for (const tt of spec.targets) {
        const a = await cliJson(['find', tt.name, ...tt.args], {timeoutMs: 60_000})
        rowOf(tt).after = `${brief(a.json)} (exit ${a.status})`
        after.push({pidfile: tt.pidfile, zero: a.status === 0})
        shown.push(`nslocate find ${tt.name} ${tt.args.join(' ')} after TERM:\n${JSON.stringify(a.json, null, 1)}`)
      }
      await withContext(
        d,
        async () => expect(after).toEqual(spec.targets.map((tt) => ({pidfile: tt.pidfile, zero: false}))),
        () => shown.join('\n'),
      )
    }, 180_000)

    test('nothing of it is left running', async () => {
      if (!stopped) return // the TERM test failed; afterAll stops it by pid
      // d.main is null when the main process was not found by discoverMain (a daemon whose main pid comes from its spec alone).
      const start = d.main?.pid === spec.main ? d.main.start : null
      // One read of /proc per poll: the process may leave between two reads.
      await d.until(
        () => {
          const now = procEntry(spec.main)
          return !now || (start !== null && now.start !== start)
        },
        `pid ${spec.main} to leave /proc`,
        10_000,
      )
    })
  })
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** Save this daemon's rows and rewrite the table from every daemon's rows so far. */
function saveRows(label: string, rows: Row[]): void {
  fs.mkdirSync(TABLE_ROWS, {recursive: true})
  fs.writeFileSync(path.join(TABLE_ROWS, `${label}.json`), JSON.stringify(rows))
  const all: Row[] = []
  for (const f of fs.readdirSync(TABLE_ROWS).sort()) all.push(...JSON.parse(fs.readFileSync(path.join(TABLE_ROWS, f), 'utf8')))
  const head = ['daemon', 'pidfile', 'locked? (/proc/locks)', 'main pid (/proc)', 'find state/pid', 'reload', 'TERM --wait', 'find after TERM']
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  for (const r of all) lines.push(`| ${[r.daemon, r.pidfile, r.locked, r.main, r.find, r.reload, r.term, r.after].map(cell).join(' | ')} |`)
  fs.mkdirSync(path.dirname(TABLE_FILE), {recursive: true})
  lines.push(
    '',
    '$DIR: the daemon\'s own temp dir (/tmp/nslocate-daemon-LABEL-XXXXXX). Reload proof: "log line" is a line the daemon wrote on receiving the signal; "strace -p" is strace attached to every thread seeing the signal arrive (si_code SI_USER).',
  )
  fs.writeFileSync(TABLE_FILE, `${lines.join('\n')}\n`)
}
