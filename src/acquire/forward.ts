/**
 * The signals `run` forwards to COMMAND (supervise.ts). Forwarding is installed before the child
 * exists: a signal that arrives before the program runs is kept and sent once execve succeeded,
 * never lost and never the supervisor's death. While run follows what a daemonizing COMMAND left
 * (follow.ts), they go to the process the pidfile names, kept meanwhile when there is none yet.
 */
import {constants} from 'node:os'

import {pidfdSendSignal} from '../native/binding'

/** The signals `run` passes on to the service. */
export const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const

/** Passes run's FORWARDED signals on through a pidfd, keeping them while there is no target yet. */
export class Forwarder {
  private readonly pending: number[] = []
  /** the pidfd signals go to; -1: keep them */
  private target = -1
  private readonly handlers = new Map<string, () => void>()

  /** Installs a handler for each FORWARDED signal; signals are kept until aim(). */
  install(): this {
    for (const sig of FORWARDED) {
      const signo = (constants.signals as Record<string, number>)[sig]
      const h = () => this.deliver(signo)
      this.handlers.set(sig, h)
      process.on(sig, h)
    }
    return this
  }

  /** From now on signals go to `pidfd`, those kept first; -1: keep them again. */
  aim(pidfd: number): void {
    this.target = pidfd
    if (pidfd < 0) return
    for (const signo of this.pending.splice(0)) this.deliver(signo)
  }

  uninstall(): void {
    for (const [sig, h] of this.handlers) process.removeListener(sig, h)
    this.handlers.clear()
  }

  private deliver(signo: number): void {
    if (this.target < 0) return void this.pending.push(signo)
    try {
      pidfdSendSignal(this.target, signo)
    } catch (error) {
      // It has exited: kept for the process followed next (a daemon's successor, what is left in
      // the service's cgroup), which aim() gives it to; dropped if there is none (run ends).
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') this.pending.push(signo)
    }
  }
}
