/**
 * Multipart uploads, kept in the reserved `.s3-uploads` namespace under the store's usual quorums:
 * `u/BUCKET/UPLOAD_ID` the upload's record (JSON), `p/UPLOAD_ID/NNNNN` each part's bytes as they
 * arrive, `i/UPLOAD_ID/NNNNN` each part's facts once its bytes are stored (an empty body whose
 * content type carries the part's MD5 and size, so a listing alone answers ListParts and
 * Complete), and `m/UPLOAD_ID` once Complete begins: which object's manifest lists the parts
 * (the parts then belong to that manifest and stay until the collector finds it gone). Nothing
 * here is ever held whole in memory but the small records.
 */
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { S3_UPLOADS_NAMESPACE } from '../../../shared/constants.js'
import { NoSuchKeyError } from '../../../shared/errors.js'
import { readContextOf, versionId } from '../../../shared/vclock/versions.js'
import type { Version } from '../../../shared/wire/internal-api.js'
import type { ObjectMetadata } from '../../../shared/wire/object-metadata.js'
import { readWhole } from '../../coordinator/body-streams.js'
import type { Lister } from '../../coordinator/lister.js'
import type { ReadCoordinator } from '../../coordinator/read-coordinator.js'
import type { WriteCoordinator } from '../../coordinator/write-coordinator.js'
import type { AccessCatalog } from '../../access/catalog.js'
import { newestOf, winnerOf } from '../winner.js'

export interface UploadRecord {
  bucket: string
  key: string
  /** ms since the epoch */
  initiated: number
  contentType: string
  /** the key id that started it */
  initiator: string | undefined
  /** the metadata CreateMultipartUpload sent, kept by the completed object */
  meta?: ObjectMetadata | undefined
  /** the bucket's incarnation (its record's version id) when the upload began: a bucket deleted and made again has none of the old uploads */
  incarnation?: string | undefined
}

/** `m/UPLOAD_ID`: the object whose manifest lists the upload's parts, and since when the collector has found no live manifest of it. */
export interface ManifestRef {
  bucket: string
  key: string
  /** ms since the epoch: when Complete began */
  completed: number
  /** ms since the epoch: the first sweep that found no live version of the key listing these parts (cleared when one is found again) */
  deadSince?: number | undefined
}

export interface PartInfo {
  partNumber: number
  size: number
  md5: string
  lastModified: number
}

export interface UploadStoreComponents {
  reader: ReadCoordinator
  writer: WriteCoordinator
  lister: Lister
  /** Which incarnation of a bucket exists now (an upload of an earlier one is gone). */
  catalog?: AccessCatalog
}

const NS = S3_UPLOADS_NAMESPACE
const PART_TYPE = 'application/x-dynamo-s3-part'
const pad = (n: number) => String(n).padStart(5, '0')

export const recordKey = (bucket: string, id: string) => `u/${bucket}/${id}`
export const partKey = (id: string, n: number) => `p/${id}/${pad(n)}`
export const infoKey = (id: string, n: number) => `i/${id}/${pad(n)}`
export const manifestRefKey = (id: string) => `m/${id}`

/** An upload id: 144 random bits, URL-safe. */
export function newUploadId(): string {
  return randomBytes(18).toString('base64url')
}

export function isUploadId(id: string): boolean {
  return /^[A-Za-z0-9_-]{24}$/.test(id)
}

/** The facts an info record's content type carries. */
function parsePartType(v: Version, partNumber: number): PartInfo | undefined {
  const m = /^application\/x-dynamo-s3-part; md5=([0-9a-f]{32}); size=(\d+)$/.exec(v.contentType)
  return m ? { partNumber, md5: m[1] as string, size: Number(m[2]), lastModified: v.lastModified } : undefined
}

export class UploadStore {
  constructor(
    private readonly c: UploadStoreComponents,
    private readonly q: { r: number; w: number },
  ) {}

