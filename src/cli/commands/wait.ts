/** `nslocate wait NAME`: until NAME is running, or until it has stopped. */
import {ContainerSpec, splitContainer} from '../../runtime/spec'
import type {CommandModule, Invocation, Output} from '../command'
import {wait as grammar} from '../grammar'
import {optionsOf} from '../options'
import {inPlace, progressLine} from '../progress'
import {report} from './report'
import {DEFAULT_WAIT_MS, WaitCondition, WaitOptions, WaitResult, waitFor} from '../../signal/signal'

/** `nslocate wait NAME`: waits until NAME is running or stopped (--for), up to --timeout; on a terminal, a progress line says what it waits on. */
export const waitCommand: CommandModule = {
  id: 'wait',
  grammar,
  async run(inv: Invocation, out: Output): Promise<number> {
    const {spec, rest} = splitContainer(optionsOf(grammar, inv.flags) as WaitOptions & ContainerSpec & {condition: WaitCondition})
    const {condition, ...opts} = rest
    const line = progressLine(out)
    let result: WaitResult
    try {
      if (line) {
        opts.onProgress = line.onProgress
        line.expect(
          `${inv.args.name}: waiting for it to be ${condition === 'running' ? 'running' : 'stopped'}${inPlace(spec)}`,
          opts.timeoutMs ?? DEFAULT_WAIT_MS,
        )
      }
      result = !spec
        ? await waitFor(inv.args.name, condition, opts)
        : await (await import('../../runtime/in-container')).waitInContainer(inv.args.name, condition, spec, opts)
    } finally {
      line?.end()
    }
    return report('wait', out, result)
  },
}
