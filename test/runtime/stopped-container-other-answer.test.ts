/**
 * An engine's answer settles a container's state only when it is about that container
 * (src/runtime/asked.ts, one rule for Docker and Podman): its Id is 64 hex digits, and its Name is
 * the name asked or its Id starts with the id asked. A confused engine, a proxy in between or a
 * socket that lies, answering about another container, gives DOCKER (exit 4) on every command,
 * never `stopped` (3) or "reached" (`wait --for stopped`, 0), and nothing is signalled.
 *
 * 1. A fake Docker engine (test/helpers/fake-engine.ts, root's socket in a 0700 directory) that
 *    answers `liar` with another, exited container, and `short` with an Id that is not one. The
 *    controls: the same engine's answers by name (`/byname`) and by id prefix are taken.
 * 2. On the real Docker engine: a running container `victim` serves `app`; the fake engine
 *    answers `decoy` with victim's own inspect answer (its Id, Name, State.Pid). Without the rule,
 *    `signal app TERM --container decoy` would reach victim's `app` (its init has victim's id in
 *    its cgroup). With it: exit 4, and `app` in victim is the same process before and after.
 *    The container carries nslocate.test=1 and this file's run label; removed by id in afterAll.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {cli, tmpdir, until, jsonOf} from '../helpers/cli'
import {APP_IMAGE, RUN_ID, describeWithEngine, docker, ensureImages, testLabels} from '../helpers/engine'
import {FakeEngine, startFakeEngine} from '../helpers/fake-engine'

/** No runtime but the fake engine (this machine has Docker's default socket besides). */
const CLEAN = {DOCKER_HOST: undefined, CONTAINER_HOST: undefined, CONTAINER_RUNTIME_ENDPOINT: undefined, XDG_RUNTIME_DIR: undefined}
const OTHER = 'b'.repeat(64)
const KNOWN = 'c'.repeat(64)
const EXITED = {Status: 'exited', Running: false, Pid: 0, ExitCode: 0}

/** A fake engine on a socket in a new 0700 directory: `answers[ref]` for GET /containers/REF/json, 404 for any other. */
async function engineAnswering(answers: Record<string, unknown>): Promise<{engine: FakeEngine; env: NodeJS.ProcessEnv; dir: string}> {
  const dir = tmpdir('nslocate-other-answer-')
  fs.chmodSync(dir, 0o700)
  const engine = await startFakeEngine(path.join(dir, 'docker.sock'), (_method, url) => {
    const ref = decodeURIComponent(/\/containers\/([^/?]+)\/json/.exec(url)?.[1] ?? '')
    return ref in answers ? {kind: 'json', body: answers[ref]} : {kind: 'json', status: 404, body: {message: `No such container: ${ref}`}}
  })
  return {engine, env: {...CLEAN, DOCKER_HOST: `unix://${engine.socket}`}, dir}
}

describe('a Docker engine that answers about another container: exit 4 on every command, never stopped', () => {
  let engine: FakeEngine
  let env: NodeJS.ProcessEnv
  let dir: string
  let at: string

  beforeAll(async () => {
    ;({engine, env, dir} = await engineAnswering({
      liar: {Id: OTHER, Name: '/other', State: EXITED},
      short: {Id: 'abc123', Name: '/short', State: EXITED},
      byname: {Id: KNOWN, Name: '/byname', State: EXITED},
      // Docker resolves `/byname` as `byname` (its names are stored with the "/").
      '/byname': {Id: KNOWN, Name: '/byname', State: EXITED},
      [KNOWN.slice(0, 12)]: {Id: KNOWN, Name: '/byname', State: EXITED},
    }))
    at = `the Docker engine at unix://${engine.socket}`
  })
  afterAll(async () => {
    await engine?.close()
    fs.rmSync(dir, {recursive: true, force: true})
  })

  test('find, wait --for stopped, signal, list: DOCKER (4), the answer named, not its state', async () => {
    const message = `${at} answered inspect container liar for another container ("other" ${OTHER.slice(0, 12)}): not used`
    for (const args of [['find', 'app'], ['wait', 'app', '--for', 'stopped', '--timeout', '2s'], ['signal', 'app', 'TERM'], ['list']]) {
      const r = await cli([...args, '--container', 'liar', '--json'], {env})
      expect({args, status: r.status, json: jsonOf(r)}).toEqual({args, status: 4, json: {error: {code: 'DOCKER', message}}})
      // The text: that one line, no hint (nslocate has no advice for an engine that answers wrongly).
      const t = await cli([...args, '--container', 'liar'], {env})
      expect({args, status: t.status, stdout: t.stdout, stderr: t.stderr}).toEqual({args, status: 4, stdout: '', stderr: `nslocate: ${message}\n`})
    }
  }, 60_000)

  test('an Id that is not 64 hex digits: DOCKER (4), never stopped', async () => {
    const r = await cli(['find', 'app', '--container', 'short', '--json'], {env})
    expect({status: r.status, json: jsonOf(r)}).toEqual({
      status: 4,
      json: {
        error: {code: 'DOCKER', message: `${at} answered inspect container short with Id "abc123", not 64 hex digits: not used`},
      },
    })
  }, 30_000)

  test('controls: answers about the container asked (its name, with Docker\'s "/"; a prefix of its id) are taken: stopped (3)', async () => {
    for (const ref of ['byname', '/byname', KNOWN.slice(0, 12)]) {
      const r = await cli(['find', 'app', '--container', ref, '--json'], {env})
      expect({ref, status: r.status}).toEqual({ref, status: 3})
      expect(jsonOf(r)).toMatchObject({state: 'stopped', reasons: ['container_not_running'], container: {id: KNOWN, name: 'byname', runtime: 'docker'}})
    }
  }, 30_000)
})

