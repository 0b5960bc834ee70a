/** Where acquire() puts NAME's pidfile: always an absolute path, made so against the caller's working directory. */
import path = require('node:path')

import {NslocateError, OptionNamer} from '../errors'

/** $NSLOCATE_RUNTIME_DIR, else /run/nslocate for root, else $XDG_RUNTIME_DIR/nslocate; throws USAGE when none applies. */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.NSLOCATE_RUNTIME_DIR) return path.resolve(env.NSLOCATE_RUNTIME_DIR)
  if (uid === 0) return '/run/nslocate'
  if (env.XDG_RUNTIME_DIR) return path.resolve(env.XDG_RUNTIME_DIR, 'nslocate')
  throw new NslocateError(
    'USAGE',
    (n) => `no runtime directory for a non-root user: set NSLOCATE_RUNTIME_DIR or XDG_RUNTIME_DIR, or pass ${n('dir')}/${n('pidfile')}`,
    {advice: (n) => `set NSLOCATE_RUNTIME_DIR or XDG_RUNTIME_DIR, or pass ${n('dir')}/${n('pidfile')}`},
  )
}

/** --pidfile, else DIR/NAME.pid; relative paths are resolved against process.cwd() (issue 11, item 1). */
export function pidfilePathFor(opts: {name: string; pidfile?: string; dir?: string; env?: NodeJS.ProcessEnv}): string {
  if (opts.pidfile) {
    refuseDirectoryName(opts.pidfile, opts.name)
    return path.resolve(opts.pidfile)
  }
  return path.resolve(opts.dir ?? defaultRuntimeDir(opts.env), `${opts.name}.pid`)
}

/** "/", "x/", "x/.", "x/.." and "." name directories: a usage error, never the slash silently dropped and "x" written. */
export function refuseDirectoryName(pidfile: string, name?: string): void {
  if (pidfile !== '' && (/(^|\/)(\.{1,2})?$/.test(pidfile) || path.resolve(pidfile) === '/')) {
    const advice = (n: OptionNamer) => `give the pidfile's own name (e.g. ${path.join(path.resolve(pidfile), `${name || 'NAME'}.pid`)}), or use ${n('dir')}`
    throw new NslocateError('USAGE', (n) => `${n('pidfile', pidfile)} names a directory, not a file: ${advice(n)}`, {details: {pidfile}, advice})
  }
}
