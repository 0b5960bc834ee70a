/**
 * src/runtime/cri-proto.ts: the CRI definitions nslocate embeds are the published ones, trimmed and
 * nothing else (fixtures/cri/trim-proto.js over fixtures/cri/api.proto, k8s.io/cri-api v0.36.3),
 * they load into a RuntimeService client with exactly the calls used, and loading the CRI backend
 * does not load gRPC until a call is made.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {CRI_PROTO, CRI_RPCS, loadCri} from '../../src/runtime/cri-proto'
import {ROOT} from '../helpers/paths'

const {trim, RPCS} = require(path.join(ROOT, 'fixtures/cri/trim-proto.js')) as {trim: (s: string) => string; RPCS: string[]}

test('CRI_PROTO is fixtures/cri/trim-proto.js applied to the published api.proto, byte for byte', () => {
  const upstream = fs.readFileSync(path.join(ROOT, 'fixtures/cri/api.proto'), 'utf8')
  expect(upstream).toContain('package runtime.v1;')
  expect(upstream).toContain('option go_package = "k8s.io/cri-api/pkg/apis/runtime/v1";')
  expect(CRI_PROTO).toBe(trim(upstream))
  expect(RPCS).toEqual([...CRI_RPCS])
})

test('every kept definition appears in api.proto as it is (comments aside)', () => {
  const upstream = fs
    .readFileSync(path.join(ROOT, 'fixtures/cri/api.proto'), 'utf8')
    .replace(/\/\/.*$/gm, '')
    .split('\n')
    .map((l) => l.trimEnd())
  for (const line of CRI_PROTO.split('\n').filter((l) => l.trim() !== '' && l !== '}' && !l.startsWith('service RuntimeService'))) {
    expect(upstream).toContain(line)
  }
})

test('loadCri(): a RuntimeService client with exactly the calls used, at their gRPC paths', () => {
  const {RuntimeService} = loadCri()
  const service = RuntimeService.service
  expect(Object.keys(service).sort()).toEqual([...CRI_RPCS].sort())
  for (const rpc of CRI_RPCS) {
    expect(service[rpc]).toMatchObject({path: `/runtime.v1.RuntimeService/${rpc}`, requestStream: false, responseStream: false})
  }
  // Round trip of the one field nslocate reads the pid from: info["info"] (map<string,string>).
  const m = service.ContainerStatus
  const bytes = m.responseSerialize({status: {id: 'ab', state: 1}, info: {info: '{"pid":42}'}})
  expect(m.responseDeserialize(bytes)).toMatchObject({status: {id: 'ab', state: 1}, info: {info: '{"pid":42}'}})
})

test('loading the CRI backend does not load gRPC (only a call does)', () => {
  const cri = path.join(ROOT, 'dist/src/runtime/cri.js')
  expect(fs.existsSync(cri)).toBe(true)
  const code = `
    require(${JSON.stringify(cri)})
    const grpc = () => Object.keys(require.cache).filter((k) => /@grpc|protobufjs/.test(k)).length
    const before = grpc()
    require(${JSON.stringify(path.join(ROOT, 'dist/src/runtime/cri-proto.js'))}).loadCri()
    console.log(JSON.stringify({before, after: grpc()}))`
  const r = spawnSync(process.execPath, ['-e', code], {encoding: 'utf8', cwd: ROOT})
  expect(r.stderr).toBe('')
  const {before, after} = JSON.parse(r.stdout)
  expect(before).toBe(0)
  expect(after).toBeGreaterThan(0)
})
