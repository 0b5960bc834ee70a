// eslint 10 flat config: @eslint/js recommended + typescript-eslint recommended; formatting rules off
// (prettier owns layout: eslint-config-prettier). `npm run lint`. Rules turned off or relaxed below
// say why.
import js from '@eslint/js'
import {defineConfig, globalIgnores} from 'eslint/config'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'node_modules/', 'bench/results/', 'docs/', 'fixtures/', 'packaging/', 'oclif.manifest.json']),
  js.configs.recommended,
  tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {ecmaVersion: 2022, globals: {...globals.node}},
    rules: {
      // An empty `catch {}` is the deliberate best-effort pattern (clean-up where ENOENT/ESRCH means
      // "already done", an optional /proc file); other empty blocks stay errors.
      'no-empty': ['error', {allowEmptyCatch: true}],
      // Unused names starting with _ are deliberate (a parameter kept for its position).
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
    },
  },
  {
    rules: {
      // require() is deliberate: `import fs = require('node:fs')` compiles to a bare require()
      // without the __importStar helper, and the start-up fast path loads modules lazily with a
      // typed `require('./x') as typeof import('./x')` so a command loads only what it uses.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Plain CommonJS scripts (scripts/, bin/, bench/, jest.config.js, test helpers written in JS).
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {sourceType: 'commonjs'},
    rules: {
      // `const crypto = require('node:crypto')` names the module it loads, shadowing Node's global
      // of the same name on purpose.
      'no-redeclare': ['error', {builtinGlobals: false}],
    },
  },
  {
    files: ['test/**'],
    languageOptions: {globals: {...globals.node, ...globals.jest}},
    rules: {
      // Tests read the CLI's --json output and the Docker API's answers as untyped JSON on purpose:
      // the assertions are the type.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
)
