/** `nslocate signal NAME SIGNAL`: send SIGNAL to exactly the process find identifies (or --pid PID:ID names), through a pidfd. */
import {formatPidRef} from '../../kernel/pidfs'
import {ContainerSpec, splitContainer} from '../../runtime/spec'
import type {CommandModule, Invocation, Output} from '../command'
import {signal as grammar} from '../grammar'
import {optionsOf} from '../options'
import {ProgressLine, inPlace, progressLine} from '../progress'
import {report} from './report'
import {dispositionLines} from '../../signal/landing'
import {formatWait} from '../../signal/progress'
import {SignalOptions, SignalResult, signal} from '../../signal/signal'

/**
 * `nslocate signal NAME SIGNAL`: signals the service (its scope), here or in --container. Success
 * is one line on stdout, a failure one line on stderr; what each target does with the signal, and
 * what was skipped, follows on stderr with --verbose (and is always in --json). With --wait or
 * --retry on a terminal, a progress line says what it waits for (src/cli/progress.ts).
 */
export const signalCommand: CommandModule = {
  id: 'signal',
  grammar,
  async run(inv: Invocation, out: Output): Promise<number> {
    const {name, signal: sig} = inv.args
    const {spec, rest: opts} = splitContainer(optionsOf(grammar, inv.flags) as SignalOptions & ContainerSpec)
    const line = opts.wait || opts.retry ? progressLine(out) : null
    let result: SignalResult
    try {
      if (line) {
        opts.onProgress = line.onProgress
        expectSignal(line, name, sig, opts, spec)
      }
      result = !spec ? await signal(name, sig, opts) : await (await import('../../runtime/in-container')).signalInContainer(name, sig, spec, opts)
    } finally {
      line?.end()
    }
    // The targets' lines only when asked for: a failure's message already names the first target the
    // signal does nothing to and why (compose.ts finish(), with landing.ts's inertOf/firstFact), or what was refused and why, and an
    // error is one line and at most a hint (issue 21).
    return report('signal', out, result, () => (inv.flags.verbose === true ? targetLines(result) : []))
  },
}

/** One line per target and signal ("  pid 4242 TERM: handled"), then one per process skipped. */
function targetLines(result: SignalResult): string[] {
  return [...dispositionLines(result.dispositions), ...result.skipped.map((s) => `  skipped pid ${formatPidRef(s.pid, s.pidfdId)}: ${s.reason}`)]
}

/** What the line says if the library does not (through a helper container): the signal, and how long it may wait. */
function expectSignal(line: ProgressLine, name: string, sig: string, opts: SignalOptions, spec: ContainerSpec | null): void {
  const {parseRetry, parseSignal, DEFAULT_WAIT_MS} = require('../../signal/parse') as typeof import('../../signal/parse')
  let totalMs = opts.timeoutMs ?? DEFAULT_WAIT_MS
  try {
    if (opts.retry) totalMs = parseRetry(opts.retry, parseSignal(sig)).reduce((sum, s) => sum + (s.kind === 'wait' ? s.ms : 0), 0)
  } catch {
    return // a bad schedule: signal() says so at once
  }
  const how = opts.retry ? `schedule ${opts.retry}` : `then waiting up to ${formatWait(totalMs)} for it to exit`
  line.expect(`${name}: signalling${inPlace(spec)} (${how})`, totalMs)
}
