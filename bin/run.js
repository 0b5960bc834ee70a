#!/usr/bin/env node
// Production entry: runs the compiled commands in dist/ (no ts-node).
// find, list, signal, wait and run skip loading oclif (its start-up costs more than Node's own):
// they are parsed from the one grammar (src/cli/grammar.ts) by the fast parser and run by the
// command's one module (src/cli/commands/COMMAND.ts, the same the oclif class calls), bundled into
// one file (dist/fast/COMMAND.js, scripts/bundle-fast.js) and compiled with the V8 code cache made
// for it at build time (dist/fast/COMMAND.cache, scripts/warm-fast.js). Anything the fast parser
// does not fully understand (--help, an unknown flag, a bad value), and every other command, goes
// through oclif, with oclif's messages.
//
// No module.enableCompileCache(): its default directory is $TMPDIR/node-compile-cache, which any
// user can create first, and a code cache is code: root would run what another user put there.
// The shipped cache sits next to the bundle, with the same owner and mode as the code itself; it is
// used only with the bundle it was made from, and V8 rejects it (and compiles the source as usual)
// when it was made by another Node or V8 build.
const argv = process.argv.slice(2)
const fast = process.env.NSLOCATE_NO_FAST_PATH ? null : loadFastPath(argv[0])
const prepared = fast && fast.prepare(argv.slice(1))
if (prepared) fast.runPrepared(prepared)
else {
  // `-v` is --version; a mistyped command (or a flag before the command) is a usage error with a
  // did-you-mean, printed here on both paths (a mistyped command never reaches a fast bundle).
  const args = require('../dist/src/cli/top-level').topLevel(argv)
  // No user plugins (nslocate has none to install): oclif would otherwise read
  // $HOME/.local/share/nslocate/package.json and warn "(node:PID) [EACCES]" when HOME is not ours.
  // No TypeScript at run time: only the compiled dist/ is run. Without this, oclif looks for
  // typescript and ts-node to load the help class when NODE_ENV is test or development, and warns
  // "Could not find typescript" where none is installed (the .deb, the image, a global install).
  if (args) {
    const oclif = require('@oclif/core')
    oclif.settings.enableAutoTranspile = false
    oclif.execute({args, dir: __dirname, loadOptions: {root: __dirname, userPlugins: false}})
  }
}

/** require('../dist/fast/COMMAND'), compiled with its shipped code cache when V8 accepts it; null when COMMAND has no fast path. */
function loadFastPath(command) {
  if (typeof command !== 'string' || !/^[a-z]+$/.test(command)) return null
  const fs = require('node:fs')
  const path = require('node:path')
  const file = path.join(__dirname, '..', 'dist', 'fast', `${command}.js`)
  let source
  try {
    source = fs.readFileSync(file, 'utf8')
  } catch {
    return null // no bundle: a command without a fast path (containers, reload, serve, help)
  }
  // The cache starts with the bundle's first line (the sha256 of its code, scripts/bundle-fast.js)
  // and is used only with that bundle: V8's own check is little more than the source's length.
  let cachedData
  try {
    const cache = fs.readFileSync(file.slice(0, -3) + '.cache')
    const id = source.slice(0, source.indexOf('\n') + 1)
    if (id.startsWith('// nslocate-bundle sha256:') && cache.toString('latin1', 0, id.length) === id) cachedData = cache.subarray(id.length)
  } catch {} // not made: compile without it
  const vm = require('node:vm')
  const {createRequire, wrap} = require('node:module')
  const script = new vm.Script(wrap(source), {filename: file, cachedData})
  const mod = {exports: {}, filename: file, id: file, loaded: true}
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file))
  return mod.exports
}
