/**
 * A Kubernetes ConfigMap/Secret volume made the way the kubelet's AtomicWriter makes it
 * (pkg/volume/util/atomic_writer.go): files in a ..TIMESTAMP directory, a ..data symlink to it,
 * and one symlink per key (KEY -> ..data/KEY). update() writes a new ..TIMESTAMP, points
 * ..data_tmp at it, rename(2)s ..data_tmp over ..data (the atomic step) and removes the old dir.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

let serial = 0

export class ConfigMapVolume {
  private current: string | null = null

  constructor(
    readonly dir: string,
    data: Record<string, string>,
  ) {
    fs.mkdirSync(dir, {recursive: true})
    this.update(data)
    for (const key of Object.keys(data)) fs.symlinkSync(path.join('..data', key), path.join(dir, key))
  }

  update(data: Record<string, string>): void {
    const ts = `..2026_12_01_00_00_00.${process.pid}${String(++serial).padStart(6, '0')}`
    const tsDir = path.join(this.dir, ts)
    fs.mkdirSync(tsDir)
    for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(tsDir, k), v)
    const tmp = path.join(this.dir, '..data_tmp')
    fs.symlinkSync(ts, tmp)
    fs.renameSync(tmp, path.join(this.dir, '..data'))
    if (this.current) fs.rmSync(path.join(this.dir, this.current), {recursive: true, force: true})
    this.current = ts
  }
}

/**
 * Write a file the way editors and config managers do: a temp file renamed over it. A plain
 * writeFileSync truncates first, and under load a debounced batch can end between the truncation
 * and the write (the reloader then sees, and validates, an empty file).
 */
export function writeAtomic(file: string, content: string): void {
  fs.writeFileSync(`${file}.tmp-${process.pid}`, content)
  fs.renameSync(`${file}.tmp-${process.pid}`, file)
}
