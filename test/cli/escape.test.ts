/**
 * Terminal escapes never reach root's terminal (docs/nslocate.1.md, NOTES, "Escaping"): text output
 * prints control characters as \xHH (and the Unicode separators and bidi controls as \uHHHH), on
 * every text path: find (fast path and oclif), list, signal, wait, containers, errors on stderr,
 * evidence lines. --json keeps the strings exact.
 *
 * Against the world: a real process (a C program) that holds a POSIX lock on its pidfile and sets
 * its comm with prctl(PR_SET_NAME) to an OSC title sequence and a clear-screen, started with an
 * argv[0] holding ESC and a C1 CSI (as exec -a does); its pidfile's real name holds ESC, a colour sequence and a newline. The
 * bytes nslocate prints are checked for every raw control byte.
 */
import {ChildProcess, execFileSync, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {escapeText} from '../../src/cli/escape'
import {cli, killTracked, tmpdir, track} from '../helpers/cli'
import {FakeEngine, startFakeEngine} from '../helpers/fake-engine'

const COMM = '\x1b]0;pwn\x07\x1b[2J' // 12 bytes: set the terminal title, clear the screen
const ARG = 'arg\x1b[5m\x9b1m'
const FILE_NAME = 'ev\x1b[31mil\nx.pid'
// Raw controls a text output must not hold: every C0 but the newline that ends lines, DEL, C1, separators, bidi.
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/

let dir: string
let pidfile: string
let svc: ChildProcess
let pid: number

function expectClean(text: string, where: string): void {
  const hit = RAW.exec(text)
  expect({where, raw: hit ? JSON.stringify(hit[0]) + ' at ' + hit.index : null}).toEqual({where, raw: null})
  expect(Buffer.from(text).includes(0x1b)).toBe(false)
}

beforeAll(async () => {
  dir = tmpdir('nslocate-escape-')
  const c = path.join(dir, 'svc.c')
  fs.writeFileSync(
    c,
    `#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
/* svc PIDFILE COMM: lock PIDFILE (POSIX), write the pid, set comm, say ready, wait. */
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
  struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fd < 0 || fcntl(fd, F_SETLK, &l) < 0) return 1;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%d", getpid());
  if (ftruncate(fd, 0) < 0 || write(fd, buf, n) != n) return 1;
  if (prctl(PR_SET_NAME, argv[2], 0, 0, 0) < 0) return 1;
  printf("ready\\n");
  fflush(stdout);
  for (;;) pause();
}
`,
  )
  const bin = path.join(dir, 'svc')
  execFileSync('cc', ['-o', bin, c])
  pidfile = path.join(dir, FILE_NAME)
  svc = track(spawn(bin, [pidfile, COMM], {argv0: ARG, stdio: ['ignore', 'pipe', 'inherit']})) // argv[0] is ARG, as with exec -a
  await new Promise<void>((resolve, reject) => {
    svc.stdout!.once('data', () => resolve())
    svc.once('exit', (code) => reject(new Error(`the service exited early (${code})`)))
  })
  pid = svc.pid!
  expect(fs.readFileSync(`/proc/${pid}/comm`, 'latin1')).toBe(`${COMM}\n`)
})
afterAll(() => {
  killTracked()
  fs.rmSync(dir, {recursive: true, force: true})
})

test('escapeText: controls as \\xHH, separators and bidi as \\uHHHH, the rest (a backslash too) as is; idempotent', () => {
  expect(escapeText(COMM)).toBe('\\x1b]0;pwn\\x07\\x1b[2J')
  expect(escapeText('a\nb\tc\rd\x00e\x7ff\x85g\u202eh\u2028i')).toBe('a\\x0ab\\x09c\\x0dd\\x00e\\x7ff\\x85g\\u202eh\\u2028i')
  expect(escapeText('caf\u00e9 \u65e5\u672c \\x1b')).toBe('caf\u00e9 \u65e5\u672c \\x1b')
  expect(escapeText(escapeText(COMM))).toBe(escapeText(COMM))
})

describe('a process whose comm and argv hold ESC, behind a pidfile whose name holds ESC and a newline', () => {
  test.each([[{}], [{NSLOCATE_NO_FAST_PATH: '1'}]])('find (%j): text escaped, on the lines it belongs to; --json exact', async (extra) => {
    const r = await cli(['find', 'app', '--pidfile', pidfile], {env: extra})
    expect(r.status).toBe(0)
    expectClean(r.stdout, 'find stdout')
    expect(r.stderr).toBe('')
    const lines = r.stdout.split('\n')
    expect(lines).toContain(`  pidfile   ${escapeText(pidfile)}  (says ${pid}; posix lock; uid 0; mode 0644)`)
    expect(lines.some((l) => l.startsWith(`            comm ${escapeText(COMM)}, uid 0,`))).toBe(true)
    expect(lines.find((l) => l.startsWith('  process'))).toContain('arg\\x1b[5m\\x9b1m')
    expect(lines).toContain(`    - ${escapeText(pidfile)} says pid ${pid} (as numbered in the writer's PID namespace)`)

    const j = await cli(['find', 'app', '--pidfile', pidfile, '--json'], {env: extra})
    const json = JSON.parse(j.stdout)
    expect(json.pidfile.path).toBe(pidfile)
    expect(json.process.comm).toBe(COMM)
    expect(json.process.cmdline).toEqual([ARG, pidfile, COMM])
    expect(json.evidence[0]).toBe(`${pidfile} says pid ${pid} (as numbered in the writer's PID namespace)`)
  })

  test('list: the row escaped (one line per pidfile); --json exact', async () => {
    const r = await cli(['list', '--dir', dir])
    expect(r.status).toBe(0)
    expectClean(r.stdout, 'list stdout')
    expect(r.stdout.trim().split('\n')).toHaveLength(2)
    expect(r.stdout).toContain(`${escapeText(FILE_NAME.slice(0, -4))}  running  ${pid}`)
    const j = JSON.parse((await cli(['list', '--dir', dir, '--json'])).stdout)
    expect(j.map((x: any) => x.pidfile.path)).toEqual([pidfile])
  })

  test('signal (probe, dry runs) and wait: messages escaped, on stdout and stderr', async () => {
    for (const args of [
      ['signal', 'app', '0'],
      ['signal', 'app', 'TERM', '--scope', 'tree', '--dry-run'],
      ['signal', 'app', 'TERM', '--scope', 'group', '--dry-run'],
      ['wait', 'app', '--for', 'running'],
    ]) {
      const r = await cli([...args, '--pidfile', pidfile])
      expectClean(r.stdout, `${args.join(' ')} stdout`)
      expectClean(r.stderr, `${args.join(' ')} stderr`)
    }
    // The service received nothing: it is still there.
    expect(fs.readFileSync(`/proc/${pid}/comm`, 'latin1')).toBe(`${COMM}\n`)
  })

  test('errors on stderr: a NAME and a --pidfile holding ESC, on the fast path and through oclif', async () => {
    for (const extra of [{}, {NSLOCATE_NO_FAST_PATH: '1'}]) {
      const bad = await cli(['find', 'a\x1b[2Jb'], {env: extra})
      expect(bad.status).toBe(2)
      expectClean(bad.stderr, 'usage error')
      const missing = await cli(['signal', 'app', 'TERM', '--pidfile', `${pidfile}.gone`], {env: extra})
      expect(missing.status).toBe(7)
      expectClean(missing.stderr, 'not running')
      const dirErr = await cli(['list', '--dir', path.join(dir, 'no\x1b[2Jdir')], {env: extra})
      expectClean(dirErr.stderr, 'list warning')
    }
  })
})

describe('containers: names chosen by an engine', () => {
  let engine: FakeEngine
  const NAME = '/we\x1b[2Jb\nfake-line'
  const ID = 'f'.repeat(64)
  beforeAll(async () => {
    engine = await startFakeEngine(path.join(dir, 'engine.sock'), (_m, url) => {
      const body = {Id: ID, Name: NAME, Names: [NAME], Image: 'img\x1b[1m', Config: {Image: 'img\x1b[1m'}, State: {Running: true, Pid: pid, Status: 'running'}}
      return url.startsWith('/containers/json') ? {kind: 'json', body: [{...body, State: 'running'}]} : {kind: 'json', body}
    })
  })
  afterAll(() => engine.close())

  test('text escaped (the newline in the name makes no line of its own); --json exact', async () => {
    const r = await cli(['containers'], {env: {DOCKER_HOST: `unix://${engine.socket}`}})
    expect(r.status).toBe(0)
    expectClean(r.stdout, 'containers stdout')
    expect(r.stdout.split('\n')[0]).toBe(`docker  we\\x1b[2Jb\\x0afake-line (${ID.slice(0, 12)}, img\\x1b[1m, init pid ${pid})`)
    const j = JSON.parse((await cli(['containers', '--json'], {env: {DOCKER_HOST: `unix://${engine.socket}`}})).stdout)
    expect(j[0].name).toBe(NAME.slice(1))
    expect(j[0].image).toBe('img\x1b[1m')
  })
})
