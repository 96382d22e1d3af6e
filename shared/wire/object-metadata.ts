/**
 * What an object keeps beside its bytes for HTTP and S3 clients (issue 28): user metadata
 * (`x-amz-meta-*`), the representation headers S3 returns as they were sent, and the flexible
 * checksum an upload was verified against. One optional field (`meta`) of the Version and of the
 * coordinate request, passed through the write path beside `contentType`.
 */
import { z } from 'zod'
import { ManifestInfoSchema } from './manifest.js'

/** S3's limit on user metadata: names and values of every x-amz-meta-* header, 2 KiB together. */
export const MAX_USER_METADATA_BYTES = 2048

export const ObjectMetadataSchema = z.object({
  /** x-amz-meta-NAME: VALUE, NAME lower-cased without the prefix. */
  user: z.record(z.string().max(MAX_USER_METADATA_BYTES), z.string().max(MAX_USER_METADATA_BYTES)).optional(),
  contentEncoding: z.string().max(256).optional(),
  contentDisposition: z.string().max(1024).optional(),
  contentLanguage: z.string().max(256).optional(),
  cacheControl: z.string().max(1024).optional(),
  expires: z.string().max(256).optional(),
  /** A flexible checksum the upload was verified against: `x-amz-checksum-<algorithm>` and its base64 value. */
  checksum: z.object({ algorithm: z.enum(['crc32', 'crc32c', 'sha1', 'sha256']), value: z.string().max(64) }).optional(),
  /** Set by the proxy alone (never from a client's headers): the version's bytes are a manifest of parts (shared/wire/manifest.ts). */
  manifest: ManifestInfoSchema.optional(),
  /** Set by the proxy alone: the incarnation of the bucket (its record's version id) the version was written into (proxy/buckets/incarnation.ts). */
  incarnation: z.string().max(64).optional(),
})
export type ObjectMetadata = z.infer<typeof ObjectMetadataSchema>

/** The object's size as clients see it: a manifest's is the sum of its parts, not the list's own bytes. */
export function objectSize(v: { size: number; meta?: ObjectMetadata | undefined }): number {
  return v.meta?.manifest?.size ?? v.size
}

/** The metadata a copy of the object's bytes keeps: all but the manifest mark (a copy is written whole) and the incarnation (the copy's is its own bucket's). */
export function copiedMetadata(meta: ObjectMetadata | undefined): ObjectMetadata | undefined {
  if (!meta?.manifest && !meta?.incarnation) return meta
  const { manifest: _, incarnation: __, ...rest } = meta
  return Object.keys(rest).length > 0 ? rest : undefined
}

/** The user metadata's size as S3 counts it: the bytes of every name and value. */
export function userMetadataBytes(user: Readonly<Record<string, string>>): number {
  let n = 0
  for (const [k, v] of Object.entries(user)) n += Buffer.byteLength(k) + Buffer.byteLength(v)
  return n
}
