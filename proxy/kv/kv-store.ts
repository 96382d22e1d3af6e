/**
 * The key-value API on the replicated store: each KV pair is an object in the reserved KV
 * namespace, so replication, quorums, siblings, hinted handoff and gossip apply unchanged.
 * Batches are fanned out with bounded concurrency.
 */
import { KV_NAMESPACE } from '../../shared/constants.js'
import { StoreError } from '../../shared/errors.js'
import { encodeContext } from '../../shared/vclock/context-token.js'
import { clockOf, distinctWrites, type ReadContext, readContextOf, versionId } from '../../shared/vclock/versions.js'
import type { VectorClock } from '../../shared/vclock/vector-clock.js'
import type { Version } from '../../shared/wire/internal-api.js'
import type { Lister } from '../coordinator/lister.js'
import type { ReadCoordinator } from '../coordinator/read-coordinator.js'
import type { ReadOutcome } from '../coordinator/read-outcome.js'
import type { WriteCoordinator } from '../coordinator/write-coordinator.js'
import { type Encoded, type Encoding, contentTypeFor, encodeDatum, kvKeyOf, valueEncodingOf } from './kv-codec.js'

export interface KvStoreComponents {
  reader: ReadCoordinator
  writer: WriteCoordinator
  lister: Lister
}

export interface KvStoreConfig {
  r: number
  w: number
  secret: string
  /** Requests of one batch in flight at once. */
  concurrency: number
}

/** One fetched pair: a single value, or siblings (with the context that resolves them). */
export interface FetchedPair {
  key: Encoded
  value?: Encoded | null
  vector_clock?: VectorClock
  siblings?: { version: string; value: Encoded; vector_clock: VectorClock }[]
  context?: string
}

export class KvStore {
  constructor(
    private readonly c: KvStoreComponents,
    private readonly cfg: KvStoreConfig,
  ) {}

  async set(storageKey: string, value: { encoding: Encoding; bytes: Buffer }, context?: ReadContext): Promise<void> {
    await this.c.writer.write({ bucket: KV_NAMESPACE, key: storageKey, body: value.bytes, context, contentType: contentTypeFor(value.encoding), w: this.cfg.w })
  }

  async exists(storageKey: string): Promise<boolean> {
    const outcome = await this.c.reader.read(KV_NAMESPACE, storageKey, this.cfg.r, undefined, false)
    return outcome.versions.some((v) => !v.tombstone)
  }

  async fetch(key: Encoded, storageKey: string): Promise<FetchedPair> {
    const outcome = await this.c.reader.read(KV_NAMESPACE, storageKey, this.cfg.r)
    return this.pairOf(key, storageKey, outcome)
  }

  private async pairOf(key: Encoded, storageKey: string, outcome: ReadOutcome): Promise<FetchedPair> {
    const live = distinctWrites(outcome.versions.filter((v) => !v.tombstone))
    if (live.length === 0) return { key, value: null }
    const context = encodeContext(readContextOf(outcome.versions), this.cfg.secret)
    const values = await Promise.all(live.map((v) => this.valueOf(storageKey, outcome, v)))
    if (live.length === 1) return { key, value: values[0] as Encoded, vector_clock: clockOf(live[0] as Version), context }
    return {
      key,
      siblings: live.map((v, i) => ({ version: versionId(v.dot), value: values[i] as Encoded, vector_clock: clockOf(v) })),
      context,
    }
  }

  private async valueOf(storageKey: string, outcome: ReadOutcome, v: Version): Promise<Encoded> {
    const data = await this.c.reader.openVersion(KV_NAMESPACE, storageKey, outcome, versionId(v.dot))
    if (Buffer.isBuffer(data)) return encodeDatum(valueEncodingOf(v.contentType), data)
    const chunks: Buffer[] = []
    for await (const c of data as AsyncIterable<Buffer>) chunks.push(c)
    return encodeDatum(valueEncodingOf(v.contentType), Buffer.concat(chunks))
  }

  /** One page of every pair, in key order. */
  async page(after: string | undefined, limit: number): Promise<{ pairs: FetchedPair[]; next: string | undefined }> {
    const page = await this.c.lister.page(KV_NAMESPACE, { prefix: '', after, limit })
    const pairs = await mapBounded(page.keys, this.cfg.concurrency, (k) => this.fetch(kvKeyOf(k.key), k.key))
    return { pairs: pairs.filter((p) => p.value !== null), next: page.next }
  }
}

/** Map with at most `limit` calls in flight, keeping order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** A per-key failure reason for a batch answer. */
export function reasonOf(err: unknown): string {
  return err instanceof StoreError ? `${err.code}: ${err.message}` : 'InternalError'
}
