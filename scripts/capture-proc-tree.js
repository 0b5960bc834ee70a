#!/usr/bin/env node
/**
 * Snapshot what locate() reads about a pidfile into a JSON fixture (fixtures/proc-trees/), so the
 * unlocked decision and the reconciliation are tested over trees captured from real scenarios
 * (test/unit/identity-fixtures.test.ts, answered by test/helpers/fixture-proc-fs.ts).
 *
 *   node scripts/capture-proc-tree.js PIDFILE [--pid PID]... [--holder PID] [--name NAME]
 *        [--root-pid PID] [--note TEXT] [--out FILE]
 *
 * Captured: the pidfile (content, dev, inode, mtime); this process's ns/mnt, ns/pid, CapEff, uid;
 * the boot time; and for every process whose own pid (last NSpid column) is the number in the file,
 * every --pid and the --holder with its descendants: status, stat, cmdline, the ns/pid, ns/mnt and
 * exe links, /proc/PID/root (stat), mountinfo, and dev:inode of the pidfile's path and of its base
 * name under each mount point, under /proc/PID/root. Errors are kept as their code (EACCES...).
 * Needs `npm run build` (the addon translates pids between namespaces, as locate() does).
 */
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const binding = require(path.join(__dirname, '..', 'dist', 'src', 'native', 'binding.js'))

function args(argv) {
  const o = {pids: [], file: null}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => argv[++i]
    if (a === '--pid') o.pids.push(Number(v()))
    else if (a === '--holder') o.holder = Number(v())
    else if (a === '--name') o.name = v()
    else if (a === '--root-pid') o.rootPid = Number(v())
    else if (a === '--note') o.note = v()
    else if (a === '--out') o.out = v()
    else if (!o.file) o.file = a
    else throw new Error(`unexpected argument ${a}`)
  }
  if (!o.file) throw new Error('usage: capture-proc-tree.js PIDFILE [--pid PID]... [--holder PID] [--name NAME] [--root-pid PID] [--note TEXT] [--out FILE]')
  return o
}

const attempt = (fn) => {
  try {
    return {value: fn()}
  } catch (error) {
    return {error: error.code || String(error.message)}
  }
}
const text = (p) => attempt(() => fs.readFileSync(p, 'latin1'))
const link = (p) => attempt(() => fs.readlinkSync(p))
const devIno = (p) =>
  attempt(() => {
    const s = fs.statSync(p)
    return {dev: Number(s.dev), ino: Number(s.ino)}
  })

function innermost(pid) {
  const m = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1].trim().split(/\s+/).pop()) : null
}

function children(pid, all) {
  return all.filter((p) => {
    try {
      return Number(/^PPid:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]) === pid
    } catch {
      return false
    }
  })
}

function captureProcess(pid, innerFile) {
  const dir = `/proc/${pid}`
  const e = {
    status: text(`${dir}/status`),
    stat: text(`${dir}/stat`),
    cmdline: text(`${dir}/cmdline`),
    links: {'ns/pid': link(`${dir}/ns/pid`), 'ns/mnt': link(`${dir}/ns/mnt`), exe: link(`${dir}/exe`)},
    exeStat: devIno(`${dir}/exe`),
    root: devIno(`${dir}/root`),
    mountinfo: text(`${dir}/mountinfo`),
    under: {},
  }
  // What seesFile() stats under /proc/PID/root: the path itself, and BASE under every mount point.
  const paths = new Set([innerFile])
  if (e.mountinfo.value) {
    for (const line of e.mountinfo.value.split('\n')) {
      const cols = line.split(' ')
      if (cols.length >= 5)
        paths.add(
          path.join(
            cols[4].replace(/\\([0-7]{3})/g, (_m, o) => String.fromCharCode(parseInt(o, 8))),
            path.basename(innerFile),
          ),
        )
    }
  }
  for (const p of paths) e.under[p] = devIno(path.join(dir, 'root', p))
  return e
}

function main() {
  const o = args(process.argv.slice(2))
  const file = path.resolve(o.file)
  const st = fs.statSync(file)
  const content = fs.readFileSync(file, 'latin1')
  const n = Number(content.split('\n')[0].trim())
  const innerFile = o.rootPid ? file.slice(`/proc/${o.rootPid}/root`.length) || '/' : file
  const all = fs
    .readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .map(Number)
  const pids = new Set(o.pids)
  if (o.rootPid) pids.add(o.rootPid)
  const translations = {}
  if (Number.isInteger(n) && n > 0) {
    for (const p of all) {
      const inner = attempt(() => innermost(p)).value
      if (inner === n) pids.add(p)
      // One translation per PID namespace, as candidatesByNamespace() asks it.
      const ns = link(`/proc/${p}/ns/pid`).value
      if (ns && !(ns in translations)) {
        const fd = attempt(() => fs.openSync(`/proc/${p}/ns/pid`, 'r')).value
        if (fd !== undefined) {
          const x = attempt(() => binding.nsPidFromPidns(fd, n))
          translations[ns] = x.value === binding.NS_TRANSLATE_UNSUPPORTED ? 'unsupported' : (x.value ?? null)
          fs.closeSync(fd)
        }
      }
    }
  }
  if (o.holder) {
    const queue = [o.holder]
    while (queue.length) {
      const p = queue.shift()
      if (pids.has(p) && p !== o.holder) continue
      pids.add(p)
      queue.push(...children(p, all))
    }
  }
  const processes = {}
  for (const p of [...pids].sort((a, b) => a - b)) processes[p] = captureProcess(p, innerFile)
  const uptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0])
  const out = {
    note: o.note ?? '',
    captured: new Date().toISOString(),
    kernel: fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    name: o.name ?? path.basename(file).replace(/\.pid$/, ''),
    rootPid: o.rootPid ?? null,
    holder: o.holder ?? null,
    pidfile: {path: file, inner: innerFile, content, dev: Number(st.dev), ino: Number(st.ino), mtimeMs: st.mtimeMs, uid: st.uid, mode: st.mode},
    bootMs: Date.now() - uptime * 1000,
    self: {
      pid: process.pid,
      uid: process.geteuid(),
      status: text('/proc/self/status'),
      links: {'ns/pid': link('/proc/self/ns/pid'), 'ns/mnt': link('/proc/self/ns/mnt')},
    },
    translations,
    processes,
  }
  const json = JSON.stringify(out, null, 1) + '\n'
  if (o.out) fs.writeFileSync(o.out, json)
  else process.stdout.write(json)
}

main()
