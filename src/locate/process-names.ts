/**
 * The names a process goes by, and exact name matching (docs/nslocate.1.md, NOTES, "The identity
 * model"). Pure: the caller reads comm, the exe link and cmdline; nothing here touches /proc.
 *
 * Never a bare prefix: NAME `s` is not `sh`, `py` is not `python3`. Allowed for:
 * - comm, which the kernel cuts to 15 characters (TASK_COMM_LEN 16): `postgresql-clus` is NAME
 *   `postgresql-cluster`;
 * - argv[0] in its "NAME: title" form, as setproctitle() writers set it:
 *   `nginx: master process /usr/sbin/nginx -g daemon on;`, `postgres: 15/main: checkpointer`;
 * - the daemon suffix `d`, both ways: NAME docker is dockerd, NAME crond is cron.
 */
import path = require('node:path')

/** The names a process goes by: comm, executable, argv[0], script. */
export interface ProcessNames {
  comm: string
  /** basename of /proc/PID/exe, without " (deleted)"; null when it cannot be read */
  exe: string | null
  /** basename of argv[0]; null when cmdline is empty or unreadable */
  argv0: string | null
  /** the NAME of an argv[0] of the form "NAME: title" (or "NAME title"); null otherwise */
  title: string | null
  /** for an interpreter (python, node, java, ruby, perl, sh...): the script, module or jar it runs */
  script: string | null
}

/** Interpreters whose service is named by the script they run (python3.11, perl5.36, ruby3.1, php8.2...). */
const INTERPRETER =
  /^(python[0-9.]*|pypy[0-9.]*|node|nodejs|bun|deno|java|ruby[0-9.]*|perl[0-9.]*|php[0-9.]*|lua[0-9.]*|tclsh[0-9.]*|Rscript|sh|bash|dash|zsh|ksh|mksh|ash|busybox)$/

/** Options of those interpreters that take the next word as their value (it is not the script). */
const TAKES_VALUE = new Set([
  '-W',
  '-X',
  '-r',
  '--require',
  '--loader',
  '--import',
  '--experimental-loader',
  '-cp',
  '-classpath',
  '--class-path',
  '-p',
  '--module-path',
  '-I',
  '-x',
  '-o',
  '-O',
])
/** Options after which there is no script: the program is given inline. */
const INLINE = new Set(['-c', '-e', '-E', '--eval', '--print'])

const EXTENSION = /\.(py|pyc|js|mjs|cjs|ts|jar|rb|pl|pm|php|lua|tcl|R|sh|bash)$/

/** A process's names from its comm, exe link and command line. */
export function processNames(comm: string, exeLink: string | null, cmdline: string[]): ProcessNames {
  const exe = exeLink ? path.basename(exeLink.replace(/ \(deleted\)$/, '')) || null : null
  const arg0 = cmdline[0] ?? ''
  let argv0: string | null = null
  let title: string | null = null
  if (arg0 !== '') {
    // "nginx: master process ...", "sshd: /usr/sbin/sshd -D [listener]", "postgres: 15/main: ...":
    // one argument holding a title (the rest of argv was overwritten).
    const m = /^([^\s:]+):(?:\s|$)/.exec(arg0)
    const first = arg0.split(' ')[0]
    argv0 = path.basename(m ? m[1] : first) || null
    if (m || first !== arg0) title = argv0
  }
  const interp = [exe, argv0, comm].find((n) => n !== null && INTERPRETER.test(n))
  return {comm, exe, argv0, title, script: interp ? scriptOf(interp, cmdline) : null}
}

/** The script, module (python -m) or jar an interpreter was started with. */
function scriptOf(interp: string, cmdline: string[]): string | null {
  const java = interp === 'java'
  for (let i = 1; i < cmdline.length; i++) {
    const a = cmdline[i]
    if (INLINE.has(a)) return null
    if ((a === '-m' && !java) || (a === '-jar' && java)) return cmdline[i + 1] ? path.basename(cmdline[i + 1]) : null
    if (a.startsWith('-m') && a.length > 2 && interp.startsWith('python')) return a.slice(2)
    if (a === '--') return cmdline[i + 1] ? path.basename(cmdline[i + 1]) : null
    if (a.startsWith('-')) {
      if (TAKES_VALUE.has(a)) i++
      continue
    }
    // java's main class: com.example.Server -> Server (the last component names it)
    if (java && !a.includes('/') && !a.endsWith('.jar')) return a.split('.').pop() || null
    return path.basename(a) || null
  }
  return null
}

/** Every form under which the process may be named, with where it comes from. */
export function nameForms(n: ProcessNames): Array<{from: string; id: string}> {
  const out: Array<{from: string; id: string}> = [{from: 'comm', id: n.comm}]
  if (n.exe) out.push({from: 'exe', id: n.exe})
  if (n.argv0) out.push({from: n.title ? 'argv[0] title' : 'argv[0]', id: n.argv0})
  if (n.script) {
    out.push({from: 'script', id: n.script})
    const bare = n.script.replace(EXTENSION, '')
    // python -m http.server: the last component too
    if (bare !== n.script) out.push({from: 'script', id: bare})
    const last = bare.split('.').pop()
    if (last && last !== bare && !EXTENSION.test(n.script)) out.push({from: 'script', id: last})
  }
  return out.filter((f) => f.id !== '')
}

function sameName(id: string, name: string, from: string, suffix: boolean): boolean {
  if (id === name) return true
  // The kernel cuts comm to 15 bytes: a 15-character comm stands for every name it begins.
  if (from === 'comm' && id.length === 15 && name.length > 15 && name.startsWith(id)) return true
  if (suffix && name.length > 1 && id.length > 1 && (id === `${name}d` || name === `${id}d`)) return true
  return false
}

/**
 * The first form that is one of `wanted`, described for the evidence (`comm "nginx"`); null when
 * none is. `suffix`: the daemon suffix d counts (name matching); an explicit --process-name is
 * exact (only comm's cut applies).
 */
export function matchName(n: ProcessNames, wanted: string[], suffix = true): string | null {
  for (const f of nameForms(n)) {
    for (const w of wanted) if (w && sameName(f.id, w, f.from, suffix)) return `${f.from} "${f.id}"${f.id === w ? '' : ` (for "${w}")`}`
  }
  return null
}

/** `comm "python3", exe "python3.11", argv[0] "python3", script "app.py"` */
export function describeNames(n: ProcessNames): string {
  const parts = [`comm "${n.comm}"`, `exe ${n.exe === null ? '(unreadable)' : `"${n.exe}"`}`, `argv[0] ${n.argv0 === null ? '(empty)' : `"${n.argv0}"`}`]
  if (n.script) parts.push(`script "${n.script}"`)
  return parts.join(', ')
}
