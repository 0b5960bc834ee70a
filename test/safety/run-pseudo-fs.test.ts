/**
 * Red-team F5: a pidfile on a kernel pseudo file system (proc, sysfs, cgroup...) is refused with a
 * message and 123 before anything there is opened: `--pidfile /proc/sys/kernel/ns_last_pid` in a
 * PID namespace used to end in a raw Node error (fchmod EPERM), after opening the sysctl for writing.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'

import {BIN} from '../helpers/cli'

function runInPidns(pidfile: string): {status: number | null; stderr: string} {
  const r = spawnSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, BIN, 'run', 'x', '--pidfile', pidfile, '--', 'true'], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  return {status: r.status, stderr: r.stderr}
}

const cgroupDir = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup'].find((d) => {
  try {
    const t = Number(fs.statfsSync(d).type)
    return t === 0x27e0eb || t === 0x63677270
  } catch {
    return false
  }
})!

test.each([
  ['/proc/sys/kernel/ns_last_pid', 'proc'],
  ['/sys/kernel/nslocate-test.pid', 'sysfs'],
  [`${cgroupDir}/nslocate-test.pid`, 'cgroup'],
])('--pidfile %s is refused (123), on %s', (pidfile, fstype) => {
  const before = fs.existsSync(pidfile) ? fs.readFileSync(pidfile, 'utf8') : null
  const r = runInPidns(pidfile)
  expect(r.stderr.trim().split('\n')).toEqual([
    expect.stringMatching(
      new RegExp(
        `^nslocate: ${pidfile.replace(/[/.]/g, '\\$&')} is on ${fstype}2? \\(.*\\), a pseudo file system where a write changes the kernel; refusing it$`,
      ),
    ),
    'hint: use --dir on a real or tmpfs directory, e.g. /run/nslocate',
  ])
  expect(r.status).toBe(123)
  if (before === null) expect(fs.existsSync(pidfile)).toBe(false)
})
