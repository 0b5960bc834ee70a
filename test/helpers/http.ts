/** A plain HTTP GET for the tests that ask `serve` (its /healthz and /metrics). */
import * as http from 'node:http'

/** GET `url`: its status and whole body. */
export function httpGet(url: string): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
      })
      .on('error', reject)
  })
}
