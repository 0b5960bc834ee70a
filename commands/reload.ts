import {BaseCommand} from '../src/cli/base-command'
import {reloadCommand} from '../src/cli/commands/reload'
import {reload as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Reload extends BaseCommand {
  protected readonly command = reloadCommand
  static summary = 'Watch config files; on a change, validate, then signal the service (HUP) by pidfd. Runs until TERM/INT.'
  static description = `A reload sidecar. Watches each --watch file or directory with inotify (on the directory, so an editor's rename-over and a Kubernetes ConfigMap/Secret volume's atomic ..data symlink swap are seen; watches are re-armed after every swap). After --debounce of quiet, if the content changed (sha256 of the files; a touch sends nothing), it runs --validate (with /bin/sh -c; the signal is sent only if it exits 0), locates NAME afresh (a restarted service gets the signal at its new pid), and signals it through a pidfd with the same checks as \`signal\` (never by name), reporting the target's disposition.

Output: one JSON line per event on stdout, each with "time" and "event": start, service (its state; also when a service that was not running appears), change, unchanged, validation, signal (result signalled, no_effect, not_running or failed, with exit_code, pid, delivered, skipped, dispositions, message), error, stop. A service that is not running is reported and looked for every second; it does not stop the reloader.

With --listen ADDR:PORT it also serves GET /healthz/NAME and GET /metrics as \`serve\` does, with reload counts.

Exit status: 0 stopped by SIGTERM or SIGINT; 1 the --listen address cannot be used; 2 usage (bad flag, signal or duration, a --watch path that does not exist or cannot be read).`
  static examples = [
    {
      command: '<%= config.bin %> reload nginx --watch /etc/nginx --validate "nginx -t" --pidfile /run/nginx.pid',
      description: 'Reload nginx when its config changes and passes nginx -t.',
    },
    {
      command: '<%= config.bin %> reload app --watch /etc/config --root-pid 1 --dir /run/app',
      description: 'In a pod sidecar with a shared PID namespace; /etc/config is a ConfigMap volume.',
    },
    {
      command: '<%= config.bin %> reload app --watch /etc/config --container app --signal USR1 --debounce 2s',
      description: "From a sidecar with the runtime's socket (Docker, Podman).",
    },
  ]
  // Arguments and flags: src/cli/grammar.ts.
  // What to type (oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage(reloadCommand.id)
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
