/** The C test programs under fixtures/, compiled with `cc` into build/test-holders/ on first use. */
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, TEST_BIN_DIR} from './paths'

/**
 * Compile fixtures/`source` (e.g. 'holders/holder.c') into build/test-holders/`name` when the binary
 * is missing or older than the source; return the binary's path.
 */
export function compileFixture(name: string, source: string, libs: string[] = []): string {
  const src = path.join(ROOT, 'fixtures', source)
  const out = path.join(TEST_BIN_DIR, name)
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) return out
  fs.mkdirSync(TEST_BIN_DIR, {recursive: true})
  // Build under a private name and rename: several jest workers may compile at once.
  const tmp = `${out}.${process.pid}.tmp`
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-o', tmp, src, ...libs], {stdio: 'pipe'})
  fs.renameSync(tmp, out)
  return out
}
