/**
 * docs/library.md runs: each ```js example there is a whole program. It is run as a consumer runs
 * it (require('nslocate') resolved through a node_modules/nslocate link to this checkout, so
 * package.json "main", i.e. the BUILT dist/src/index.js), and what it prints must be the ```text
 * block under it, to the letter. An example that drifts from the code fails here.
 */
import {spawnSync} from 'node:child_process'
import fs = require('node:fs')
import os = require('node:os')
import path = require('node:path')

const ROOT = path.resolve(__dirname, '../..')
const DOC = path.join(ROOT, 'docs/library.md')

interface Example {
  line: number
  code: string
  output: string
}

/** Each ```js block followed (after an "Output:" line) by a ```text block. */
export function examples(markdown: string): Example[] {
  const out: Example[] = []
  const re = /```js\n([\s\S]*?)```\n\s*Output:\s*\n\s*```text\n([\s\S]*?)```/g
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    out.push({line: markdown.slice(0, m.index).split('\n').length, code: m[1], output: m[2]})
  }
  return out
}

let home: string
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-libdocs-'))
  fs.mkdirSync(path.join(home, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(home, 'node_modules', 'nslocate'))
})
afterAll(() => fs.rmSync(home, {recursive: true, force: true}))

const all = examples(fs.readFileSync(DOC, 'utf8'))

test('docs/library.md has an example of each public function, the Reloader and the server', () => {
  const code = all.map((e) => e.code).join('\n')
  for (const fn of ['locate(', 'locateSync(', 'signal(', 'waitFor(', 'list(', 'acquire(', 'new Reloader(', '.start()', 'prepareServer(', '.listen()']) {
    expect({fn, found: code.includes(fn)}).toEqual({fn, found: true})
  }
})

test.each(all.map((e) => [e.line, e] as const))(
  'the example at docs/library.md:%i prints what the page says',
  (_line, e) => {
    const file = path.join(home, `example-${e.line}.js`)
    fs.writeFileSync(file, e.code)
    const r = spawnSync(process.execPath, [file], {cwd: home, encoding: 'utf8', timeout: 30_000})
    expect({stderr: r.stderr, status: r.status, stdout: r.stdout}).toEqual({stderr: '', status: 0, stdout: e.output})
  },
  40_000,
)
