/**
 * A siglog victim (test/helpers/victims.ts) that holds a POSIX lock on its pidfile, so nslocate finds
 * it as a service: python3 locks the file (fcntl.lockf), writes getpid(), optionally blocks signals
 * (the mask survives execve), and execs siglog keeping the locked fd (POSIX locks survive execve).
 * With `pid1` it runs as pid 1 of a new PID namespace (unshare --pid --fork --mount-proc), so the
 * pidfile says 1 and the kernel's namespace-init rules apply.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {tempDir} from '../helpers/tracked'
import {Victim, VictimOptions, spawnVictim} from '../helpers/victims'

const LOCK_THEN_EXEC = [
  'import fcntl, os, signal, sys',
  'pidfile, block = sys.argv[1], [s for s in sys.argv[2].split(",") if s]',
  'fd = os.open(pidfile, os.O_RDWR | os.O_CREAT, 0o644)',
  'fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)',
  'os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())',
  'os.set_inheritable(fd, True)',
  'signal.pthread_sigmask(signal.SIG_BLOCK, {getattr(signal, "SIG" + s) for s in block})',
  'os.execv(sys.argv[3], sys.argv[3:])',
].join('\n')

export interface LockedVictim extends Victim {
  /** the siglog process, in our namespace */
  hostPid: number
  pidfile: string
  dir: string
}

export async function spawnLockedVictim(opts: VictimOptions & {name?: string; pid1?: boolean; block?: string[]; dir?: string} = {}): Promise<LockedVictim> {
  const dir = opts.dir ?? tempDir('nslocate-sidecar-')
  const pidfile = path.join(dir, `${opts.name ?? 'victim'}.pid`)
  const ns = opts.pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'] : []
  const v = await spawnVictim({
    ...opts,
    log: opts.log ?? path.join(dir, 'signals.log'),
    prefix: [...ns, 'python3', '-c', LOCK_THEN_EXEC, pidfile, (opts.block ?? []).join(',')],
  })
  const hostPid = opts.pid1 ? childOf(v.pid) : v.pid
  return {...v, hostPid, pidfile, dir}
}

/** The one child of pid (unshare --fork's child). */
function childOf(pid: number): number {
  const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  if (kids.length !== 1 || !kids[0]) throw new Error(`expected one child of ${pid}, found ${JSON.stringify(kids)}`)
  return kids[0]
}

/** "SigPnd"/"ShdPnd" of pid include sig: the signal is pending (blocked, not yet delivered). */
export function pending(pid: number, sig: number): boolean {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return ['SigPnd', 'ShdPnd'].some((k) => {
    const m = new RegExp(`^${k}:\\s*([0-9a-f]+)`, 'm').exec(text)
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(sig - 1)) & 1n) === 1n
  })
}

export function alive(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}
