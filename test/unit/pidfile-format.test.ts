/**
 * Issue 11, item 3: the pid is the first line, read whole or rejected. Real files read through
 * openPidfile() (the reader locate() uses), and the pure parser for the table.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import {FIRST_LINE_MAX, openPidfile, parsePidfileContent} from '../../src/locate/pidfile'
import {stopAll, tempDir} from '../helpers/tracked'

afterAll(() => stopAll())

/** postgres's postmaster.pid as PostgreSQL 15 writes it (src/include/utils/pidfile.h: one item a line). */
export function postmasterPid(pid: number, dataDir: string): string {
  return [String(pid), dataDir, '1764612345', '5432', '/var/run/postgresql', '*', '  5432001    163840', 'ready   ', ''].join('\n')
}

function read(text: string | Buffer) {
  const dir = tempDir()
  const file = path.join(dir, 'x.pid')
  fs.writeFileSync(file, text)
  const o = openPidfile(file)
  fs.closeSync(o.fd)
  return o.content
}

describe('first line only', () => {
  test.each([
    ['1234\n/var/lib/x\n', 1234, null],
    ['1234\r\n', 1234, null],
    ['\t1234  \n\n\n', 1234, null],
    ['\n1234\n', null, 'garbage_pidfile'],
    ['12 34\n56\n', null, 'garbage_pidfile'],
    ['abc\n1234\n', null, 'garbage_pidfile'],
    ['-1\n1234\n', null, 'invalid_pid'],
    [' \n \n', null, 'empty_pidfile'],
  ])('%j -> pid %p (%p)', (text, pid, problem) => {
    const r = parsePidfileContent(text)
    expect({pid: r.pid, problem: r.problem}).toEqual({pid, problem})
  })

  test('later lines are noted, not parsed (postmaster.pid)', () => {
    const r = read(postmasterPid(25570, '/var/lib/postgresql/15/main'))
    expect(r.pid).toBe(25570)
    expect(r.note).toBe("7 later lines ignored: the pid is the first line (as in postgres's postmaster.pid)")
  })

  test('a single line has no note', () => {
    expect(read('25570\n').note).toBeNull()
  })
})

describe('blanks are spaces, tabs and carriage returns only (issue 17, hole 9)', () => {
  test.each([
    [' \t1234\t \r\n', 1234, null],
    ['\r1234\r', 1234, null],
    ['1234\n', 1234, null],
    ['1234', 1234, null],
    ['\v1234\n', null, 'garbage_pidfile'],
    ['\f1234\n', null, 'garbage_pidfile'],
    ['1234\v\n', null, 'garbage_pidfile'],
    ['1234\f', null, 'garbage_pidfile'],
    [' \v 1234\n', null, 'garbage_pidfile'],
    ['\u00a01234\n', null, 'garbage_pidfile'],
    ['\v\n', null, 'garbage_pidfile'],
    ['\f', null, 'garbage_pidfile'],
    [' \t\r\n', null, 'empty_pidfile'],
  ])('%j -> pid %p (%p)', (text, pid, problem) => {
    const r = parsePidfileContent(text)
    expect({pid: r.pid, problem: r.problem}).toEqual({pid, problem})
  })

  test('read from a file too', () => {
    expect(read('\v4242\n').problem).toBe('garbage_pidfile')
    expect(read('\f4242\n').problem).toBe('garbage_pidfile')
    expect(read('\t4242\r\n').pid).toBe(4242)
  })

  test('a later line of form feeds still counts as a later line', () => {
    expect(parsePidfileContent('1234\n\f\n').note).toBe("1 later line ignored: the pid is the first line (as in postgres's postmaster.pid)")
  })
})

describe('the read size never changes the number', () => {
  test('254 spaces then 25570 is 25570 (the old 256-byte read made it 25)', () => {
    const r = read(' '.repeat(254) + '25570\n')
    expect({pid: r.pid, problem: r.problem}).toEqual({pid: 25570, problem: null})
  })

  test('digits across every read boundary up to the cap parse whole', () => {
    for (const pad of [250, 255, 256, 1000, FIRST_LINE_MAX - 10]) {
      expect(read(' '.repeat(pad) + '4321\n').pid).toBe(4321)
    }
  })

  test('a first line longer than the cap is rejected whole, not cut', () => {
    const r = read(' '.repeat(FIRST_LINE_MAX - 2) + '25570\n')
    expect({pid: r.pid, problem: r.problem}).toEqual({pid: null, problem: 'garbage_pidfile'})
    expect(r.note).toBe(`its first line is longer than ${FIRST_LINE_MAX} bytes: not a pid`)
  })

  test('a long tail after a good first line is fine', () => {
    const r = read('777\n' + 'x'.repeat(3 * FIRST_LINE_MAX))
    expect(r.pid).toBe(777)
    expect(r.note).toMatch(/^more than 1 later lines ignored/)
  })
})
