/**
 * What the watched paths contain, as one sha256: a reload is sent only when it changed (an event
 * that leaves the content as it was, e.g. a touch or a ConfigMap resync, sends nothing).
 * Files are read through symlinks; a directory contributes its entries (not those starting with
 * "..", the ConfigMap machinery) and the content of each regular file in it.
 */
import {createHash} from 'node:crypto'
import fs = require('node:fs')
import path = require('node:path')

import type {WatchTarget} from './watch'

const MAX_BYTES = 64 * 1024 * 1024

export function fingerprint(targets: WatchTarget[]): string {
  const h = createHash('sha256')
  for (const t of targets) {
    h.update(`\0${t.path}\0`)
    if (t.kind === 'file') fileInto(h, t.path)
    else {
      let names: string[]
      try {
        names = fs.readdirSync(t.path).filter((n) => !n.startsWith('..')).sort()
      } catch (error) {
        h.update(`unreadable:${(error as NodeJS.ErrnoException).code}`)
        continue
      }
      for (const n of names) {
        h.update(`\0${n}\0`)
        fileInto(h, path.join(t.path, n))
      }
    }
  }
  return h.digest('hex')
}

function fileInto(h: ReturnType<typeof createHash>, file: string): void {
  try {
    const st = fs.statSync(file)
    if (!st.isFile()) return void h.update(st.isDirectory() ? 'dir' : 'other')
    if (st.size > MAX_BYTES) return void h.update(`large:${st.size}:${st.mtimeMs}:${st.ino}`)
    h.update(fs.readFileSync(file))
  } catch (error) {
    h.update(`missing:${(error as NodeJS.ErrnoException).code}`)
  }
}
