#!/usr/bin/env node
// Generates nslocate's docs from two sources of truth:
//   oclif.manifest.json  (made by `oclif manifest` from commands/*.ts: usage, args, flags, examples)
//   docs/nslocate.1.md   (hand-written man page sections; generated blocks between markers)
// and writes:
//   docs/nslocate.1.md   the blocks <!-- synopsis|commands|options:start --> ... <!-- ...:end -->
//   README.md            the block  <!-- commands:start --> ... <!-- commands:end -->
//   docs/nslocate.1      roff for man(1), converted from docs/nslocate.1.md (no pandoc)
//   docs/index.html      a self-contained home page: README.md + the man page
//
//   node scripts/gen-docs.js           write what changed (files that are already right are not touched)
//   node scripts/gen-docs.js --check   write nothing; exit 1 and name the files that are out of date
//
// The markdown understood is a small subset, on purpose: YAML-ish front matter (key: value),
// ATX headings, paragraphs, fenced code blocks, "- " bullet lists, pandoc-style definition lists
// ("term" then ":   definition", continuation lines indented 4 spaces), HTML comments (dropped),
// and inline `code`, *emphasis*, **strong**, [text](url), backslash escapes.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const FILES = {
  manifest: path.join(root, 'oclif.manifest.json'),
  pkg: path.join(root, 'package.json'),
  manSource: path.join(root, 'docs', 'nslocate.1.md'),
  roff: path.join(root, 'docs', 'nslocate.1'),
  html: path.join(root, 'docs', 'index.html'),
  readme: path.join(root, 'README.md'),
}

class DocsError extends Error {}

// ---------------------------------------------------------------------------------------------
// The manifest, as a list of commands ready to print

function loadJson(file, hint) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new DocsError(`cannot read ${path.relative(root, file)}: ${error.code || error.message}. ${hint}`)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new DocsError(`${path.relative(root, file)} is not valid JSON (${error.message}). ${hint}`)
  }
}

/** oclif templates in help text: <%= config.bin %>, <%= command.id %>. */
function expand(text, bin, id) {
  return String(text ?? '')
    .replace(/<%=\s*config\.bin\s*%>/g, bin)
    .replace(/<%=\s*command\.id\s*%>/g, id.replace(/:/g, ' '))
}

function commandModel(manifest, bin, order) {
  const all = Object.values(manifest.commands || {}).filter((c) => !c.hidden)
  const rank = (id) => (order.includes(id) ? order.indexOf(id) : order.length)
  all.sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id))
  return all.map((c) => {
    const name = c.id.replace(/:/g, ' ')
    const x = (t) => expand(t, bin, c.id)
    const args = Object.values(c.args || {}).filter((a) => !a.hidden).map((a) => ({...a, description: x(a.description)}))
    const flags = Object.values(c.flags || {}).filter((f) => !f.hidden).map((f) => ({
      ...f, summary: x(f.summary || ''), description: x(f.description || ''),
      global: f.helpGroup === 'GLOBAL',
    }))
    const summary = x(c.summary || '')
    let description = x(c.description || '')
    if (!summary && description) {
      // oclif's rule: without a summary, the description's first line is the summary.
      const [first, ...rest] = description.split('\n')
      return finish(first, rest.join('\n').trim())
    }
    return finish(summary, description)

    function finish(sum, desc) {
      return {
        id: c.id, name, summary: sum, description: desc.trim(), args, flags,
        strict: c.strict !== false, aliases: (c.aliases || []).map((a) => a.replace(/:/g, ' ')),
        deprecated: Boolean(c.state === 'deprecated' || c.deprecationOptions),
        examples: normaliseExamples(c.examples, x),
      }
    }
  })
}

/** oclif examples are strings (lines: description or command) or {description, command}. */
function normaliseExamples(examples, x) {
  const out = []
  for (const e of [].concat(examples || [])) {
    if (typeof e === 'string') {
      const desc = []
      const cmds = []
      for (const line of x(e).split('\n')) {
        if (!line.trim()) continue
        if (/^\s*\$\s/.test(line) || cmds.length || line.trim().startsWith(x('<%= config.bin %>'))) cmds.push(line.trim().replace(/^\$\s+/, ''))
        else desc.push(line.trim())
      }
      out.push({description: desc.join(' '), commands: cmds.length ? cmds : desc.splice(0)})
    } else if (e && e.command) {
      out.push({description: x(e.description || ''), commands: x(e.command).split('\n').map((l) => l.trim()).filter(Boolean)})
    }
  }
  return out
}

