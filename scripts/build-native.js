#!/usr/bin/env node
// Builds native/nslocate.c into build/nslocate.node with the system C compiler.
// Why not node-gyp: it downloads Node headers unless told where they are, and the addon is one C file
// with no dependencies, so a single compiler call is faster (~1 s) and has no network step.
// Headers come from the running Node's install prefix (<prefix>/include/node), or $NSLOCATE_NODE_INCLUDE.
'use strict'
const {execFileSync} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const src = path.join(root, 'native', 'nslocate.c')
const out = path.join(root, 'build', 'nslocate.node')
const cc = process.env.CC || 'cc'
const candidates = [
  process.env.NSLOCATE_NODE_INCLUDE,
  path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean)
const include = candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')))
if (!include) {
  console.error(
    `nslocate: cannot build the native addon: node_api.h not found in:\n  ${candidates.join('\n  ')}\n` +
      'Install Node.js development headers (Debian: apt-get install nodejs, which ships /usr/include/node) ' +
      'or set NSLOCATE_NODE_INCLUDE to the folder holding node_api.h.',
  )
  process.exit(1)
}
if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs && !process.argv.includes('--force')) process.exit(0)
fs.mkdirSync(path.dirname(out), {recursive: true})
const args = [
  '-O2',
  '-Wall',
  '-Wextra',
  '-Wno-unused-parameter',
  '-fPIC',
  '-shared',
  '-std=gnu11',
  '-DNAPI_VERSION=8',
  '-DNODE_GYP_MODULE_NAME=nslocate',
  `-I${include}`,
  '-o',
  out + '.tmp',
  src,
]
try {
  execFileSync(cc, args, {stdio: 'inherit'})
} catch (error) {
  console.error(
    `nslocate: building the native addon failed: ${cc} ${args.join(' ')}\n` + 'A C compiler is needed at install time (Debian: apt-get install gcc).',
  )
  process.exit(1)
}
fs.renameSync(out + '.tmp', out)
