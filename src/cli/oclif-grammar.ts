/** oclif's `static args` / `static flags` generated from src/cli/grammar.ts (the one definition). */
import {Args, Flags, Interfaces} from '@oclif/core'

import {validatePath} from './fast-parse'
import {ArgSpec, FlagSpec} from './grammar'

type OclifFlag<S> = S extends {type: 'boolean'}
  ? Interfaces.BooleanFlag<boolean>
  : S extends {multiple: true}
    ? Interfaces.OptionFlag<string[]>
    : S extends {type: 'option'; options: readonly (infer O)[]}
      ? Interfaces.OptionFlag<O>
      : S extends {type: 'integer'; default: number}
        ? Interfaces.OptionFlag<number>
        : S extends {type: 'integer'}
          ? Interfaces.OptionFlag<number | undefined>
          : S extends {type: 'string'; default: string}
            ? Interfaces.OptionFlag<string>
            : Interfaces.OptionFlag<string | undefined>

/** The oclif flags generated from a FlagSpec table, typed flag by flag. */
export type OclifFlags<T extends Record<string, FlagSpec>> = {[K in keyof T]: OclifFlag<T[K]>}
/** The oclif arguments generated from an ArgSpec table (all strings). */
export type OclifArgs<T extends Record<string, ArgSpec>> = {[K in keyof T]: Interfaces.Arg<string>}

/** The oclif flag for FlagSpec `s`; `name` only names the flag in an error. */
export function oclifFlag(name: string, s: FlagSpec): Interfaces.Flag<unknown> {
  const common = {
    summary: s.summary,
    helpValue: s.helpValue,
    exclusive: s.exclusive ? [...s.exclusive] : undefined,
    ...(s.char ? {char: s.char as 'q'} : {}),
    ...(s.required ? {required: true} : {}),
  }
  switch (s.type) {
    case 'boolean':
      return Flags.boolean({...common, default: s.default}) as Interfaces.Flag<unknown>
    case 'string':
      return (s.multiple ? Flags.string({...common, multiple: true}) : Flags.string({...common, default: s.default})) as Interfaces.Flag<unknown>
    case 'path': {
      const {key, file} = s
      return Flags.string({...common, parse: async (input: string) => validatePath(key, input, file)}) as Interfaces.Flag<unknown>
    }
    case 'integer':
      return Flags.integer({...common, default: s.default, min: s.min, max: s.max}) as Interfaces.Flag<unknown>
    case 'option':
      return Flags.option({...common, options: s.options, default: s.default})() as Interfaces.Flag<unknown>
  }
  throw new Error(`grammar: flag --${name} has an unknown type`)
}

/** A command's `static flags`, from its grammar's flags. */
export function oclifFlags<T extends Record<string, FlagSpec>>(spec: T): OclifFlags<T> {
  return Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, oclifFlag(k, s)])) as OclifFlags<T>
}

/** A command's `static args`, from its grammar's args. */
export function oclifArgs<T extends Record<string, ArgSpec>>(spec: T): OclifArgs<T> {
  return Object.fromEntries(Object.entries(spec).map(([k, a]) => [k, Args.string({description: a.description, required: a.required})])) as OclifArgs<T>
}
