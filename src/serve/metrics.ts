/**
 * /metrics in the Prometheus text format through prom-client, on a registry of its own (no
 * process-wide default metrics). Values are set from a fresh observation at each scrape.
 */
import {Counter, Gauge, Registry} from 'prom-client'

import type {ReloadOutcome} from '../reload/reloader'
import type {Observation} from './observe'

const STATES = ['running', 'stale', 'stopped', 'unknown'] as const
const OUTCOMES: ReloadOutcome[] = ['signalled', 'no_effect', 'validation_failed', 'not_running', 'failed']

/** The Prometheus metrics of the served services, on a registry of their own; withReloads: the reload counters start at 0. */
export class Metrics {
  readonly registry = new Registry()
  private readonly up = this.gauge('nslocate_service_up', 'Whether the service runs (1) or not (0), by its pidfile and lock.', ['name'])
  private readonly state = this.gauge('nslocate_service_state', 'The find state: 1 for the current one of running, stale, stopped, unknown.', ['name', 'state'])
  private readonly visible = this.gauge(
    'nslocate_service_visible',
    "Whether the running process is visible from nslocate's PID namespace (its pid can be named).",
    ['name'],
  )
  private readonly pid = this.gauge(
    'nslocate_service_main_pid',
    "The main process's pid in nslocate's PID namespace (absent when not running or not visible).",
    ['name'],
  )
  private readonly pidfdId = this.gauge(
    'nslocate_service_main_pidfd_id',
    "The main process's pidfs id, never reused during a boot (Linux 6.9+; absent when not running, not visible, or unknown).",
    ['name'],
  )
  private readonly start = this.gauge('nslocate_service_start_time_seconds', 'When the main process started, in seconds since the epoch.', ['name'])
  private readonly restarts = this.gauge(
    'nslocate_service_restarts_seen_total',
    'How often the main process changed (another pidfs id; without ids, another pid or start time) between observations.',
    ['name'],
  )
  private readonly reloads = new Counter({
    name: 'nslocate_reloads_total',
    help: 'Reload attempts by result: signalled, no_effect, validation_failed, not_running, failed.',
    labelNames: ['name', 'result'],
    registers: [this.registry],
  })
  private readonly lastReload = this.gauge(
    'nslocate_last_reload_timestamp_seconds',
    'When the last reload attempt ended, in seconds since the epoch (its result is in nslocate_reloads_total).',
    ['name'],
  )

  constructor(names: string[], withReloads: boolean) {
    for (const name of names) {
      this.restarts.set({name}, 0)
      if (withReloads) for (const result of OUTCOMES) this.reloads.inc({name, result}, 0)
    }
  }

  private gauge(name: string, help: string, labelNames: string[]): Gauge {
    return new Gauge({name, help, labelNames, registers: [this.registry]})
  }

  update(o: Observation): void {
    const name = o.result.name
    const r = o.result
    this.up.set({name}, r.state === 'running' ? 1 : 0)
    for (const s of STATES) this.state.set({name, state: s}, r.state === s ? 1 : 0)
    this.visible.set({name}, r.state === 'running' && r.pid !== null ? 1 : 0)
    this.restarts.set({name}, o.restarts)
    if (r.state === 'running' && r.pid !== null) {
      this.pid.set({name}, r.pid)
      if (r.pidfdId !== null) this.pidfdId.set({name}, r.pidfdId)
      else this.pidfdId.remove({name})
      const started = r.process ? Date.parse(r.process.started) : NaN
      if (Number.isFinite(started)) this.start.set({name}, started / 1000)
      else this.start.remove({name})
    } else {
      this.pid.remove({name})
      this.pidfdId.remove({name})
      this.start.remove({name})
    }
  }

  recordReload(name: string, outcome: ReloadOutcome, at: Date): void {
    this.reloads.inc({name, result: outcome})
    this.lastReload.set({name}, at.getTime() / 1000)
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
