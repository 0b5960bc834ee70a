/** `nslocate wait NAME`: until NAME is running, or until it has stopped. */
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
    const {container, condition, ...opts} = optionsOf(grammar, inv.flags) as WaitOptions & {container?: string; condition: WaitCondition}
    const result =
      container === undefined
        ? await waitFor(inv.args.name, condition, opts)
        : await (await import('../../docker/in-container')).waitInContainer(inv.args.name, condition, container, opts)
    if (result.exit) result.message += ` (${describeExit(result.exit)})`
    return report('wait', out, result)
  },
}
