/**
 * The fault suite's HTTP client: node:http with a keep-alive agent, a total deadline on every
 * exchange and an idle deadline for streamed bodies, so a stopped or killed process can never hang
 * a client. Response bodies are hashed while they stream; small ones are also kept. A request to a
 * cluster's proxy carries its admin key (HTTP Basic, devtools/proxy-credentials.ts) unless it has an
 * Authorization header of its own.
 */
import { createHash } from 'node:crypto'
import http, { type IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { basicAuthHeaders } from '../devtools/proxy-credentials.js'

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  /** The body when it is at most `keepBytes` long, else empty. */
  body: Buffer
  /** Hex SHA-256 of the whole body received. */
  sha256: string
  size: number
  latencyMs: number
}

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST' | 'HEAD'
  url: string
  headers?: Record<string, string>
  body?: Buffer | string | Readable
  /** Bound on the whole exchange. */
  totalTimeoutMs: number
  /** Longest silence on the socket. */
  idleTimeoutMs?: number
  /** Bodies longer than this are hashed but not kept. */
  keepBytes?: number
}

const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 5000, maxSockets: 64 })

/** Send a request and read its answer; rejects on transport failure or a deadline (the outcome is then unknown). */
export function send(r: HttpRequest): Promise<HttpAnswer> {
  const started = performance.now()
  const keepBytes = r.keepBytes ?? 1024 * 1024
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (err: Error) => {
      if (settled) return
      settled = true
      clearTimeout(total)
      req.destroy(err)
      if (r.body && typeof r.body !== 'string' && !Buffer.isBuffer(r.body)) r.body.destroy()
      reject(err)
    }
    const headers: Record<string, string> = { ...basicAuthHeaders(r.url), ...r.headers }
    if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) headers['content-length'] = String(Buffer.byteLength(r.body))
    else if (r.body) headers['transfer-encoding'] = 'chunked'
    const req = http.request(r.url, { method: r.method, headers, agent, timeout: r.idleTimeoutMs ?? r.totalTimeoutMs })
    const total = setTimeout(() => fail(new Error(`no complete answer within ${r.totalTimeoutMs} ms`)), r.totalTimeoutMs)
    req.once('timeout', () => fail(new Error(`socket idle for ${r.idleTimeoutMs ?? r.totalTimeoutMs} ms`)))
    req.on('error', (err) => fail(err))
    req.once('response', (res) => {
      const hash = createHash('sha256')
      const kept: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk)
        size += chunk.length
        if (size <= keepBytes) kept.push(chunk)
      })
      res.on('error', (err) => fail(err))
      res.once('aborted', () => fail(new Error('response aborted')))
      res.once('end', () => {
        if (settled) return
        if (!res.complete) return fail(new Error(`response ended early after ${size} bytes`))
        settled = true
        clearTimeout(total)
        // The proxy may answer (413, 503) before taking the whole body: stop generating it.
        if (r.body && typeof r.body !== 'string' && !Buffer.isBuffer(r.body) && !r.body.readableEnded) r.body.destroy()
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: size <= keepBytes ? Buffer.concat(kept) : Buffer.alloc(0),
          sha256: hash.digest('hex'),
          size,
          latencyMs: performance.now() - started,
        })
      })
    })
    if (r.body === undefined) req.end()
    else if (typeof r.body === 'string' || Buffer.isBuffer(r.body)) req.end(r.body)
    else {
      r.body.on('error', (err) => fail(err))
      r.body.pipe(req)
    }
  })
}

/** JSON of a kept body, or undefined when it is not JSON. */
export function jsonOf(a: HttpAnswer): unknown {
  try {
    return JSON.parse(a.body.toString('utf8'))
  } catch {
    return undefined
  }
}

export function header(a: HttpAnswer, name: string): string | undefined {
  const v = a.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

export function closeAgent(): void {
  agent.destroy()
}