function flagValue(f) {
  if (f.type !== 'option') return ''
  if (f.helpValue) return Array.isArray(f.helpValue) ? f.helpValue.join(' ') : f.helpValue
  if (f.options && f.options.length) return f.options.join('|')
  return 'VALUE'
}

function flagNames(f) {
  const long = f.type === 'boolean' && f.allowNo ? `--[no-]${f.name}` : `--${f.name}`
  return f.char ? [`-${f.char}`, long] : [long]
}

/**
 * The usage line, close to oclif's: nslocate find NAME [--json] [--pidfile PATH | --dir DIR] [-q].
 * As tokens, so the man page can set the command and flags in bold and the values in italics.
 */
function usageTokens(bin, cmd) {
  const t = [{kind: 'cmd', text: `${bin} ${cmd.name}`}]
  const word = (kind, text) => t.push({kind: 'sp', text: ' '}, {kind, text})
  for (const a of cmd.args) {
    const n = a.name.toUpperCase() + (cmd.strict ? '' : '...')
    if (a.required) word('arg', n)
    else word('open', '['), t.push({kind: 'arg', text: n}, {kind: 'close', text: ']'})
  }
  const ordered = [...cmd.flags.filter((f) => f.global), ...cmd.flags.filter((f) => !f.global)]
  const done = new Set()
  for (const f of ordered) {
    if (done.has(f.name)) continue
    // A flag and the flags it excludes print as one group: [--a A | --b B].
    const group = [f, ...(f.exclusive || []).map((n) => ordered.find((g) => g.name === n && !done.has(n))).filter(Boolean)]
    const optional = !(f.required && group.length === 1)
    t.push({kind: 'sp', text: ' '})
    if (optional) t.push({kind: 'open', text: '['})
    group.forEach((g, k) => {
      done.add(g.name)
      if (k > 0) t.push({kind: 'sep', text: ' | '})
      t.push({kind: 'flag', text: g.char ? `-${g.char}` : flagNames(g).at(-1)})
      const v = flagValue(g)
      if (v) t.push({kind: 'sp', text: ' '}, {kind: 'arg', text: v + (g.multiple ? '...' : '')})
    })
    if (optional) t.push({kind: 'close', text: ']'})
  }
  return t
}

function usage(bin, cmd) {
  return usageTokens(bin, cmd).map((x) => x.text).join('')
}

/** The usage line in markdown: **nslocate find** *NAME* \[**--json**\] ... */
function usageMd(bin, cmd) {
  return usageTokens(bin, cmd).map((x) => {
    if (x.kind === 'cmd' || x.kind === 'flag') return `**${mdText(x.text)}**`
    if (x.kind === 'arg') return `*${mdText(x.text)}*`
    return mdText(x.text)
  }).join('')
}

/** "Type: string. Default: x. One of: a, b." for a flag or argument. */
function facts(item, isFlag) {
  const out = []
  if (isFlag) out.push(item.type === 'boolean' ? 'Type: boolean' : `Type: ${item.multiple ? 'string, repeatable' : 'string'}`)
  if (item.options && item.options.length) out.push(`One of: ${item.options.join(', ')}`)
  const d = item.default
  if (d !== undefined && d !== null && d !== false && d !== '' && !(Array.isArray(d) && !d.length)) {
    out.push(`Default: ${Array.isArray(d) ? d.join(', ') : String(d)}`)
  }
  if (item.required) out.push('Required')
  if (item.env) out.push(`Environment: ${item.env}`)
  if (isFlag && item.exclusive && item.exclusive.length) out.push(`Cannot be combined with ${item.exclusive.map((n) => `--${n}`).join(', ')}`)
  if (isFlag && item.dependsOn && item.dependsOn.length) out.push(`Requires ${item.dependsOn.map((n) => `--${n}`).join(', ')}`)
  if (item.deprecated) out.push('Deprecated')
  return out.length ? out.join('. ') + '.' : ''
}

// ---------------------------------------------------------------------------------------------
// Generated markdown blocks

