/**
 * Concurrent read-modify-write clients through the proxy. Each client loops: read a random key
 * (on 300, every sibling's bytes too), then write a new unique value with the read's X-Context,
 * so its write supersedes exactly what it read. Every read and every write attempt is recorded
 * for the checker; the loop is bounded in time and in operations.
 */
import { header, type HttpAnswer, jsonOf, send } from './http-client.js'
import { HEADER_OBJECT_SHA256 } from '../shared/wire/headers.js'
import type { ValueRegistry } from './values.js'

/** One version a read saw: the ETag the store claimed and, when its bytes were fetched, their hash. */
export interface ObservedVersion {
  versionId?: string | undefined
  claimedEtag?: string | undefined
  bodySha256?: string | undefined
  /** Status of the `?version=` fetch of a sibling when it did not answer 200. */
  fetchStatus?: number | undefined
  fetchError?: string | undefined
}

export type ReadOutcome = 'value' | 'siblings' | 'not-found' | 'refused' | 'no-answer'

export interface ReadResult {
  outcome: ReadOutcome
  status?: number | undefined
  context?: string | undefined
  versions: ObservedVersion[]
  latencyMs: number
  /** Slowest single request of this read (the sibling fetches included). */
  maxRequestMs: number
  error?: string | undefined
}

export interface ReadRecord extends ReadResult {
  key: string
  client: number
  at: number
}

export type WriteOutcome = 'acknowledged' | 'refused' | 'no-answer'

export interface WriteAttempt {
  key: string
  value: string
  client: number
  op: number
  /** ETags of the versions the write's context covers (what its client read). */
  readEtags: string[]
  startedAt: number
  endedAt: number
  outcome: WriteOutcome
  status?: number | undefined
  error?: string | undefined
  latencyMs: number
}

export interface Timeouts {
  totalMs: number
  idleMs: number
}

export const SMALL_TIMEOUTS: Timeouts = { totalMs: 30_000, idleMs: 30_000 }
export const LARGE_TIMEOUTS: Timeouts = { totalMs: 180_000, idleMs: 30_000 }

const fileUrl = (base: string, bucket: string, key: string, query = '') => `${base}/buckets/${bucket}/files/${encodeURIComponent(key)}${query}`

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '')
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as NodeJS.ErrnoException).code
  return code ? `${code}: ${err.message}` : err.message
}

/** A sibling as the 300 answer lists it; `etag` here is its SHA-256 (`content_sha256`; the public ETag is the MD5). */
interface SiblingJson {
  version: string
  etag: string
}

function siblingsOf(a: HttpAnswer): SiblingJson[] {
  const body = jsonOf(a)
  if (typeof body !== 'object' || body === null || !('siblings' in body) || !Array.isArray(body.siblings)) return []
  return (body.siblings as unknown[]).flatMap((s) => {
    if (typeof s !== 'object' || s === null) return []
    const r = s as Record<string, unknown>
    const sha256 = typeof r.content_sha256 === 'string' ? r.content_sha256 : r.etag
    return typeof r.version === 'string' && typeof sha256 === 'string' ? [{ version: r.version, etag: sha256 }] : []
  })
}

/** Read a key through the proxy: its value, or on 300 each sibling's bytes (`?version=`), with the read's context. */
export async function readKey(base: string, bucket: string, key: string, opts: { query?: string; timeouts: Timeouts }): Promise<ReadResult> {
  const started = performance.now()
  const extra = opts.query ?? ''
  let first: HttpAnswer
  try {
    first = await send({ method: 'GET', url: fileUrl(base, bucket, key, extra ? `?${extra}` : ''), totalTimeoutMs: opts.timeouts.totalMs, idleTimeoutMs: opts.timeouts.idleMs, keepBytes: 64 * 1024 })
  } catch (err) {
    const ms = performance.now() - started
    return { outcome: 'no-answer', versions: [], latencyMs: ms, maxRequestMs: ms, error: errorText(err) }
  }
  let maxRequestMs = first.latencyMs
  const context = header(first, 'x-context')
  if (first.status === 200) {
    // The values are told apart by their SHA-256 (x-content-sha256; the ETag is the MD5).
    const versions = [{ versionId: header(first, 'x-version-id'), claimedEtag: header(first, HEADER_OBJECT_SHA256) ?? unquote(header(first, 'etag')), bodySha256: first.sha256 }]
    return { outcome: 'value', status: 200, context, versions, latencyMs: performance.now() - started, maxRequestMs }
  }
  if (first.status === 404) {
    return { outcome: 'not-found', status: 404, context, versions: [], latencyMs: performance.now() - started, maxRequestMs, error: first.body.toString('utf8').slice(0, 300) }
  }
  if (first.status !== 300) {
    return { outcome: 'refused', status: first.status, context, versions: [], latencyMs: performance.now() - started, maxRequestMs, error: first.body.toString('utf8').slice(0, 300) }
  }
  const versions: ObservedVersion[] = []
  for (const s of siblingsOf(first)) {
    const v: ObservedVersion = { versionId: s.version, claimedEtag: s.etag }
    const q = new URLSearchParams(extra)
    q.set('version', s.version)
    try {
      const a = await send({ method: 'GET', url: fileUrl(base, bucket, key, `?${q}`), totalTimeoutMs: opts.timeouts.totalMs, idleTimeoutMs: opts.timeouts.idleMs, keepBytes: 64 * 1024 })
      maxRequestMs = Math.max(maxRequestMs, a.latencyMs)
      if (a.status === 200) v.bodySha256 = a.sha256
      else v.fetchStatus = a.status
    } catch (err) {
      v.fetchError = errorText(err)
    }
    versions.push(v)
  }
  return { outcome: 'siblings', status: 300, context, versions, latencyMs: performance.now() - started, maxRequestMs }
}

