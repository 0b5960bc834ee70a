#!/usr/bin/env node
// Bundle the start-up fast path: for each command of FAST_COMMANDS (src/cli/fast-path.ts), its
// module (src/cli/commands/COMMAND.ts) and src/cli/fast-prepared.ts, as tsc compiled them into dist/src,
// become ONE file, dist/fast/COMMAND.js, with esbuild. Why (docs/architecture.md, "Start-up cost"):
// Node resolves, reads, wraps and compiles every module file separately, and the ~35 files `find`
// needs cost more than the work itself; one file per command is one read and, with the code cache
// scripts/warm-fast.js makes for it, one cached compile of only that command's code.
//
// Outside the bundles, loaded only when asked for: the native addon (a .node file found at run
// time), @oclif/core (errors are printed by oclif's own code), every package under node_modules,
// and src/runtime/in-container (find --container), which is required from dist/src: it brings the
// Docker client and signal() with it, half of find's bundle otherwise. It shares no state with the
// bundle: it returns a plain result, and errors are printed by name (fast-io.ts failed()); it brings
// the few src/cli modules it uses (the helper container's argv) from dist/src too.
// Lazy require()s inside functions stay lazy (esbuild wraps each module in an initializer).
//
//   node scripts/bundle-fast.js           (part of `npm run build`, after tsc)
const crypto = require('node:crypto')
const path = require('node:path')
const fs = require('node:fs')

const root = path.resolve(__dirname, '..')
const src = path.join(root, 'dist', 'src')
const out = path.join(root, 'dist', 'fast')
if (!fs.existsSync(path.join(src, 'cli', 'fast-path.js'))) {
  console.error('bundle-fast: dist/src/cli/fast-path.js is missing: run tsc first (npm run build)')
  process.exit(1)
}
let esbuild
try {
  esbuild = require('esbuild')
} catch {
  console.error('bundle-fast: esbuild is not installed (a devDependency): run `npm install` in the checkout')
  process.exit(1)
}
const {FAST_COMMANDS} = require(path.join(src, 'cli', 'fast-path.js'))

// dist/fast/COMMAND.js requires it as dist/src/runtime/in-container.js.
const inContainerOutside = {
  name: 'in-container-outside',
  setup(build) {
    build.onResolve({filter: /\/runtime\/in-container$/}, () => ({path: '../src/runtime/in-container.js', external: true}))
  },
}

async function main() {
  fs.rmSync(out, {recursive: true, force: true})
  fs.mkdirSync(out, {recursive: true})
  const made = []
  for (const command of FAST_COMMANDS) {
    const r = await esbuild.build({
      stdin: {
        contents:
          [
            `const fast = require('./cli/fast-prepared')`,
            `const command = require('./cli/commands/${command}').${command}Command`,
            `exports.prepare = (argv) => fast.prepare(command, argv)`,
            `exports.runPrepared = fast.runPrepared`,
          ].join('\n') + '\n',
        resolveDir: src,
        sourcefile: `fast-${command}-entry.js`,
      },
      outfile: path.join(out, `${command}.js`),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      packages: 'external',
      plugins: [inContainerOutside],
      logLevel: 'warning',
      // Whitespace and syntax minified, names kept (stack traces still name the functions): V8
      // hashes and reads the whole source when it compiles a bundle, even with its code cache, so
      // the bundle's size is start-up time (about a third less source than unminified).
      minifyWhitespace: true,
      minifySyntax: true,
      // dist/fast/ is as deep below the package root as dist/src/native/ is below dist: the addon
      // search (src/native/binding.ts, "../.." then "../../..") finds build/nslocate.node from both.
      metafile: true,
    })
    // First line: the sha256 of the rest. warm-fast.js puts the same line at the head of the code
    // cache, and bin/run.js uses a cache only with the bundle it was made from: V8 itself compares
    // little more than the source's length, so a cache from another build of the same length would
    // run that build's bytecode.
    const file = path.join(out, `${command}.js`)
    const body = fs.readFileSync(file, 'utf8')
    fs.writeFileSync(file, `// nslocate-bundle sha256:${crypto.createHash('sha256').update(body).digest('hex')}\n${body}`)
    made.push(`${command} ${Object.keys(r.metafile.inputs).length - 1} modules ${fs.statSync(file).size} bytes`)
  }
  console.log(`bundle-fast: dist/fast/: ${made.join('; ')}`)
}

main().catch((error) => {
  console.error(`bundle-fast: ${error.message}`)
  process.exit(1)
})
