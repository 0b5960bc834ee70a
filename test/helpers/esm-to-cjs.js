// Jest transform for dependencies that ship only ES modules (jest.config.js ESM_ONLY): TypeScript
// rewrites import/export to CommonJS, and import.meta.url becomes this file's URL, which CommonJS has
// no syntax for. jest's own require(esm) needs Node >= 24.9 and --experimental-vm-modules; this works
// on every Node the project supports, with plain `npx jest`.
'use strict'
const crypto = require('node:crypto')
const ts = require('typescript')

const options = {module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, allowJs: true, esModuleInterop: true, sourceMap: false}

module.exports = {
  getCacheKey(source, file) {
    return crypto
      .createHash('sha256')
      .update('esm-to-cjs 1\0' + ts.version + '\0' + file + '\0' + source)
      .digest('hex')
  },
  process(source, file) {
    const out = ts.transpileModule(source, {compilerOptions: options, fileName: file.replace(/\.mjs$/, '.js')}).outputText
    return {code: out.replace(/\bimport\.meta\.url\b/g, "require('node:url').pathToFileURL(__filename).href")}
  },
}
