import {BaseCommand} from '../src/cli/base-command'
import {listCommand} from '../src/cli/commands/list'
import {list} from '../src/cli/grammar'
import {oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class List extends BaseCommand {
  protected readonly command = listCommand
  static summary = 'Every pidfile find would find, one row each.'
  static description = `Shows exactly the pidfiles that find NAME would find, for every NAME with one in the search path: $NSLOCATE_RUNTIME_DIR, $XDG_RUNTIME_DIR/nslocate (non-root), /run/nslocate, /run, /run/NAME/NAME.pid, /var/run and /var/run/NAME/NAME.pid (FILES in nslocate(1)), and reports each as find would. With --dir, only the *.pid files of that directory.

Exit status: 0 when the listing worked (whatever the services' states), 4 when a directory could not be read, 2 usage error.`
  static examples = ['<%= config.bin %> list', '<%= config.bin %> list --dir /srv/app/run --json']
  static enableJsonFlag = true
  // Flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  // What to type (oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage(listCommand.id)
  static flags = oclifFlags(list.flags)
}
