/**
 * Shell completion for bash and zsh, written from the grammar (src/cli/grammar.ts) when asked:
 * `nslocate completion bash|zsh` prints a static script, so a flag added to the grammar is completed
 * the next time the script is made (the .deb makes it at build time), and completing never starts
 * node. Completed: the command, its flags (after `-`), a choice's values (--scope, --for, --runtime,
 * --cgroup), paths for --pidfile, --dir, --watch and the like, signal names for SIGNAL and
 * --signal, and after run's `--` a command. NAME is not completed (no guess at what runs).
 *
 * Why not @oclif/plugin-autocomplete: it writes its scripts into the user's cache directory at
 * run time (`nslocate autocomplete` then a shell restart), and asks oclif for every TAB.
 */
import {CommandGrammar, FlagSpec, GRAMMAR} from './grammar'
import {inSingleQuotes} from './hint'
import {validSignalNames} from '../signal/parse'

/** The shells a script is made for. */
export const SHELLS = ['bash', 'zsh'] as const
/** A shell `nslocate completion` writes a script for. */
export type Shell = (typeof SHELLS)[number]

const TOP = ['--help', '--version', '-v']
const commands = () => [...Object.keys(GRAMMAR), 'help', 'completion']
const grammars = () => Object.entries(GRAMMAR as Record<string, CommandGrammar>)

/** What a flag's value is completed with: files, directories, fixed words, signal names, or nothing. */
function valueKind(name: string, s: FlagSpec): {files?: true; dirs?: true; words?: readonly string[]} | null {
  if (s.type === 'boolean') return null
  if (s.type === 'option') return {words: s.options}
  if (name === 'dir') return {dirs: true}
  if (s.type === 'path' || s.helpValue === 'PATH') return {files: true}
  if (name === 'signal') return {words: signalWords()}
  return {}
}

const signalWords = () => validSignalNames()

/** The script for `shell`; `summaries`: each command's one-line summary by id (oclif's), for zsh's menu. */
export function completionScript(shell: Shell, summaries: Record<string, string | undefined>): string {
  return shell === 'bash' ? bashScript() : zshScript(summaries)
}

function bashScript(): string {
  const cases: string[] = []
  const values: string[] = []
  for (const [id, g] of grammars()) {
    const flags = Object.entries(g.flags).flatMap(([n, s]) => [`--${n}`, ...(s.char ? [`-${s.char}`] : [])])
    if (g.json) flags.push('--json')
    flags.push('--help')
    const taking = Object.entries(g.flags).filter(([, s]) => s.type !== 'boolean')
    cases.push(`    ${id}) flags='${flags.join(' ')}'; valued='${taking.map(([n]) => `--${n}`).join(' ')}' ;;`)
    for (const [n, s] of taking) {
      const k = valueKind(n, s)!
      const reply = k.files ? '_nslocate_paths -f' : k.dirs ? '_nslocate_paths -d' : k.words ? `_nslocate_words '${k.words.join(' ')}'` : ':'
      values.push(`    '${id} --${n}') ${reply}; return ;;`)
    }
  }
  return `# bash completion for nslocate: made by \`nslocate completion bash\` from its grammar.
# Install: nslocate completion bash > ~/.local/share/bash-completion/completions/nslocate
# Replies are read a line each (mapfile), never word-split or globbed; file and directory names go
# back to readline as file names (compopt -o filenames), which quotes them on the command line: a
# file named 'x$(cmd)' is inserted as x\\$\\(cmd\\), never as a command substitution.
_nslocate_words() { mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur"); }
_nslocate_paths() { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen "$1" -- "$cur"); }
_nslocate() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local cmd='' at=0 i
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ \${COMP_WORDS[i]} != -* ]]; then cmd=\${COMP_WORDS[i]}; at=$i; break; fi
  done
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then _nslocate_words '${TOP.join(' ')}'
    else _nslocate_words '${commands().join(' ')}'; fi
    return
  fi
  local flags='' valued=''
  case $cmd in
${cases.join('\n')}
    help) _nslocate_words '${commands().join(' ')}'; return ;;
    completion) _nslocate_words '${SHELLS.join(' ')}'; return ;;
    *) return ;;
  esac
  # run NAME [flags] -- COMMAND [ARGS...]: after --, a command, then its own arguments (files)
  for ((i = at + 1; i < COMP_CWORD; i++)); do
    if [[ \${COMP_WORDS[i]} == -- ]]; then
      if ((i + 1 == COMP_CWORD)); then _nslocate_paths -c; else _nslocate_paths -f; fi
      return
    fi
  done
  case "$cmd $prev" in
${values.join('\n')}
  esac
  if [[ $cur == -* ]]; then _nslocate_words "$flags"; return; fi
  # the positional arguments so far (a valued flag's value is not one): signal's second is SIGNAL
  local n=0 skip=0
  for ((i = at + 1; i < COMP_CWORD; i++)); do
    if ((skip)); then skip=0; continue; fi
    case " $valued " in *" \${COMP_WORDS[i]} "*) skip=1; continue ;; esac
    [[ \${COMP_WORDS[i]} == -* ]] || ((n++))
  done
  if [[ $cmd == signal && $n == 1 ]]; then _nslocate_words '${signalWords().join(' ')}'; fi
}
complete -o default -F _nslocate nslocate
`
}

