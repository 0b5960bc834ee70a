/** `nslocate reload NAME --watch PATH...`: a reload sidecar; one JSON line per event, until TERM/INT. */
import {CommandModule, Invocation, Output, textOf} from '../command'
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
  async run(inv: Invocation, out: Output): Promise<number> {
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
    // --quiet: no event lines; a failure is still one line on stderr (a reloader that fails is never silent).
    const write = (e: ReloadEvent) => {
      if (!out.quiet) return void process.stdout.write(JSON.stringify(resultJson('signal', e)) + '\n')
      const failed = failureOf(e)
      if (failed !== null) out.logToStderr(textOf(failed, null).slice(0, -1))
    }
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

/**
 * What --quiet still says of an event: a reload that failed (a signal that did not land where it
 * should, a --validate that failed, an error), as one line; null for the others. Not running is no
 * failure: the service reads its new configuration when it starts.
 */
export function failureOf(e: ReloadEvent): string | null {
  if (e.event === 'error') return `reload: ${String(e.message)}`
  if (e.event === 'signal' && e.result !== 'signalled' && e.result !== 'not_running') return `reload: ${String(e.message)}`
  if (e.event === 'validation' && e.ok === false) {
    const how = e.error !== undefined ? String(e.error) : e.signal ? `killed by ${String(e.signal)}` : `exit status ${String(e.exitCode)}`
    return `reload: --validate failed (${how}); nothing was signalled`
  }
  return null
}
