/** `nslocate containers`: the running containers of every runtime that answers (Docker, Podman, the CRI) and the services found in each. */
import type {CommandModule, Invocation, Output} from '../command'
import {escapeText} from '../escape'
import {statusOf} from '../exit-status'
import {formatList} from '../format'
import {containers as grammar} from '../grammar'
import {snakeKeys} from '../json'

/** `nslocate containers`: the running containers of every runtime that answers, with the services found in each. */
export const containersCommand: CommandModule = {
  id: 'containers',
  grammar,
  async run(_inv: Invocation, out: Output): Promise<number> {
    const {listContainers} = await import('../../runtime/in-container')
    const rows = await listContainers()
    if (out.json) out.logJson(snakeKeys(rows))
    else {
      if (rows.length === 0) out.log('no running containers')
      for (const c of rows) {
        const pod = c.pod !== null ? `, pod ${escapeText(c.pod)}` : ''
        out.log(`${c.runtime}  ${escapeText(c.name)} (${escapeText(c.id.slice(0, 12))}${pod}, ${escapeText(c.image)}, init pid ${c.pid})`)
        if (!c.visible) out.log('  its processes are not visible from this PID namespace')
        else out.log(formatList(c.services).replace(/^/gm, '  '))
      }
    }
    return statusOf('containers', 'listed')
  },
}
