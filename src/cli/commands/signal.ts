/** `nslocate signal NAME SIGNAL`: send SIGNAL to exactly the process find identifies (or --pid PID:ID names), through a pidfd. */
import {formatPidRef} from '../../kernel/pidfs'
import {ContainerSpec, splitContainer} from '../../runtime/spec'
import type {CommandModule, Invocation, Output} from '../command'
import {signal as grammar} from '../grammar'
import {optionsOf} from '../options'
import {report} from './report'
import {dispositionLines} from '../../signal/landing'
import {SignalOptions, signal} from '../../signal/signal'

/** `nslocate signal NAME SIGNAL`: signals the service (its scope), here or in --container. */
export const signalCommand: CommandModule = {
  id: 'signal',
  grammar,
  async run(inv: Invocation, out: Output): Promise<number> {
    const {name, signal: sig} = inv.args
    const {spec, rest: opts} = splitContainer(optionsOf(grammar, inv.flags) as SignalOptions & ContainerSpec)
    const result = !spec ? await signal(name, sig, opts) : await (await import('../../runtime/in-container')).signalInContainer(name, sig, spec, opts)
    return report('signal', out, result, () => [
      ...dispositionLines(result.dispositions),
      ...result.skipped.map((s) => `  skipped pid ${formatPidRef(s.pid, s.pidfdId)}: ${s.reason}`),
    ])
  },
}