  async putRecord(id: string, record: UploadRecord, requestId?: string): Promise<void> {
    await this.c.writer.write({ bucket: NS, key: recordKey(record.bucket, id), body: Buffer.from(JSON.stringify(record)), contentType: 'application/json', w: this.q.w, requestId })
  }

  /** The upload's record, or undefined when there is none (never made, completed, aborted or collected). */
  async record(bucket: string, id: string, requestId?: string): Promise<UploadRecord | undefined> {
    if (!isUploadId(id)) return undefined
    try {
      const outcome = await this.c.reader.read(NS, recordKey(bucket, id), this.q.r, requestId, true)
      const { winner } = winnerOf(outcome, NS, recordKey(bucket, id))
      const bytes = await this.c.reader.openVersion(NS, recordKey(bucket, id), outcome, versionId(winner.dot), requestId)
      const record = JSON.parse((Buffer.isBuffer(bytes) ? bytes : await readWhole(bytes, winner.size)).toString('utf8')) as UploadRecord
      // Begun on a bucket since deleted (and perhaps made again by another key): not this bucket's upload.
      if (record.incarnation !== undefined && this.c.catalog && record.incarnation !== this.c.catalog.policy().bucket(bucket)?.incarnation) return undefined
      return record
    } catch (err) {
      if (err instanceof NoSuchKeyError) return undefined
      throw err
    }
  }

  /** Stores a part's bytes, then its facts: a part is listed only once its bytes are all stored. */
  async putPart(id: string, n: number, body: Readable | Buffer, size: number | undefined, md5: () => string | undefined, requestId?: string): Promise<void> {
    await this.c.writer.write({ bucket: NS, key: partKey(id, n), body, size, contentType: 'application/octet-stream', md5, w: this.q.w, requestId })
    const digest = md5()
    if (digest === undefined) throw new Error('the part ended without its MD5')
    const stored = Buffer.isBuffer(body) ? body.length : size
    const actual = stored ?? (await this.partVersion(id, n, requestId)).size
    await this.c.writer.write({ bucket: NS, key: infoKey(id, n), body: Buffer.alloc(0), contentType: `${PART_TYPE}; md5=${digest}; size=${actual}`, w: this.q.w, requestId })
  }

  /** The stored parts' facts, in part-number order, after `afterPart`. */
  async parts(id: string, afterPart = 0, limit = 10_000): Promise<{ parts: PartInfo[]; truncated: boolean }> {
    const parts: PartInfo[] = []
    let after = afterPart > 0 ? infoKey(id, afterPart) : undefined
    for (;;) {
      const page = await this.c.lister.page(NS, { prefix: `i/${id}/`, after, limit: Math.min(1000, limit + 1) })
      for (const { key, live } of page.keys) {
        const info = parsePartType(newestOf(live), Number(key.slice(key.lastIndexOf('/') + 1)))
        if (!info) continue
        if (parts.length === limit) return { parts, truncated: true }
        parts.push(info)
      }
      if (page.next === undefined) return { parts, truncated: false }
      after = page.next
    }
  }

  /** The newest stored version of a part's bytes. */
  async partVersion(id: string, n: number, requestId?: string): Promise<Version> {
    const outcome = await this.c.reader.read(NS, partKey(id, n), this.q.r, requestId, false)
    return winnerOf(outcome, NS, partKey(id, n)).winner
  }

  /** A part's bytes, streamed; `size` must be what its facts say (a part re-uploaded meanwhile fails the read). */
  async openPart(id: string, n: number, size: number, requestId?: string): Promise<Readable | Buffer> {
    const outcome = await this.c.reader.read(NS, partKey(id, n), this.q.r, requestId, true)
    const { winner } = winnerOf(outcome, NS, partKey(id, n))
    if (winner.size !== size) throw new Error(`part ${n} changed while it was read`)
    return this.c.reader.openVersion(NS, partKey(id, n), outcome, versionId(winner.dot), requestId)
  }

