/**
 * nslocate's help class (package.json oclif.helpClass): oclif's own help, but for one thing. oclif
 * shows every argument of a command that takes more words than it names (strict: false) as
 * variadic (`NAME...`); run takes one NAME, and its COMMAND follows `--` (its synopsis, from the
 * grammar, says so). Only a command whose grammar says it takes more arguments (serve's
 * `[NAME...]`) keeps the `...`.
 */
import {Command, Help} from '@oclif/core'

import {CommandGrammar, GRAMMAR} from './grammar'

/** oclif's Help, with ARGUMENTS as the grammar has them. */
export default class NslocateHelp extends Help {
  protected getCommandHelpClass(command: Command.Loadable): ReturnType<Help['getCommandHelpClass']> {
    const g = Object.hasOwn(GRAMMAR, command.id) ? (GRAMMAR as Record<string, CommandGrammar>)[command.id] : undefined
    return super.getCommandHelpClass(g && !g.strict && g.more === undefined ? {...command, strict: true} : command)
  }
}
