/**
 * Pseudo file systems never hold a pidfile: writing "a pid" into /proc/sys/kernel/ns_last_pid or a
 * cgroup or sysfs attribute changes the kernel, not a file. acquire() refuses a directory on one
 * (statfs f_type, from linux/magic.h) before anything in it is opened or created.
 */

import {NslocateError, OptionNamer} from '../errors'
import {statfsOf} from '../kernel/reopen'

const PSEUDO: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0xcafe4a11: 'bpf',
  0x62656570: 'configfs',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
  0xf97cff8c: 'selinuxfs',
  0x1cd1: 'devpts',
  0x42494e4d: 'binfmt_misc',
  0x65735543: 'fusectl',
  0x6e736673: 'nsfs',
}

/** Throws UNSAFE_PIDFILE when the directory open as `dirFd` (named `dir`) is on a pseudo file system. */
export function refusePseudoFs(dirFd: number, dir: string, file: string): void {
  let type: number
  try {
    type = Number(statfsOf(dirFd).type)
  } catch {
    return // statfs unavailable: the other checks still apply
  }
  const name = PSEUDO[type >>> 0]
  if (name) {
    // Writing a pid there would change the kernel, not a file.
    const advice = (n: OptionNamer) => `use ${n('dir')} on a real or tmpfs directory, e.g. /run/nslocate`
    throw new NslocateError(
      'UNSAFE_PIDFILE',
      (n) => `${file} is on ${name} (${dir}), a pseudo file system where a write changes the kernel; refusing it (${advice(n)})`,
      {details: {pidfile: file, fstype: name}, advice},
    )
  }
}
