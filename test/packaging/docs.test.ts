/**
 * The generated docs (scripts/gen-docs.js): up to date with the manifest, a man page that man(1) and
 * groff render without warnings and that documents every command and flag, a README block and a
 * self-contained home page.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, manifestCommands, ok, run, tempDir} from './exec'

const GEN = path.join(ROOT, 'scripts', 'gen-docs.js')

describe('generated docs', () => {
  test('gen-docs.js --check: every generated file is up to date', async () => {
    const r = await run(process.execPath, [GEN, '--check'])
    expect({status: r.status, stderr: r.stderr}).toEqual({status: 0, stderr: ''})
  })

  test('gen-docs.js --check exits 1 and names the stale file', async () => {
    // A copy of what the generator reads and writes, with the README's generated block emptied.
    const copy = tempDir('docs')
    try {
      for (const f of ['scripts/gen-docs.js', 'package.json', 'oclif.manifest.json', 'README.md', 'docs/nslocate.1.md', 'docs/nslocate.1', 'docs/index.html']) {
        fs.mkdirSync(path.join(copy, path.dirname(f)), {recursive: true})
        fs.copyFileSync(path.join(ROOT, f), path.join(copy, f))
      }
      for (const f of fs.readdirSync(path.join(ROOT, 'docs')).filter((n) => n.endsWith('.md'))) fs.copyFileSync(path.join(ROOT, 'docs', f), path.join(copy, 'docs', f))
      const readme = path.join(copy, 'README.md')
      fs.writeFileSync(readme, fs.readFileSync(readme, 'utf8').replace(/(<!-- commands:start -->)[\s\S]*(<!-- commands:end -->)/, '$1\n$2'))
      const r = await run(process.execPath, [path.join(copy, 'scripts', 'gen-docs.js'), '--check'], {cwd: copy})
      expect(r.status).toBe(1)
      expect(r.stderr).toContain('out of date: README.md')
      expect(r.stderr).toContain('npm run build')
      // ...and without --check it repairs it.
      await ok(process.execPath, [path.join(copy, 'scripts', 'gen-docs.js')], {cwd: copy})
      expect(fs.readFileSync(readme, 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'))
    } finally {
      fs.rmSync(copy, {recursive: true, force: true})
    }
  })

  test('groff -man -ww finds nothing to warn about', async () => {
    const r = await run('groff', ['-man', '-Tutf8', '-ww', '-z', 'docs/nslocate.1'])
    expect({status: r.status, warnings: r.stderr}).toEqual({status: 0, warnings: ''})
  })

  test('man -l renders the page with every section, command and flag of the manifest', async () => {
    const r = await run('man', ['-l', 'docs/nslocate.1'], {env: {MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8'}})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const page = r.stdout
    expect(page.split('\n')[0]).toMatch(/^NSLOCATE\(1\)\s+User Commands\s+NSLOCATE\(1\)$/)
    const sections = page.split('\n').filter((l) => /^[A-Z][A-Z ]+$/.test(l))
    expect(sections).toEqual(['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', 'OUTPUT', 'EXIT STATUS',
      'ENVIRONMENT', 'FILES', 'NOTES', 'EXAMPLES', 'SEE ALSO'])
    const commands = page.slice(page.indexOf('\nCOMMANDS\n'), page.indexOf('\nOPTIONS\n'))
    for (const c of manifestCommands()) {
      // Each command is a subsection ("   find"), and each of its flags is documented in it.
      const start = commands.search(new RegExp(`^ {3}${c.name}$`, 'm'))
      expect({command: c.name, found: start >= 0}).toEqual({command: c.name, found: true})
      const section = commands.slice(start)
      for (const flag of c.flags) expect(section).toContain(`--${flag}`)
    }
  })

  test('README.md lists every command in its generated block', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const block = readme.slice(readme.indexOf('<!-- commands:start -->'), readme.indexOf('<!-- commands:end -->'))
    for (const c of manifestCommands()) expect(block).toContain(`### \`nslocate ${c.name}\``)
  })

  test('docs/index.html is self-contained and has the README and the man page', () => {
    const html = fs.readFileSync(path.join(ROOT, 'docs', 'index.html'), 'utf8')
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i)
    expect(html).not.toMatch(/url\(/i)
    expect(html).toContain('<h2 id="set-up">Set up</h2>')
    expect(html).toContain('id="manual"')
    for (const c of manifestCommands()) expect(html).toContain(`<h3 id="man-${c.name.replace(/[^a-z0-9]+/g, '-')}">`)
  })
})
