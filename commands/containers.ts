import {BaseCommand} from '../src/cli/base-command'
import {containersCommand} from '../src/cli/commands/containers'
import {containers as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'

export default class Containers extends BaseCommand {
  protected readonly command = containersCommand
  static summary = 'The running Docker containers and the services whose pidfiles nslocate finds in each.'
  static description = `Asks the Docker API (DOCKER_HOST, default /var/run/docker.sock) for the running containers and, for each, looks at every *.pid in the runtime directories as seen inside it (/run/nslocate, /run, /var/run under /proc/PID/root), reporting each as find would.

Exit status: 0 listed; 4 the engine could not be asked (unreachable, permission denied on the socket).`
  static examples = ['<%= config.bin %> containers', '<%= config.bin %> containers --json']
  static enableJsonFlag = true
  // Arguments and flags (none): src/cli/grammar.ts.
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
