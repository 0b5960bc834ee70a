/** The --validate command (e.g. `nginx -t -c /etc/nginx/nginx.conf`), run with /bin/sh -c; a reload is sent only when it exits 0. */
import {spawn} from 'node:child_process'

/** The outcome of a --validate command. */
export interface Validation {
  ok: boolean
  /** the command's own exit code (null when a signal ended it) */
  exitCode: number | null
  signal: string | null
  durationMs: number
  /** the last 2,000 characters of its stdout and stderr */
  output: string
  /** set when it could not be run or timed out */
  error?: string
}

const TAIL = 2000

/** Runs `command` with /bin/sh -c, killed after timeoutMs (ms); never rejects: a failure is in the result. */
export function runValidation(command: string, timeoutMs: number): Promise<Validation> {
  const start = Date.now()
  return new Promise((resolve) => {
    let output = ''
    let error: string | undefined
    const child = spawn('/bin/sh', ['-c', command], {stdio: ['ignore', 'pipe', 'pipe']})
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-TAIL))
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    const timer = setTimeout(() => {
      error = `timed out after ${timeoutMs} ms (killed)`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (e) => (error = `cannot run /bin/sh: ${e.message}`))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ok: code === 0 && !error, exitCode: code, signal, durationMs: Date.now() - start, output: output.trim(), ...(error ? {error} : {})})
    })
  })
}
