/** The pure rules of issue 12: durations and their bound, real-time signal names, which cgroups are a service's own. */
import {notOwnCgroup} from '../../src/signal/cgroup-own'
import {MAX_DURATION_MS, parseDuration, parseRetry, parseSignal} from '../../src/signal/parse'

test('durations: any size up to 100000h; above is a usage error', () => {
  expect(parseDuration('1000h')).toBe(3_600_000_000)
  expect(parseDuration('100000h')).toBe(MAX_DURATION_MS)
  for (const bad of ['100001h', '1e400', '99999999999999999999999']) expect(() => parseDuration(bad)).toThrow(/duration/)
  expect(parseRetry('TERM/1000h/KILL/5', parseSignal('TERM'))).toEqual([
    {kind: 'signal', sig: {name: 'TERM', number: 15}},
    {kind: 'wait', ms: 3_600_000_000},
    {kind: 'signal', sig: {name: 'KILL', number: 9}},
    {kind: 'wait', ms: 5000},
  ])
  expect(() => parseRetry('TERM/1/-0/1', parseSignal('TERM'))).toThrow(/signal 0/)
})

test('real-time signals are named as kill -l names them', () => {
  const names = Array.from({length: 31}, (_, i) => parseSignal(String(34 + i)).name)
  expect(names.slice(0, 3)).toEqual(['RTMIN', 'RTMIN+1', 'RTMIN+2'])
  expect(names[15]).toBe('RTMIN+15')
  expect(names[16]).toBe('RTMAX-14')
  expect(names.slice(-2)).toEqual(['RTMAX-1', 'RTMAX'])
  for (const [input, n] of [
    ['RTMIN+0', 34],
    ['sigrtmin+30', 64],
    ['RTMAX-30', 34],
    ['SIGRTMAX-0', 64],
  ] as const)
    expect(parseSignal(input).number).toBe(n)
  for (const bad of ['RTMIN+31', 'RTMAX-31', 'RTMIN-1', 'RTMAX+1', '32', '33', '65']) expect(() => parseSignal(bad)).toThrow(/invalid signal/)
})

test("a cgroup is the service's own only when it is a container's or a unit's", () => {
  const id = 'a'.repeat(64)
  for (const own of [
    `/docker/${id}`,
    `/system.slice/docker-${id}.scope`,
    `/libpod_parent/libpod-${id}`,
    `/machine.slice/libpod-${id}.scope/container`,
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-${id}.scope`,
    '/system.slice/nginx.service',
    '/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service',
    '/system.slice/run-r1.scope',
    '/system.slice/postgresql@15-main.service/sub',
  ]) {
    expect({own, why: notOwnCgroup(own)}).toEqual({own, why: null})
  }
  for (const shared of [
    '/',
    '/system.slice',
    '/user.slice/user-1000.slice',
    '/init.scope',
    '/user.slice/user-1000.slice/session-3.scope',
    '/user.slice/user-1000.slice/user@1000.service',
    '/process_api/9ea5e49083484bdc5ca0cd5c84057e77',
    '/system.slice/foo.service/x.slice',
    '/docker',
  ]) {
    expect({shared, why: notOwnCgroup(shared)}).not.toEqual({shared, why: null})
  }
})
