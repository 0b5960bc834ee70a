/**
 * `nslocate reload`: watch config paths, and on a change (debounced, and only when the content
 * changed) run the optional validation, then signal the service located afresh (a restarted
 * service gets it at its new pid) by pidfd through signal(), never by name. Every step is one event
 * for the caller to log (one JSON line each in the CLI). A service that is not running is reported
 * and looked for again every pollMs; it is never an error that stops the reloader.
 */
import {NslocateError, OptionNamer} from '../errors'
import type {SignalOutcome} from '../outcomes'
import type {SignalResult} from '../signal/signal'
import {parseSignal} from '../signal/parse'
import type {Scope} from '../signal/members'
import {fingerprint} from './fingerprint'
import {ServiceRef, errorText, locateService, signalService} from './service-ref'
import {runValidation} from './validate'
import {PathWatcher, WatchTarget, checkWatchPath} from './watch'

/**
 * One step of the reloader, for the caller to log: start, service, change, unchanged, validation,
 * signal, error, stop (the fields of each: the reload command's description). Fields are camelCase, and the signal
 * event carries signal()'s `outcome` (where `nslocate reload`'s JSON line has the exit status
 * `signal` would have given, exit_code: the CLI maps it, src/cli/json.ts).
 */
export type ReloadEvent = {event: string} & Record<string, unknown>
/** per reload attempt, for the reloads_total{result} metric */
export type ReloadOutcome = 'signalled' | 'no_effect' | 'validation_failed' | 'not_running' | 'failed'

/** The Reloader's options: the service, what to watch, what to send, and where events go. */
export interface ReloadOptions {
  service: ServiceRef
  watch: string[]
  /** default HUP */
  signal?: string
  validate?: string
  validateTimeoutMs?: number
  /** quiet time after the last event before acting; default 1000 */
  debounceMs?: number
  /** how often a service that is not running is looked for; default 1000 */
  pollMs?: number
  scope?: Scope
  requireHandler?: boolean
  emit: (e: ReloadEvent) => void
  onReload?: (outcome: ReloadOutcome, at: Date) => void
  /** how error messages in events name options (the CLI passes its flag namer); default the library's wording */
  namer?: OptionNamer
}

/** What a reload attempt that reached signal() came to. */
function reloadOutcome(r: SignalResult): ReloadOutcome {
  const done: SignalOutcome[] = ['signalled', 'probed', 'would_signal']
  if (done.includes(r.outcome)) return 'signalled'
  if (r.outcome === 'not_running') return 'not_running'
  return r.delivered.length > 0 && r.dispositions.some((d) => d.noEffect) ? 'no_effect' : 'failed'
}

/**
 * `nslocate reload` as a library: watches files or directories and, when their content changed,
 * validates, locates the service afresh and signals it through a pidfd. new Reloader(options)
 * only prepares: nothing is watched until start(); stop(reason) ends it. Events go to options.emit.
 */
export class Reloader {
  private targets: WatchTarget[] = []
  private watcher: PathWatcher | null = null
  private last = ''
  private events = 0
  private names = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private poll: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private closed = false
  private readonly sig: string

  constructor(private readonly o: ReloadOptions) {
    this.sig = parseSignal(o.signal ?? 'HUP').name // USAGE on a bad signal, before anything starts
    if (o.validate !== undefined && o.validate.trim() === '')
      throw new NslocateError('USAGE', (n) => `${n('validate')} is empty: give a command, e.g. ${n('validate')} "nginx -t"`)
    if (o.watch.length === 0) throw new NslocateError('USAGE', (n) => `give at least one ${n('watch')} PATH`)
  }

  /** Checks every watch path (USAGE if one is unusable), arms the watches, reports the service's state. */
  async start(): Promise<void> {
    this.targets = this.o.watch.map(checkWatchPath)
    this.last = fingerprint(this.targets)
    this.watcher = new PathWatcher(
      this.targets,
      (_dir, name) => this.onEvent(name),
      (message) => this.emit({event: 'error', code: 'WATCH', message}),
    )
    this.watcher.arm()
    this.emit({
      event: 'start',
      name: this.o.service.name,
      signal: this.sig,
      watch: this.targets,
      dirs: this.watcher.dirs(),
      debounceMs: this.debounce,
      validate: this.o.validate ?? null,
    })
    await this.checkService()
  }

