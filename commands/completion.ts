import {Args, Command, Flags} from '@oclif/core'

import {SHELLS, Shell, completionScript} from '../src/cli/completion'
import {textOf} from '../src/cli/command'
import {unexpectedArguments} from '../src/cli/usage'

export default class Completion extends Command {
  static summary = 'Print the bash or zsh completion script of nslocate.'
  static description = `The script is made from nslocate's own grammar: it completes commands, flags, the values of --scope, --for, --runtime and --cgroup, paths, signal names, and run's COMMAND after --. It runs no nslocate when TAB is pressed. A file or directory name is put on the command line quoted as the shell quotes file names (a file named x$(cmd) becomes x\\$\\(cmd\\)), so a name someone else chose never runs as a command.

bash (needs the bash-completion package): nslocate completion bash > ~/.local/share/bash-completion/completions/nslocate, or for one shell: source <(nslocate completion bash).

zsh: nslocate completion zsh > ~/.zfunc/_nslocate with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc, or for one shell: source <(nslocate completion zsh) after compinit.

The .deb installs both (/usr/share/bash-completion/completions/nslocate, /usr/share/zsh/vendor-completions/_nslocate).`
  static examples = [
    {command: '<%= config.bin %> completion bash > ~/.local/share/bash-completion/completions/nslocate', description: 'Install for bash.'},
    {command: 'source <(<%= config.bin %> completion zsh)', description: 'Use in this zsh (after compinit).'},
  ]
  static usage = 'completion bash|zsh'
  static args = {shell: Args.string({description: 'bash or zsh.', required: true})}
  static flags = {
    quiet: Flags.boolean({
      char: 'q',
      summary: 'Accepted as by every command; the script is the output asked for, so it is printed all the same (an error is still one line on stderr).',
      default: false,
    }),
  }

  async run(): Promise<void> {
    // Parsed (oclif warns of a command that never parses), but judged here: its errors read as every usage error does.
    await this.parse(Completion).catch(() => null)
    const words = this.argv.filter((w) => w !== '-q' && w !== '--quiet')
    const shell = words[0]
    if (words.length !== 1 || !SHELLS.includes(shell as Shell)) {
      const flag = words.find((w) => w.startsWith('-'))
      const line =
        flag !== undefined
          ? `unknown flag ${flag}`
          : shell === undefined
            ? 'missing argument SHELL'
            : words.length > 1
              ? unexpectedArguments(words.slice(1))
              : `unknown shell ${JSON.stringify(shell)}: use bash or zsh`
      process.stderr.write(textOf(line, 'usage: nslocate completion bash|zsh; see nslocate completion --help'))
      this.exit(2)
    }
    const summaries = Object.fromEntries(
      this.config.commands.map((c) => [c.id, (c.summary ?? c.description)?.replace(/<%=\s*config.bin\s*%>/g, this.config.bin)]),
    )
    process.stdout.write(completionScript(shell as Shell, summaries))
  }
}
