/**
 * The README as it ships in the npm package (npmjs.com and node_modules/nslocate show it): every
 * relative link in it resolves to a file inside the tarball, and its Install section gives one
 * command per way to install (the commands test/packaging/install-chroot.test.ts, deb.test.ts and the
 * container tier's image build run).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ok, readmeInstallCommands, tempDir} from './exec'

let dir: string
let files: Set<string>
let readme: string

beforeAll(async () => {
  dir = tempDir('readme')
  const packed = JSON.parse(await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {timeoutMs: 60_000}))[0]
  const tarball = path.join(dir, packed.filename)
  files = new Set(
    (await ok('tar', ['-tzf', tarball]))
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, '')),
  )
  await ok('tar', ['-xzf', tarball, '-C', dir, 'package/README.md'])
  readme = fs.readFileSync(path.join(dir, 'package', 'README.md'), 'utf8')
}, 120_000)

afterAll(() => {
  if (dir) fs.rmSync(dir, {recursive: true, force: true})
})

/** The targets of the Markdown links and images ([text](target), ![alt](target)) and HTML href/src in a text, code spans and blocks left out. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^ *```[^\n]*\n[\s\S]*?^ *```$/gm, '').replace(/`[^`\n]*`/g, '')
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\b(?:href|src)="([^"]+)"/g)].map((m) => m[1] ?? m[2])
}

test('every relative link of the packed README names a file in the tarball', () => {
  const relative = links(readme).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l) && !l.startsWith('#'))
  expect(relative.length).toBeGreaterThan(0)
  const missing = relative.map((l) => path.posix.normalize(decodeURI(l.split('#')[0]))).filter((l) => !files.has(l))
  expect(missing).toEqual([])
})

test('the link check sees what it checks: a link to a file the package lacks is reported', () => {
  const planted = links('See [x](docs/not-shipped.md), [y](https://example.org/) and `[z](docs/in-code.md)`.')
  expect(planted).toEqual(['docs/not-shipped.md', 'https://example.org/'])
  expect(files.has('docs/not-shipped.md')).toBe(false)
})

test('the Install section gives one command for npm, the .deb and the image', () => {
  expect(readmeInstallCommands()).toEqual({
    npm: 'sudo npm install -g nslocate',
    deb: expect.stringMatching(/^sudo apt-get install \.\/nslocate_[0-9][^_]*_amd64\.deb$/),
    image: 'bash scripts/build-image.sh',
  })
  // The packed README is the repository's.
  expect(readme).toContain('\n## Install\n')
})

test('the home page (docs/home.md) gives the same three install commands as the README', () => {
  const home = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'home.md'), 'utf8')
  const version = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version as string
  const commands = Object.values(readmeInstallCommands()).map((c) => c.split(version).join('{{version}}'))
  // Each in backticks in the home page's Install table, word for word.
  const install = home.slice(home.indexOf('\n## Install\n'), home.indexOf('\n## ', home.indexOf('\n## Install\n') + 1))
  expect(commands.map((c) => ({c, shown: install.includes(`\`${c}\``)}))).toEqual(commands.map((c) => ({c, shown: true})))
})
