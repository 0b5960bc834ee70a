/**
 * The CHASE_SAFE walk's kernel half (native/nslocate.c walkDirs) and its /proc/self/fd twin
 * (src/kernel/reopen.ts procWalkDirs, used before any addon may be loaded) answer alike, and the
 * one walk (src/kernel/walk.ts) keeps ".." and absolute links inside its root.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {procWalkDirs} from '../../src/kernel/reopen'
import {RawWalk, WalkDirs, WalkError, walk} from '../../src/kernel/walk'
import {walkDirs} from '../../src/native/binding'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

let root: string
beforeAll(() => {
  root = tempDir('nslocate-walk-')
  fs.mkdirSync(path.join(root, 'a', 'b'), {recursive: true})
  fs.writeFileSync(path.join(root, 'a', 'file'), 'x')
  fs.symlinkSync('../up', path.join(root, 'a', 'rel'))
  fs.symlinkSync('/a/b', path.join(root, 'abs'))
  fs.symlinkSync('loop2', path.join(root, 'loop1'))
  fs.symlinkSync('loop1', path.join(root, 'loop2'))
})

/** The answer without its descriptors (closed here), for comparing the two kernels. */
function shape(r: RawWalk) {
  for (const fd of r.fds) fs.closeSync(fd)
  return {count: r.fds.length, ids: r.ids, next: r.next, stop: r.stop, errno: r.errno, target: r.target}
}

test.each([
  [['a', 'b'], 0],
  [['a', 'rel', 'x'], 1],
  [['a', 'file', 'x'], 2],
  [['a', 'nope', 'x'], 3],
  [['a', '..'], 3],
  [['a', 'b/c'], 3],
] as Array<[string[], number]>)('native walkDirs and the /proc/self/fd steps agree on %j (stop %i)', (names, stop) => {
  const native = shape(walkDirs(root, names))
  expect(shape(procWalkDirs(root, names))).toEqual(native)
  expect(native.stop).toBe(stop)
})

test('a start that cannot be opened: next -1 and its errno, no descriptor', () => {
  expect(shape(walkDirs(path.join(root, 'missing'), []))).toEqual({count: 0, ids: [], next: -1, stop: 3, errno: 2, target: undefined})
  expect(shape(procWalkDirs(path.join(root, 'missing'), []))).toMatchObject({next: -1, stop: 3, errno: 2})
})

test.each([
  ['native', walkDirs],
  ['proc', procWalkDirs],
] as Array<[string, WalkDirs]>)(
  'walk (%s): ".." and absolute links stay under the root; loops end; each directory entered is shown to the rule, in order',
  (_, kernel) => {
    const seen: string[] = []
    const end = walk('/a/../../../abs/../b', {root, leaf: 'enter', kernel, dir: (where) => seen.push(where)})
    fs.closeSync(end.dirFd)
    expect(end.dirWhere).toBe(path.join(root, 'a', 'b'))
    // a; .. .. .. (never above the root); abs -> /a/b (from the root again): a, b; ..; b
    expect(seen).toEqual([root, path.join(root, 'a'), path.join(root, 'a'), path.join(root, 'a', 'b'), path.join(root, 'a', 'b')])
    expect(() => walk('/loop1/x', {root, leaf: 'stat', kernel})).toThrow(expect.objectContaining({kind: 'loop', code: 'ELOOP'}))
    expect(() => walk('/a/file/x', {root, leaf: 'stat', kernel})).toThrow(WalkError)
    const last = walk('/a/file', {root, leaf: 'stat', kernel})
    fs.closeSync(last.dirFd)
    expect({base: last.base, where: last.where, isFile: last.stat?.isFile()}).toEqual({base: 'file', where: path.join(root, 'a', 'file'), isFile: true})
  },
)

test('a rule that refuses a directory stops the walk there: nothing beyond it is made', () => {
  const made: string[] = []
  expect(() =>
    walk('/a/new/deeper', {
      root,
      leaf: 'enter',
      kernel: walkDirs,
      create: (_fd, name) => made.push(name),
      dir: (where) => {
        if (where.endsWith('/a')) throw new Error('refused')
      },
    }),
  ).toThrow('refused')
  expect(made).toEqual([])
  expect(fs.existsSync(path.join(root, 'a', 'new'))).toBe(false)
})
