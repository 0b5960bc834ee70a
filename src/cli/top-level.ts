/**
 * What bin/run.js checks before handing an invocation to oclif (which the fast path never reaches
 * with a mistyped command): `-v` means --version, and an unknown command, a flag before the
 * command, or a word a command takes no argument for is a usage error of one line with a
 * did-you-mean and the usage hint (src/cli/usage.ts), instead of oclif's `command fnd:x not found`
 * or `command list:extra not found` (its internal `:` id: oclif reads the words after a command
 * that takes no arguments as the rest of a command's name). No prompt: a terminal or not, the same
 * message and exit status 2 (scripts read it).
 */
import {textOf} from './command'
import {CommandGrammar, GRAMMAR} from './grammar'
import {positionals, unexpectedArguments, usageHint} from './usage'
import {closest} from '../closest'

/** The command ids oclif knows: the grammar's commands, oclif's help and completion (test/cli/did-you-mean.test.ts checks them against the manifest). */
export const COMMAND_IDS: readonly string[] = [...Object.keys(GRAMMAR), 'help', 'completion']

const TOP_FLAGS = ['--help', '-h', '--version']

const grammarOf = (id: string): CommandGrammar | undefined => (Object.hasOwn(GRAMMAR, id) ? (GRAMMAR as Record<string, CommandGrammar>)[id] : undefined)

/** argv for oclif (`-v` as `--version`), or null when it is a usage error, printed with process.exitCode set to 2. */
export function topLevel(argv: string[]): string[] | null {
  const [first, second] = argv
  if (first === '-v') return ['--version', ...argv.slice(1)]
  if (first === undefined || TOP_FLAGS.includes(first)) return argv
  if (first === 'help') {
    // help takes a command and no flag (oclif would print an error and the whole help)
    const flag = argv.slice(1).find((w) => w.startsWith('-') && !TOP_FLAGS.includes(w))
    if (flag !== undefined) return fail(`unknown flag ${flag.replace(/=.*$/, '')}`)
    if (second === undefined || second.startsWith('-')) return argv
    if (!COMMAND_IDS.includes(second)) return fail(unknownCommand(second))
    // `help list extra`: oclif would look for a command `list:extra`
    const extra = argv.slice(2).filter((w) => !w.startsWith('-'))
    return extra.length > 0 ? fail(unexpectedArguments(extra), second) : argv
  }
  if (COMMAND_IDS.includes(first)) {
    const g = grammarOf(first)
    if (g && Object.keys(g.args).length === 0) {
      const {args, dashes} = positionals(g, argv.slice(1))
      const extra = [...args, ...(dashes >= 0 ? argv.slice(dashes + 2) : [])]
      if (extra.length > 0) return fail(unexpectedArguments(extra), first)
    }
    return argv
  }
  if (first.startsWith('-')) return fail(...unknownTopFlag(first, argv))
  return fail(unknownCommand(first))
}

function unknownCommand(word: string): string {
  const near = closest(word, COMMAND_IDS)
  return `unknown command ${JSON.stringify(word)}${near !== null ? ` (did you mean ${near}?)` : ''}`
}

/** Does command `g` take `flag` (`--pidfile`, `-q`, `--json`)? Its value word (`PATH`) when it does; '' for a flag without one. */
function takes(g: CommandGrammar, flag: string): string | null {
  if (flag === '--json') return g.json ? '' : null
  const name = flag.startsWith('--') ? flag.slice(2) : Object.keys(g.flags).find((k) => g.flags[k].char !== undefined && `-${g.flags[k].char}` === flag)
  if (name === undefined || !Object.hasOwn(g.flags, name)) return null
  const spec = g.flags[name]
  return spec.type === 'boolean' ? '' : ` ${spec.helpValue ?? 'VALUE'}`
}

/** A flag before the command: where it goes (in the command the line names, else the first that takes it; and that command's usage), or a did-you-mean. */
function unknownTopFlag(typed: string, argv: string[]): [string, string?] {
  const flag = typed.replace(/=.*$/, '')
  const named = argv.find((w) => grammarOf(w) !== undefined)
  const ids = named !== undefined ? [named, ...Object.keys(GRAMMAR)] : Object.keys(GRAMMAR)
  for (const id of ids) {
    const value = takes(grammarOf(id)!, flag)
    if (value === null) continue
    const args = Object.keys(grammarOf(id)!.args).map((a) => ` ${a.toUpperCase()}`)
    return [`${flag} goes after the command: nslocate ${id}${args.join('')} ${flag}${value}`, id]
  }
  const near = closest(flag.replace(/^-+/, ''), ['help', 'version'])
  return [`unknown flag ${flag}${near !== null ? ` (did you mean --${near}?)` : ''}`]
}

function fail(line: string, id?: string): null {
  process.stderr.write(textOf(line, usageHint(id)))
  process.exitCode = 2
  return null
}
