/**
 * Flags and library options, both ways, generated from the grammar's `option` keys
 * (src/cli/grammar.ts): the options a parsed command line gives (both the oclif path and the
 * start-up fast path), the argv that gives back those options (the helper container's command,
 * src/runtime/in-container.ts), and the flag a library error's option is shown as (contract 1 of
 * issue 18: `err.render(flagNamer)`).
 */
import type {OptionNamer} from '../errors'
import {CommandGrammar, FlagSpec, GRAMMAR} from './grammar'

/** The library options set by the parsed flags (keyed by flag name, as fastParse and oclif give them); DURATIONs become ms. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command casts to its library call's options
export function optionsOf(g: CommandGrammar, flags: Record<string, unknown>): Record<string, any> {
  const out: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(g.flags) as Array<[string, FlagSpec]>) {
    const v = flags[name]
    if (spec.option === undefined || v === undefined) continue
    out[spec.option] = spec.duration ? durationMs(v as string) : v
  }
  return out
}

function durationMs(v: string): number {
  // Loaded only by a command that has a DURATION flag: find's start-up does without it.
  const {parseDuration} = require('../signal/parse') as typeof import('../signal/parse')
  return parseDuration(v)
}

/**
 * The flags that give `options` back (optionsOf(g, parse(flagsOf(g, options))) equals `options` for
 * every option a flag of g sets, but those in `skip`): a boolean as `--flag` when true, a DURATION as
 * `--flag Nms`, a repeatable flag once per value, a choice (`option` type) always; undefined, null
 * and false are left out. In the grammar's order.
 */
export function flagsOf(g: CommandGrammar, options: Record<string, unknown>, skip: readonly string[] = []): string[] {
  const argv: string[] = []
  for (const [name, spec] of Object.entries(g.flags) as Array<[string, FlagSpec]>) {
    if (spec.option === undefined || skip.includes(spec.option)) continue
    // A choice among options (--scope, --for) is always given, its default when unset.
    const v = options[spec.option] ?? (spec.type === 'option' ? spec.default : undefined)
    if (v === undefined || v === null || v === false) continue
    if (spec.type === 'boolean') argv.push(`--${name}`)
    else for (const one of Array.isArray(v) ? v : [v]) argv.push(...flagValue(name, spec.duration ? `${one}ms` : String(one)))
  }
  return argv
}

/** `--flag value`; `--flag=value` when the value could be read as a flag (`-x`) or is empty. */
function flagValue(name: string, value: string): string[] {
  return value === '' || value.startsWith('-') ? [`--${name}=${value}`] : [`--${name}`, value]
}

/** option key -> flag name, over every command (the keys mean the same option everywhere). */
let FLAG_OF: Map<string, string> | null = null

function flagOf(option: string): string | undefined {
  if (!FLAG_OF) {
    FLAG_OF = new Map()
    for (const g of Object.values(GRAMMAR) as CommandGrammar[]) {
      for (const [name, spec] of Object.entries(g.flags)) if (spec.option !== undefined && !FLAG_OF.has(spec.option)) FLAG_OF.set(spec.option, name)
    }
  }
  return FLAG_OF.get(option)
}

/** A library option as the command-line user typed it: `--scope group`; an option no flag sets keeps the library's wording. */
export const flagNamer: OptionNamer = (option, value) => {
  const flag = flagOf(option)
  const shown = flag === undefined ? `option ${option}` : `--${flag}`
  return value === undefined ? shown : `${shown} ${value}`
}

/** An error's advice (NslocateError's `advice`: nslocate's own words) for the command line, its options named by their flags; null when it has none. */
export function adviceOf(error: object): string | null {
  const e = error as {advice?: unknown; renderAdvice?: (n: OptionNamer) => string | null}
  if (typeof e.renderAdvice === 'function') return e.renderAdvice(flagNamer)
  return typeof e.advice === 'string' ? e.advice : null
}

/** An error's message for the command line: its options named by their flags. */
export function messageOf(error: {message: string; render?: (n: OptionNamer) => string}): string {
  return typeof error.render === 'function' ? error.render(flagNamer) : error.message
}