  /** The records of `bucket`'s uploads (read whole: they are small), in storage-key order. */
  async *records(bucket?: string): AsyncGenerator<{ id: string; record: UploadRecord | undefined; lastModified: number }> {
    for await (const { key, live } of this.c.lister.all(NS, bucket === undefined ? 'u/' : `u/${bucket}/`, 500)) {
      const id = key.slice(key.lastIndexOf('/') + 1)
      const b = key.slice(2, key.lastIndexOf('/'))
      yield { id, record: await this.record(b, id), lastModified: newestOf(live).lastModified }
    }
  }

  /** Every stored part key (bytes and facts) of every upload, with when it was written. */
  async *partKeys(): AsyncGenerator<{ key: string; id: string; lastModified: number }> {
    for (const prefix of ['i/', 'p/']) {
      for await (const { key, live } of this.c.lister.all(NS, prefix, 1000)) yield { key, id: key.split('/')[1] as string, lastModified: newestOf(live).lastModified }
    }
  }

  /**
   * Deletes the upload's record first (so it is gone for clients), then its parts' facts, then its
   * parts' bytes unless a Complete has begun (`m/UPLOAD_ID`): those belong to the manifest then, and
   * only the collector frees them, once no live version lists them.
   */
  async remove(bucket: string, id: string, requestId?: string): Promise<void> {
    await this.removeKey(recordKey(bucket, id), requestId)
    for await (const { key } of this.c.lister.all(NS, `i/${id}/`, 1000)) await this.removeKey(key, requestId)
    if ((await this.manifestRef(id, requestId)) === undefined) await this.removeParts(id, requestId)
  }

  /** Deletes the parts' bytes. */
  async removeParts(id: string, requestId?: string): Promise<void> {
    for await (const { key } of this.c.lister.all(NS, `p/${id}/`, 1000)) await this.removeKey(key, requestId)
  }

  async putManifestRef(id: string, ref: ManifestRef, requestId?: string): Promise<void> {
    await this.c.writer.write({ bucket: NS, key: manifestRefKey(id), body: Buffer.from(JSON.stringify(ref)), contentType: 'application/json', w: this.q.w, requestId })
  }

  /** The upload's manifest reference, or undefined when no Complete began (or its parts were freed). */
  async manifestRef(id: string, requestId?: string): Promise<ManifestRef | undefined> {
    try {
      const outcome = await this.c.reader.read(NS, manifestRefKey(id), this.q.r, requestId, true)
      const { winner } = winnerOf(outcome, NS, manifestRefKey(id))
      const bytes = await this.c.reader.openVersion(NS, manifestRefKey(id), outcome, versionId(winner.dot), requestId)
      return JSON.parse((Buffer.isBuffer(bytes) ? bytes : await readWhole(bytes, winner.size)).toString('utf8')) as ManifestRef
    } catch (err) {
      if (err instanceof NoSuchKeyError) return undefined
      throw err
    }
  }

  /** Every upload id with a manifest reference. */
  async *manifestRefIds(): AsyncGenerator<string> {
    for await (const { key } of this.c.lister.all(NS, 'm/', 1000)) yield key.slice(2)
  }

  /** The live version of `ref`'s key whose manifest lists upload `id`'s parts, if one is read now. */
  async liveManifest(ref: Pick<ManifestRef, 'bucket' | 'key'>, id: string, requestId?: string): Promise<Version | undefined> {
    try {
      const outcome = await this.c.reader.read(ref.bucket, ref.key, this.q.r, requestId, false)
      return outcome.versions.find((v) => !v.tombstone && v.meta?.manifest?.upload === id)
    } catch (err) {
      if (err instanceof NoSuchKeyError) return undefined
      throw err
    }
  }

  /** A tombstone over what the key holds now. */
  async removeKey(key: string, requestId?: string): Promise<void> {
    const outcome = await this.c.reader.read(NS, key, this.q.r, requestId, false)
    if (!outcome.versions.some((v) => !v.tombstone)) return
    await this.c.writer.write({ bucket: NS, key, body: null, context: readContextOf(outcome.versions), w: this.q.w, requestId })
  }
}
