import {BaseCommand} from '../src/cli/base-command'
import {containersCommand} from '../src/cli/commands/containers'
import {containers as grammar} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Containers extends BaseCommand {
  protected readonly command = containersCommand
  static summary =
    'The running containers of every runtime that answers (Docker, Podman, Kubernetes through the CRI) and the services whose pidfiles nslocate finds in each.'
  static description = `Asks every container runtime whose socket answers, in the order of CONTAINERS in nslocate(1) (DOCKER_HOST, CONTAINER_HOST, CONTAINER_RUNTIME_ENDPOINT, then the default sockets of Docker, Podman, containerd and CRI-O), for its running containers and, for each, looks at every *.pid in the runtime directories as seen inside it (/run/nslocate, /run, /var/run under /proc/PID/root), reporting each as find would. Each row names its runtime, and its pod when it is in one. A container reached through several sockets (DOCKER_HOST naming Podman's) is listed once.

Exit status: 0 listed; 4 no runtime could be asked (none found, unreachable, permission denied on the socket, a socket another user controls).`
  static examples = ['<%= config.bin %> containers', '<%= config.bin %> containers --json']
  static enableJsonFlag = true
  // Arguments and flags (none): src/cli/grammar.ts.
  // What to type (oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage(containersCommand.id)
  static args = oclifArgs(grammar.args)
  static flags = oclifFlags(grammar.flags)
}
