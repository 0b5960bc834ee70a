/**
 * Text output for people: one screen per service, the pid chain drawn across namespaces. Every
 * string that comes from outside (names, paths, comm, cmdline, evidence) goes through escapeText()
 * (src/cli/escape.ts): no control character reaches the terminal; --json keeps them exact.
 */
import {formatPidRef} from '../kernel/pidfs'
import type {LocateResult} from '../locate/locate'
import {escapeText as esc} from './escape'

/** `find`'s text output: the state, then the pidfile (and its identity record), pid (PID:ID), process, holder, pid chain, container, reasons and evidence. */
export function formatFind(r: LocateResult): string {
  const lines: string[] = []
  const head: Record<string, string> = {
    running:
      r.pid !== null
        ? `running, pid ${r.pid}`
        : r.reasons.includes('holder_not_visible')
          ? 'running (not visible from this PID namespace)'
          : 'running (the lock is held; its holder could not be named)',
    stale: 'not running (stale pidfile)',
    stopped: r.reasons.includes('container_not_running')
      ? 'not running (container not running)'
      : r.reasons.includes('root_exited')
        ? 'not running (its --root-pid process has exited)'
        : 'not running (no pidfile)',
    unknown: 'cannot tell',
  }
  lines.push(`${esc(r.name)}: ${head[r.state]}`)
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(10)}${v}`)
  if (r.pidfile) {
    const p = r.pidfile
    row('pidfile', `${esc(p.path)}  (says ${p.pid ?? 'nothing usable'}; ${p.lock === 'none' ? 'not locked' : `${p.lock} lock`}; uid ${p.uid}; mode ${p.mode})`)
    if (p.recorded) row('recorded', `pid ${p.recorded.pid}, pidfs id ${p.recorded.pidfdId}, boot ${p.recorded.bootId}`)
  }
  // PID:ID, as util-linux prints and takes it (signal --pid): the id is the process's for the whole boot.
  if (r.pid !== null) row('pid', formatPidRef(r.pid, r.pidfdId))
  if (r.process && r.pid !== null) {
    const cmd = esc(r.process.cmdline.length ? r.process.cmdline.join(' ') : `[${r.process.comm}]`)
    row('process', cmd.length > 60 ? cmd.slice(0, 57) + '...' : cmd)
    row('', `comm ${esc(r.process.comm)}, uid ${r.process.uid}, ppid ${r.process.ppid}, started ${r.process.started}`)
  }
  if (r.holder !== null && r.holder !== r.pid) row('holder', `${formatPidRef(r.holder, r.holderPidfdId)}  (holds the lock for pid ${r.pid})`)
  if (r.nspid.length > 0) row('pid chain', formatChain(r.nspid, r.pidns))
  if (r.container) row('container', `${esc(r.container.runtime)} ${esc(r.container.id.slice(0, 12))}${r.container.name ? ` (${esc(r.container.name)})` : ''}`)
  if (r.cgroup) {
    const c = r.cgroup
    const n = c.processes.length
    if (c.path === null) row('cgroup', `none (${esc(c.why ?? 'not made')})`)
    else if (c.dir === null) row('cgroup', `${esc(c.path)}  (${esc(c.why ?? 'not found here')})`)
    else row('cgroup', `${esc(c.dir)}  (${n} process${n === 1 ? '' : 'es'}${n ? `: ${c.processes.slice(0, 12).join(' ')}${n > 12 ? ' ...' : ''}` : ''})`)
  }
  if (r.reasons.length) row('reasons', r.reasons.join(', '))
  if (r.evidence.length) {
    lines.push('  evidence')
    for (const e of r.evidence) lines.push(`    - ${esc(e)}`)
  }
  return lines.join('\n')
}

/** 12968 (here) -> 21 -> 11 -> 4 (its own, pid:[4026532178]) */
export function formatChain(nspid: number[], pidns: string | null): string {
  if (nspid.length === 1) return `${nspid[0]} (here; its own namespace${pidns ? `, ${pidns}` : ''})`
  return nspid
    .map((p, i) => {
      if (i === 0) return `${p} (here)`
      if (i === nspid.length - 1) return `${p} (its own namespace${pidns ? `, ${pidns}` : ''})`
      return String(p)
    })
    .join(' -> ')
}

/** `list`'s text output: a table with one row per service (its pid as PID:ID when the id is known), or "no pidfiles found". */
export function formatList(rows: LocateResult[]): string {
  if (rows.length === 0) return 'no pidfiles found'
  const table = rows.map((r) => [
    esc(r.name),
    r.state,
    r.pid === null ? (r.state === 'running' ? 'hidden' : '-') : formatPidRef(r.pid, r.pidfdId),
    r.pidfile?.lock ?? '-',
    esc(r.pidfile?.path ?? '-'),
    r.reasons.join(','),
  ])
  const head = ['NAME', 'STATE', 'PID', 'LOCK', 'PIDFILE', 'REASONS']
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)))
  return [head, ...table].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n')
}
