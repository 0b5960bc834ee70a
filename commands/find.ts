import {BaseCommand} from '../src/cli/base-command'
import {findCommand} from '../src/cli/commands/find'
import {find} from '../src/cli/grammar'
import {oclifArgs, oclifFlags} from '../src/cli/oclif-grammar'
import {oclifUsage} from '../src/cli/usage'

export default class Find extends BaseCommand {
  protected readonly command = findCommand
  static summary = 'Is service NAME running, and which process is it from here?'
  static description = `Finds NAME's pidfile, asks the kernel who holds its lock (POSIX, OFD or flock; never taking a lock), checks the pid written in the file against the holder across PID namespaces, and reports the process in this namespace with the evidence. A pidfile that carries an identity record (nslocate run writes one: the pidfs id and boot id beside the pid, in the xattr user.nslocate.identity) is decided by the recorded id: the process that has it is the service, with or without the lock; none has it, or it is from an earlier boot: stale. A pidfile nslocate run wrote also records the service's own cgroup (the xattr user.nslocate.cgroup): find lists every process in it, those that left the main one's process group or session included, or says why run made none.

Every process named comes with its pidfs id (Linux 6.9+; never reused during a boot): pidfd_id and pidfd_ref (PID:ID, as util-linux getino --pidfs prints it) in --json, PID:ID in text. signal --pid and wait --pid take pidfd_ref.

Exit status follows LSB "status": 0 running, 1 not running but a pidfile exists (stale), 3 not running (no pidfile), 4 cannot tell (permission, unsafe pidfile, ambiguous), 2 usage error.`
  static examples = [
    {command: '<%= config.bin %> find nginx', description: 'Where is nginx, and how do we know?'},
    {command: '<%= config.bin %> find app --pidfile /srv/app/run/app.pid --json', description: 'Machine-readable, from an explicit pidfile.'},
    {command: '<%= config.bin %> find redis --quiet || echo "redis is down ($?)"', description: 'As a health check: only the exit status.'},
    {
      command: '<%= config.bin %> find app --json | jq -r .pidfd_ref',
      description: 'The process as PID:ID (its pid and pidfs id), for signal --pid, wait --pid or util-linux 2.42.',
    },
    {
      command: '<%= config.bin %> find nginx --container web',
      description: 'nginx inside the container web (Docker, Podman or the CRI: the first runtime that knows it), as a pid on the host.',
    },
    {
      command: '<%= config.bin %> find nginx --pod shop/web-0 --container-name nginx --json',
      description: 'nginx in the container nginx of the Kubernetes pod web-0 in namespace shop, from the node (through the CRI).',
    },
    {
      command: '<%= config.bin %> find app --container podman://pm1',
      description: 'app in the Podman container pm1 (rootful, or the rootless one of CONTAINER_HOST).',
    },
  ]
  static enableJsonFlag = true
  // Arguments and flags: src/cli/grammar.ts (the fast path in bin/run.js reads the same definition).
  // What to type (oclif's own line lists every flag): src/cli/usage.ts, from the grammar.
  static usage = oclifUsage(findCommand.id)
  static args = oclifArgs(find.args)
  static flags = oclifFlags(find.flags)
}
