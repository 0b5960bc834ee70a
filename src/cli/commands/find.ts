/** `nslocate find NAME`: is the service running, and which process is it from here? */
import {ContainerSpec, splitContainer} from '../../runtime/spec'
import type {CommandModule, Invocation, Output} from '../command'
import {statusOf} from '../exit-status'
import {formatFind} from '../format'
import {find as grammar} from '../grammar'
import {resultJson} from '../json'
import {optionsOf} from '../options'
import {LocateOptions, LocateResult, locate} from '../../locate/locate'

/** `nslocate find NAME`: whether NAME runs and which process it is, here or in --container. */
export const findCommand: CommandModule = {
  id: 'find',
  grammar,
  run(inv: Invocation, out: Output): number | Promise<number> {
    const {spec, rest: opts} = splitContainer(optionsOf(grammar, inv.flags) as Partial<LocateOptions> & ContainerSpec)
    const done = (result: LocateResult): number => {
      if (out.json) out.logJson(resultJson('find', result))
      else if (!inv.flags.quiet) out.log(formatFind(result))
      return statusOf('find', result.state)
    }
    if (!spec) return done(locate({...opts, name: inv.args.name}))
    // Loaded only for --container and --pod (find's bundle leaves the Docker client out: scripts/bundle-fast.js).
    return import('../../runtime/in-container').then(({locateInContainer}) => locateInContainer(inv.args.name, spec, opts)).then(done)
  },
}
