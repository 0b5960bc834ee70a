/**
 * Debian's headless Chromium, driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
 * commands go in on fd 3 and answers come out on fd 4, each one JSON message ended by a NUL byte).
 * No port, no dependency: a few lines of the protocol, for the packaging tier's home page test.
 */
import {ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {Readable, Writable} from 'node:stream'

import {tempDir} from './exec'

interface Message {
  id?: number
  method?: string
  params?: Record<string, unknown>
  result?: Record<string, any>
  error?: {message: string}
  sessionId?: string
}

/** One browser process with its own temporary profile; close() ends both. */
export class Chromium {
  private next = 1
  private pending = new Map<number, {resolve: (r: Record<string, any>) => void; reject: (e: Error) => void; method: string}>()
  private waiters: {method: string; sessionId?: string; resolve: () => void}[] = []
  private stderr = ''

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const out = child.stdio[4] as Readable
    let buffer = ''
    out.on('data', (chunk: Buffer) => {
      const parts = (buffer + chunk.toString('utf8')).split('\0')
      buffer = parts.pop() ?? ''
      for (const part of parts) this.receive(JSON.parse(part) as Message)
    })
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)))
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (${code ?? signal}) during ${p.method}\n${this.stderr}`))
      this.pending.clear()
    })
  }

  /** Start `chromium --headless` (with --no-sandbox as root, which Chromium's sandbox refuses). */
  static launch(): Chromium {
    const profile = tempDir('chromium')
    const args = ['--headless', '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--no-first-run', '--no-default-browser-check', '--disable-gpu']
    args.push('--disable-extensions', '--disable-sync', '--disable-background-networking', '--window-size=1280,800', 'about:blank')
    if (process.getuid?.() === 0) args.unshift('--no-sandbox')
    const child = spawn('chromium', args, {stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true})
    return new Chromium(child, profile)
  }

  private receive(m: Message): void {
    if (m.id !== undefined) {
      const p = this.pending.get(m.id)
      this.pending.delete(m.id)
      if (m.error) p?.reject(new Error(`${p.method}: ${m.error.message}`))
      else p?.resolve(m.result ?? {})
      return
    }
    const i = this.waiters.findIndex((w) => w.method === m.method && w.sessionId === m.sessionId)
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve()
  }

  /** One protocol command; `sessionId` addresses a page attached with attach(). */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, any>> {
    const id = this.next++
    const message = JSON.stringify({id, method, params, ...(sessionId ? {sessionId} : {})})
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject, method})
      ;(this.child.stdio[3] as Writable).write(`${message}\0`)
    })
  }

  /** Resolves at the next event `method` of `sessionId`; register it before the command that causes it. */
  event(method: string, sessionId?: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs)
      this.waiters.push({method, sessionId, resolve: () => (clearTimeout(timer), resolve())})
    })
  }

  /** A new tab, attached (flat session), with a window of width x height CSS pixels. */
  async page(width: number, height: number): Promise<Page> {
    const {targetId} = await this.send('Target.createTarget', {url: 'about:blank'})
    const {sessionId} = await this.send('Target.attachToTarget', {targetId, flatten: true})
    await this.send('Page.enable', {}, sessionId)
    await this.send('Emulation.setDeviceMetricsOverride', {width, height, deviceScaleFactor: 1, mobile: false}, sessionId)
    return new Page(this, sessionId)
  }

  /** Browser.close, then SIGKILL to its process group if it has not exited after 5 s; the profile removed. */
  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => (this.child.exitCode !== null || this.child.signalCode !== null ? resolve() : this.child.once('exit', () => resolve())))
    void this.send('Browser.close').catch(() => undefined)
    const timer = setTimeout(() => this.killGroup(), 5000)
    await exited
    clearTimeout(timer)
    this.killGroup() // its helpers (zygote, renderers) share the group: none may outlive the test
    for (const stream of this.child.stdio) stream?.destroy()
    fs.rmSync(this.profile, {recursive: true, force: true})
  }

  private killGroup(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL')
    } catch {}
  }
}

/** A tab: load a URL and wait for its load event, evaluate an expression, take a screenshot. */
export class Page {
  constructor(
    private readonly browser: Chromium,
    private readonly sessionId: string,
  ) {}

  async load(url: string): Promise<void> {
    const loaded = this.browser.event('Page.loadEventFired', this.sessionId)
    const {errorText} = await this.browser.send('Page.navigate', {url}, this.sessionId)
    if (errorText) throw new Error(`${url}: ${errorText}`)
    await loaded
  }

  /** The value of a JavaScript expression in the page (returned by value: JSON-like data only). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.browser.send('Runtime.evaluate', {expression, returnByValue: true}, this.sessionId)
    if (r.exceptionDetails) throw new Error(`${expression.slice(0, 80)}...: ${JSON.stringify(r.exceptionDetails)}`)
    return r.result.value as T
  }

  /** A PNG of the window, written to `file`. */
  async screenshot(file: string): Promise<Buffer> {
    const {data} = await this.browser.send('Page.captureScreenshot', {format: 'png'}, this.sessionId)
    const png = Buffer.from(data as string, 'base64')
    fs.mkdirSync(path.dirname(file), {recursive: true})
    fs.writeFileSync(file, png)
    return png
  }
}
