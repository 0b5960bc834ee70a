'use strict'
/**
 * Run under `strace -f -c` by bench/scenarios/syscalls.js: `node syscalls-child.js MODE N NAME FILE`
 * makes one warm-up call, then N more, of locateSync({name, pidfile}) (MODE locate; locate() where
 * the library has no locateSync) or of the bare probe (MODE bare). The difference between N and 0
 * calls, over N, is the system calls per call.
 */
const path = require('node:path')
const {bareProbe} = require('../scenarios/library')

const [mode, n, name, file] = process.argv.slice(2)
const dist = path.join(__dirname, '..', '..', 'dist', 'src')
const lib = require(path.join(dist, 'index.js'))
const locate = lib.locateSync ?? lib.locate
const once = mode === 'locate' ? () => locate({name, pidfile: file}) : bareProbe(require(path.join(dist, 'native', 'binding.js')), file)
void (async () => {
  for (let i = 0; i <= Number(n); i++) await once()
})()
