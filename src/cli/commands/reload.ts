/** `nslocate reload NAME --watch PATH...`: a reload sidecar; one JSON line per event, until TERM/INT. */
import type {CommandModule, Invocation} from '../command'
import {statusOf} from '../exit-status'
import {reload as grammar} from '../grammar'
import {resultJson} from '../json'
import {flagNamer, optionsOf} from '../options'
import {serviceOf, stopOnEpipe, untilStopped} from './serve'
import type {ReloadEvent} from '../../reload/reloader'

/** `nslocate reload NAME`: signals NAME whenever the watched paths change (after --validate), until stopped. */
export const reloadCommand: CommandModule = {
  id: 'reload',
  grammar,
  async run(inv: Invocation): Promise<number> {
    const {Reloader} = await import('../../reload/reloader')
    const {checkWatchPath} = await import('../../reload/watch')
    const {watch, signal, validate, validateTimeoutMs, debounceMs, requireHandler, listen, ...where} = optionsOf(grammar, inv.flags) as {
      watch: string[]
      signal: string
      validate?: string
      validateTimeoutMs: number
      debounceMs: number
      requireHandler: boolean
      listen?: string
    }
    const service = serviceOf(inv.args.name, where)
    // A signal event's outcome is printed as the exit status `signal` would have given (exit_code).
    const write = (e: ReloadEvent) => process.stdout.write(JSON.stringify(resultJson('signal', e)) + '\n')
    stopOnEpipe()
    const server =
      listen !== undefined ? await (await import('../../serve/server')).prepareServer(listen, [service], {intervalMs: 5000, namer: flagNamer}) : null
    const reloader = new Reloader({
      service,
      watch,
      signal,
      validate,
      validateTimeoutMs,
      debounceMs,
      requireHandler,
      emit: write,
      namer: flagNamer,
      onReload: (outcome, at) => server?.metrics.recordReload(inv.args.name, outcome, at),
    })
    watch.forEach(checkWatchPath) // usage errors (2) before anything listens
    if (server) write({time: new Date().toISOString(), event: 'listen', address: await server.listen()})
    await reloader.start()
    await reloader.stop(await untilStopped())
    await server?.close()
    return statusOf('reload', 'stopped')
  },
}
