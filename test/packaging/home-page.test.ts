/**
 * The web pages (docs/*.html, made by scripts/gen-docs.js) as a reader sees them: opened from the
 * home page in Debian's headless Chromium at a 1280 px window, every internal link followed to a
 * file that exists and every #fragment to an id of its page, every page reached, no page wider than
 * the window, and a screenshot of each (a PNG in a temporary directory, removed afterwards).
 */
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {Chromium, Page} from './chromium'
import {ROOT, tempDir} from './exec'

const DOCS = path.join(ROOT, 'docs')
const [WIDTH, HEIGHT] = [1280, 800]
const {projectLinks} = require(path.join(ROOT, 'scripts', 'docs-site.js'))
const PROJECT: {repository: string; issues: string} = projectLinks(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')))

interface Facts {
  title: string
  scrollWidth: number
  clientWidth: number
  /** Elements past the window's right edge, or whose content spills out of their box: what widens a page. */
  wider: string[]
  ids: string[]
  links: {href: string; text: string}[]
  /** The page's text as the reader sees it. */
  text: string
  /** The home page: where its Install heading starts, and the code blocks of its examples. */
  installTop: number | null
  examples: string[]
}

// Evaluated in the page: its layout width, its ids and links (href resolved by the browser).
const FACTS = `(() => {
  const root = document.documentElement
  const spills = (e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && getComputedStyle(e).display !== 'inline'
  const wider = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5 || spills(e))
  const install = document.getElementById('install')
  return {
    title: document.title,
    scrollWidth: root.scrollWidth,
    clientWidth: root.clientWidth,
    wider: wider.slice(0, 5).map((e) => e.tagName + ' ' + e.textContent.slice(0, 60)),
    ids: [...document.querySelectorAll('[id]')].map((e) => e.id),
    links: [...document.querySelectorAll('a[href]')].map((a) => ({href: a.href, text: a.textContent})),
    text: document.body.innerText,
    installTop: install ? install.getBoundingClientRect().top : null,
    examples: [...document.querySelectorAll('h2#three-examples ~ *')].filter((e, i, all) => e.tagName === 'PRE' && !all.slice(0, i).some((x) => x.tagName === 'H2')).map((e) => e.textContent),
  }
})()`

const pageName = (file: string) => path.relative(DOCS, file)
const fileOf = (href: string) => fileURLToPath(href.replace(/#.*/, ''))
const fragmentOf = (href: string) => (href.includes('#') ? decodeURIComponent(href.slice(href.indexOf('#') + 1)) : '')

describe('the web pages in headless Chromium at 1280 px', () => {
  const facts = new Map<string, Facts>()
  const shots = tempDir('screenshots')
  let browser: Chromium
  let page: Page

  // From the home page, each page found by a link is opened in turn, once.
  beforeAll(async () => {
    browser = Chromium.launch()
    page = await browser.page(WIDTH, HEIGHT)
    const queue = [path.join(DOCS, 'index.html')]
    while (queue.length) {
      const file = queue.shift()!
      if (facts.has(file)) continue
      await page.load(pathToFileURL(file).href)
      const f = await page.evaluate<Facts>(FACTS)
      facts.set(file, f)
      await page.screenshot(path.join(shots, `${pageName(file)}.png`))
      for (const {href} of f.links) if (href.startsWith('file:') && fileOf(href).endsWith('.html') && fs.existsSync(fileOf(href))) queue.push(fileOf(href))
    }
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    fs.rmSync(shots, {recursive: true, force: true})
  })

  test('every page of docs/ is reached from the home page, and each has its own title', () => {
    const pages = fs.readdirSync(DOCS).filter((f) => f.endsWith('.html')).map((f) => path.join(DOCS, f))
    expect([...facts.keys()].map(pageName).sort()).toEqual(pages.map(pageName).sort())
    const titles = [...facts.values()].map((f) => f.title)
    expect(new Set(titles).size).toBe(titles.length)
  })

  test('every internal link leads to a page that exists, and every #fragment to an id on that page', () => {
    const broken: string[] = []
    let checked = 0
    for (const [file, f] of facts) {
      for (const {href, text} of f.links.filter((l) => l.href.startsWith('file:'))) {
        checked++
        const target = fileOf(href)
        const where = `${pageName(file)}: "${text}" -> ${href}`
        if (path.dirname(target) !== DOCS || !target.endsWith('.html')) broken.push(`${where}: not a page of docs/`)
        else if (!fs.existsSync(target)) broken.push(`${where}: no such file`)
        else if (fragmentOf(href) && !facts.get(target)?.ids.includes(fragmentOf(href))) broken.push(`${where}: no id ${fragmentOf(href)} there`)
      }
    }
    expect(broken).toEqual([])
    expect(checked).toBeGreaterThan(100) // every heading of the tables of contents, the navigation
  })

  test("links out of the site are https; those into the repository name files it has", () => {
    const wrong: string[] = []
    for (const [file, f] of facts) {
      for (const {href} of f.links.filter((l) => !l.href.startsWith('file:'))) {
        const blob = `${PROJECT.repository}/blob/HEAD/`
        const inRepo = href.startsWith(blob) && path.join(ROOT, decodeURIComponent(href.slice(blob.length).replace(/#.*/, '')))
        if (!href.startsWith('https://')) wrong.push(`${pageName(file)}: ${href}`)
        else if (inRepo && !fs.existsSync(inRepo)) wrong.push(`${pageName(file)}: ${href}: no such file in the repository`)
      }
    }
    expect(wrong).toEqual([])
  })

  test('no page is wider than the window: long lines wrap or scroll inside their block', () => {
    const widths = [...facts].map(([file, f]) => ({page: pageName(file), scrollWidth: f.scrollWidth, clientWidth: f.clientWidth, wider: f.wider}))
    expect(widths).toEqual(widths.map((w) => ({...w, scrollWidth: w.clientWidth, wider: []})))
    for (const w of widths) expect(w.clientWidth).toBeGreaterThan(WIDTH - 30) // the window, less a scroll bar
  })

  test('the home page: what nslocate is within one screen, then Install, three examples, and links to every page, the source and the issues', () => {
    const home = facts.get(path.join(DOCS, 'index.html'))!
    expect(home.installTop).not.toBeNull()
    expect(home.installTop!).toBeLessThan(HEIGHT)
    expect(home.examples).toHaveLength(3)
    for (const example of home.examples) expect(example).toMatch(/^(docker run|mkdir|nslocate) /m)
    expect(home.text).toContain('\nnslocate run NAME [flags] -- COMMAND [ARGS...]\n') // the synopsis says what to type
    const targets = new Set(home.links.map((l) => (l.href.startsWith('file:') ? pageName(fileOf(l.href)) : l.href)))
    for (const file of facts.keys()) expect(targets).toContain(pageName(file))
    expect(targets).toContain(PROJECT.repository)
    expect(targets).toContain(PROJECT.issues)
    expect(targets).toContain('changelog.html')
  })

  test('the first example runs as the page shows it (nslocate being bin/run.js)', async () => {
    const example = facts.get(path.join(DOCS, 'index.html'))!.examples[0]
    expect(example).toMatch(/^nslocate run demo -- sleep 600 &$/m)
    // As typed into bash; `wait` only so that nothing of it outlives the script.
    const script = `nslocate() { "${process.execPath}" "${path.join(ROOT, 'bin', 'run.js')}" "$@"; }\n${example}\nwait\n`
    const shell = spawn('bash', ['-c', script], {detached: true, stdio: ['ignore', 'pipe', 'pipe']})
    const [out, err] = [[] as Buffer[], [] as Buffer[]]
    shell.stdout.on('data', (d: Buffer) => out.push(d))
    shell.stderr.on('data', (d: Buffer) => err.push(d))
    try {
      const status = await new Promise<number | null>((resolve) => shell.on('close', resolve))
      const [stdout, stderr] = [Buffer.concat(out).toString(), Buffer.concat(err).toString()]
      expect({status, stderr}).toEqual({status: 0, stderr: ''})
      expect(stdout).toMatch(/^demo: running, pid \d+$/m) // find
      expect(stdout).toMatch(/^demo: .*\bTERM\b/m) // signal
      expect(stdout.trimEnd().split('\n').at(-1)).toBe('3') // find --quiet; echo $?
    } finally {
      try {
        process.kill(-shell.pid!, 'SIGKILL') // run and sleep, if the example failed half-way
      } catch {}
    }
  })

  test('a screenshot of every page is a PNG of the window', () => {
    for (const file of facts.keys()) {
      const png = fs.readFileSync(path.join(shots, `${pageName(file)}.png`))
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([WIDTH, HEIGHT]) // IHDR
      expect(png.length).toBeGreaterThan(10_000) // a page drawn, not a blank window
    }
  })
})
