/**
 * The hint line under an error. A library message says what happened and what to do ("FACT; run
 * nslocate as root"), and carries what to do as a field of its own as well: an NslocateError's
 * `advice`, a signal or wait result's `advice`, set only by nslocate's code, never read out of the
 * text (a path, an engine's status or a container name in the fact may hold "; run ..." too). The
 * command line prints the fact on the error line and the advice on the hint line
 * (src/cli/error-lines.ts), and a command the advice suggests for this service gets the flags that
 * selected it, as the user typed them (withSelection): `nslocate find secret` run as given would
 * look elsewhere than `nslocate signal secret TERM --pidfile /srv/priv/secret.pid` did.
 */
import {hasUnsafe} from './escape'
import {CommandGrammar, GRAMMAR} from './grammar'

/** The flags that say which service a command means (where its pidfile is, which namespaces, which identity), in the order hints give them. */
export const SELECTING_FLAGS = [
  'pidfile',
  'dir',
  'container',
  'pod',
  'container-name',
  'runtime',
  'root-pid',
  'exec',
  'process-name',
  'user',
  'allow-unsafe-pidfile',
] as const

/** The service an invocation means: its NAME and the flags that selected it, as argv. */
export interface Selection {
  name?: string
  argv: string[]
}

/**
 * A word as bash and zsh read it back unchanged, for a command a hint suggests: bare when every
 * character is safe and it does not start with `=` (zsh's =cmd expansion); in single quotes
 * otherwise (`~x` included); and when it holds a character the hint line would escape (a newline,
 * ESC, a bidi control: src/cli/escape.ts), as $'...' with those characters written as \n, \t, \r
 * or the \xHH of their UTF-8 bytes, so that pasting the hint names the same bytes. The one
 * shell-quoting rule of nslocate (the zsh completion script quotes with inSingleQuotes too).
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_/.,:@%+-][A-Za-z0-9_/.,:=@%+-]*$/.test(word)) return word
  if (!hasUnsafe(word)) return `'${inSingleQuotes(word)}'`
  return `$'${[...word].map((c) => (c === '\\' || c === "'" ? `\\${c}` : hasUnsafe(c) ? (C_ESCAPES[c] ?? utf8Escape(c)) : c)).join('')}'`
}

/** Text that, put between single quotes, a POSIX shell reads back as it is: each `'` as `'\''`. */
export function inSingleQuotes(text: string): string {
  return text.replace(/'/g, `'\\''`)
}

const C_ESCAPES: Record<string, string> = {'\n': '\\n', '\t': '\\t', '\r': '\\r'}
const utf8Escape = (c: string) => [...Buffer.from(c, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')

/** The selecting flags of a parsed invocation (defaults left out: --runtime auto), as argv. */
export function selectionOf(g: CommandGrammar, flags: Record<string, unknown>, name: string | undefined): Selection {
  const argv: string[] = []
  for (const flag of SELECTING_FLAGS) {
    const spec = g.flags[flag]
    const v = flags[flag]
    if (!spec || v === undefined || v === null || v === false || ('default' in spec && v === spec.default)) continue
    argv.push(...(spec.type === 'boolean' ? [`--${flag}`] : [`--${flag}`, String(v)]))
  }
  return {name, argv}
}

/**
 * `text` with every command it suggests for the invocation's service (`nslocate find NAME`, `nslocate
 * wait NAME --for running`) given the invocation's selecting flags after its own words; NAME is
 * shell-quoted. Other text is left as it is.
 */
export function withSelection(text: string, sel: Selection): string {
  if (sel.name === undefined) return text
  const name = sel.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // Only nslocate's own commands: "run nslocate as root" is no command, whatever the service's name.
  const ids = Object.keys(GRAMMAR).join('|')
  const command = new RegExp(String.raw`\bnslocate (${ids}) ${name}(?=$|[\s;,)])((?: --?[\w-]+(?: (?!-)[^\s;,)]+)?)*)`, 'g')
  return text.replace(command, (_all, id: string, own: string) => [`nslocate ${id} ${shellQuote(sel.name!)}${own}`, ...sel.argv.map(shellQuote)].join(' '))
}
