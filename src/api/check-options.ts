/**
 * The library's option checks: every public function checks its options object against a table
 * before doing anything, so a wrong type is a USAGE error naming the function, the option and the
 * value (`waitFor(): option timeoutMs must be a number of milliseconds, not "abc"`), and an unknown
 * option (a typo such as `timeout` for `timeoutMs`) is refused rather than silently ignored, which
 * would search the default directories or wait the default time instead.
 */
import {closest} from '../closest'
import {NslocateError} from '../errors'

/** What an option may hold. */
export type Check =
  | 'string' // a non-empty string
  | 'path' // a string (made absolute against the working directory later; empty is refused there, naming the option)
  | 'boolean'
  | 'ms' // a finite number of milliseconds >= 0
  | 'pid' // an integer >= 1 (the pid_max bound is checked where /proc is known)
  | 'user' // a user name or a uid (non-negative integer)
  | 'pidOrNull' // a pid, or null (acquire: write nothing yet)
  | 'object' // a plain object (env, procfs, ...)
  | 'function' // a function (onProgress)
  | 'own' // checked by the function itself, with a message of its own (rootPid: against pid_max)
  | readonly string[] // one of these strings

/** The options a function takes, each with the check its value must pass. */
export type OptionTable = Readonly<Record<string, Check>>

/** A value as shown in a message: short, JSON where it can be. */
export function shown(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === undefined) return String(v)
  if (typeof v === 'function') return 'a function'
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 80)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

/** Whether `v` is an object that is neither null nor an array. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const isCount = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= min

const WANT: Record<Exclude<Check, readonly string[]>, [(v: unknown) => boolean, string]> = {
  string: [(v) => typeof v === 'string' && v !== '', 'a non-empty string'],
  path: [(v) => typeof v === 'string' && !v.includes('\0'), 'a path (a string without NUL bytes)'],
  boolean: [(v) => typeof v === 'boolean', 'true or false'],
  ms: [(v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, 'a number of milliseconds (finite, 0 or more)'],
  pid: [(v) => isCount(v, 1), 'a pid (an integer from 1)'],
  user: [(v) => (typeof v === 'string' && v !== '') || isCount(v, 0), 'a user name or a uid'],
  pidOrNull: [(v) => v === null || isCount(v, 1), 'a pid (an integer from 1) or null'],
  object: [(v) => typeof v === 'object' && v !== null, 'an object'],
  function: [(v) => typeof v === 'function', 'a function'],
  own: [() => true, ''],
}

function accepts(check: Check, v: unknown): [boolean, string] {
  if (typeof check === 'string') {
    const [ok, want] = WANT[check as keyof typeof WANT]
    return [ok(v), want]
  }
  const options = check as readonly string[]
  return [typeof v === 'string' && options.includes(v), `one of ${options.join(', ')}`]
}

/**
 * Checks `options` (undefined: none) against `table` and returns the options to use: a fresh
 * object with a null prototype holding each known option's value, read once and checked, and
 * nothing else. Callers use only that copy. So an option given through a prototype, a getter or a
 * class (`Object.create({dryRun: true})`, `get dryRun()`) is honoured as it was given, checked like
 * any other, and cannot answer the check one way and the use another. An unknown own key is refused
 * (a typo such as `timeout` for `timeoutMs`); `undefined` values count as not given.
 * Throws USAGE naming `fn`, the option and the value.
 */
export function readOptions<T extends object>(fn: string, options: unknown, table: OptionTable): T {
  const out = Object.create(null) as Record<string, unknown>
  if (options === undefined) return out as T
  if (!isPlainObject(options)) throw new NslocateError('USAGE', `${fn}(): the options must be an object, not ${shown(options)}`)
  const known = Object.keys(table)
  for (const key of Object.keys(options)) {
    if (Object.prototype.hasOwnProperty.call(table, key)) continue
    const near = closest(key, known, {ignoreCase: true})
    // (the options it takes are in the details: a line has no room for them)
    throw new NslocateError('USAGE', `${fn}(): unknown option ${JSON.stringify(key)}${near ? `; did you mean ${near}?` : ''}`, {
      details: {option: key, options: known},
    })
  }
  for (const key of known) {
    const value: unknown = (options as Record<string, unknown>)[key]
    if (value === undefined) continue
    const [ok, want] = accepts(table[key], value)
    if (!ok) throw new NslocateError('USAGE', `${fn}(): option ${key} must be ${want}, not ${shown(value)}`, {details: {option: key, value: shown(value)}})
    out[key] = value
  }
  return out as T
}
