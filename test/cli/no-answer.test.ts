/**
 * A command whose answer never comes (a client library that neither resolves nor rejects when a
 * connection closes mid-answer) must not end as a success: with nothing left to run, Node would
 * exit 0 with nothing printed. Both front ends run commands through runToAnswer()
 * (src/cli/command.ts), which turns that into an IO error, printed and exited with as any other.
 * Here a command module whose run() never settles is run by the built runToAnswer in a real node
 * process, as each front end runs it: its stdout, stderr and exit status are what a user sees.
 */
import {spawnSync} from 'node:child_process'
import * as path from 'node:path'

const ROOT = path.join(__dirname, '..', '..')

function runStuck(): {status: number | null; stdout: string; stderr: string} {
  const script = `
    const {runToAnswer} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'command.js'))})
    const {failed} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'fast-io.js'))})
    const stuck = {id: 'containers', grammar: {args: {}, flags: {}}, run: () => new Promise(() => {})}
    const out = {json: false, log: (s) => console.log(s), logJson: (j) => console.log(JSON.stringify(j)), logToStderr: (s) => console.error(s)}
    runToAnswer(stuck, {args: {}, flags: {}, argv: [], raw: [], json: false}, out).then(
      (status) => { process.exitCode = status },
      (error) => { process.exitCode = failed('containers', false, error, {argv: []}) },
    )`
  const r = spawnSync(process.execPath, ['-e', script], {encoding: 'utf8', timeout: 30_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

test('a run that never settles exits 4 with a one-line IO error, not 0 with nothing', () => {
  const r = runStuck()
  expect(r).toEqual({
    status: 4,
    stdout: '',
    stderr: 'nslocate: containers ended with no answer (a connection closed mid-answer?)\n',
  })
})

test('a command that answers is left alone: its status, and nothing printed by the guard', () => {
  const script = `
    const {runToAnswer} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'command.js'))})
    const ok = {id: 'containers', grammar: {args: {}, flags: {}}, run: () => new Promise((r) => setTimeout(() => r(3), 50))}
    runToAnswer(ok, {args: {}, flags: {}, argv: [], raw: [], json: false}, {}).then((status) => { process.exitCode = status })`
  const r = spawnSync(process.execPath, ['-e', script], {encoding: 'utf8', timeout: 30_000})
  expect({status: r.status, stdout: r.stdout, stderr: r.stderr}).toEqual({status: 3, stdout: '', stderr: ''})
})