/** Text inside single quotes in zsh, and inside an _arguments description [..]. */
const zq = inSingleQuotes
const desc = (s: string) => zq(s.replace(/[[\]\\]/g, '\\$&').replace(/:/g, '\\:'))
/** A summary's first clause, for a menu: up to the first sentence end, parenthesis or semicolon. */
const firstSentence = (s: string) => s.split(/\.\s(?=[A-Z])|\s\(|;\s|:\s/)[0].replace(/[.?]$/, '')

function zshScript(summaries: Record<string, string | undefined>): string {
  const list = commands().map((id) => `'${id}:${zq(firstSentence(summaries[id] ?? id).replace(/:/g, '\\:'))}'`)
  const cases = grammars().map(([id, g]) => {
    const specs: string[] = []
    for (const [n, s] of Object.entries(g.flags)) {
      const not = [...(s.exclusive ?? []).map((x) => `--${x}`)]
      const excl = not.length ? `(${not.join(' ')})` : ''
      const names = s.char ? `{-${s.char},--${n}}` : `--${n}`
      const k = valueKind(n, s)
      const action =
        k === null ? '' : `:${(s.helpValue ?? n).replace(/:/g, '')}:${k.files ? '_files' : k.dirs ? '_files -/' : k.words ? `(${k.words.join(' ')})` : ' '}`
      const rep = s.multiple ? '*' : ''
      // {-q,--quiet} is brace-expanded by zsh: keep it out of the quotes
      specs.push(
        s.char ? `'${excl}'${names}'[${desc(firstSentence(s.summary))}]${action}'` : `'${rep}${excl}${names}[${desc(firstSentence(s.summary))}]${action}'`,
      )
    }
    if (g.json) specs.push(`'--json[Format output as json]'`)
    specs.push(`'--help[Show help]'`)
    Object.keys(g.args).forEach((a, i) => specs.push(`'${i + 1}:${a.toUpperCase()}:${a === 'signal' ? `(${signalWords().join(' ')})` : ' '}'`))
    if (g.more) specs.push(`'*:NAME: '`)
    if (g.rest) specs.push(`'*::COMMAND:_normal'`)
    return `    ${id}) _arguments -s ${specs.join(' \\\n        ')} ;;`
  })
  return `#compdef nslocate
# zsh completion for nslocate: made by \`nslocate completion zsh\` from its grammar.
# Install: nslocate completion zsh > "\${fpath[1]}/_nslocate" (a directory of $fpath), then compinit.
_nslocate() {
  local -a commands
  commands=(
    ${list.join('\n    ')}
  )
  if (( CURRENT == 2 )); then
    if [[ $PREFIX == -* ]]; then compadd -- ${TOP.join(' ')}; else _describe -t commands 'nslocate command' commands; fi
    return
  fi
  local cmd=$words[2]
  shift words; (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
    help) _describe -t commands 'nslocate command' commands ;;
    completion) compadd -- ${SHELLS.join(' ')} ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _nslocate "$@"; else compdef _nslocate nslocate; fi
`
}
