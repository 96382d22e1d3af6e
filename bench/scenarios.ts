/**
 * The measurements. Small objects go through autocannon (as a library, latencies taken from its
 * per-response event for sub-millisecond percentiles); large ones through node:http streams in a
 * closed loop; the huge one is a single streamed PUT then GET, sha256-checked, with the RSS of
 * every process the run owns sampled meanwhile; listing pages through a bucket of many keys.
 * Every loop is bounded by a deadline and a count.
 */
import autocannon from 'autocannon'
import { authHeaders } from './client-auth.js'
import { getStream, listAll, patternBody, patternSha256, putStream, type StreamResult } from './http-client.js'
import { type RssPeak, sampleDuring, waitIdle } from './rss-sampler.js'
import { ErrorCounter, Latencies, makeStats, type Stats } from './stats.js'

export interface Target {
  name: 'cluster' | 'baseline'
  url: string
  /** Processes whose memory may be sampled (empty when the run does not own them). */
  procs: { name: string; pid: number }[]
}

type CannonRequest = autocannon.Request

/**
 * Run autocannon for `durationS` with `connections`; `next(i)` builds the i-th request, signed here
 * when `url` is the cluster's proxy (client-auth.ts). `size` is each request's payload.
 */
export function cannon(url: string, connections: number, durationS: number, size: number, next: (i: number) => CannonRequest): Promise<Stats> {
  const lat = new Latencies()
  const errors = new ErrorCounter()
  let ok = 0
  let i = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: durationS,
        timeout: 10,
        requests: [{ setupRequest: (req: CannonRequest): CannonRequest => signed(url, { ...req, ...next(i++) }) }],
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)))
        errors.add('connection error or timeout', result.errors)
        errors.add('body mismatch', result.mismatches)
        resolve(makeStats(ok, errors, result.duration, ok * size, lat))
      },
    )
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) {
        ok++
        lat.push(ms)
      } else errors.add(`status ${status}`)
    })
  })
}

/** `r` with the headers that authenticate it to the proxy at `base` (none for the baseline). */
export function signed(base: string, r: CannonRequest): CannonRequest {
  const auth = authHeaders(r.method ?? 'GET', new URL(r.path ?? '/', base))
  return Object.keys(auth).length === 0 ? r : { ...r, headers: { ...r.headers, ...auth } }
}

export interface SmallSpec {
  bucket: string
  runId: string
  body: Buffer
  /** Keys written before, for GETs. */
  getKey: (i: number) => string
}

/** A spec for PUT loads of unique keys: a bucket named `<prefix>-<run id>`, `size` bytes per body. */
export function uniquePutSpec(prefix: string, size: number): SmallSpec {
  const runId = Date.now().toString(36)
  return { bucket: `${prefix}-${runId}`, runId, body: Buffer.alloc(size, 0x62), getKey: (i) => `g-${i}` }
}

export function putRequest(s: SmallSpec, tag: string, i: number): CannonRequest {
  return { method: 'PUT', path: `/buckets/${s.bucket}/files/k-${s.runId}-${tag}-${i}`, headers: { 'content-type': 'application/octet-stream' }, body: s.body }
}

export function getRequest(s: SmallSpec, i: number): CannonRequest {
  return { method: 'GET', path: `/buckets/${s.bucket}/files/${s.getKey(i)}`, headers: {}, body: Buffer.alloc(0) }
}

/** 90% GETs of existing keys, 10% PUTs of new ones, interleaved deterministically. */
export function mixedRequest(s: SmallSpec, tag: string, i: number): CannonRequest {
  return i % 10 === 9 ? putRequest(s, tag, i) : getRequest(s, i)
}

