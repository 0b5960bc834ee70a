import {BaseCommand, identityOptions} from '../src/cli/base-command'
import {list} from '../src/cli/grammar'
import {oclifFlags} from '../src/cli/oclif-grammar'
import {formatList} from '../src/cli/format'
import {listPidfiles, locateListed} from '../src/locate/list-pidfiles'
import {LocateResult} from '../src/locate/locate'
import {validateRootPid} from '../src/locate/name'
import {proc} from '../src/proc/proc-fs'

export default class List extends BaseCommand {
  static summary = 'Every pidfile find would find, one row each.'
  static description = `Shows exactly the pidfiles that find NAME would find, for every NAME with one in the search path: $NSLOCATE_RUNTIME_DIR, $XDG_RUNTIME_DIR/nslocate (non-root), /run/nslocate, /run, /run/NAME/NAME.pid, /var/run and /var/run/NAME/NAME.pid (FILES in nslocate(1)), and reports each as find would. With --dir, only the *.pid files of that directory.

Exit status: 0 when the listing worked (whatever the services' states), 4 when a directory could not be read, 2 usage error.`
  static examples = [
    '<%= config.bin %> list',
    '<%= config.bin %> list --dir /srv/app/run --json',
  ]
  static enableJsonFlag = true
  // Flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  static flags = oclifFlags(list.flags)

  async run(): Promise<LocateResult[]> {
    const {flags} = await this.parse(List)
    if (flags.container !== undefined || flags['root-pid']) {
      const {containerTarget} = await import('../src/docker/container-target')
      const {listInRoot} = await import('../src/docker/in-container')
      let rootPid = flags['root-pid']
      // As locate() does for find: a --root-pid at or above this kernel's pid_max is a usage error.
      if (rootPid !== undefined) validateRootPid(rootPid, proc.pidMax())
      let hint
      if (flags.container !== undefined) {
        const t = await containerTarget(flags.container)
        if (t.rootPid === null) this.error(`the processes of container ${flags.container} are not visible from this PID namespace; run nslocate on the host`, {exit: 4})
        rootPid = t.rootPid
        hint = t.container
      }
      const inside = listInRoot(rootPid!, {dir: flags.dir, allowUnsafe: flags['allow-unsafe-pidfile'], containerHint: hint, ...identityOptions(flags)})
      if (!this.jsonEnabled()) this.log(formatList(inside))
      return inside
    }
    const listing = listPidfiles({dir: flags.dir})
    for (const u of listing.unreadable) this.warn(`cannot read ${u.dir}: ${u.message}`)
    if (listing.denied.length > 0) {
      this.warn(`could not look into ${listing.denied.join(', ')} (permission denied): a NAME.pid there is not listed; run as root or as the directory's owner`)
    }
    const allowUnsafe = flags['allow-unsafe-pidfile']
    const rows = locateListed(listing, {allowUnsafe, ...identityOptions(flags)})
    if (!this.jsonEnabled()) this.log(formatList(rows))
    process.exitCode = listing.unreadable.length > 0 ? 4 : 0
    return rows
  }
}
