/**
 * readProcText against the real kernel: /proc/locks is a multi-record seq_file that read(2) hands
 * out about a page at a time, so it must be read to the end (a short read is not EOF); single-record
 * files (status, stat) come whole in one read.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {flock} from '../../src/native/binding'
import {readProcText} from '../../src/proc/proc-fs'

test('/proc/locks with 500 extra flock locks: every line, as fs.readFileSync gives them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nslocate-locks-'))
  const fds: number[] = []
  try {
    for (let i = 0; i < 500; i++) {
      const fd = fs.openSync(path.join(dir, `f${i}`), 'w')
      fds.push(fd)
      expect(flock(fd, 'exclusive', {nonblock: true})).toBe(true)
    }
    const ours = readProcText('/proc/locks').split('\n').filter(Boolean)
    const mine = ours.filter((l) => l.includes(` ${process.pid} `))
    expect(ours.join('\n').length).toBeGreaterThan(16384 + 4096) // more than one buffer and one page
    expect(mine.length).toBe(500)
    // Why: one read(2) of it stops short of the end (which the one-shot mode would take for EOF).
    expect(readProcText('/proc/locks', true).split('\n').filter(Boolean).length).toBeLessThan(ours.length)
    const plain = fs.readFileSync('/proc/locks', 'utf8').split('\n').filter(Boolean)
    expect(ours.filter((l) => l.includes(` ${process.pid} `)).length).toBe(plain.filter((l) => l.includes(` ${process.pid} `)).length)
  } finally {
    for (const fd of fds) fs.closeSync(fd)
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('single-record files come whole in one read: status ends with its last field, stat with its newline', () => {
  const status = readProcText(`/proc/${process.pid}/status`, true)
  expect(status).toMatch(/^Name:\t/)
  expect(status).toMatch(/nonvoluntary_ctxt_switches:\s+\d+\n$/)
  expect(readProcText(`/proc/${process.pid}/stat`, true)).toMatch(new RegExp(`^${process.pid} \\(.*\\) .* \\d+\\n$`))
})
