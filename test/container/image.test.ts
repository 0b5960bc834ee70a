/**
 * The image users run: built from the project's Dockerfile on the local base (nslocate-base:local:
 * this machine's node + busybox, FROM scratch, nothing pulled), started through testcontainers.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import type {StartedTestContainer} from 'testcontainers'

import {Images, ROOT, describeWithEngine, docker, ensureImages, streamText, testLabels, testcontainers} from '../helpers/engine'

/** Every visible command, as the root help lists it (a topic for `containers:list`). */
function commandNames(): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))
  const ids = Object.values(manifest.commands as Record<string, {id: string; hidden?: boolean}>)
    .filter((c) => !c.hidden)
    .map((c) => c.id.split(':')[0])
  return [...new Set(ids)].sort()
}

/** Run the image once with these arguments and return its output and exit code; the container is removed. */
async function runOnce(image: string, args: string[], entrypoint?: string[]): Promise<{output: string; exitCode: number}> {
  const {GenericContainer, Wait} = testcontainers()
  let container = new GenericContainer(image).withLabels(testLabels()).withCommand(args).withWaitStrategy(Wait.forOneShotStartup()).withStartupTimeout(60_000)
  if (entrypoint) container = container.withEntrypoint(entrypoint)
  let started: StartedTestContainer | undefined
  try {
    started = await container.start()
    const output = await streamText(await started.logs())
    const info = await docker().getContainer(started.getId()).inspect()
    return {output, exitCode: info.State.ExitCode}
  } finally {
    // Also when start() failed: describeWithEngine's afterAll removes this file's containers by label.
    await started?.stop({remove: true, timeout: 0})
  }
}

describeWithEngine('container image (Dockerfile on nslocate-base:local)', () => {
  let images: Images

  beforeAll(async () => {
    images = await ensureImages()
  }, 10 * 60_000)

  test('is built from the Dockerfile on the local base, with nslocate as its entrypoint', async () => {
    const app = await docker().getImage(images.app).inspect()
    const base = await docker().getImage(images.base).inspect()
    // The base's layers are the first layers of the app image: it was really built FROM the local base.
    expect(app.RootFS.Layers?.slice(0, base.RootFS.Layers?.length)).toEqual(base.RootFS.Layers)
    expect(app.Config.Entrypoint).toEqual(['nslocate'])
    expect(app.Config.Labels).toMatchObject({'nslocate.image': 'app', 'org.opencontainers.image.title': 'nslocate'})
    expect(app.Config.Labels['nslocate.inputs']).toMatch(/^[0-9a-f]{16}$/)
  })

  test('`nslocate --help` in a container lists every command of the manifest', async () => {
    const {output, exitCode} = await runOnce(images.app, ['--help'])
    expect(exitCode).toBe(0)
    expect(output).toContain('USAGE')
    const listed = output.slice(output.indexOf('COMMANDS'))
    for (const name of commandNames()) expect(listed).toMatch(new RegExp(`^ {2}${name.replace(/[-.]/g, '\\$&')}\\s`, 'm'))
  }, 120_000)

  test('the native addon loads in the image (N-API, built on the host)', async () => {
    const {output, exitCode} = await runOnce(
      images.app,
      ['-e', "const a = require('/opt/nslocate/build/nslocate.node'); console.log(Object.keys(a).sort().join(' '))"],
      ['node'],
    )
    expect(exitCode).toBe(0)
    expect(output).toMatch(/\bgetlk\b/)
    expect(output).toMatch(/\bpidfdOpen\b/)
  }, 120_000)

  test('leaves no container of this file behind', async () => {
    const left = await docker().listContainers({all: true, filters: {label: [`nslocate.test.run=${testLabels()['nslocate.test.run']}`]}})
    expect(left.map((c) => `${c.Id.slice(0, 12)} ${c.Image} ${c.State}`)).toEqual([])
  })
})
