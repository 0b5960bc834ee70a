/**
 * Usage errors as the command line shows them: one line saying what is wrong, then the command's
 * short synopsis and where its full help is (`usage: nslocate find NAME [flags]; see nslocate find
 * --help`), never the full help. oclif's parse errors (missing argument, unknown flag, bad value,
 * exclusive flags: several lines, a help hint, sometimes ANSI dim) are rewritten here into that line,
 * with a did-you-mean for a mistyped flag; the synopses come from the grammar (src/cli/grammar.ts),
 * for --help (commands/*.ts `static usage`), the man page and these hints alike.
 */
import {CommandGrammar, GRAMMAR} from './grammar'
import {closest} from '../closest'

const BIN = 'nslocate'

/** `nslocate find NAME [flags]`, `nslocate run NAME [flags] -- COMMAND [ARGS...]`: what to type, from the grammar. */
export function synopsis(id: string): string {
  const g = (GRAMMAR as Record<string, CommandGrammar>)[id]
  if (!g) return `${BIN} COMMAND [flags]`
  const args = Object.keys(g.args).map((a) => a.toUpperCase())
  return [BIN, id, ...args, ...(g.more ? [g.more] : []), '[flags]', ...(g.rest ? [g.rest] : [])].join(' ')
}

/** oclif's `static usage` of a command whose synopsis its flags do not say (run's COMMAND, serve's NAMEs): the synopsis without the bin. */
export function oclifUsage(id: string): string {
  return synopsis(id).slice(BIN.length + 1)
}

/** The hint line of a usage error: the short synopsis and where the full help is. */
export function usageHint(id: string | undefined): string {
  if (id === undefined || !Object.prototype.hasOwnProperty.call(GRAMMAR, id)) return `usage: ${BIN} COMMAND [flags]; see ${BIN} --help`
  return `usage: ${synopsis(id)}; see ${BIN} ${id} --help`
}

/**
 * The words of `words` (argv after the command id) that command `g` reads as arguments: flags
 * and the values they take left out, up to `--`; `dashes` is the index of that `--` (-1: none).
 * An unknown flag counts as one that takes no value.
 */
export function positionals(g: CommandGrammar, words: readonly string[]): {args: string[]; dashes: number} {
  const args: string[] = []
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    if (w === '--') return {args, dashes: i}
    if (!w.startsWith('-') || w === '-') args.push(w)
    else if (!w.includes('=')) {
      const name = w.startsWith('--') ? w.slice(2) : Object.keys(g.flags).find((k) => g.flags[k].char !== undefined && `-${g.flags[k].char}` === w)
      const spec = name !== undefined && Object.hasOwn(g.flags, name) ? g.flags[name] : undefined
      if (spec && spec.type !== 'boolean') i++
    }
  }
  return {args, dashes: -1}
}

/** Every flag `id` accepts, as typed (`--pidfile`, `-q`, `--json`, `--help`). */
function flagWords(id: string): string[] {
  const g = (GRAMMAR as Record<string, CommandGrammar>)[id]
  if (!g) return ['--help', '--version']
  const words = Object.entries(g.flags).flatMap(([name, s]) => [`--${name}`, ...(s.char ? [`-${s.char}`] : [])])
  return [...words, ...(g.json ? ['--json'] : []), '--help']
}

/** ` (did you mean --pidfile?)` for a mistyped flag of command `id`; '' when nothing is close. */
export function flagSuggestion(id: string, typed: string): string {
  // Compared without the dashes: `--for` is 2 letters from `--dir`, but 3 letters are not 2 typos away from a flag.
  const bare = typed.replace(/=.*$/, '').replace(/^-+/, '')
  const long = flagWords(id)
    .filter((w) => w.startsWith('--'))
    .map((w) => w.slice(2))
  const near = closest(bare, long)
  return near !== null && near !== bare ? ` (did you mean --${near}?)` : ''
}