/** `concurrency` workers each repeating `op` until `durationS` has passed (and at most `maxOps` in all). */
export async function closedLoop(durationS: number, concurrency: number, maxOps: number, op: (i: number) => Promise<StreamResult & { ok: boolean; why?: string }>): Promise<Stats> {
  const lat = new Latencies()
  const errors = new ErrorCounter()
  const start = performance.now()
  const deadline = start + durationS * 1000
  let started = 0
  let ok = 0
  let bytes = 0
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && started < maxOps) {
      const i = started++
      try {
        const r = await op(i)
        if (r.ok) {
          ok++
          bytes += r.bytes
          lat.push(r.ms)
        } else errors.add(r.why ?? `status ${r.status}`)
      } catch (err) {
        errors.add(err instanceof Error ? err.message.slice(0, 80) : String(err))
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return makeStats(ok, errors, (performance.now() - start) / 1000, bytes, lat)
}

/** Streamed PUTs of `size` bytes to new keys, then GETs of what was written. */
export async function largeObjects(t: Target, bucket: string, prefix: string, size: number, opts: { durationS: number; concurrency: number }): Promise<{ put: Stats; get: Stats }> {
  const body = Buffer.concat([...patternBody(size)])
  const written: string[] = []
  const put = await closedLoop(opts.durationS, opts.concurrency, 100_000, async (i) => {
    const key = `${prefix}-${i}`
    const r = await putStream(`${t.url}/buckets/${bucket}/files/${key}`, size, [body])
    const ok = r.status === 201 || r.status === 200
    if (ok) written.push(key)
    return { ...r, ok, why: ok ? undefined : `status ${r.status}` }
  })
  const get = await closedLoop(opts.durationS, opts.concurrency, 100_000, async (i) => {
    const key = written[i % Math.max(1, written.length)] ?? `${prefix}-missing`
    const r = await getStream(`${t.url}/buckets/${bucket}/files/${key}`, size)
    const ok = r.status === 200 && r.bytes === size
    return { ...r, ok, why: r.status !== 200 ? `status ${r.status}` : `short body ${r.bytes}` }
  })
  return { put, get }
}

export interface HugeResult {
  put: Stats
  get: Stats
  sha256Match: boolean | null
  /** Settle: from the PUT's answer until every process was idle (a replica beyond W finishing its copy), then the GET. */
  settleMs: number
  rss: { put: RssPeak[]; settle: RssPeak[]; get: RssPeak[] }
}

/**
 * One streamed PUT and GET of `size` bytes, RSS sampled every 100 ms; the GET is checked by sha256
 * (not on the baseline, which stores nothing). Between them the run waits until every process is
 * idle, so the GET is not measured against the PUT's last replica still writing (timed and reported).
 */
export async function hugeObject(t: Target, bucket: string, key: string, size: number): Promise<HugeResult> {
  const url = `${t.url}/buckets/${bucket}/files/${key}`
  const expected = t.name === 'cluster' ? patternSha256(size) : undefined
  const one = (r: StreamResult | Error, ok: boolean, why: string): Stats => {
    const errors = new ErrorCounter()
    const lat = new Latencies()
    if (r instanceof Error) errors.add(r.message.slice(0, 80))
    else if (!ok) errors.add(why)
    else lat.push(r.ms)
    const ms = r instanceof Error ? 0 : r.ms
    return makeStats(ok ? 1 : 0, errors, ms / 1000, ok && !(r instanceof Error) ? r.bytes : 0, lat)
  }
  const attempt = <T>(p: Promise<T>): Promise<T | Error> => p.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
  const putRun = await sampleDuring(t.procs, () => attempt(putStream(url, size, patternBody(size), { hash: true })))
  const p = putRun.value
  const putOk = !(p instanceof Error) && (p.status === 201 || p.status === 200) && p.bytes === size
  const settleRun = await sampleDuring(t.procs, () => waitIdle(t.procs))
  const getRun = await sampleDuring(t.procs, () => attempt(getStream(url, size, { hash: true })))
  const g = getRun.value
  const sha256Match = expected === undefined || g instanceof Error ? null : g.sha256 === expected
  const getOk = !(g instanceof Error) && g.status === 200 && g.bytes === size && sha256Match !== false
  const putWhy = p instanceof Error ? '' : `status ${p.status} ${(p.text ?? '').slice(0, 60)}`
  const getWhy = g instanceof Error ? '' : g.status !== 200 ? `status ${g.status}` : g.bytes !== size ? `got ${g.bytes} bytes` : 'sha256 mismatch'
  return { put: one(p, putOk, putWhy), get: one(g, getOk, getWhy), sha256Match, settleMs: settleRun.value, rss: { put: putRun.rss, settle: settleRun.rss, get: getRun.rss } }
}

/** Time full passes over a listing (`limit` keys a page) until `durationS` has passed; at least one pass, at most `maxPasses`. */
export async function listing(t: Target, bucket: string, expectedKeys: number, limit: number, durationS: number, maxPasses = 1000): Promise<Stats> {
  const lat = new Latencies()
  const errors = new ErrorCounter()
  const start = performance.now()
  const maxPages = Math.ceil(expectedKeys / limit) + 5
  let keys = 0
  let passes = 0
  do {
    try {
      const pass = await listAll(t.url, bucket, limit, maxPages)
      for (const ms of pass.pageMs) lat.push(ms)
      keys += pass.keys
      if (pass.error) errors.add(pass.error.slice(0, 80))
      else if (pass.keys !== expectedKeys) errors.add(`listed ${pass.keys} of ${expectedKeys} keys`)
    } catch (err) {
      errors.add(err instanceof Error ? err.message.slice(0, 80) : String(err))
    }
    passes++
  } while (performance.now() - start < durationS * 1000 && passes < maxPasses)
  const seconds = (performance.now() - start) / 1000
  const stats = makeStats(keys, errors, seconds, 0, lat)
  return { ...stats, opsPerSec: seconds > 0 ? Math.round((keys / seconds) * 10) / 10 : 0 }
}
