/**
 * What the cgroup tests (issue 22) share: where this test process's services' cgroups are, and
 * reading, emptying and removing cgroup directories of the v2 hierarchy (on this host the v2 part
 * of a hybrid, /sys/fs/cgroup/unified). Under `npm test` and `npx jest` the tests run in a cgroup
 * of their own (test/helpers/suite-cgroup.js), and `run` makes a service's cgroup under its
 * caller's: so OWN, not '/'.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {until} from './cli'

export const V2 = '/sys/fs/cgroup/unified'
/** This test process's own v2 cgroup ('' for the root) */
export const OWN = (/^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/').replace(/\/$/, '')
/** Where `nslocate run` started by this test process makes the services' cgroups. */
export const SERVICES = path.join(V2, OWN, 'nslocate')

export function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** The pids in the cgroup (its own cgroup.procs), in increasing order; [] when it is gone. */
export function procsOf(dir: string): number[] {
  return readOr(path.join(dir, 'cgroup.procs'))
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b)
}

/** cgroup.events says `populated 1`. */
export function populated(dir: string): boolean {
  return /^populated 1$/m.test(readOr(path.join(dir, 'cgroup.events')))
}

/** Sub-directories (cgroups) of a cgroup directory. */
export function cgroupsIn(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, {withFileTypes: true})
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
  } catch {
    return []
  }
}

/** Kill what is left in a cgroup tree (cgroup.kill: no pid is killed by number) and remove it, deepest first. */
export async function removeTree(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1')
  } catch {}
  await until(() => !populated(dir), `${dir} to empty`, 5000).catch(() => {})
  for (const sub of cgroupsIn(dir)) await removeTree(path.join(dir, sub))
  for (let i = 0; i < 100; i++) {
    try {
      fs.rmdirSync(dir)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