/** `unexpected argument "extra"`: the words a command does not take, each quoted. */
export function unexpectedArguments(words: readonly string[]): string {
  return `unexpected argument${words.length === 1 ? '' : 's'} ${words.map((w) => JSON.stringify(w)).join(' ')}`
}

const ANSI = new RegExp(String.raw`\u001b\[[0-9;]*m`, 'g')

/**
 * The one line for an oclif parse error of command `id` (its message with oclif's help hint, list
 * layout and colours), or null when the message is none oclif's parser gives.
 */
export function parseErrorLine(id: string, error: {message: string; flags?: string[]; args?: unknown[]}): string | null {
  const text = error.message.replace(ANSI, '').replace(/\nSee more help with --help$/, '')
  const lines = text.split('\n').map((l) => l.trim())
  const first = lines[0]
  let m: RegExpExecArray | null
  if ((m = /^Missing (\d+) required args?/.exec(first))) {
    // The names oclif's error carries (its Arg objects), else the grammar's last N: never its help text.
    const carried = (error.args ?? []).map((a) => (a as {name?: unknown}).name).filter((n): n is string => typeof n === 'string')
    const names = carried.length > 0 ? carried : Object.keys((GRAMMAR as Record<string, CommandGrammar>)[id]?.args ?? {}).slice(-Number(m[1]))
    const missing = names.map((n) => n.toUpperCase())
    return `missing argument${missing.length === 1 ? '' : 's'} ${missing.join(' ')}`.trim()
  }
  // (the s flag: a flag as typed may hold a \r, which `.` would not match)
  if ((m = /^Nonexistent flags?: (.*)$/s.exec(first))) {
    // oclif's own list when it gives one: a flag as typed may hold a newline too
    const flags = error.flags?.length ? error.flags : m[1].split(', ')
    return `unknown flag${flags.length === 1 ? '' : 's'} ${flags.join(', ')}${flagSuggestion(id, flags[0])}`
  }
  if (/^Unexpected arguments?: /.test(first)) {
    const words = (error.args ?? []).filter((a): a is string => typeof a === 'string')
    return unexpectedArguments(words.length > 0 ? words : [first.replace(/^Unexpected arguments?: /, '')])
  }
  if ((m = /^Expected --([\w-]+)=([\s\S]*) to be one of: (.*)$/.exec(text))) return `invalid --${m[1]} ${JSON.stringify(m[2])}: use one of ${m[3]}`
  if ((m = /^Flag --([\w-]+) expects (?:a value|one of these values: (.*))$/s.exec(first))) {
    return `--${m[1]} needs a value${m[2] ? ` (one of ${m[2]})` : ''}`
  }
  if ((m = /^Flag --([\w-]+) can only be specified once$/.exec(first))) return `--${m[1]} given more than once`
  if ((m = /^Parsing --([\w-]+)$/.exec(first))) {
    // A flag's own parse(): oclif's integer flag ("Expected an integer ... but received: 0").
    const why = lines.slice(1).join(' ')
    const got = /^Expected (.*?) but received: (.*)$/s.exec(why)
    return got ? `invalid --${m[1]} ${JSON.stringify(got[2])}: expected ${got[1]}` : `invalid --${m[1]}: ${why}`
  }
  if (/^The following errors? occurred:$/.test(first)) {
    // --a=X cannot also be provided when using --b (once each way): one line naming the pair once.
    const pairs = new Map<string, string>()
    for (const l of lines.slice(1)) {
      const x = /^--([\w-]+)(?:=.*)? cannot also be provided when using --([\w-]+)$/.exec(l)
      if (x) pairs.set([x[1], x[2]].sort().join(' '), `--${x[2]} and --${x[1]} cannot be given together`)
      else pairs.set(l, l.replace(/^Missing required flag ([\w-]+)$/, 'missing --$1'))
    }
    return [...pairs.values()].join('; ')
  }
  return null
}
