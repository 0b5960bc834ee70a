/** `nslocate wait NAME`: until NAME is running, or until it has stopped. */
import {ContainerSpec, splitContainer} from '../../runtime/spec'
import type {CommandModule, Invocation, Output} from '../command'
import {wait as grammar} from '../grammar'
import {optionsOf} from '../options'
import {report} from './report'
import {describeExit} from '../../signal/landing'
import {WaitCondition, WaitOptions, waitFor} from '../../signal/signal'

/** `nslocate wait NAME`: waits until NAME is running or stopped (--for), up to --timeout. */
export const waitCommand: CommandModule = {
  id: 'wait',
  grammar,
  async run(inv: Invocation, out: Output): Promise<number> {
    const {spec, rest} = splitContainer(optionsOf(grammar, inv.flags) as WaitOptions & ContainerSpec & {condition: WaitCondition})
    const {condition, ...opts} = rest
    const result = !spec
      ? await waitFor(inv.args.name, condition, opts)
      : await (await import('../../runtime/in-container')).waitInContainer(inv.args.name, condition, spec, opts)
    if (result.exit) result.message += ` (${describeExit(result.exit)})`
    return report('wait', out, result)
  },
}
