/**
 * The generated docs (scripts/gen-docs.js, with marked-man and marked): up to date with the manifest
 * and the CLI's exit status table; a man page that man(1) and groff render without warnings and that
 * documents every command, flag and exit status; a README block with every flag; self-contained web
 * pages (scripts/docs-site.js), the manual on one of them only, links between them checked.
 * (test/packaging/home-page.test.ts opens the pages in a browser.)
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, manifestCommands, ok, run, tempDir} from './exec'

const GEN = path.join(ROOT, 'scripts', 'gen-docs.js')
const MAN_ENV = {MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8'}
const {PAGES}: {PAGES: {source: string; page: string}[]} = require(path.join(ROOT, 'scripts', 'docs-site.js'))
const OUTPUTS = ['README.md', 'docs/nslocate.1.md', 'docs/home.md', 'docs/nslocate.1', ...PAGES.map((p) => p.page)]
const SOURCES = ['scripts/gen-docs.js', 'scripts/docs-reference.js', 'scripts/docs-site.js', 'package.json', 'oclif.manifest.json', ...PAGES.map((p) => p.source)]

interface ExitTable {
  EXIT_STATUS: Record<string, {intro?: string; rows: {status: number; meaning: string; term?: string}[]; notes?: string[]}>
  EXIT_STATUS_INTRO?: string
}

/** A copy of what the generator reads and writes, node_modules linked; dist linked too, or left out. */
function copyTree(withDist: boolean): string {
  const copy = tempDir('docs')
  for (const f of new Set([...SOURCES, ...OUTPUTS])) {
    fs.mkdirSync(path.join(copy, path.dirname(f)), {recursive: true})
    fs.copyFileSync(path.join(ROOT, f), path.join(copy, f))
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'))
  if (withDist) fs.symlinkSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'))
  return copy
}

const gen = (copy: string, ...args: string[]) => run(process.execPath, [path.join(copy, 'scripts', 'gen-docs.js'), ...args], {cwd: copy})
const readIn = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8')
const section = (page: string, from: RegExp, to: RegExp) => page.slice(page.search(from), page.search(to))
/** From the first `from` after the heading `within` up to the next `to` after it. */
function sectionIn(page: string, within: RegExp, from: RegExp, to: RegExp): string {
  const rest = page.slice(page.search(within))
  const start = rest.slice(rest.search(from))
  return start.slice(0, start.slice(1).search(to) + 1)
}
/** A rendered subsection ("   find" up to the next "   name" line), or null. */
function subsection(page: string, name: string): string | null {
  const start = page.search(new RegExp(`^ {3}${name}$`, 'm'))
  if (start < 0) return null
  const end = page.slice(start + 1).search(/^ {3}\S/m)
  return end < 0 ? page.slice(start) : page.slice(start, start + 1 + end)
}

async function manPage(file: string): Promise<string> {
  const r = await run('man', ['--warnings=w', '-l', file], {env: MAN_ENV})
  expect({status: r.status, warnings: r.stderr}).toEqual({status: 0, warnings: ''})
  return r.stdout
}

describe('generated docs', () => {
  test('gen-docs.js --check: every generated file is up to date', async () => {
    const r = await run(process.execPath, [GEN, '--check'])
    expect({status: r.status, stderr: r.stderr}).toEqual({status: 0, stderr: ''})
  })

  test('--check exits 1 naming the stale file; a run repairs it and then writes nothing', async () => {
    const copy = copyTree(true)
    try {
      const readme = path.join(copy, 'README.md')
      fs.writeFileSync(readme, readIn(copy, 'README.md').replace(/(<!-- commands:start -->)[\s\S]*(<!-- commands:end -->)/, '$1\n$2'))
      const r = await gen(copy, '--check')
      expect(r.status).toBe(1)
      expect(r.stderr).toMatch(/^gen-docs: out of date: README\.md\. Run npm run build/)
      await ok(process.execPath, [path.join(copy, 'scripts', 'gen-docs.js')], {cwd: copy})
      expect(readIn(copy, 'README.md')).toBe(readIn(ROOT, 'README.md'))
      // Only what changed is written: a second run touches nothing.
      const mtimes = OUTPUTS.map((f) => fs.statSync(path.join(copy, f)).mtimeMs)
      expect((await gen(copy)).stdout).toBe('gen-docs: nothing to write.\n')
      expect(OUTPUTS.map((f) => fs.statSync(path.join(copy, f)).mtimeMs)).toEqual(mtimes)
    } finally {
      fs.rmSync(copy, {recursive: true, force: true})
    }
  })

  test('EXIT STATUS is generated from the exit status table; without the table, one line names the file', async () => {
    const copy = copyTree(false)
    try {
      const missing = await gen(copy)
      expect({status: missing.status, stderr: missing.stderr}).toEqual({
        status: 1,
        stderr: 'gen-docs: dist/src/cli/exit-status.js exports no EXIT_STATUS table: write src/cli/exit-status.ts, then run npm run build.\n',
      })
      expect(readIn(copy, 'docs/nslocate.1.md')).toBe(readIn(ROOT, 'docs/nslocate.1.md'))
      // A table of the contract's shape: intro, rows (with a term), notes; markdown inside.
      const table: ExitTable = {
        EXIT_STATUS_INTRO: 'Sample intro for *every* command.',
        EXIT_STATUS: {
          find: {intro: 'Sample find intro.', rows: [{status: 0, meaning: 'Sample running.'}, {status: 9, term: '`9` (`--x`)', meaning: 'Nine.\n\nSecond paragraph.'}]},
          list: {rows: [{status: 4, meaning: 'Sample cannot tell.'}], notes: ['Sample note.']},
        },
      }
      fs.mkdirSync(path.join(copy, 'dist/src/cli'), {recursive: true})
      fs.writeFileSync(path.join(copy, 'dist/src/cli/exit-status.js'), `module.exports = ${JSON.stringify(table)}\n`)
      await ok(process.execPath, [path.join(copy, 'scripts', 'gen-docs.js')], {cwd: copy})
      const source = section(readIn(copy, 'docs/nslocate.1.md'), /^## EXIT STATUS$/m, /^## ENVIRONMENT$/m)
      expect(source).toContain('### find\n\nSample find intro.\n\n`0`\n:   Sample running.\n\n`9` (`--x`)\n:   Nine.\n\n    Second paragraph.\n\n### list')
      const page = section(await manPage(path.join(copy, 'docs/nslocate.1')), /^EXIT STATUS$/m, /^ENVIRONMENT$/m)
      expect(page.replace(/\s+/g, ' ')).toContain(
        'EXIT STATUS Sample intro for every command. find Sample find intro. 0 Sample running. 9 (--x) Nine. Second paragraph. list 4 Sample cannot tell. Sample note.',
      )
    } finally {
      fs.rmSync(copy, {recursive: true, force: true})
    }
  })

  test('groff -man -ww finds nothing to warn about', async () => {
    const r = await run('groff', ['-man', '-Tutf8', '-ww', '-z', 'docs/nslocate.1'])
    expect({status: r.status, warnings: r.stderr}).toEqual({status: 0, warnings: ''})
  })

  test('man -l renders every section, command and flag of the manifest, flags as tagged paragraphs', async () => {
    const page = await manPage('docs/nslocate.1')
    expect(page.split('\n')[0]).toMatch(/^NSLOCATE\(1\)\s+User Commands\s+NSLOCATE\(1\)$/)
    const sections = page.split('\n').filter((l) => /^[A-Z][A-Z ]+$/.test(l))
    expect(sections).toEqual(['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', 'OUTPUT', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'NOTES', 'EXAMPLES', 'SEE ALSO'])
    expect(page).toMatch(/^NAME\n {7}nslocate - is service NAME running/m)
    const commands = section(page, /^COMMANDS$/m, /^OPTIONS$/m)
    for (const c of manifestCommands()) {
      // Each command is a subsection ("   find"); each of its flags a term at the paragraph indent
      // with its definition below it, indented further (a definition list rendered as .TP).
      const own = subsection(commands, c.name) ?? ''
      expect({command: c.name, found: own !== ''}).toEqual({command: c.name, found: true})
      for (const flag of c.flags) {
        if (flag === 'json') expect(own).toContain('Also accepts --json (see OPTIONS).')
        // (A term narrower than the indent, like --wait, has its definition on its own line.)
        else expect({flag, term: new RegExp(`^ {7}((-\\w, )?--${flag}\\b.*\\n {14}|--${flag} +)\\S`, 'm').test(own)}).toEqual({flag, term: true})
      }
    }
  })

  test('EXIT STATUS documents every status of the CLI table (src/cli/exit-status.ts)', async () => {
    const {EXIT_STATUS}: ExitTable = require(path.join(ROOT, 'dist/src/cli/exit-status.js'))
    const page = section(await manPage('docs/nslocate.1'), /^EXIT STATUS$/m, /^ENVIRONMENT$/m)
    for (const [command, {rows}] of Object.entries(EXIT_STATUS)) {
      const own = subsection(page, command) ?? ''
      expect({command, found: own !== ''}).toEqual({command, found: true})
      for (const r of rows) expect({command, status: r.status, found: new RegExp(`^ {7}${r.status}\\b`, 'm').test(own)}).toEqual({command, status: r.status, found: true})
    }
  })

  test('README.md lists every command and flag in its generated block', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const block = readme.slice(readme.indexOf('<!-- commands:start -->'), readme.indexOf('<!-- commands:end -->'))
    for (const c of manifestCommands()) {
      const own = block.slice(block.indexOf(`### \`nslocate ${c.name}\``))
      expect({command: c.name, found: own.length < block.length}).toEqual({command: c.name, found: true})
      for (const flag of c.flags) expect(own).toContain(`\`--${flag}\``)
    }
  })

  test('OUTPUT documents every field find --json prints, for a service nslocate run started (record included)', async () => {
    const dir = tempDir('docs-find')
    const file = path.join(dir, 'docskeys.pid')
    const sup = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'run', 'docskeys', '--dir', dir, '--', 'sleep', '60'], {stdio: 'ignore', detached: true})
    try {
      const readOr = () => {
        try {
          return fs.readFileSync(file, 'utf8')
        } catch {
          return ''
        }
      }
      for (const deadline = Date.now() + 20_000; !/^[0-9]+$/.test(readOr()); ) {
        if (Date.now() > deadline) throw new Error(`nslocate run wrote no pid into ${file} in 20 s`)
        await new Promise((r) => setTimeout(r, 25))
      }
      const r = await run(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'find', 'docskeys', '--pidfile', file, '--json'])
      const json = JSON.parse(r.stdout)
      expect([json.state, json.pidfile.recorded === null]).toEqual(['running', false])
      const page = fs.readFileSync(path.join(ROOT, 'docs', 'nslocate.1.md'), 'utf8')
      const out = sectionIn(page, /^## OUTPUT$/m, /^### find$/m, /^### Reason codes$/m)
      const terms = new Set([...out.matchAll(/^`([a-z_.]+)`$/gm)].map((m) => m[1]))
      // Top-level fields and the fields of each object are terms; the fields of an object inside those are named in its term's text.
      for (const [k, v] of Object.entries(json)) {
        expect({field: k, documented: terms.has(k)}).toEqual({field: k, documented: true})
        if (v === null || typeof v !== 'object' || Array.isArray(v)) continue
        for (const [k2, v2] of Object.entries(v)) {
          expect({field: `${k}.${k2}`, documented: terms.has(`${k}.${k2}`)}).toEqual({field: `${k}.${k2}`, documented: true})
          if (v2 === null || typeof v2 !== 'object' || Array.isArray(v2)) continue
          const text = out.slice(out.indexOf(`\n\`${k}.${k2}\`\n`)).split(/\n\n`/)[0]
          for (const k3 of Object.keys(v2)) expect({field: `${k}.${k2}.${k3}`, named: text.includes(`\`${k3}\``)}).toEqual({field: `${k}.${k2}.${k3}`, named: true})
        }
      }
    } finally {
      try {
        process.kill(-sup.pid!, 'SIGKILL') // run and its child: the group spawn made
      } catch {}
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })

  test('"Reason codes" lists every code of REASONS (src/locate/types.ts), in its order', () => {
    const {REASONS}: {REASONS: string[]} = require(path.join(ROOT, 'dist/src/locate/types.js'))
    const page = fs.readFileSync(path.join(ROOT, 'docs', 'nslocate.1.md'), 'utf8')
    const listed = [...sectionIn(page, /^## OUTPUT$/m, /^### Reason codes$/m, /^### list$/m).matchAll(/^`([a-z_]+)`$/gm)].map((m) => m[1])
    expect(listed.filter((code) => REASONS.includes(code))).toEqual(REASONS)
  })

  test('"The identity record" names the attribute record.ts writes, and its example is a record record.ts reads', () => {
    const {RECORD_XATTR, parseRecord} = require(path.join(ROOT, 'dist/src/locate/record.js'))
    const page = fs.readFileSync(path.join(ROOT, 'docs', 'nslocate.1.md'), 'utf8')
    const notes = sectionIn(page, /^## NOTES$/m, /^### The identity record$/m, /^### /m)
    expect(notes).toContain(`\`${RECORD_XATTR}\``)
    const example = new RegExp(`^${RECORD_XATTR.replace(/\./g, '\\.')}="([^"]+)"$`, 'm').exec(notes)
    expect(example && typeof parseRecord(example[1])).toBe('object')
  })

  test('ENVIRONMENT documents every NSLOCATE_* variable the library reads', () => {
    const vars = new Set<string>()
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.name.endsWith('.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/env(?:\.|\[')(NSLOCATE_[A-Z_]+)/g)) vars.add(m[1])
      }
    }
    walk(path.join(ROOT, 'src'))
    const env = section(fs.readFileSync(path.join(ROOT, 'docs', 'nslocate.1.md'), 'utf8'), /^## ENVIRONMENT$/m, /^## FILES$/m)
    expect(vars.size).toBeGreaterThan(3)
    for (const v of vars) expect({variable: v, documented: env.includes(`\n\`${v}\`\n:   `)}).toEqual({variable: v, documented: true})
  })

  test('every page is self-contained: inline CSS, no script, no image, no file loaded from elsewhere', () => {
    for (const {page} of PAGES) {
      const html = fs.readFileSync(path.join(ROOT, page), 'utf8')
      expect({page, loads: html.match(/<(script|link|img|iframe|object|embed)\b|url\(/gi)}).toEqual({page, loads: null})
      expect({page, rawMarkdownLinks: html.match(/href="(?![a-z]+:)[^"]*\.md(#[^"]*)?"/g)}).toEqual({page, rawMarkdownLinks: null})
    }
  })

  test('the man page is rendered once, on its own page; the home page repeats neither it nor README\'s command list', () => {
    const pages = Object.fromEntries(PAGES.map(({page}) => [page, fs.readFileSync(path.join(ROOT, page), 'utf8')]))
    const man = pages['docs/nslocate.1.html']
    expect(man).toContain('<h1 id="nslocate1--is-service-name-running')
    expect(man).toMatch(/<dt><code( class="nw")?>--json<\/code><\/dt>/)
    expect(man).not.toContain('\n:   ') // every definition list was understood
    for (const c of manifestCommands()) expect(man).toMatch(new RegExp(`<h3 id="${c.name.replace(/[^a-z0-9]+/g, '-')}(-\\d+)?">`))
    // The reference (flags as definitions, the COMMANDS and EXIT STATUS sections) is on no other page.
    for (const [page, html] of Object.entries(pages).filter(([p]) => p !== 'docs/nslocate.1.html')) {
      expect({page, reference: /<dt><code( class="nw")?>--json<\/code><\/dt>|<h2 id="(commands|exit-status)">/.test(html)}).toEqual({page, reference: false})
      expect({page, readmeCommands: html.includes('<code>nslocate find</code></h3>')}).toEqual({page, readmeCommands: false})
    }
    expect(pages['docs/index.html']).toContain('<a href="nslocate.1.html">')
  })

  test('a link to a heading or a file that does not exist stops gen-docs with one line naming it', async () => {
    const copy = copyTree(true)
    try {
      const sidecar = path.join(copy, 'docs', 'sidecar.md')
      const text = readIn(copy, 'docs/sidecar.md')
      fs.writeFileSync(sidecar, `${text}\nSee [the layers](architecture.md#no-such-heading).\n`)
      expect(await gen(copy)).toEqual({
        status: 1,
        stdout: '',
        stderr: 'gen-docs: docs/sidecar.md links to architecture.md#no-such-heading: docs/architecture.html has no heading with the id no-such-heading.\n',
      })
      fs.writeFileSync(sidecar, `${text}\nSee [the holder](../fixtures/no-such-holder.c).\n`)
      expect((await gen(copy)).stderr).toBe('gen-docs: docs/sidecar.md links to ../fixtures/no-such-holder.c: fixtures/no-such-holder.c is no file of the repository.\n')
      // The same links, to what exists: the page and the repository's file.
      fs.writeFileSync(sidecar, `${text}\nSee [the layers](architecture.md#layers) and [the holder](../package.json).\n`)
      await ok(process.execPath, [path.join(copy, 'scripts', 'gen-docs.js')], {cwd: copy})
      const {repository} = require(path.join(ROOT, 'scripts', 'docs-site.js')).projectLinks(JSON.parse(readIn(copy, 'package.json')))
      expect(readIn(copy, 'docs/sidecar.html')).toContain(`See <a href="architecture.html#layers">the layers</a> and <a href="${repository}/blob/HEAD/package.json">the holder</a>.`)
    } finally {
      fs.rmSync(copy, {recursive: true, force: true})
    }
  })
})
