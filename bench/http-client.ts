/**
 * The bench's own HTTP client calls: streamed PUT/GET with node:http (bodies come from generators,
 * never whole in memory), bucket creation, bounded-concurrency pre-population, paged listing.
 * Requests to the cluster's proxy carry its credentials (client-auth.ts); to the baseline, none.
 */
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'
import { authedFetch, authHeaders } from './client-auth.js'

const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 256 })
let tlsAgent: https.Agent | undefined

/** node:http, or node:https for a cluster started with TLS=on (trusting what the global agent trusts: its CA, see cluster-ctl/trust-ca.ts). */
function transportFor(url: string): { lib: typeof http | typeof https; agent: http.Agent } {
  if (!url.startsWith('https:')) return { lib: http, agent: plainAgent }
  tlsAgent ??= new https.Agent({ keepAlive: true, maxSockets: 256, ca: https.globalAgent.options.ca })
  return { lib: https, agent: tlsAgent }
}
/** A streamed request with no progress for this long fails. */
const IDLE_MS = 60_000
const CHUNK = 1024 * 1024
const PATTERN = randomBytes(CHUNK)

export interface StreamResult {
  status: number
  ms: number
  bytes: number
  sha256?: string
  /** The answer's body, for PUT (small JSON). */
  text?: string
}

/** `size` bytes in 1 MiB chunks: a random pattern with the chunk's index stamped in, so no two chunks are equal. */
export function* patternBody(size: number): Generator<Buffer> {
  for (let i = 0, left = size; left > 0; i++) {
    const n = Math.min(CHUNK, left)
    const chunk = Buffer.allocUnsafe(n)
    PATTERN.copy(chunk, 0, 0, n)
    if (n >= 8) chunk.writeBigUInt64BE(BigInt(i), 0)
    left -= n
    yield chunk
  }
}

export function putStream(url: string, size: number, body: Iterable<Buffer>, opts: { hash?: boolean } = {}): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const hash = opts.hash ? createHash('sha256') : undefined
    let sent = 0
    const source = Readable.from(
      (function* () {
        for (const chunk of body) {
          hash?.update(chunk)
          sent += chunk.length
          yield chunk
        }
      })(),
    )
    const { lib, agent } = transportFor(url)
    const req = lib.request(url, { method: 'PUT', agent, headers: { ...authHeaders('PUT', url), 'content-type': 'application/octet-stream', 'content-length': size } })
    req.setTimeout(IDLE_MS, () => req.destroy(new Error(`PUT ${url}: no progress for ${IDLE_MS} ms`)))
    req.once('error', reject)
    source.once('error', (err) => req.destroy(err))
    req.once('response', (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.once('error', reject)
      res.once('end', () => {
        source.destroy()
        const result: StreamResult = { status: res.statusCode ?? 0, ms: performance.now() - start, bytes: sent, text: Buffer.concat(parts).toString('utf8') }
        if (hash) result.sha256 = hash.digest('hex')
        resolve(result)
      })
    })
    source.pipe(req)
  })
}

/** GET a body, counting (and optionally hashing) it as it streams; `size` goes out as x-bench-size for the baseline. */
export function getStream(url: string, size: number, opts: { hash?: boolean } = {}): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const hash = opts.hash ? createHash('sha256') : undefined
    let bytes = 0
    const { lib, agent } = transportFor(url)
    const req = lib.get(url, { agent, headers: { ...authHeaders('GET', url), 'x-bench-size': String(size) } }, (res) => {
      res.on('data', (c: Buffer) => {
        bytes += c.length
        hash?.update(c)
      })
      res.once('error', reject)
      res.once('end', () => {
        const result: StreamResult = { status: res.statusCode ?? 0, ms: performance.now() - start, bytes }
        if (hash) result.sha256 = hash.digest('hex')
        resolve(result)
      })
    })
    req.setTimeout(IDLE_MS, () => req.destroy(new Error(`GET ${url}: no progress for ${IDLE_MS} ms`)))
    req.once('error', reject)
  })
}

/** sha256 of what `patternBody(size)` yields, without sending it. */
export function patternSha256(size: number): string {
  const hash = createHash('sha256')
  for (const c of patternBody(size)) hash.update(c)
  return hash.digest('hex')
}

/** Create a bucket; one that already exists is fine. */
export async function ensureBucket(base: string, bucket: string): Promise<void> {
  const url = `${base}/buckets/${bucket}`
  const res = await authedFetch(url, { method: 'POST', signal: AbortSignal.timeout(15_000) })
  const text = await res.text()
  if (res.status !== 201 && res.status !== 409) throw new Error(`creating bucket ${bucket}: ${res.status} ${text.slice(0, 300)}`)
}

/** PUT `count` small objects named by `keyOf(i)` with `concurrency` workers; stops at `deadlineMs` from now. */
export async function populate(
  base: string,
  bucket: string,
  count: number,
  keyOf: (i: number) => string,
  body: Buffer,
  opts: { concurrency: number; deadlineMs: number },
): Promise<{ written: number; failed: number; failures: string[]; ms: number }> {
  const start = performance.now()
  const deadline = Date.now() + opts.deadlineMs
  let next = 0
  let written = 0
  let failed = 0
  const failures: string[] = []
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const i = next++
      try {
        const url = `${base}/buckets/${bucket}/files/${keyOf(i)}`
        const res = await authedFetch(url, { method: 'PUT', body, signal: AbortSignal.timeout(30_000) })
        const text = await res.text()
        if (res.status === 201 || res.status === 200) written++
        else {
          failed++
          if (failures.length < 5) failures.push(`${res.status} ${text.slice(0, 200)}`)
        }
      } catch (err) {
        failed++
        if (failures.length < 5) failures.push(String(err))
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  return { written, failed, failures, ms: performance.now() - start }
}

interface ListPage {
  files?: { key: string }[]
  next_cursor?: string | null
  truncated?: boolean
}

/** Page through a whole bucket; bounded by `maxPages`. Each page's latency is recorded. */
export async function listAll(base: string, bucket: string, limit: number, maxPages: number): Promise<{ keys: number; pageMs: number[]; error?: string }> {
  const pageMs: number[] = []
  let keys = 0
  let cursor: string | null | undefined
  for (let page = 0; page < maxPages; page++) {
    const q = cursor ? `?limit=${limit}&cursor=${encodeURIComponent(cursor)}` : `?limit=${limit}`
    const start = performance.now()
    const url = `${base}/buckets/${bucket}/files${q}`
    const res = await authedFetch(url, { signal: AbortSignal.timeout(60_000) })
    const text = await res.text()
    pageMs.push(performance.now() - start)
    if (res.status !== 200) return { keys, pageMs, error: `page ${page}: ${res.status} ${text.slice(0, 200)}` }
    const body = JSON.parse(text) as ListPage
    keys += body.files?.length ?? 0
    cursor = body.next_cursor
    if (!body.truncated || !cursor) return { keys, pageMs }
  }
  return { keys, pageMs, error: `more than ${maxPages} pages` }
}
