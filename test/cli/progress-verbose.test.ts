/**
 * What `signal` prints (issue 21, 6a): a success is one line on stdout and nothing on stderr; each
 * target's disposition and the skipped processes go to stderr with --verbose, and are always in
 * --json; a failure keeps its message on stderr; --quiet leaves a failure its message. Against real services
 * run by `nslocate run` (bash with a HUP handler, bash ignoring TERM). Chosen for failures: the
 * targets' lines only with --verbose too, since the message already names each target the signal
 * does nothing to and why (landing.ts explain()), and an error is one line and at most a hint.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {BIN, cli, cliJson, killTracked, tmpdir, track, until} from '../helpers/cli'

/** `nslocate run x --dir DIR -- bash -c SCRIPT`; resolves with bash's pid once its status shows signal `sig` in mask `mask`. */
async function service(dir: string, script: string, mask: 'SigIgn' | 'SigCgt', sig: number): Promise<{pid: number; sup: ChildProcess}> {
  const sup = track(spawn(process.execPath, [BIN, 'run', 'x', '--dir', dir, '--', 'bash', '-c', script], {stdio: 'ignore', detached: true}), {group: true})
  let pid = 0
  await until(() => {
    try {
      pid = Number(fs.readFileSync(path.join(dir, 'x.pid'), 'utf8'))
      const m = new RegExp(`^${mask}:\\s*([0-9a-f]+)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
      return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(sig - 1)) & 1n) === 1n
    } catch {
      return false
    }
  }, `the service's ${mask} to hold signal ${sig}`)
  return {pid, sup}
}

const HANDLER = 'trap "echo hup" HUP; while :; do sleep 0.1; done'
const IGNORES_TERM = 'trap "" TERM; while :; do sleep 0.1; done'

let dir: string
beforeEach(() => {
  dir = tmpdir()
})
afterEach(async () => {
  await killTracked()
  fs.rmSync(dir, {recursive: true, force: true})
})

test('success: one line on stdout, nothing on stderr; --verbose adds the disposition on stderr; --json always has it; --quiet prints nothing', async () => {
  const {pid} = await service(dir, HANDLER, 'SigCgt', 1)
  const plain = await cli(['signal', 'x', 'HUP', '--dir', dir])
  expect(plain.status).toBe(0)
  expect(plain.stdout).toMatch(new RegExp(`^x: sent HUP to pid ${pid}:[0-9]+\\n$`))
  expect(plain.stderr).toBe('')
  const verbose = await cli(['signal', 'x', 'HUP', '--dir', dir, '--verbose'])
  expect([verbose.status, verbose.stdout, verbose.stderr]).toEqual([0, plain.stdout, `  pid ${pid} HUP: handled\n`])
  const json = await cliJson(['signal', 'x', 'HUP', '--dir', dir])
  expect([json.status, json.stderr]).toEqual([0, ''])
  expect(json.json.dispositions).toEqual([expect.objectContaining({pid, signal: 'HUP', disposition: 'handled', handler: true, no_effect: false})])
  const quiet = await cli(['signal', 'x', 'HUP', '--dir', dir, '--quiet'])
  expect([quiet.status, quiet.stdout, quiet.stderr]).toEqual([0, '', ''])
})

test('success with --wait: one line on stdout naming how it ended; the default action line only with --verbose', async () => {
  const {pid, sup} = await service(dir, HANDLER, 'SigCgt', 1)
  const r = await cli(['signal', 'x', 'TERM', '--dir', dir, '--wait', '--verbose'])
  expect(r.status).toBe(0)
  expect(r.stdout).toMatch(new RegExp(`^x: sent TERM to pid ${pid}:[0-9]+; exited after [0-9]+ ms \\(killed by TERM\\)\\n$`))
  expect(r.stderr).toBe(`  pid ${pid} TERM: default (default action: terminate)\n`)
  await until(() => sup.exitCode !== null || sup.signalCode !== null, 'run to exit')
})

test('failure: its message on stderr (src/cli/error-lines.ts: one line, at most a hint), the target lines only with --verbose; --json: the dispositions', async () => {
  const {pid} = await service(dir, IGNORES_TERM, 'SigIgn', 15)
  const args = ['signal', 'x', 'TERM', '--dir', dir, '--wait', '--timeout', '300ms']
  // The time waited differs from run to run by a millisecond or so.
  const same = (text: string) => text.replace(/after [0-9]+ ms/, 'after N ms')
  const r = await cli(args)
  expect([r.status, r.stdout]).toEqual([1, ''])
  const lines = same(r.stderr).split('\n')
  expect(lines[0]).toMatch(new RegExp(`^nslocate: x: sent TERM to (pid )?${pid}:[0-9]+, still running after N ms: it ignores TERM \\(SIG_IGN\\)`))
  expect(lines.length).toBeLessThanOrEqual(3) // the message, maybe a hint, and the final newline
  expect(r.stderr).not.toContain('  pid ')
  const verbose = await cli([...args, '--verbose'])
  expect([verbose.status, verbose.stdout]).toEqual([1, ''])
  expect(same(verbose.stderr)).toBe(`${lines.join('\n')}  pid ${pid} TERM: ignored - no effect\n`)
  // --quiet: a failure still says so, and nothing more.
  const quiet = await cli([...args, '--quiet'])
  expect([quiet.status, quiet.stdout, same(quiet.stderr).split('\n')[0]]).toEqual([1, '', lines[0]])
  expect(quiet.stderr).not.toContain('  pid ')
  const noEffect = await cli(['signal', 'x', 'TERM', '--dir', dir, '--verbose'])
  expect(noEffect.status).toBe(1)
  expect(noEffect.stderr).toMatch(
    new RegExp(`, but it will not act: it ignores TERM \\(SIG_IGN\\)[^\\n]*\\n(hint: [^\\n]*\\n)?  pid ${pid} TERM: ignored - no effect\\n$`),
  )
  const json = await cliJson(['signal', 'x', 'TERM', '--dir', dir])
  expect([json.status, json.stderr, json.json.dispositions[0].disposition]).toEqual([1, '', 'ignored'])
})