describeWithEngine("a running container's answer given for another name: nothing is signalled", () => {
  const ids: string[] = []
  const name = `nsl-other-answer-${RUN_ID}`.replace(/[^a-zA-Z0-9_.-]/g, '-')
  let fake: {engine: FakeEngine; env: NodeJS.ProcessEnv; dir: string}
  /** Root's own Docker, where victim runs. */
  const real = {env: CLEAN}

  beforeAll(async () => {
    await ensureImages()
    const c = await docker().createContainer({
      Image: APP_IMAGE,
      name,
      Cmd: ['run', 'app', '--', 'sleep', '1000'],
      Labels: testLabels({'nslocate.test.other-answer': '1'}),
      NetworkDisabled: true,
      HostConfig: {NetworkMode: 'none'},
    })
    ids.push(c.id)
    await c.start()
    const inspected = await c.inspect()
    const pidfile = `/proc/${inspected.State.Pid}/root/run/nslocate/app.pid`
    await until(() => fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim() !== '', `app's pidfile in ${name}`, 20_000)
    // Asked about `decoy`, the fake engine gives victim's own answer: a running container, its init's pid.
    fake = await engineAnswering({decoy: inspected})
  }, 120_000)

  afterAll(async () => {
    await fake?.engine.close()
    if (fake) fs.rmSync(fake.dir, {recursive: true, force: true})
  }, 60_000)

  test('signal app TERM --container decoy: exit 4, and app in the running container is the same process', async () => {
    const before = await cli(['find', 'app', '--container', name, '--json'], {env: real.env})
    expect(before.status).toBe(0)
    const app = jsonOf(before)
    expect(app).toMatchObject({state: 'running', container: {id: ids[0], name}})

    const message = `the Docker engine at unix://${fake.engine.socket} answered inspect container decoy for another container ("${name}" ${ids[0].slice(0, 12)}): not used`
    const s = await cli(['signal', 'app', 'TERM', '--container', 'decoy'], {env: fake.env})
    expect({status: s.status, stdout: s.stdout, stderr: s.stderr}).toEqual({status: 4, stdout: '', stderr: `nslocate: ${message}\n`})
    const j = await cli(['signal', 'app', 'KILL', '--container', 'decoy', '--json'], {env: fake.env})
    expect({status: j.status, json: jsonOf(j)}).toEqual({status: 4, json: {error: {code: 'DOCKER', message}}})
    expect(fake.engine.requests.filter((q) => q.includes('/containers/decoy/json')).length).toBeGreaterThanOrEqual(2)

    // Nothing reached it: the same process (pid and pidfs id), still running, the container too.
    const after = await cli(['find', 'app', '--container', name, '--json'], {env: real.env})
    expect(after.status).toBe(0)
    expect(jsonOf(after)).toMatchObject({state: 'running', pid: app.pid, pidfd_id: app.pidfd_id})
    expect((await docker().getContainer(ids[0]).inspect()).State.Running).toBe(true)
  }, 60_000)
})
