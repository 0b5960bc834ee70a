/** Service names, and (re-exported) where their pidfiles are looked for (search-path.ts). */

import {isPlainObject, shown} from '../api/check-options'
import {NslocateError} from '../errors'

export {SearchOptions, pidfileSearchPath, resolvePidfile, withAbsolutePaths} from './search-path'

/** What a service NAME may be (docs/nslocate.1.md): it becomes a file name. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/

/** Whether `name` is a valid service NAME. */
export function isValidName(name: string): boolean {
  return typeof name === 'string' && NAME_PATTERN.test(name) && name !== '.' && name !== '..'
}

/** `name`, or a USAGE error saying what a NAME may be. */
export function validateName(name: string): string {
  if (!isValidName(name)) {
    const shown = JSON.stringify(String(name)).slice(0, 80)
    throw new NslocateError(
      'USAGE',
      (n) => `invalid service name ${shown}: 1-128 of A-Z a-z 0-9 _ . @ : -, first a letter or digit; use ${n('pidfile')} PATH to name a file`,
      {advice: (n) => `use ${n('pidfile')} PATH to name a file`},
    )
  }
  return name
}

/**
 * The (NAME | OPTIONS) argument of locate() and acquire(), and an optional OPTIONS after a NAME, as
 * one options object: locate('svc', {dir}) is locate({name: 'svc', dir}). A second argument after
 * an options object, one that is not an object, or one naming another service is a USAGE error:
 * an option is never silently ignored (which would search the default directories instead).
 */
export function mergeNameArgs<T extends {name: string}>(fn: string, nameOrOptions: string | T, more?: unknown): T {
  if (more === undefined) {
    if (typeof nameOrOptions === 'string') return {name: nameOrOptions} as T
    if (!isPlainObject(nameOrOptions)) {
      throw new NslocateError('USAGE', `${fn}() takes a service NAME or an options object {name, ...}, not ${shown(nameOrOptions)}`)
    }
    return nameOrOptions
  }
  if (typeof nameOrOptions !== 'string') {
    const advice = `give the options once, as ${fn}({name, ...}) or ${fn}(NAME, {...})`
    throw new NslocateError('USAGE', `${fn}(): a second argument after an options object (${shown(more)}) would be ignored; ${advice}`, {advice})
  }
  if (!isPlainObject(more)) {
    throw new NslocateError('USAGE', `${fn}(${shown(nameOrOptions)}, OPTIONS): OPTIONS must be an options object, not ${shown(more)}`)
  }
  if (more.name !== undefined && more.name !== nameOrOptions) {
    throw new NslocateError('USAGE', `${fn}(${shown(nameOrOptions)}, {name: ${shown(more.name)}}): two different names; give the name once`)
  }
  return {...more, name: nameOrOptions} as unknown as T
}

/**
 * The library's rootPid (the CLI's --root-pid): a pid, i.e. a safe integer from 1 to pid_max - 1,
 * given as a number. Anything else (NaN, 0, -1, 1.5, a string such as 'self' or '1/root/..', which
 * would be joined into a /proc path) is a USAGE error naming the option and the value.
 */
export function validateRootPid(value: unknown, pidMax: number): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value < pidMax) return value
  const kind = typeof value === 'number' ? '' : `, given as ${value === null ? 'null' : typeof value}: it must be a number`
  const advice = `give the id of a running process, an integer from 1 to ${pidMax - 1} (pid_max - 1)`
  throw new NslocateError('USAGE', (n) => `${n('rootPid')} ${shown(value)} is not a pid${kind}; ${advice}`, {
    details: {option: 'rootPid', value: (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' ? value : shown(value)},
    advice,
  })
}
