#!/usr/bin/env node
// Bundle the start-up fast path (src/cli/fast-path.ts and each command's runner, as tsc compiled them
// into dist/src) into ONE file, dist/fast/fast-path.js, with esbuild. Why (docs/architecture.md,
// "Start-up"): Node resolves, reads, wraps and compiles every module file separately; the ~35
// files `find` needs cost more than the work itself. One file is one read and, with
// module.enableCompileCache() (bin/run.js), one cached compile.
//
// What stays outside the bundle, loaded only when asked for: the native addon (a .node file found
// at run time), @oclif/core (errors are printed by oclif's own code), dockerode and everything else
// under node_modules (--container, reload, serve). The bundle keeps dist/src's CommonJS semantics:
// lazy require()s inside functions stay lazy (esbuild wraps each module in an initializer).
//
//   node scripts/bundle-fast.js           (part of `npm run build`, after tsc)
const path = require('node:path')
const fs = require('node:fs')

const root = path.resolve(__dirname, '..')
const entry = path.join(root, 'dist', 'src', 'cli', 'fast-path.js')
const outfile = path.join(root, 'dist', 'fast', 'fast-path.js')
if (!fs.existsSync(entry)) {
  console.error(`bundle-fast: ${path.relative(root, entry)} is missing: run tsc first (npm run build)`)
  process.exit(1)
}
let esbuild
try {
  esbuild = require('esbuild')
} catch {
  console.error('bundle-fast: esbuild is not installed (a devDependency): run `npm install` in the checkout')
  process.exit(1)
}
const r = esbuild.buildSync({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  packages: 'external',
  logLevel: 'warning',
  // dist/fast/ is as deep below the package root as dist/src/native/ is below dist: the addon
  // search (src/native/binding.ts, "../.." then "../../..") finds build/nslocate.node from both.
  metafile: true,
})
const inputs = Object.keys(r.metafile.inputs).length
const bytes = fs.statSync(outfile).size
console.log(`bundle-fast: ${path.relative(root, outfile)}: ${inputs} modules, ${bytes} bytes`)
