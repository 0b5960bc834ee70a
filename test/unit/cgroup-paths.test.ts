/**
 * Container identity from cgroup paths (src/proc/parse-cgroup.ts), table-tested over the samples in
 * fixtures/cgroup-paths/: upstream.json (real /proc/PID/cgroup texts and paths published in other
 * projects' tests and issues, each with its URL), captured.json (captured on this machine from real
 * Docker, Podman and containerd with the command that produced each) and layouts.json (layouts read
 * from the runtimes' source, and constructed look-alikes that must not match).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {containerFromCgroup, containerInPath, parseCgroup} from '../../src/proc/parse-cgroup'

interface Expect {
  id: string
  runtime: string
  podUid?: string
}
interface Sample {
  name: string
  source: string
  cgroup?: string
  path?: string
  expect: Expect | null
  why?: string
}

const dir = path.join(__dirname, '..', '..', 'fixtures', 'cgroup-paths')
const load = (file: string): Sample[] => (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {samples: Sample[]}).samples
const files = ['upstream.json', 'captured.json', 'layouts.json']
const all = files.flatMap((f) => load(f).map((s) => ({...s, file: f})))

describe('every sample names its source', () => {
  test.each(all.map((s) => [s.file, s.name, s]))('%s: %s', (_f, _n, s) => {
    expect(s.source.length).toBeGreaterThan(10)
    if (s.file === 'upstream.json') expect(s.source).toMatch(/^https:\/\/github\.com\//)
    if (s.file === 'captured.json') expect(s.source).toMatch(/^captured on this machine/)
    expect(Boolean(s.cgroup) !== Boolean(s.path)).toBe(true)
    if (s.expect === null) expect(s.why).toBeTruthy()
  })
})

describe('containerFromCgroup over the samples', () => {
  const withText = all.filter((s) => s.cgroup)
  test.each(withText.map((s) => [s.file, s.name, s]))('%s: %s', (_f, _n, s) => {
    const lines = parseCgroup(s.cgroup as string)
    expect(lines.length).toBeGreaterThan(0)
    const got = containerFromCgroup(lines)
    if (s.expect === null) {
      expect(got).toBeNull()
      return
    }
    expect(got).toEqual({
      id: s.expect.id,
      name: null,
      runtime: s.expect.runtime,
      cgroup: expect.any(String),
      ...(s.expect.podUid ? {podUid: s.expect.podUid} : {}),
    })
    // the path it reports is one of the file's own lines, and that line alone names the same container
    expect(lines.map((l) => l.path)).toContain(got?.cgroup)
    expect(containerInPath(got?.cgroup as string)?.id).toBe(s.expect.id)
  })
})

describe('a bare path, as the v2 line and as a v1 line', () => {
  const bare = all.filter((s) => s.path)
  test.each(bare.map((s) => [s.file, s.name, s]))('%s: %s', (_f, _n, s) => {
    const p = s.path as string
    for (const text of [`0::${p}\n`, `4:memory:${p}\n`, `1:name=systemd:${p}\n0::/\n`]) {
      const got = containerFromCgroup(parseCgroup(text))
      if (s.expect === null) expect(got).toBeNull()
      else expect(got).toEqual({id: s.expect.id, name: null, runtime: s.expect.runtime, cgroup: p, ...(s.expect.podUid ? {podUid: s.expect.podUid} : {})})
    }
  })
})

describe('what the table must cover', () => {
  // Each layout the issue names has at least one real (captured or upstream) sample that finds it.
  const real = all.filter((s) => s.file !== 'layouts.json')
  const text = (s: Sample) => s.cgroup ?? s.path ?? ''
  test.each([
    ['cri-containerd-ID.scope', /cri-containerd-[0-9a-f]{64}\.scope/, 'containerd'],
    ['crio-ID.scope', /crio-[0-9a-f]{64}\.scope/, 'cri-o'],
    ['libpod-ID (Podman)', /libpod-[0-9a-f]{64}/, 'podman'],
    ['docker-ID.scope', /docker-[0-9a-f]{64}\.scope/, 'docker'],
    ['/docker/ID', /\/docker\/[0-9a-f]{64}/, 'docker'],
    ['kubepods systemd driver', /kubepods-[a-z]+-pod[0-9a-f_]+\.slice\//, null],
    ['kubepods cgroupfs driver', /\/kubepods\/[a-z]+\/pod[0-9a-f-]+\//, null],
    ['kubepods cgroupfs driver, Guaranteed (no QoS level)', /\/kubepods\/pod[0-9a-f-]+\/[0-9a-f]{64}/, 'kubernetes'],
    ['CRI-O on cgroupfs (crio-ID under the pod)', /\/pod[0-9a-f-]+\/crio-[0-9a-f]{64}$/m, 'cri-o'],
    ['the unconverted slice:cri-containerd:ID form', /\.slice:cri-containerd:[0-9a-f]{64}/, 'containerd'],
    ["containerd's default /default/ID", /:\/default\/[0-9a-f]{64}$/m, 'containerd'],
    ['Docker in Docker', /\/docker\/[0-9a-f]{64}\/docker\/[0-9a-f]{64}/, 'docker'],
    ['a cgroup v1 file', /^\d*[1-9]:[^:]+:\//m, null],
    ['a cgroup v2 line', /^0::\//m, null],
  ])('%s', (_what, re, runtime) => {
    const hits = real.filter((s) => re.test(text(s)) && s.expect !== null && (runtime === null || s.expect.runtime === runtime))
    expect(hits.length).toBeGreaterThan(0)
  })

  test('negatives are there: a user slice, a 63-hex id, a look-alike, a pod cgroup, a monitor', () => {
    const names = all.filter((s) => s.expect === null).map((s) => s.name)
    for (const want of [/user's login session/, /63 hex/, /docker-ID without \.scope/, /pod's own cgroup/, /conmon/]) {
      expect(names.some((n) => want.test(n))).toBe(true)
    }
  })
})

describe('decisions, one case each', () => {
  const id = (c: string) => c.repeat(64)
  test('the innermost of nested containers', () => {
    expect(containerInPath(`/docker/${id('a')}/docker/${id('b')}`)).toEqual({id: id('b'), runtime: 'docker'})
  })
  test("a pod uid only for a container directly in the pod's cgroup", () => {
    expect(containerInPath(`/kubepods/burstable/pod01234567-89ab-cdef-0123-456789abcdef/${id('c')}`)).toEqual({
      id: id('c'),
      runtime: 'kubernetes',
      podUid: '01234567-89ab-cdef-0123-456789abcdef',
    })
    expect(containerInPath(`/kubepods/burstable/pod01234567-89ab-cdef-0123-456789abcdef/x/${id('c')}`)).toBeNull()
  })
  test('a pod component counts only under a kubepods component', () => {
    expect(containerInPath(`/pod01234567-89ab-cdef-0123-456789abcdef/${id('d')}`)).toBeNull()
  })
  test('the v2 line wins over v1 lines that disagree', () => {
    const text = `4:memory:/docker/${id('e')}\n0::/system.slice/docker-${id('f')}.scope\n`
    expect(containerFromCgroup(parseCgroup(text))?.id).toBe(id('f'))
  })
  test("containerd's default layout: only its own namespaces, exactly two components", () => {
    expect(containerInPath(`/default/${id('1')}`)).toEqual({id: id('1'), runtime: 'containerd'})
    expect(containerInPath(`/k8s.io/${id('2')}`)).toEqual({id: id('2'), runtime: 'containerd'})
    expect(containerInPath(`/libpod_parent/${id('3')}`)).toBeNull()
    expect(containerInPath(`/x/default/${id('4')}`)).toBeNull()
  })
})
