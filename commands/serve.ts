import {BaseCommand} from '../src/cli/base-command'
import {serveCommand} from '../src/cli/commands/serve'
import {serve as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Serve extends BaseCommand {
  protected readonly command = serveCommand
  static summary = 'Serve read-only health and Prometheus metrics for NAME... over HTTP (loopback by default). Runs until TERM/INT.'
  static description = `GET /healthz/NAME answers 200 when NAME is running and 503 otherwise (stale, stopped, unknown), with find's JSON result as the body; GET /healthz answers for every NAME; GET /metrics gives the Prometheus text format (prom-client): nslocate_service_up, nslocate_service_state{state}, nslocate_service_visible, nslocate_service_main_pid, nslocate_service_start_time_seconds, nslocate_service_main_pidfd_id (its pidfs id), nslocate_service_restarts_seen_total (the main process, by its pidfs id, changed between observations) and, under \`reload --listen\`, nslocate_reloads_total{result} and nslocate_last_reload_timestamp_seconds. Every request locates afresh; the services are also observed every --interval so restarts between scrapes are counted. Nothing is ever signalled over HTTP; only GET and HEAD are served.

--listen takes PORT (then 127.0.0.1), HOST:PORT or [V6]:PORT; listening on anything but loopback happens only when asked.

With one NAME, --pidfile/--dir/--root-pid/--container/--pod apply to it; with several, --dir/--root-pid/--container/--pod apply to each (--pidfile is refused).

Output: one JSON line on stdout once listening ({"event":"listen","address":...}) and one when stopping.

Exit status: 0 stopped by SIGTERM or SIGINT; 1 the address cannot be used (in use, not local); 2 usage.`
  static examples = [
    {command: '<%= config.bin %> serve nginx app --listen 127.0.0.1:9090', description: 'Probe endpoints for two services.'},
    {command: 'curl -fsS localhost:9090/healthz/nginx', description: 'A Kubernetes/Docker health check (exit 22 on 503).'},
  ]
  static strict = false
  // Arguments and flags: src/cli/grammar.ts.
  // What to type (`serve NAME [NAME...] [flags]`; oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage('serve')
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
