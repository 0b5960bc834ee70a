import {BaseCommand} from '../src/cli/base-command'
import {reload as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {ReloadEvent, Reloader} from '../src/reload/reloader'
import {checkWatchPath} from '../src/reload/watch'
import {parseDuration} from '../src/signal/parse'

export default class Reload extends BaseCommand {
  static summary = 'Watch config files; on a change, validate, then signal the service (HUP) by pidfd. Runs until TERM/INT.'
  static description = `A reload sidecar. Watches each --watch file or directory with inotify (on the directory, so an editor's rename-over and a Kubernetes ConfigMap/Secret volume's atomic ..data symlink swap are seen; watches are re-armed after every swap). After --debounce of quiet, if the content changed (sha256 of the files; a touch sends nothing), it runs --validate (with /bin/sh -c; the signal is sent only if it exits 0), locates NAME afresh (a restarted service gets the signal at its new pid), and signals it through a pidfd with the same checks as \`signal\` (never by name), reporting the target's disposition.

Output: one JSON line per event on stdout, each with "time" and "event": start, service (its state; also when a service that was not running appears), change, unchanged, validation, signal (result signalled, no_effect, not_running or failed, with exit_code, pid, delivered, skipped, dispositions, message), error, stop. A service that is not running is reported and looked for every second; it does not stop the reloader.

With --listen ADDR:PORT it also serves GET /healthz/NAME and GET /metrics as \`serve\` does, with reload counts.

Exit status: 0 stopped by SIGTERM or SIGINT; 1 the --listen address cannot be used; 2 usage (bad flag, signal or duration, a --watch path that does not exist or cannot be read).`
  static examples = [
    {command: '<%= config.bin %> reload nginx --watch /etc/nginx --validate "nginx -t" --pidfile /run/nginx.pid', description: 'Reload nginx when its config changes and passes nginx -t.'},
    {command: '<%= config.bin %> reload app --watch /etc/config --root-pid 1 --dir /run/app', description: 'In a pod sidecar with a shared PID namespace; /etc/config is a ConfigMap volume.'},
    {command: '<%= config.bin %> reload app --watch /etc/config --container app --signal USR1 --debounce 2s', description: 'From a sidecar with the Docker socket.'},
  ]
  // Arguments and flags: src/cli/grammar.ts.
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Reload)
    const service = {name: args.name, pidfile: flags.pidfile, dir: flags.dir, allowUnsafe: flags['allow-unsafe-pidfile'], rootPid: flags['root-pid'], container: flags.container}
    const write = (e: ReloadEvent) => process.stdout.write(JSON.stringify(e) + '\n')
    // A reader that went away (`| head -1`): stop as on TERM instead of dying on EPIPE.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => error.code === 'EPIPE' && process.emit('SIGTERM', 'SIGTERM'))
    const server = flags.listen !== undefined ? await (await import('../src/serve/server')).prepareServer(flags.listen, [service], {intervalMs: 5000}) : null
    const reloader = new Reloader({
      service, watch: flags.watch, signal: flags.signal, validate: flags.validate, validateTimeoutMs: parseDuration(flags['validate-timeout']),
      debounceMs: parseDuration(flags.debounce), requireHandler: flags['require-handler'], emit: write,
      onReload: (outcome, at) => server?.metrics.recordReload(args.name, outcome, at),
    })
    flags.watch.forEach(checkWatchPath) // usage errors (2) before anything listens
    if (server) write({time: new Date().toISOString(), event: 'listen', address: await server.listen()})
    await reloader.start()
    const reason = await new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'))
      process.once('SIGINT', () => resolve('SIGINT'))
    })
    await reloader.stop(reason)
    await server?.close()
    process.exitCode = 0
  }
}
