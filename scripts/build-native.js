#!/usr/bin/env node
// Builds the native addon, native/nslocate.c, with one C compiler call per target.
//
//   node scripts/build-native.js [--force]   (npm run build, after tsc) build/nslocate.node for this
//       machine with $CC or cc, and the prebuilds the package ships, in prebuildify's layout
//       (src/native/binding.ts prebuildFile(): prebuilds/linux-x64/..., prebuilds/linux-arm64/...):
//       this CPU's with cc, the other with Debian's cross compiler (x86_64-linux-gnu-gcc,
//       aarch64-linux-gnu-gcc: packages gcc-x86-64-linux-gnu, gcc-aarch64-linux-gnu). Node's headers
//       are the same for every CPU, so the running Node's serve all targets.
//   node scripts/build-native.js --install   npm's install script: nothing at all (no compiler
//       needed) when the package's prebuild for this platform and CPU loads here; otherwise, or
//       with NSLOCATE_BUILD_FROM_SOURCE=1, builds build/nslocate.node from source with $CC or cc.
//
// Why not node-gyp: it downloads Node headers unless told where they are, and the addon is one C file
// with no dependencies, so a single compiler call is faster (~1 s) and has no network step.
// Headers come from the running Node's install prefix (<prefix>/include/node), or $NSLOCATE_NODE_INCLUDE.
// An output newer than the source is not rebuilt (--force rebuilds); each is written beside and renamed.
'use strict'
const {execFile} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const src = path.join(root, 'native', 'nslocate.c')
const local = path.join(root, 'build', 'nslocate.node')
const force = process.argv.includes('--force')
/** The CPUs prebuilds are made for: Node's name, and the GNU triplet of Debian's cross compiler for it. */
const TARGETS = [
  {arch: 'x64', triplet: 'x86_64-linux-gnu'},
  {arch: 'arm64', triplet: 'aarch64-linux-gnu'},
]

function headers() {
  const candidates = [
    process.env.NSLOCATE_NODE_INCLUDE,
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean)
  const include = candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')))
  if (include) return include
  console.error(
    `nslocate: cannot build the native addon: node_api.h not found in:\n  ${candidates.join('\n  ')}\n` +
      'Install Node.js development headers (Debian: apt-get install nodejs, which ships /usr/include/node) ' +
      'or set NSLOCATE_NODE_INCLUDE to the folder holding node_api.h.',
  )
  process.exit(1)
}

/** Compile src into out with cc; resolves with null, or with what failed. `strip`: no symbol table (prebuilds). */
function compile(cc, out, include, strip) {
  if (!force && fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) return Promise.resolve(null)
  fs.mkdirSync(path.dirname(out), {recursive: true})
  const args = ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-fPIC', '-shared', '-std=gnu11', '-DNAPI_VERSION=8']
  args.push('-DNODE_GYP_MODULE_NAME=nslocate', `-I${include}`, ...(strip ? ['-s'] : []), '-o', `${out}.tmp`, src)
  return new Promise((resolve) => {
    execFile(cc, args, (error, stdout, stderr) => {
      process.stderr.write(stdout + stderr)
      if (error) {
        fs.rmSync(`${out}.tmp`, {force: true})
        resolve(`${cc} ${args.join(' ')}: ${error.code === 'ENOENT' ? `${cc} not found` : `exit ${error.code}`}`)
        return
      }
      fs.renameSync(`${out}.tmp`, out)
      resolve(null)
    })
  })
}

/** The prebuild for this platform and CPU (the loader's own rule), when the package has one and it loads here. */
function fittingPrebuild() {
  const binding = path.join(root, 'dist', 'src', 'native', 'binding.js')
  if (!fs.existsSync(binding)) return null // a checkout before its first build: nothing prebuilt
  const file = path.join(root, require(binding).prebuildFile())
  if (!fs.existsSync(file)) return null
  try {
    require(file)
    return file
  } catch (error) {
    console.error(`nslocate: the prebuilt addon ${file} does not load here (${error.message}); building from source.`)
    return null
  }
}

async function install() {
  if (process.env.NSLOCATE_BUILD_FROM_SOURCE !== '1' && fittingPrebuild()) return
  const cc = process.env.CC || 'cc'
  const failed = await compile(cc, local, headers(), false)
  if (failed) {
    console.error(
      `nslocate: no prebuilt addon fits ${process.platform}-${process.arch}, and building it failed: ${failed}\n` +
        'A C compiler is needed for that (Debian: apt-get install gcc libc6-dev).',
    )
    process.exit(1)
  }
}

async function build() {
  const include = headers()
  const {prebuildFile} = require(path.join(root, 'dist', 'src', 'native', 'binding.js'))
  const jobs = [compile(process.env.CC || 'cc', local, include, false)]
  for (const t of TARGETS) {
    const cc = t.arch === process.arch ? process.env.CC || 'cc' : `${t.triplet}-gcc`
    jobs.push(compile(cc, path.join(root, prebuildFile('linux', t.arch)), include, true))
  }
  const failed = (await Promise.all(jobs)).filter(Boolean)
  if (failed.length) {
    console.error(
      `nslocate: building the native addon failed:\n  ${failed.join('\n  ')}\n` +
        "The build needs a C compiler and, for the other CPU, Debian's cross compiler (bash scripts/setup.sh installs both).",
    )
    process.exit(1)
  }
}

;(process.argv.includes('--install') ? install() : build()).catch((error) => {
  console.error(error)
  process.exit(1)
})
