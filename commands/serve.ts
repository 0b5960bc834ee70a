import {BaseCommand} from '../src/cli/base-command'
import {serve as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {prepareServer} from '../src/serve/server'
import {parseDuration} from '../src/signal/parse'

export default class Serve extends BaseCommand {
  static summary = 'Serve read-only health and Prometheus metrics for NAME... over HTTP (loopback by default). Runs until TERM/INT.'
  static description = `GET /healthz/NAME answers 200 when NAME is running and 503 otherwise (stale, stopped, unknown), with find's JSON result as the body; GET /healthz answers for every NAME; GET /metrics gives the Prometheus text format (prom-client): nslocate_service_up, nslocate_service_state{state}, nslocate_service_visible, nslocate_service_main_pid, nslocate_service_start_time_seconds, nslocate_service_restarts_seen_total (the main process changed between observations) and, under \`reload --listen\`, nslocate_reloads_total{result} and nslocate_last_reload_timestamp_seconds. Every request locates afresh; the services are also observed every --interval so restarts between scrapes are counted. Nothing is ever signalled over HTTP; only GET and HEAD are served.

--listen takes PORT (then 127.0.0.1), HOST:PORT or [V6]:PORT; listening on anything but loopback happens only when asked.

With one NAME, --pidfile/--dir/--root-pid/--container apply to it; with several, --dir/--root-pid/--container apply to each (--pidfile is refused).

Output: one JSON line on stdout once listening ({"event":"listen","address":...}) and one when stopping.

Exit status: 0 stopped by SIGTERM or SIGINT; 1 the address cannot be used (in use, not local); 2 usage.`
  static examples = [
    {command: '<%= config.bin %> serve nginx app --listen 127.0.0.1:9090', description: 'Probe endpoints for two services.'},
    {command: 'curl -fsS localhost:9090/healthz/nginx', description: 'A Kubernetes/Docker health check (exit 22 on 503).'},
  ]
  static strict = false
  // Arguments and flags: src/cli/grammar.ts.
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Serve)
    const names = argv as string[]
    if (flags.pidfile !== undefined && names.length > 1) {
      const {NslocateError} = await import('../src/errors')
      throw new NslocateError('USAGE', `--pidfile names one service, but ${names.length} were given (${names.join(', ')}): use --dir, or one serve per pidfile`)
    }
    const {validateName} = await import('../src/locate/name')
    names.forEach((n) => validateName(n))
    const services = names.map((name) => ({name, pidfile: flags.pidfile, dir: flags.dir, allowUnsafe: flags['allow-unsafe-pidfile'], rootPid: flags['root-pid'], container: flags.container}))
    const server = await prepareServer(flags.listen, services, {withReloads: false, intervalMs: parseDuration(flags.interval)})
    const write = (e: Record<string, unknown>) => process.stdout.write(JSON.stringify({time: new Date().toISOString(), ...e}) + '\n')
    // A reader that went away (`| head -1`): stop as on TERM instead of dying on EPIPE.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => error.code === 'EPIPE' && process.emit('SIGTERM', 'SIGTERM'))
    write({event: 'listen', address: await server.listen(), names})
    const reason = await new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'))
      process.once('SIGINT', () => resolve('SIGINT'))
    })
    await server.close()
    write({event: 'stop', reason})
    process.exitCode = 0
  }
}
