// The command reference of nslocate's docs, as markdown, from oclif.manifest.json (made from
// commands/*.ts) and the CLI's exit status table (src/cli/exit-status.ts): the blocks that
// scripts/gen-docs.js puts between the generated-block markers of docs/nslocate.1.md and README.md.
// No I/O here: gen-docs.js reads the inputs and renders the result.
'use strict'

/** Plain text (oclif help strings) made inert in markdown. */
const md = (text) => String(text ?? '').replace(/[\\`*[\]<]|^(?:[#:>]|[-+]\s|\d+\.\s)/gm, '\\$&')
const valueOf = (f) => (f.type === 'option' ? f.helpValue || f.options?.join('|') || 'VALUE' : '')
const term = (f) => [f.char && `\`-${f.char}\``, `\`--${f.name}\``].filter(Boolean).join(', ') + (valueOf(f) && ` *${md(valueOf(f))}*`)

function commandModel(manifest, bin, order) {
  const rank = (c) => (order.includes(c.id) ? order.indexOf(c.id) : order.length)
  const visible = Object.values(manifest.commands).filter((c) => !c.hidden)
  visible.sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id))
  return visible.map((c) => {
    const x = (text) => String(text ?? '').replace(/<%=\s*config\.bin\s*%>/g, bin)
    const args = Object.values(c.args).filter((a) => !a.hidden)
    const flags = Object.values(c.flags).filter((f) => !f.hidden)
    for (const a of args) Object.assign(a, {description: x(a.description), usage: a.name.toUpperCase()})
    for (const f of flags) Object.assign(f, {summary: x(f.summary || f.description), global: f.helpGroup === 'GLOBAL'})
    const examples = [c.examples ?? []].flat().map((e) => (typeof e === 'string' ? {command: x(e)} : {description: x(e.description), command: x(e.command)}))
    // A command's own `static usage` (src/cli/usage.ts: run's `-- COMMAND [ARGS...]`, serve's NAMEs) is its synopsis.
    const own = c.usage ? [c.usage].flat()[0].split(' ').slice(1) : null
    return {name: c.id.replace(/:/g, ' '), summary: x(c.summary), description: x(c.description), args, flags, examples, own}
  })
}

/** The usage line, close to oclif's; `style` sets the words in markdown for the man page (else plain). */
function usage(bin, cmd, style = false) {
  const [b, i, p] = style ? [(s) => `**${s}**`, (s) => `*${md(s)}*`, md] : [String, String, String]
  if (cmd.own) return ownUsage(bin, cmd, style)
  const words = [b(`${bin} ${cmd.name}`), ...cmd.args.map((a) => (a.required ? i(a.usage) : p('[') + i(a.usage) + p(']')))]
  const flags = [...cmd.flags.filter((f) => f.global), ...cmd.flags.filter((f) => !f.global)]
  const done = new Set()
  for (const f of flags) {
    if (done.has(f.name)) continue
    // A flag and those it excludes print as one group: [--a A | --b B].
    const group = [f, ...flags.filter((g) => f.exclusive?.includes(g.name) && !done.has(g.name))]
    group.forEach((g) => done.add(g.name))
    const alts = group.map((g) => b(g.char ? `-${g.char}` : `--${g.name}`) + (valueOf(g) && ` ${i(valueOf(g) + (g.multiple ? '...' : ''))}`))
    words.push(f.required && group.length === 1 ? alts[0] : p('[') + alts.join(p(' | ')) + p(']'))
  }
  return words.join(' ')
}

/** "One of: a, b. Default: x. Cannot be combined with --dir." for a flag or argument. */
function facts(item) {
  const out = []
  if (item.options?.length) out.push(`One of: ${item.options.join(', ')}`)
  if (![undefined, false, ''].includes(item.default)) out.push(`Default: ${[item.default].flat().join(', ')}`)
  if (item.required) out.push('Required')
  if (item.multiple) out.push('Repeatable')
  if (item.exclusive?.length) out.push(`Cannot be combined with ${item.exclusive.map((n) => `--${n}`).join(', ')}`)
  return out.map((s) => md(`${s}.`)).join(' ')
}

/** A definition list item (see dlist below): "term", ":   text", later paragraphs indented 4 spaces. */
function definition(dt, paragraphs) {
  const [first = '(no description)', ...more] = paragraphs.filter(Boolean).map((text) => text.replace(/\n/g, '\n    '))
  return [`${dt}\n:   ${first}`, ...more.map((text) => `    ${text}`)].join('\n\n')
}

/**
 * A command's own usage words (`NAME [NAME...] [flags]`, `NAME [flags] -- COMMAND [ARGS...]`) after
 * its name; styled: NAME, COMMAND, ARGS, flags in italics, `--` and brackets as they are.
 */