/** Plain text (oclif help strings) made safe inside markdown: no accidental emphasis, code or blocks. */
function mdText(text) {
  return String(text).replace(/([\\`*[\]<])/g, '\\$1').replace(/^([#:>]|\d+\.\s)/, '\\$1')
}

/** A plain-text description: paragraphs separated by blank lines; line breaks inside a paragraph kept as spaces. */
function mdParagraphs(text) {
  return String(text).split(/\n\s*\n/).map((p) => p.split('\n').map((l) => l.trim()).filter(Boolean)
    // A line that starts with "- " or "* " is a list item: keep it on its own line.
    .map((l) => (/^[-*]\s/.test(l) ? '\n- ' + mdText(l.slice(2).trim()) : ' ' + mdText(l))).join('').trim()).filter(Boolean)
}

function mdFlagTerm(f) {
  const v = flagValue(f)
  return flagNames(f).map((n) => '`' + n + '`').join(', ') + (v ? ` *${mdText(v)}*` : '')
}

function mdDefinition(term, paragraphs) {
  const body = paragraphs.filter(Boolean)
  if (!body.length) body.push('(no description)')
  return [term, ':   ' + body[0], ...body.slice(1).flatMap((p) => ['', '    ' + p])].join('\n')
}

function synopsisMd(bin, cmds) {
  const lines = cmds.map((c) => {
    const args = c.args.map((a) => {
      const n = `*${a.name.toUpperCase()}*${c.strict ? '' : '...'}`
      return a.required ? n : `\\[${n}\\]`
    })
    const flags = c.flags.length ? ['\\[*flags*\\]'] : []
    return [`**${bin} ${c.name}**`, ...args, ...flags].join(' ')
  })
  lines.push(`**${bin} help** \\[*COMMAND*\\]`, `**${bin} --version**`)
  return lines.join('\\\n')
}

function commandsMd(bin, cmds) {
  if (!cmds.length) return '*No commands are built yet: run `npm run build`.*'
  const out = []
  for (const c of cmds) {
    out.push(`## ${c.name}`, '', usageMd(bin, c), '')
    if (c.summary) out.push(mdText(c.summary), '')
    for (const p of mdParagraphs(c.description)) if (p !== mdText(c.summary)) out.push(p, '')
    if (c.aliases.length) out.push(`Aliases: ${c.aliases.map((a) => '`' + a + '`').join(', ')}.`, '')
    if (c.args.length) {
      out.push('### Arguments', '')
      for (const a of c.args) out.push(mdDefinition(`*${a.name.toUpperCase()}*`, [mdText(a.description || ''), mdText(facts(a, false))]), '')
    }
    const own = c.flags.filter((f) => !f.global)
    const global = c.flags.filter((f) => f.global)
    if (own.length || global.length) {
      out.push('### Flags', '')
      for (const f of own) {
        out.push(mdDefinition(mdFlagTerm(f), [mdText(f.summary || f.description), f.summary && f.description ? mdParagraphs(f.description).join(' ') : '', mdText(facts(f, true))]), '')
      }
      if (global.length) out.push(`Also accepts ${global.map((f) => '`' + flagNames(f).at(-1) + '`').join(', ')} (see OPTIONS).`, '')
    }
    if (c.examples.length) {
      out.push('### Examples', '')
      for (const e of c.examples) {
        if (e.description) out.push(mdText(e.description), '')
        out.push('```', ...e.commands.map((l) => `$ ${l}`), '```', '')
      }
    }
  }
  return out.join('\n').trim()
}

function optionsMd(bin, cmds) {
  const out = ['Every command accepts:', '',
    mdDefinition('`--help`', [`Show the command's help and exit. \`${bin} --help\` lists the commands; \`${bin} help COMMAND\` is the same as \`${bin} COMMAND --help\`.`]), '',
    mdDefinition('`--version`', [`Print ${bin}'s version, platform and Node.js version, and exit (\`${bin} --version\` only).`]), '']
  // Global flags (oclif's helpGroup GLOBAL, e.g. --json from enableJsonFlag), described once here.
  const seen = new Map()
  for (const c of cmds) {
    for (const f of c.flags.filter((g) => g.global)) {
      if (!seen.has(f.name)) seen.set(f.name, {flag: f, commands: []})
      seen.get(f.name).commands.push(c.name)
    }
  }
  for (const {flag, commands} of seen.values()) {
    const who = commands.length === cmds.length ? 'Accepted by every command.' : `Accepted by: ${commands.join(', ')}.`
    out.push(mdDefinition(mdFlagTerm(flag), [mdText(flag.summary || flag.description), who]), '')
  }
  out.push('Flags that belong to one command are listed with it under COMMANDS. ' +
    'A flag takes its value as the next word or after `=` (`--dir /run` or `--dir=/run`).')
  return out.join('\n').trim()
}

function readmeCommandsMd(bin, cmds) {
  if (!cmds.length) return '*No commands are built yet: run `npm run build`.*'
  const out = []
  for (const c of cmds) {
    out.push(`### \`${bin} ${c.name}\``, '')
    if (c.summary) out.push(mdText(c.summary), '')
    out.push('```', usage(bin, c), '```', '')
    const items = c.args.map((a) => `- *${a.name.toUpperCase()}*: ${mdText(a.description || '')}`)
    for (const f of c.flags) {
      const extra = [f.required ? 'required' : '', f.multiple ? 'repeatable' : '',
        f.options && f.options.length ? `one of ${f.options.join(', ')}` : '',
        f.default !== undefined && f.default !== false && f.default !== '' ? `default ${f.default}` : ''].filter(Boolean)
      items.push(`- ${mdFlagTerm(f)}: ${mdText(f.summary || f.description)}${extra.length ? ` (${mdText(extra.join('; '))})` : ''}`)
    }
    if (items.length) out.push(...items, '')
  }
  out.push(`\`${bin} COMMAND --help\` prints the same; the full reference is the man page, [docs/nslocate.1](docs/nslocate.1) (\`man -l docs/nslocate.1\`).`)
  return out.join('\n').trim()
}

/** Links to the docs that exist: the man page, the home page and every docs/*.md, titled by its first heading. */
function docsLinksMd() {
  const dir = path.join(root, 'docs')
  const items = ['- [docs/nslocate.1](docs/nslocate.1): the man page, nslocate(1) (`man -l docs/nslocate.1`); source docs/nslocate.1.md',
    '- [docs/index.html](docs/index.html): this README and the man page as one web page']
  let names = []
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.md') && n !== 'nslocate.1.md').sort()
  } catch {}
  for (const n of names) {
    const text = fs.readFileSync(path.join(dir, n), 'utf8')
    const h = /^#\s+(.+)$/m.exec(parseFrontMatter(text).body)
    items.push(`- [docs/${n}](docs/${n})${h ? `: ${h[1].trim()}` : ''}`)
  }
  return items.join('\n')
}

/** Replace the text between <!-- NAME:start --> and <!-- NAME:end --> (markers kept). */
function replaceBlock(text, name, body, file) {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  if (i < 0 || j < 0 || j < i) {
    throw new DocsError(`${path.relative(root, file)}: the markers ${start} and ${end} are missing or out of order; ` +
      'put them back (on their own lines) where the generated text belongs.')
  }
  const note = name === 'docs' ? 'the files in docs/ (add a docs/*.md with a # title)' : 'oclif.manifest.json (edit commands/*.ts)'
  return text.slice(0, i + start.length) + `\n<!-- Generated by scripts/gen-docs.js from ${note}: do not edit this block. -->\n` +
    body + '\n' + text.slice(j)
}

// ---------------------------------------------------------------------------------------------
// Markdown subset -> block tree

function parseFrontMatter(text) {
  const meta = {}
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text)
  if (!m) return {meta, body: text}
  for (const line of m[1].split('\n')) {
    const kv = /^([\w-]+):\s*(.*)$/.exec(line)
    if (kv) meta[kv[1]] = kv[2].replace(/^(["'])(.*)\1$/, '$2')
  }
  return {meta, body: text.slice(m[0].length)}
}

const RE = {
  heading: /^(#{1,6})\s+(.*?)\s*#*\s*$/,
  fence: /^(\s*)(```|~~~)\s*([\w-]*)\s*$/,
  bullet: /^[-*+]\s+(.*)$/,
  defn: /^:\s{1,4}(.*)$/,
}

function parseBlocks(text) {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n')
  const blocks = []
  let i = 0
  const blank = (l) => l === undefined || !l.trim()
  const startsBlock = (l, next) => RE.heading.test(l) || RE.fence.test(l) || RE.bullet.test(l) ||
    l.trimStart().startsWith('<!--') || (next !== undefined && RE.defn.test(next))
  while (i < lines.length) {
    const line = lines[i]
    if (blank(line)) { i++; continue }
    if (line.trimStart().startsWith('<!--')) {
      while (i < lines.length && !lines[i].includes('-->')) i++
      i++
      continue
    }
    let m
    if ((m = RE.heading.exec(line))) {
      blocks.push({type: 'heading', level: m[1].length, text: m[2]})
      i++
      continue
    }
    if ((m = RE.fence.exec(line))) {
      const [, indent, fence, lang] = m
      const body = []
      i++
      while (i < lines.length && !(lines[i].trim() === fence)) {
        body.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i].trimStart())
        i++
      }
      i++
      blocks.push({type: 'code', lang, text: body.join('\n')})
      continue
    }
    if (RE.bullet.test(line)) {
      const items = []
      while (i < lines.length && (m = RE.bullet.exec(lines[i]))) {
        const body = [m[1]]
        i++
        // Continuation: indented lines, or lazy lines of the same paragraph; blank + indented = new paragraph.
        while (i < lines.length) {
          const l = lines[i]
          if (!blank(l) && /^\s{2,}/.test(l)) body.push(l.replace(/^\s{2,4}/, ''))
          else if (!blank(l) && !RE.bullet.test(l) && !startsBlock(l, lines[i + 1]) && !blank(body.at(-1))) body.push(l)
          else if (blank(l) && /^\s{2,}\S/.test(lines[i + 1] || '')) body.push('')
          else break
          i++
        }
        items.push(parseBlocks(body.join('\n')))
        // A blank line between items keeps the list going.
        if (blank(lines[i]) && RE.bullet.test(lines[i + 1] || '')) i++
      }
      blocks.push({type: 'list', items})
      continue
    }
    if (RE.defn.test(lines[i + 1] || '')) {
      const items = []
      while (i < lines.length && !blank(lines[i]) && RE.defn.test(lines[i + 1] || '')) {
        const term = lines[i].trim()
        const body = [RE.defn.exec(lines[i + 1])[1]]
        i += 2
        while (i < lines.length) {
          const l = lines[i]
          if (!blank(l) && /^\s{4}/.test(l)) body.push(l.slice(4))
          else if (!blank(l) && !/^\s/.test(l) && !startsBlock(l, lines[i + 1]) && !blank(body.at(-1))) body.push(l)
          else if (blank(l) && /^\s{4}\S/.test(lines[i + 1] || '')) body.push('')
          else break
          i++
        }
        items.push({term, body: parseBlocks(body.join('\n'))})
        if (blank(lines[i]) && !blank(lines[i + 1]) && RE.defn.test(lines[i + 2] || '')) i++
      }
      blocks.push({type: 'dl', items})
      continue
    }
    const para = []
    while (i < lines.length && !blank(lines[i]) && (para.length === 0 || !startsBlock(lines[i], lines[i + 1]))) {
      para.push(lines[i].trim())
      i++
    }
    // A line ending in a backslash is a hard line break (CommonMark), kept as BREAK for the inline pass.
    blocks.push({type: 'para', text: para.map((l, k) => (k < para.length - 1 && /(^|[^\\])(\\\\)*\\$/.test(l) ? l.slice(0, -1) + BREAK : l + ' ')).join('').trim()})
  }
  return blocks
}

const BREAK = '\u2028'

// Inline: `code`, **strong**, *em*, [text](url), \x escapes. Returns a node list.
function parseInline(text) {
  const nodes = []
  let buf = ''
  const flush = () => { if (buf) nodes.push({type: 'text', text: buf}); buf = '' }
  let i = 0
  while (i < text.length) {
    const ch = text[i]
    if (ch === BREAK) {
      flush()
      nodes.push({type: 'br'})
      i++
      continue
    }
    if (ch === '\\' && i + 1 < text.length && /[!-/:-@[-`{-~]/.test(text[i + 1])) {
      buf += text[i + 1]
      i += 2
      continue
    }
    if (ch === '`') {
      const ticks = /^`+/.exec(text.slice(i))[0]
      const end = text.indexOf(ticks, i + ticks.length)
      if (end > 0) {
        flush()
        nodes.push({type: 'code', text: text.slice(i + ticks.length, end).replace(/^ (.*) $/, '$1')})
        i = end + ticks.length
        continue
      }
    }
    if (ch === '*') {
      const strong = text.startsWith('**', i)
      const mark = strong ? '**' : '*'
      const end = findClose(text, i + mark.length, mark)
      if (end > i + mark.length && !/\s/.test(text[i + mark.length])) {
        flush()
        nodes.push({type: strong ? 'strong' : 'em', children: parseInline(text.slice(i + mark.length, end))})
        i = end + mark.length
        continue
      }
    }
    if (ch === '[') {
      const m = /^\[((?:\\.|[^\]\\])*)\]\(([^)\s]+)\)/.exec(text.slice(i))
      if (m) {
        flush()
        nodes.push({type: 'link', href: m[2], children: parseInline(m[1])})
        i += m[0].length
        continue
      }
    }
    buf += ch
    i++
  }
  flush()
  return nodes
}

/** Index of the closing emphasis mark (skipping escapes and code spans), or -1. */
function findClose(text, from, mark) {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') { i++; continue }
    if (text[i] === '`') {
      const end = text.indexOf('`', i + 1)
      if (end > 0) { i = end; continue }
    }
    if (text.startsWith(mark, i) && !/\s/.test(text[i - 1])) {
      if (mark === '*' && text[i + 1] === '*') { i++; continue }
      return i
    }
  }
  return -1
}

function plain(nodes) {
  return nodes.map((n) => (n.children ? plain(n.children) : n.type === 'br' ? ' ' : n.text)).join('')
}

// ---------------------------------------------------------------------------------------------
// Block tree -> roff (man(7))

/** Escape text for roff: backslashes, minus signs (so options copy-paste as ASCII '-'). */
function roffEscape(text) {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-')
}

/** A text line must not start with a control character ('.' or '\''). */
function roffLine(line) {
  return /^[.']/.test(line) ? '\\&' + line : line
}

/** Rendered inline text -> text lines, each safe from control characters; line breaks become .br. */
function roffLines(text) {
  return text.split('\n').map((l) => (l === '\0br' ? '.br' : roffLine(l.trim()))).filter(Boolean)
}

/** Argument of a macro: double-quoted, with quotes written as \(dq. */
function roffArg(text) {
  return '"' + text.replace(/"/g, '\\(dq') + '"'
}

function roffInline(nodes, font = 'R') {
  return nodes.map((n) => {
    switch (n.type) {
      case 'text': return roffEscape(n.text.replace(/[^\S\u2028]+/g, ' '))
      case 'br': return '\n\0br\n'  // a request line; roffLines() writes it as .br
      case 'code': return `\\fB${roffEscape(n.text)}\\f${font}`
      case 'strong': return `\\fB${roffInline(n.children, 'B')}\\f${font}`
      case 'em': return `\\fI${roffInline(n.children, 'I')}\\f${font}`
      case 'link': {
        const label = roffInline(n.children, font)
        const href = n.href.replace(/^mailto:/, '')
        return plain(n.children) === href || href.startsWith('#') ? label : `${label} <\\%${roffEscape(href)}>`
      }
      default: return ''
    }
  }).join('')
}

/**
 * Blocks inside a .TP/.IP body or a list item start with no macro (first paragraph) or .IP (later
 * ones) so they keep the item's indent; top-level blocks start with .PP, which resets it.
 */
function roffBlocks(blocks, nested = false) {
  const out = []
  blocks.forEach((b, k) => {
    const lead = nested ? (k === 0 ? [] : ['.IP']) : ['.PP']
    switch (b.type) {
      case 'heading':
        if (b.level === 1) out.push(`.SH ${roffArg(plain(parseInline(b.text)).toUpperCase())}`)
        else if (b.level === 2) out.push(`.SS ${roffArg(roffInline(parseInline(b.text)))}`)
        else out.push(...lead, roffLine(`\\fB${roffInline(parseInline(b.text), 'B')}\\fR`))
        break
      case 'para':
        out.push(...lead, ...roffLines(roffInline(parseInline(b.text))))
        break
      case 'code':
        out.push(...(nested ? (k === 0 ? [] : ['.IP']) : ['.PP', '.RS 4']), '.nf',
          ...b.text.split('\n').map((l) => roffLine(roffEscape(l)) || '\\&'), '.fi', ...(nested ? [] : ['.RE']))
        break
      case 'list':
        // .RS/.RE save and restore the prevailing indent, which .IP would otherwise leave at 2.
        out.push(nested ? '.RS' : '.RS 0')
        for (const item of b.items) {
          out.push('.IP \\(bu 2')
          out.push(...roffBlocks(item, true))
        }
        out.push('.RE')
        break
      case 'dl':
        if (nested) out.push('.RS')
        for (const item of b.items) {
          out.push('.TP', roffLine(roffInline(parseInline(item.term))))
          out.push(...roffBlocks(item.body, true))
        }
        if (nested) out.push('.RE')
        break
    }
  })
  return out
}

function toRoff(meta, blocks, version) {
  const title = (meta.title || 'NSLOCATE').toUpperCase()
  const header = [
    '.\\" Generated by scripts/gen-docs.js from docs/nslocate.1.md and oclif.manifest.json. Do not edit:',
    '.\\" edit docs/nslocate.1.md (prose) or commands/*.ts (commands, flags), then run `npm run docs`.',
    `.TH ${roffArg(title)} ${roffArg(meta.section || '1')} ${roffArg(meta.date || '')} ${roffArg(`nslocate ${version}`)} ${roffArg(meta.manual || 'User Commands')}`,
    // As util-linux's pages (asciidoctor): no hyphenation (flags and paths must stay whole), ragged right.
    '.nh',
    '.ad l',
  ]
  return header.concat(roffBlocks(blocks)).join('\n') + '\n'
}

// ---------------------------------------------------------------------------------------------
// Block tree -> HTML

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function slug(text) {
  return plain(parseInline(text)).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'section'
}

function htmlInline(nodes, link) {
  return nodes.map((n) => {
    switch (n.type) {
      case 'text': return esc(n.text)
      case 'br': return '<br>\n'
      case 'code': return `<code>${esc(n.text)}</code>`
      case 'strong': return `<strong>${htmlInline(n.children, link)}</strong>`
      case 'em': return `<em>${htmlInline(n.children, link)}</em>`
      case 'link': return `<a href="${esc(link(n.href))}">${htmlInline(n.children, link)}</a>`
      default: return ''
    }
  }).join('')
}

/** opts: {shift: heading level offset, prefix: id prefix, link: href rewriter, toc: [] collects h2s} */
function htmlBlocks(blocks, opts) {
  const inl = (t) => htmlInline(parseInline(t), opts.link)
  return blocks.map((b) => {
    switch (b.type) {
      case 'heading': {
        const level = Math.min(6, b.level + opts.shift)
        let id = `${opts.prefix}${slug(b.text)}`
        for (let n = 2; opts.ids.has(id); n++) id = `${opts.prefix}${slug(b.text)}-${n}`
        opts.ids.add(id)
        if (opts.toc && b.level === 1 + (opts.tocLevel || 0)) opts.toc.push({id, text: plain(parseInline(b.text))})
        return `<h${level} id="${id}">${inl(b.text)}</h${level}>`
      }
      case 'para': return `<p>${inl(b.text)}</p>`
      case 'code': return `<pre><code>${esc(b.text)}</code></pre>`
      case 'list': return `<ul>\n${b.items.map((it) => `<li>${tight(it, opts)}</li>`).join('\n')}\n</ul>`
      case 'dl': return `<dl>\n${b.items.map((it) => `<dt>${inl(it.term)}</dt>\n<dd>${tight(it.body, opts)}</dd>`).join('\n')}\n</dl>`
      default: return ''
    }
  }).join('\n')
}

/** A list item or definition of one paragraph is written without <p>. */
function tight(blocks, opts) {
  if (blocks.length === 1 && blocks[0].type === 'para') return htmlInline(parseInline(blocks[0].text), opts.link)
  return htmlBlocks(blocks, {...opts, toc: null})
}

const CSS = `
:root{color-scheme:light dark;--fg:#1d1f21;--bg:#fdfdfc;--muted:#5c6166;--code:#f1f1ef;--line:#dcdcd8;--link:#0b5cad}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e3;--bg:#17181a;--muted:#a3a7ab;--code:#232427;--line:#34363a;--link:#7cb4f0}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif}
header{border-bottom:1px solid var(--line);padding:1rem 1.5rem}
header h1{margin:0;font-size:1.4rem}
header p{margin:.25rem 0 0;color:var(--muted)}
nav{font-size:.9rem;margin-top:.5rem}
nav a{margin-right:.9rem;white-space:nowrap}
main{max-width:58rem;margin:0 auto;padding:1rem 1.5rem 3rem}
a{color:var(--link)}
code,pre{font:14px/1.45 ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace}
code{background:var(--code);padding:.05em .3em;border-radius:3px}
pre{background:var(--code);padding:.75rem 1rem;overflow-x:auto;border-radius:4px}
pre code{padding:0;background:none}
dt{margin-top:.6rem;font-weight:600}
dd{margin-left:1.75rem}
dd p{margin:.2rem 0}
h2{border-bottom:1px solid var(--line);padding-bottom:.2rem;margin-top:2.2rem}
section.man h2{font-size:1.15rem;letter-spacing:.04em}
footer{color:var(--muted);font-size:.85rem;border-top:1px solid var(--line);padding:1rem 1.5rem;text-align:center}
`.trim()

function toHtml({pkg, readmeBlocks, manBlocks, manMeta}) {
  // README links are relative to the repository root; this page sits in docs/.
  const link = (href) => {
    if (/^([a-z]+:|#|\/)/i.test(href)) return href
    return href.startsWith('docs/') ? href.slice('docs/'.length) : `../${href}`
  }
  // The README's first heading and paragraph become the page header.
  const rb = [...readmeBlocks]
  const title = rb[0] && rb[0].type === 'heading' && rb[0].level === 1 ? plain(parseInline(rb.shift().text)) : pkg.name
  const toc = []
  const ids = new Set(['manual'])
  const readme = htmlBlocks(rb, {shift: 0, prefix: '', link, toc, tocLevel: 1, ids})
  const manToc = []
  const man = htmlBlocks(manBlocks, {shift: 1, prefix: 'man-', link: (h) => (/^([a-z]+:|#|\/)/i.test(h) ? h : h.replace(/^docs\//, '')), toc: manToc, tocLevel: 0, ids})
  const manTitle = `${(manMeta.title || 'nslocate').toLowerCase()}(${manMeta.section || '1'})`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="scripts/gen-docs.js">
<title>${esc(title)} ${esc(pkg.version)}</title>
<style>
${CSS}
</style>
</head>
<body>
<!-- Generated by scripts/gen-docs.js from README.md, docs/nslocate.1.md and oclif.manifest.json. Do not edit. -->
<header>
<h1>${esc(title)} <small>${esc(pkg.version)}</small></h1>
<p>${esc(pkg.description || '')}</p>
<nav>${toc.map((t) => `<a href="#${t.id}">${esc(t.text)}</a>`).join(' ')} <a href="#manual">Manual: ${esc(manTitle)}</a></nav>
</header>
<main>
<section class="readme">
${readme}
</section>
<section class="man" id="manual">
<h1>${esc(manTitle)}</h1>
<nav>${manToc.map((t) => `<a href="#${t.id}">${esc(t.text)}</a>`).join(' ')}</nav>
${man}
</section>
</main>
<footer>${esc(pkg.name)} ${esc(pkg.version)}: generated from README.md and docs/nslocate.1.md (also as a man page: <a href="nslocate.1">nslocate.1</a>).</footer>
</body>
</html>
`
}

// ---------------------------------------------------------------------------------------------

function generate() {
  const pkg = loadJson(FILES.pkg, '')
  const manifest = loadJson(FILES.manifest, 'It is made by `oclif manifest` after `tsc`: run `npm run build` first.')
  const bin = (pkg.oclif && pkg.oclif.bin) || pkg.name
  const read = (f) => {
    try {
      return fs.readFileSync(f, 'utf8')
    } catch (error) {
      throw new DocsError(`cannot read ${path.relative(root, f)}: ${error.code || error.message}`)
    }
  }
  const manSourceIn = read(FILES.manSource)
  const {meta} = parseFrontMatter(manSourceIn)
  const order = (meta['command-order'] || '').split(/[\s,]+/).filter(Boolean)
  const cmds = commandModel(manifest, bin, order)

  let manSource = manSourceIn
  manSource = replaceBlock(manSource, 'synopsis', synopsisMd(bin, cmds), FILES.manSource)
  manSource = replaceBlock(manSource, 'commands', commandsMd(bin, cmds), FILES.manSource)
  manSource = replaceBlock(manSource, 'options', optionsMd(bin, cmds), FILES.manSource)
  let readme = replaceBlock(read(FILES.readme), 'commands', readmeCommandsMd(bin, cmds), FILES.readme)
  readme = replaceBlock(readme, 'docs', docsLinksMd(), FILES.readme)

  const manBlocks = parseBlocks(parseFrontMatter(manSource).body)
  const roff = toRoff(meta, manBlocks, pkg.version)
  const html = toHtml({pkg, readmeBlocks: parseBlocks(readme), manBlocks, manMeta: meta})
  return [[FILES.manSource, manSource], [FILES.readme, readme], [FILES.roff, roff], [FILES.html, html]]
}

function main() {
  const check = process.argv.includes('--check')
  const outputs = generate()
  const stale = []
  for (const [file, text] of outputs) {
    let current = null
    try {
      current = fs.readFileSync(file, 'utf8')
    } catch {}
    if (current === text) continue
    stale.push(path.relative(root, file))
    if (!check) fs.writeFileSync(file, text)
  }
  if (check) {
    if (stale.length) {
      console.error(`gen-docs: out of date: ${stale.join(', ')}.\n` +
        'These files are generated from oclif.manifest.json (commands/*.ts) and docs/nslocate.1.md.\n' +
        'Run `npm run build` (or `npm run docs` after a build) and commit the result.')
      process.exit(1)
    }
    console.log(`gen-docs: ${outputs.length} generated files are up to date.`)
  } else if (stale.length) {
    console.log(`gen-docs: wrote ${stale.join(', ')}`)
  }
}

if (require.main === module) {
  try {
    main()
  } catch (error) {
    if (!(error instanceof DocsError)) throw error
    console.error(`gen-docs: ${error.message}`)
    process.exit(1)
  }
}

module.exports = {parseBlocks, parseInline, toRoff, roffEscape, usage, commandModel, generate}