export interface WorkloadInit {
  base: string
  bucket: string
  keys: readonly string[]
  clients: number
  durationMs: number
  /** Bound on loop iterations per client (a read and, when it gave a context, a write). */
  maxOpsPerClient: number
  /** Large values: body sizes drawn from this range; absent: small values. */
  largeBytes?: { min: number; max: number } | undefined
  rng: () => number
}

export class Workload {
  readonly writes: WriteAttempt[] = []
  readonly reads: ReadRecord[] = []
  /** Writes sent and not yet answered, by key (nemeses aim at them). */
  readonly inFlight = new Map<string, number>()
  private readonly timeouts: Timeouts

  constructor(
    private readonly init: WorkloadInit,
    private readonly registry: ValueRegistry,
  ) {
    this.timeouts = init.largeBytes ? LARGE_TIMEOUTS : SMALL_TIMEOUTS
  }

  get inFlightPuts(): number {
    let n = 0
    for (const v of this.inFlight.values()) n += v
    return n
  }

  async run(): Promise<void> {
    const deadline = Date.now() + this.init.durationMs
    await Promise.all(Array.from({ length: this.init.clients }, (_, c) => this.client(c + 1, deadline)))
  }

  private async client(c: number, deadline: number): Promise<void> {
    const { base, bucket, keys, rng } = this.init
    for (let op = 0; op < this.init.maxOpsPerClient && Date.now() < deadline; op++) {
      const key = keys[Math.floor(rng() * keys.length)] as string
      const at = Date.now()
      const read = await readKey(base, bucket, key, { timeouts: this.timeouts })
      this.reads.push({ ...read, key, client: c, at })
      if (!read.context || (read.outcome !== 'value' && read.outcome !== 'siblings')) {
        await pause(50 + rng() * 150)
        continue
      }
      const write = await this.write(c, op, key, read)
      this.writes.push(write)
      if (write.outcome !== 'acknowledged') await pause(50 + rng() * 150)
    }
  }

  /**
   * A write without a context (the checker's self-test): by SPEC it supersedes whatever its
   * coordinator holds, values nobody read included, so the checker must report them lost.
   */
  async blindWrite(c: number, op: number, key: string): Promise<void> {
    this.writes.push(await this.write(c, op, key, { outcome: 'value', versions: [], latencyMs: 0, maxRequestMs: 0 }))
  }

  private async write(c: number, op: number, key: string, read: ReadResult): Promise<WriteAttempt> {
    const name = `client-${c}-op-${op}`
    const large = this.init.largeBytes
    const body = large ? this.registry.large(name, Math.floor(large.min + this.init.rng() * (large.max - large.min))).body : this.registry.small(name).body
    const readEtags = read.versions.flatMap((v) => (v.claimedEtag ? [v.claimedEtag] : v.bodySha256 ? [v.bodySha256] : []))
    const startedAt = Date.now()
    const started = performance.now()
    const base = { key, value: name, client: c, op, readEtags, startedAt }
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1)
    try {
      const a = await send({
        method: 'PUT',
        url: fileUrl(this.init.base, this.init.bucket, key),
        headers: read.context ? { 'x-context': read.context, 'content-type': 'application/octet-stream' } : { 'content-type': 'application/octet-stream' },
        body,
        totalTimeoutMs: this.timeouts.totalMs,
        idleTimeoutMs: this.timeouts.idleMs,
        keepBytes: 64 * 1024,
      })
      const ok = a.status >= 200 && a.status < 300
      return {
        ...base,
        endedAt: Date.now(),
        outcome: ok ? 'acknowledged' : 'refused',
        status: a.status,
        error: ok ? undefined : a.body.toString('utf8').slice(0, 300),
        latencyMs: a.latencyMs,
      }
    } catch (err) {
      return { ...base, endedAt: Date.now(), outcome: 'no-answer', error: errorText(err), latencyMs: performance.now() - started }
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1)
    }
  }
}

export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
