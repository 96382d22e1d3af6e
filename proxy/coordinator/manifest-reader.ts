/**
 * Reads a manifest version (shared/wire/manifest.ts): its stored bytes are the list of parts, and the
 * object's bytes are those parts' bytes in order. Each part is read at quorum when the stream reaches
 * it, so memory stays flat whatever the object's size; a Range opens only the parts it covers, from
 * the offset within the first. The first part is opened before the stream is handed back, so a part
 * that is gone answers an error, not a truncated body; a later part that fails ends the stream with
 * that error (the client sees the body cut short of its Content-Length).
 */
import { Readable } from 'node:stream'
import { NoSuchVersionError } from '../../shared/errors.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { ByteSpan, Version } from '../../shared/wire/internal-api.js'
import { type Manifest, ManifestSchema, type PartSpan, partSpans } from '../../shared/wire/manifest.js'
import { readWhole } from './body-streams.js'
import type { ReadOutcome } from './read-outcome.js'

/** A manifest lists at most 10,000 parts of ~100 bytes of JSON each. */
const MANIFEST_MAX_BYTES = 2 * 1024 * 1024

/** What the reader needs of the read coordinator: a quorum read, and one stored version's bytes. */
export interface StoredVersions {
  read(bucket: string, key: string, r: number, requestId?: string, withData?: boolean): Promise<ReadOutcome>
  openStored(bucket: string, key: string, outcome: ReadOutcome, id: string, requestId?: string, range?: ByteSpan): Promise<Readable | Buffer>
}

/** The parsed list of a manifest version, read from its stored bytes. */
export async function loadManifest(store: StoredVersions, bucket: string, key: string, outcome: ReadOutcome, v: Version, requestId?: string): Promise<Manifest> {
  if (v.size > MANIFEST_MAX_BYTES) throw new Error(`the manifest of ${bucket}/${key} is ${v.size} bytes, more than a manifest can be`)
  const stored = await store.openStored(bucket, key, outcome, versionId(v.dot), requestId)
  const bytes = Buffer.isBuffer(stored) ? stored : await readWhole(stored, v.size)
  const manifest = ManifestSchema.parse(JSON.parse(bytes.toString('utf8')))
  const total = manifest.parts.reduce((n, p) => n + p.size, 0)
  if (total !== v.meta?.manifest?.size) throw new Error(`the manifest of ${bucket}/${key} lists ${total} bytes, its version says ${v.meta?.manifest?.size}`)
  return manifest
}

/** The object's bytes (those of `range` only, when given): its parts streamed one after another. */
export async function openManifest(store: StoredVersions, r: number, manifest: Manifest, requestId?: string, range?: ByteSpan): Promise<Readable> {
  const spans = partSpans(manifest.parts, range)
  const open = (s: PartSpan) => openPart(store, r, manifest.namespace, s, requestId)
  const first = spans[0] ? await open(spans[0]) : undefined
  async function* bytes() {
    for (let i = 0; i < spans.length; i++) {
      const source = i === 0 ? (first as Readable | Buffer) : await open(spans[i] as PartSpan)
      if (Buffer.isBuffer(source)) yield source
      else yield* source as AsyncIterable<Buffer>
    }
  }
  return Readable.from(bytes(), { objectMode: false })
}

/** One part's bytes in `s`: the live version of its key with the size and MD5 the manifest pinned. */
async function openPart(store: StoredVersions, r: number, namespace: string, s: PartSpan, requestId?: string): Promise<Readable | Buffer> {
  const outcome = await store.read(namespace, s.part.key, r, requestId, true)
  const v = outcome.versions.find((x) => !x.tombstone && x.size === s.part.size && x.md5 === s.part.md5)
  if (!v || v.meta?.manifest) throw new NoSuchVersionError(`part ${s.index + 1} (${s.part.key}) of the object is no longer stored`)
  const whole = s.start === 0 && s.end === s.part.size - 1
  return store.openStored(namespace, s.part.key, outcome, versionId(v.dot), requestId, whole ? undefined : { start: s.start, end: s.end })
}
