/**
 * A Node service using require('nslocate') as a consumer does (argv[2] is the package directory,
 * resolved through package.json "main"). It prints one JSON line of what each export returned.
 * argv[3]: a directory for its own pidfile; argv[4]: the directory of WEB, a locked siglog victim.
 */
const fs = require('fs')
const http = require('http')
const path = require('path')
const ns = require(process.argv[2])
const [own, webDir] = [process.argv[3], process.argv[4]]
const web = {name: 'web', dir: webDir}

const get = (url) =>
  new Promise((resolve, reject) =>
    http
      .get(url, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({status: res.statusCode, body}))
      })
      .on('error', reject),
  )
const within = (p, ms, what) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms))])

;(async () => {
  const out = {pid: process.pid, entry: require.resolve(process.argv[2]), exports: Object.keys(ns).sort()}
  const h = await ns.acquire({name: 'svc', dir: own})
  out.acquired = {pid: h.pid, path: h.path, content: fs.readFileSync(h.path, 'utf8')}
  const self = await ns.locate('svc', {dir: own})
  out.self = {state: self.state, holder: self.holder}
  const r = await ns.locate(web)
  out.web = {state: r.state, pid: r.pid}
  const s0 = await ns.signal('web', 0, {dir: webDir})
  out.signal0 = {outcome: s0.outcome, delivered: s0.delivered.map((d) => d.pid)}
  out.waitRunning = (await ns.waitFor('web', 'running', {dir: webDir, timeoutMs: 5000})).reached

  const server = await ns.prepareServer('127.0.0.1:0', [web, {name: 'gone', dir: webDir}])
  const addr = await server.listen()
  const health = await get(`http://${addr}/healthz/web`)
  out.healthz = {addr, status: health.status, state: JSON.parse(health.body).state, pid: JSON.parse(health.body).pid}
  out.healthzGone = (await get(`http://${addr}/healthz/gone`)).status
  out.metricsUp = (await get(`http://${addr}/metrics`)).body.split('\n').filter((l) => l.startsWith('nslocate_service_up'))
  await server.close()

  const conf = path.join(own, 'web.conf')
  fs.writeFileSync(conf, 'a\n')
  const events = []
  const reloaded = new Promise((resolve) => {
    const reloader = new ns.Reloader({service: web, watch: [conf], debounceMs: 50, emit: (e) => events.push(e.event), onReload: (o) => resolve([reloader, o])})
    reloader.start().then(() => fs.writeFileSync(conf, 'b\n'))
  })
  const [reloader, outcome] = await within(reloaded, 10000, 'a reload')
  await reloader.stop('done')
  out.reload = {outcome, events}

  const term = await ns.signal('web', 'TERM', {dir: webDir})
  out.term = {outcome: term.outcome, delivered: term.delivered.map((d) => d.pid)}
  out.waitStopped = (await ns.waitFor('web', 'stopped', {dir: webDir, timeoutMs: 5000})).reached
  out.badName = await ns.acquire({name: 'bad/name', dir: own}).then(
    () => null,
    (e) => ({nslocateError: e instanceof ns.NslocateError, code: e.code}),
  )
  h.release()
  out.released = !fs.existsSync(h.path)
  console.log(JSON.stringify(out))
})().catch((e) => {
  console.log(JSON.stringify({fatal: String((e && e.stack) || e)}))
  process.exitCode = 1
})
