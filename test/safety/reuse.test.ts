/**
 * Issue 12 item 1: with --retry, --scope tree|group|cgroup must never signal an innocent after pid
 * reuse. In a fresh PID namespace the service's main process exits on TERM, and an innocent (a
 * siglog victim with a child) is forked onto its pid through ns_last_pid before the KILL of the
 * schedule; a keeper member that ignores TERM makes the schedule reach the KILL. The driver
 * (reuse-driver.js) runs the rounds inside one namespace; NSLOCATE_REUSE_ROUNDS rounds per scope
 * (default 50: the CI figure), the first NSLOCATE_REUSE_CLI_ROUNDS (default 5) through the CLI.
 */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {holderBinaries} from '../helpers/lock-holders'
import {ROOT} from '../helpers/paths'
import {run} from '../helpers/run'
import {stopAll, tempDir} from '../helpers/tracked'
import {siglogBinary} from '../helpers/victims'

const ROUNDS = Number(process.env.NSLOCATE_REUSE_ROUNDS || 50)
const CLI_ROUNDS = Number(process.env.NSLOCATE_REUSE_CLI_ROUNDS || 5)
/** The nslocate build under test (default: this checkout); e.g. /work/main to see the old code fail. */
const UNDER_TEST = process.env.NSLOCATE_UNDER_TEST || ROOT

let cgroup = ''
afterAll(async () => {
  await stopAll()
  if (cgroup) fs.rmdirSync(cgroup)
})

test(
  `forced pid reuse: ${ROUNDS} rounds per scope, the innocent receives nothing and lives`,
  async () => {
    cgroup = `/sys/fs/cgroup/pids/nsltest-reuse-${process.pid}.service`
    fs.mkdirSync(cgroup)
    const dir = tempDir('nslocate-reuse-')
    fs.chmodSync(dir, 0o755)
    const r = await run(
      ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', holderBinaries().miniInit, process.execPath, path.join(__dirname, 'reuse-driver.js')],
      {
        timeoutMs: 30_000 + ROUNDS * 3 * 2_000,
        env: {
          ...process.env,
          REUSE_DIST: path.join(UNDER_TEST, 'dist', 'src', 'index.js'),
          REUSE_BIN: path.join(UNDER_TEST, 'bin', 'run.js'),
          REUSE_SIGLOG: siglogBinary(),
          REUSE_DIR: dir,
          REUSE_ROUNDS: String(ROUNDS),
          REUSE_CLI_ROUNDS: String(CLI_ROUNDS),
          REUSE_CGROUP: cgroup,
        },
      },
    )
    if (r.status !== 0) throw new Error(`driver failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`)
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!)
    // The figures for the closing note.
    process.stdout.write(`pid reuse rounds: ${JSON.stringify(report)}\n`)
    for (const scope of ['tree', 'group', 'cgroup']) {
      const s = report[scope]
      expect({scope, failures: s.failures}).toEqual({scope, failures: []})
      expect(s.rounds).toBe(ROUNDS)
      expect(s.cliRounds).toBe(Math.min(CLI_ROUNDS, ROUNDS))
      expect(s.innocentSignals).toBe(0)
      expect(s.innocentKilled).toBe(0)
      // The schedule still did its job on the real member that ignored TERM.
      expect(s.keeperSurvived).toBe(0)
    }
    expect(execFileSync('cat', [path.join(cgroup, 'cgroup.procs')]).toString()).toBe('')
  },
  60_000 + ROUNDS * 3 * 2_000,
)