function ownUsage(bin, cmd, style) {
  if (!style) return [`${bin} ${cmd.name}`, ...cmd.own].join(' ')
  const word = (w) => w.replace(/^(\[?)([A-Za-z]+)((?:\.\.\.)?\]?)$/, (_, open, name, close) => `${md(open)}*${name}*${md(close)}`)
  return [`**${bin} ${cmd.name}**`, ...cmd.own.map((w) => (w === '--' ? '\\-\\-' : word(w)))].join(' ')
}

function synopsisMd(bin, cmds) {
  const lines = cmds.map((c) =>
    c.own ? [ownUsage(bin, c, true)] : [`**${bin} ${c.name}**`, ...c.args.map((a) => (a.required ? `*${a.usage}*` : `\\[*${a.usage}*\\]`)), '\\[*flags*\\]'],
  )
  return [...lines.map((words) => words.join(' ')), `**${bin} help** \\[*COMMAND*\\]`, `**${bin} --version** | **-v**`].join('\\\n')
}

function commandMd(bin, c) {
  const out = [`### ${c.name}`, usage(bin, c, true), md(c.summary), ...c.description.split(/\n\s*\n/).map((p) => md(p.replace(/\s*\n\s*/g, ' ').trim()))]
  if (c.args.length) out.push('#### Arguments', ...c.args.map((a) => definition(`*${a.name.toUpperCase()}*`, [md(a.description), facts(a)])))
  if (c.flags.length) out.push('#### Flags', ...c.flags.filter((f) => !f.global).map((f) => definition(term(f), [md(f.summary), facts(f)])))
  const globals = c.flags.filter((f) => f.global).map((f) => `\`--${f.name}\``)
  if (globals.length) out.push(`Also accepts ${globals.join(', ')} (see OPTIONS).`)
  if (c.examples.length) out.push('#### Examples')
  for (const e of c.examples) out.push(...(e.description ? [md(e.description)] : []), `\`\`\`\n$ ${e.command}\n\`\`\``)
  return out.filter(Boolean).join('\n\n')
}

/** Flags several commands share (oclif's helpGroup GLOBAL, e.g. --json), described once under OPTIONS. */
function optionsMd(cmds) {
  const names = new Set(cmds.flatMap((c) => c.flags.filter((f) => f.global).map((f) => f.name)))
  return [...names].map((name) => {
    const users = cmds.filter((c) => c.flags.some((f) => f.global && f.name === name))
    const who = users.length === cmds.length ? 'every command' : users.map((c) => c.name).join(', ')
    return definition(term(users[0].flags.find((f) => f.name === name)), [md(users[0].flags.find((f) => f.name === name).summary), `Accepted by: ${who}.`])
  })
}

function readmeMd(bin, cmds) {
  return cmds.map((c) => {
    const items = [
      ...c.args.map((a) => `- *${a.name.toUpperCase()}*: ${md(a.description)}`),
      ...c.flags.map((f) => `- ${term(f)}: ${md(f.summary)} ${facts(f)}`.trim()),
    ]
    return [`### \`${bin} ${c.name}\``, md(c.summary), `\`\`\`\n${usage(bin, c)}\n\`\`\``, items.join('\n')].join('\n\n')
  })
}

/** EXIT STATUS: a subsection per command, from the CLI's table (src/cli/exit-status.ts, contract 2). */
function exitStatusMd({EXIT_STATUS: table, EXIT_STATUS_INTRO: intro}, order) {
  const ids = [...order.filter((id) => table[id]), ...Object.keys(table).filter((id) => !order.includes(id))]
  const sections = ids.map((id) => {
    const rows = table[id].rows.map((r) => definition(r.term ?? `\`${r.status}\``, r.meaning.split(/\n\s*\n/)))
    return [`### ${id}`, table[id].intro, ...rows, ...(table[id].notes ?? [])].filter(Boolean).join('\n\n')
  })
  return [intro, ...sections].filter(Boolean)
}

/** Every generated block: {man: {synopsis, commands, options, 'exit-status'}, readme: {commands}}. */
function referenceBlocks(manifest, bin, order, exitStatus) {
  const cmds = commandModel(manifest, bin, order)
  const man = {
    synopsis: synopsisMd(bin, cmds),
    commands: cmds.map((c) => commandMd(bin, c)),
    options: optionsMd(cmds),
    'exit-status': exitStatusMd(exitStatus, order),
  }
  return {man, readme: {commands: readmeMd(bin, cmds)}}
}

module.exports = {referenceBlocks}
