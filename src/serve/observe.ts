/**
 * What `serve` knows about each service: the last find result, and the restarts seen (the main
 * process changed: another pidfs id; where there are no ids, another pid, or the same pid with
 * another start time) between observations.
 */
import type {OptionNamer} from '../errors'
import {LocateResult, stoppedResult} from '../locate/locate'
import type {Reason} from '../locate/types'
import {proc} from '../proc/proc-fs'
import {ServiceRef, errorText, locateService} from '../reload/service-ref'

/** The start time in clock ticks (proc(5) stat field 22), as the kernel keeps it: no boot time, so a step of the wall clock cannot make a restart of it. */
function startTicks(pid: number): number | null {
  try {
    return proc.readStat(pid).starttime
  } catch {
    return null
  }
}

/** A service's last locate() result, when it was taken, and the restarts seen so far. */
export interface Observation {
  result: LocateResult
  at: Date
  restarts: number
}

/** Locates the served services on demand and counts their restarts (another pid or start time). */
export class Observer {
  private readonly last = new Map<string, Observation>()
  private readonly identity = new Map<string, string>()

  /** namer: how an error's message (the evidence of an `unknown` answer) names options */
  constructor(
    readonly services: ServiceRef[],
    private readonly namer?: OptionNamer,
  ) {}

  find(name: string): ServiceRef | undefined {
    return this.services.find((s) => s.name === name)
  }

  /** Locates the service now (never signals) and updates its restart count. */
  async observe(ref: ServiceRef): Promise<Observation> {
    let result: LocateResult
    try {
      result = await locateService(ref)
    } catch (error) {
      // An error is no state: unknown, not visible, with the error's code as the reason.
      // (The reason is the error's code in lower case, e.g. docker or not_running: a reason of serve's own, outside locate()'s Reason.)
      const reason = ((error as {code?: string}).code?.toLowerCase() ?? 'error') as Reason
      result = {...stoppedResult(ref.name, [reason], [errorText(error, this.namer)]), state: 'unknown', visible: false}
    }
    const prev = this.last.get(ref.name)
    let restarts = prev?.restarts ?? 0
    // A starting service's pid may be its supervisor (the file is still empty): not an identity yet.
    if (result.state === 'running' && result.pid !== null && !result.starting) {
      // The pidfs id names the process for the whole boot; the pid and start time are the fallback.
      const id = result.pidfdId !== null ? `id ${result.pidfdId}` : `${result.pid}@${startTicks(result.pid) ?? result.process?.started ?? ''}`
      const before = this.identity.get(ref.name)
      if (before !== undefined && before !== id) restarts++
      this.identity.set(ref.name, id)
    }
    const o = {result, at: new Date(), restarts}
    this.last.set(ref.name, o)
    return o
  }

  async observeAll(): Promise<Observation[]> {
    const out: Observation[] = []
    for (const s of this.services) out.push(await this.observe(s))
    return out
  }
}
