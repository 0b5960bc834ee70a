/**
 * src/cli/fast-io.ts writes with write(2) directly and hands the rest to Node's stream on EAGAIN
 * (a non-blocking pipe that is full). Everything written after that must queue behind it: a direct
 * write could otherwise overtake the queued bytes (seen by review: signal's message and its detail
 * lines out of order on a shared, non-blocking log pipe). Deterministic: a python harness fills a
 * non-blocking pipe, the child writes A (queued), the harness then drains the pipe while the child
 * waits synchronously (no event-loop turn, so the stream cannot flush A yet), and the child writes B.
 */
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, tmpdir} from '../helpers/cli'

const HARNESS = String.raw`
import fcntl, os, subprocess, sys, time
node, child_js, flag = sys.argv[1], sys.argv[2], sys.argv[3]
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
filled = 0
try:
    while True: filled += os.write(w, b'.' * 4096)
except BlockingIOError:
    pass
p = subprocess.Popen([node, child_js, flag], stderr=w, stdout=subprocess.DEVNULL)
os.close(w)
time.sleep(0.5)                       # the child has written A (EAGAIN, queued) and now spins
got = b''
while len(got) < filled: got += os.read(r, 65536)
open(flag, 'w').close()               # drained: the child writes B at once
p.wait()
while True:
    chunk = os.read(r, 65536)
    if not chunk: break
    got += chunk
sys.stdout.write(got.replace(b'.', b'').decode())
`

test('after an EAGAIN, later lines never overtake the queued ones (non-blocking, full stderr pipe)', () => {
  const dir = tmpdir()
  try {
    const harness = path.join(dir, 'harness.py')
    const child = path.join(dir, 'child.js')
    const flag = path.join(dir, 'drained')
    fs.writeFileSync(harness, HARNESS)
    fs.writeFileSync(
      child,
      `
      const fs = require('fs'); const {writeFd} = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'fast-io.js'))})
      writeFd(2, 'A first\\n')
      while (!fs.existsSync(process.argv[2])) {}   // synchronously: the stream cannot flush meanwhile
      writeFd(2, 'B second\\n')
      writeFd(2, 'C third\\n')`,
    )
    const r = spawnSync('/usr/bin/python3', [harness, process.execPath, child, flag], {encoding: 'utf8', timeout: 30_000})
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('A first\nB second\nC third\n')
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})
