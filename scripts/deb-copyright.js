#!/usr/bin/env node
// The Debian package's copyright file (machine-readable format 1.0) on stdout:
//   node scripts/deb-copyright.js STAGED_LIB
// nslocate (LICENSE), the bundled Node.js runtime (its LICENSE is shipped beside, see below) and every production npm dependency staged in STAGED_LIB/node_modules, each with the
// license text its package ships.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const [lib] = process.argv.slice(2)
if (!lib) {
  console.error('usage: deb-copyright.js STAGED_LIB')
  process.exit(2)
}
const root = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
// SPDX -> Debian short names (copyright-format 1.0, "License specification").
const debName = (spdx) => ({MIT: 'Expat', 'BSD-3-Clause': 'BSD-3-clause', 'BSD-2-Clause': 'BSD-2-clause', 'Apache-2.0': 'Apache-2.0', ISC: 'ISC'})[spdx] ?? spdx
// Text as a field continuation: each line indented, empty lines as " .".
const body = (text) =>
  text
    .replace(/\r\n?/g, '\n')
    .trim()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\s+$/, '')}`))
    .join('\n')
// Licenses Debian ships in /usr/share/common-licenses are referred to, not copied (lintian:
// copyright-file-contains-full-apache-2-license).
const COMMON = {'Apache-2.0': 'Apache-2.0', 'GPL-2': 'GPL-2', 'GPL-3': 'GPL-3', 'LGPL-2.1': 'LGPL-2.1', 'MPL-2.0': 'MPL-2.0'}
const common = (n) => ` On Debian systems, the full text of this license is in /usr/share/common-licenses/${COMMON[n]}.`
const licenseFile = (dir) => fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f))

const out = [
  'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
  `Upstream-Name: ${pkg.name}`,
  `Comment: nslocate bundles its own Node.js runtime in /usr/lib/${pkg.name}/node and its production`,
  ` npm dependencies in /usr/lib/${pkg.name}/node_modules; each is listed below with its license.`,
  '',
  'Files: *',
  'Copyright: 2026 nslocate contributors',
  `License: ${debName(pkg.license)}`,
  '',
]
const texts = new Map([[debName(pkg.license), fs.readFileSync(path.join(root, 'LICENSE'), 'utf8').replace(/^MIT License\s*/, '')]])

// Node.js's own code is MIT (Expat); its LICENSE (130 kB) also carries the full texts of what node
// bundles (V8, OpenSSL, ICU, zlib, ...), several under Apache-2.0: it is shipped whole beside this file
// (build-deb.sh: LICENSE.node.gz), not copied into it.
out.push(
  `Files: usr/lib/${pkg.name}/node/*`,
  'Copyright: Node.js contributors and others',
  'License: Expat and others',
  ` Node.js itself is under the Expat (MIT) license. It bundles code under other licenses: each is`,
  ` listed, with its full text, in /usr/share/doc/${pkg.name}/LICENSE.node.gz (Node.js's LICENSE file).`,
  '',
)

// Every package.json under node_modules that is a package root (node_modules/X or node_modules/@s/X).
const pkgs = []
const walk = (dir) => {
  if (!fs.existsSync(dir)) return
  for (const e of fs.readdirSync(dir)) {
    if (e.startsWith('.')) continue
    const d = path.join(dir, e)
    if (e.startsWith('@')) {
      walk(d)
      continue
    }
    const pj = path.join(d, 'package.json')
    if (fs.existsSync(pj)) pkgs.push(d)
    walk(path.join(d, 'node_modules'))
  }
}
walk(path.join(lib, 'node_modules'))
for (const d of pkgs.sort()) {
  const p = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8'))
  // "license": "MIT", or the old forms {"type": "MIT"} and "licenses": [{"type": "MIT"}, ...].
  const old = [p.license, ...(p.licenses ?? [])]
    .filter(Boolean)
    .map((l) => (typeof l === 'string' ? l : l.type))
    .filter(Boolean)
  const spdx = old.length ? old.join(' OR ') : 'UNKNOWN'
  const lf = licenseFile(d)
  const text = lf ? fs.readFileSync(path.join(d, lf), 'utf8') : null
  const rel = path.relative(lib, d)
  // One license paragraph per package when its text carries its own copyright line, so each
  // holder's notice is kept; the short name alone when the package ships no license file.
  const short = spdx.includes(' ')
    ? spdx
        .replace(/[()]/g, '')
        .replace(/ OR /g, ' or ')
        .replace(/ AND /g, ' and ')
        .split(' ')
        .map((w) => (/^(or|and)$/.test(w) ? w : debName(w)))
        .join(' ')
    : debName(spdx)
  const copyright = text
    ?.split('\n')
    .find((l) => /copyright\s+(\(c\)|©|\d{4})/i.test(l))
    ?.replace(/^[^A-Za-z©(]*copyright\s*(\(c\)|©)?\s*/i, '')
    .trim()
  out.push(`Files: usr/lib/${pkg.name}/${rel}/*`, `Copyright: ${copyright || `the ${p.name} authors`}`)
  if (COMMON[short]) {
    out.push(`License: ${short}`, common(short), '')
  } else if (text) {
    out.push(`License: ${short}`, body(text), '')
  } else {
    out.push(`License: ${short}`, '')
    for (const n of short.split(/ (?:or|and) /)) if (!texts.has(n)) texts.set(n, null)
  }
}
for (const [n, text] of texts) {
  if (COMMON[n]) out.push(`License: ${n}`, common(n), '')
  else if (text) out.push(`License: ${n}`, body(text), '')
  else out.push(`License: ${n}`, ` The ${n} license; Debian systems have common licenses in /usr/share/common-licenses.`, '')
}
process.stdout.write(out.join('\n').replace(/\n+$/, '\n'))
