/** `nslocate serve NAME...`: read-only health and Prometheus metrics over HTTP, until TERM/INT. */
import type {CommandModule, Invocation, Output} from '../command'
import {statusOf} from '../exit-status'
import {serve as grammar} from '../grammar'
import {flagNamer, optionsOf} from '../options'
import {NslocateError} from '../../errors'
import type {ServiceRef} from '../../reload/service-ref'

/** `nslocate serve NAME...`: serves /healthz/NAME and /metrics for the services until stopped. */
export const serveCommand: CommandModule = {
  id: 'serve',
  grammar,
  async run(inv: Invocation, out: Output): Promise<number> {
    const names = inv.argv
    const {listen, intervalMs, ...where} = optionsOf(grammar, inv.flags) as {listen: string; intervalMs: number; pidfile?: string}
    if (where.pidfile !== undefined && names.length > 1) {
      throw new NslocateError(
        'USAGE',
        (n) => `${n('pidfile')} names one service, but ${names.length} were given (${names.join(', ')}): use ${n('dir')}, or one serve per pidfile`,
      )
    }
    const {validateName} = await import('../../locate/name')
    names.forEach((n) => validateName(n))
    const {prepareServer} = await import('../../serve/server')
    const server = await prepareServer(
      listen,
      names.map((name) => serviceOf(name, where)),
      {withReloads: false, intervalMs, namer: flagNamer},
    )
    // --quiet: no event lines (listen, stop).
    const write = (e: Record<string, unknown>) => out.quiet || process.stdout.write(JSON.stringify({time: new Date().toISOString(), ...e}) + '\n')
    stopOnEpipe()
    write({event: 'listen', address: await server.listen(), names})
    const reason = await untilStopped()
    await server.close()
    write({event: 'stop', reason})
    return statusOf('serve', 'stopped')
  },
}

/** The service NAME as reload and serve watch it: where its pidfile is (the options of find). */
export function serviceOf(name: string, where: Record<string, unknown>): ServiceRef {
  const {pidfile, dir, allowUnsafe, rootPid, container, pod, containerName, runtime} = where as Omit<ServiceRef, 'name'>
  return {name, pidfile, dir, allowUnsafe, rootPid, container, pod, containerName, runtime}
}

/** A reader that went away (`| head -1`): stop as on TERM instead of dying on EPIPE. */
export function stopOnEpipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => error.code === 'EPIPE' && process.emit('SIGTERM', 'SIGTERM'))
}

/** Resolves with the name of the first of SIGTERM and SIGINT to arrive. */
export function untilStopped(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
}
