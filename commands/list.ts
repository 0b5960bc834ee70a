import * as fs from 'node:fs'
import * as path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand, containerFlags} from '../src/cli/base-command'
import {formatList} from '../src/cli/format'
import {LocateResult, locate} from '../src/locate/locate'
import {runtimeDirs} from '../src/locate/name'

export default class List extends BaseCommand {
  static summary = 'Every *.pid in the runtime directories, one row each.'
  static description = `Looks at every *.pid file in --dir, or in $NSLOCATE_RUNTIME_DIR, $XDG_RUNTIME_DIR/nslocate (non-root), /run/nslocate, /run and /var/run, and reports each as find would.

Exit status: 0 when the listing worked (whatever the services' states), 4 when a directory could not be read, 2 usage error.`
  static examples = [
    '<%= config.bin %> list',
    '<%= config.bin %> list --dir /srv/app/run --json',
  ]
  static enableJsonFlag = true
  static flags = {
    dir: Flags.string({summary: 'List the *.pid files of this directory only.', helpValue: 'DIR'}),
    'allow-unsafe-pidfile': Flags.boolean({summary: 'Trust symlinked, world-writable or foreign-owned pidfiles.', default: false}),
    ...containerFlags,
  }

  async run(): Promise<LocateResult[]> {
    const {flags} = await this.parse(List)
    if (flags.container !== undefined || flags['root-pid']) {
      const {containerTarget} = await import('../src/docker/container-target')
      const {listInRoot} = await import('../src/docker/in-container')
      let rootPid = flags['root-pid']
      let hint
      if (flags.container !== undefined) {
        const t = await containerTarget(flags.container)
        if (t.rootPid === null) this.error(`the processes of container ${flags.container} are not visible from this PID namespace; run nslocate on the host`, {exit: 4})
        rootPid = t.rootPid
        hint = t.container
      }
      const inside = listInRoot(rootPid!, {dir: flags.dir, allowUnsafe: flags['allow-unsafe-pidfile'], containerHint: hint})
      if (!this.jsonEnabled()) this.log(formatList(inside))
      return inside
    }
    const rows: LocateResult[] = []
    let failed = false
    for (const dir of runtimeDirs({dir: flags.dir})) {
      let names: string[]
      try {
        names = fs.readdirSync(dir).filter((n) => n.endsWith('.pid')).sort()
      } catch (error) {
        failed = true
        this.warn(`cannot read ${dir}: ${(error as Error).message}`)
        continue
      }
      for (const file of names) {
        const pidfile = path.join(dir, file)
        rows.push(locate({name: file.slice(0, -4), pidfile, skipNameCheck: true, allowUnsafe: flags['allow-unsafe-pidfile']}))
      }
    }
    if (!this.jsonEnabled()) this.log(formatList(rows))
    process.exitCode = failed ? 4 : 0
    return rows
  }
}
