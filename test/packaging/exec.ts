/** Subprocesses for the packaging tier: output captured, a time limit, and the evidence in the error. */
import {execFile} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

export const ROOT = path.resolve(__dirname, '../..')

export interface Run {
  status: number
  stdout: string
  stderr: string
}

/** Run a program; resolves with its status (never rejects on a non-zero exit, only on a timeout). */
export function run(file: string, args: string[], opts: {cwd?: string; env?: NodeJS.ProcessEnv; replaceEnv?: boolean; timeoutMs?: number} = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // replaceEnv: opts.env is the whole environment (no variable of this process leaks in).
    execFile(file, args, {cwd: opts.cwd ?? ROOT, env: opts.replaceEnv ? opts.env : {...process.env, ...opts.env}, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20},
      (error, stdout, stderr) => {
        if (error && (error.killed || error.signal)) {
          reject(new Error(`${file} ${args.join(' ')}: killed (${error.signal}) after ${opts.timeoutMs ?? 120_000} ms\n${stdout}${stderr}`))
          return
        }
        resolve({status: error ? Number(error.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr)})
      })
  })
}

/** Like run(), but a non-zero status throws with everything the program printed. */
export async function ok(file: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(file, args, opts)
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
  return r.stdout
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nslocate-${prefix}-`))
}

/** Visible commands of the built manifest: id (find, containers:list) and how users type it. */
export function manifestCommands(): {id: string; name: string; flags: string[]}[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))
  return Object.values(manifest.commands as Record<string, any>).filter((c) => !c.hidden).map((c) => ({
    id: c.id,
    name: c.id.replace(/:/g, ' '),
    flags: Object.values(c.flags as Record<string, any>).filter((f) => !f.hidden).map((f) => f.name),
  })).sort((a, b) => a.id.localeCompare(b.id))
}

/** The root help lists each command (or its topic) on a line of its own: "  find    Is service..." */
export function expectHelpListsCommands(help: string): void {
  const section = help.slice(help.indexOf('COMMANDS'))
  expect(help).toContain('COMMANDS')
  for (const c of manifestCommands()) {
    const top = c.id.split(':')[0]
    expect(section).toMatch(new RegExp(`^ {2}${top.replace(/[-.]/g, '\\$&')}\\s`, 'm'))
  }
}

/** The commands of the README's Install section, one per way: `npm`, `deb`, `image` (the tests run these). */
export function readmeInstallCommands(): {npm: string; deb: string; image: string} {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Install\n')
  if (start < 0) throw new Error('README.md has no "## Install" section')
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1))
  const blocks = [...section.matchAll(/^ *```\n *(.+)\n *```$/gm)].map((m) => m[1])
  if (blocks.length !== 3) throw new Error(`README.md's Install section has ${blocks.length} one-line code blocks, not 3 (npm, deb, image): ${blocks.join(' | ')}`)
  return {npm: blocks[0], deb: blocks[1], image: blocks[2]}
}

/** The example after the README's image command (Install): `docker run ... nslocate:local find app ...`. */
export function readmeImageExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Install\n')
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1))
  const image = section.indexOf('bash scripts/build-image.sh')
  const m = image < 0 ? null : section.slice(image).match(/`(docker run [^`]+)`/)
  if (!m) throw new Error("README.md's Install section has no `docker run ...` example after the image command")
  return m[1]
}