  /** Stops watching; an attempt under way (validation, signal) is finished first. */
  async stop(reason: string): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watcher?.close()
    if (this.timer) clearTimeout(this.timer)
    if (this.poll) clearTimeout(this.poll)
    await this.running
    this.emit({event: 'stop', reason})
  }

  private get debounce(): number {
    return this.o.debounceMs ?? 1000
  }

  private emit(e: ReloadEvent): void {
    this.o.emit({time: new Date().toISOString(), ...e})
  }

  private onEvent(name: string): void {
    if (this.closed) return
    this.events++
    if (name) this.names.add(name)
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.kick(), this.debounce)
  }

  private kick(): void {
    this.timer = null
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.attempt().finally(() => {
      this.running = null
      if (this.again && !this.closed) {
        this.again = false
        this.kick()
      }
    })
  }

  private async attempt(): Promise<void> {
    const events = this.events
    const names = [...this.names]
    this.events = 0
    this.names.clear()
    const now = fingerprint(this.targets)
    if (now === this.last) return this.emit({event: 'unchanged', events, names})
    this.emit({event: 'change', events, names, fingerprint: now.slice(0, 16)})
    if (this.o.validate !== undefined) {
      const v = await runValidation(this.o.validate, this.o.validateTimeoutMs ?? 30_000)
      this.emit({event: 'validation', command: this.o.validate, ...v})
      if (!v.ok) return this.outcome('validation_failed')
    }
    let r: SignalResult & {helper?: string}
    try {
      r = await signalService(this.o.service, this.sig, {scope: this.o.scope, requireHandler: this.o.requireHandler})
    } catch (error) {
      const e = error as NslocateError
      this.emit({event: 'error', code: e.code ?? 'INTERNAL', message: errorText(e, this.o.namer)})
      return this.outcome(e.code === 'NOT_RUNNING' ? 'not_running' : 'failed')
    }
    const outcome = reloadOutcome(r)
    this.emit({
      event: 'signal',
      result: outcome,
      signal: this.sig,
      outcome: r.outcome,
      pid: r.target.pid,
      nspid: r.target.nspid,
      delivered: r.delivered,
      skipped: r.skipped,
      dispositions: r.dispositions,
      message: r.message,
      // --container from where the container's processes are not visible: the helper container's image
      ...(r.helper !== undefined ? {helper: r.helper} : {}),
    })
    // Not running: it reads the new content when it starts. Signalled: done. Else try on the next change.
    if (outcome === 'signalled' || outcome === 'not_running') this.last = now
    this.outcome(outcome)
    if (outcome === 'not_running') this.watchForService()
  }

  private outcome(o: ReloadOutcome): void {
    this.o.onReload?.(o, new Date())
  }

  private async checkService(): Promise<void> {
    try {
      const t = await locateService(this.o.service)
      this.emit({event: 'service', state: t.state, pid: t.pid, nspid: t.nspid, reasons: t.reasons})
      if (t.state !== 'running') this.watchForService()
    } catch (error) {
      this.emit({event: 'service', state: 'unknown', pid: null, message: errorText(error, this.o.namer)})
      this.watchForService()
    }
  }

  /** Looks for the service every pollMs until it runs; says so once when it does. */
  private watchForService(): void {
    if (this.poll || this.closed) return
    const tick = async () => {
      this.poll = null
      if (this.closed) return
      try {
        const t = await locateService(this.o.service)
        if (t.state === 'running') return this.emit({event: 'service', state: 'running', pid: t.pid, nspid: t.nspid, reasons: t.reasons})
      } catch {}
      if (!this.closed) this.poll = setTimeout(tick, this.o.pollMs ?? 1000)
    }
    this.poll = setTimeout(tick, this.o.pollMs ?? 1000)
  }
}
