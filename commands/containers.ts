import {BaseCommand} from '../src/cli/base-command'
import {escapeText} from '../src/cli/escape'
import {formatList} from '../src/cli/format'
import type {ContainerServices} from '../src/docker/in-container'

export default class Containers extends BaseCommand {
  static summary = 'The running Docker containers and the services whose pidfiles nslocate finds in each.'
  static description = `Asks the Docker API (DOCKER_HOST, default /var/run/docker.sock) for the running containers and, for each, looks at every *.pid in the runtime directories as seen inside it (/run/nslocate, /run, /var/run under /proc/PID/root), reporting each as find would.

Exit status: 0 listed; 4 the engine could not be asked (unreachable, permission denied on the socket).`
  static examples = [
    '<%= config.bin %> containers',
    '<%= config.bin %> containers --json',
  ]
  static enableJsonFlag = true

  async run(): Promise<ContainerServices[]> {
    await this.parse(Containers)
    const {listContainers} = await import('../src/docker/in-container')
    const rows = await listContainers()
    if (!this.jsonEnabled()) {
      if (rows.length === 0) this.log('no running containers')
      for (const c of rows) {
        this.log(`${escapeText(c.name)} (${escapeText(c.id.slice(0, 12))}, ${escapeText(c.image)}, init pid ${c.pid})`)
        if (!c.visible) this.log('  its processes are not visible from this PID namespace')
        else this.log(formatList(c.services).replace(/^/gm, '  '))
      }
    }
    return rows
  }
}
