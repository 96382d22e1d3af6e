/**
 * A manifest: a version whose bytes are the concatenation of other stored versions (an S3 multipart
 * object: its parts stay where UploadPart stored them, and CompleteMultipartUpload writes only this
 * list). The version's `meta.manifest` marks it and carries the object's size; its stored bytes are
 * the JSON of `ManifestSchema`. Only the proxy writes one (no client header or API can set
 * `meta.manifest`), and reads follow it (proxy/coordinator/manifest-reader.ts).
 */
import { z } from 'zod'

/** The most parts an object can have (S3's limit). */
export const MANIFEST_MAX_PARTS = 10_000

/** What the version's `meta.manifest` says: the upload whose parts it lists, the object's size and how many parts. */
export const ManifestInfoSchema = z.object({
  upload: z.string().regex(/^[A-Za-z0-9_-]{24}$/),
  size: z.number().int().nonnegative(),
  parts: z.number().int().min(1).max(MANIFEST_MAX_PARTS),
})
export type ManifestInfo = z.infer<typeof ManifestInfoSchema>

/** One part: where its bytes are stored, and the size and MD5 that pin which version of that key it is. */
export const ManifestPartSchema = z.object({
  key: z.string().min(1).max(1024),
  size: z.number().int().nonnegative(),
  md5: z.string().regex(/^[0-9a-f]{32}$/),
})
export type ManifestPart = z.infer<typeof ManifestPartSchema>

/** The stored bytes of a manifest version. */
export const ManifestSchema = z.object({
  /** The reserved namespace the parts are stored in. */
  namespace: z.string().min(1).max(64),
  parts: z.array(ManifestPartSchema).min(1).max(MANIFEST_MAX_PARTS),
})
export type Manifest = z.infer<typeof ManifestSchema>

/** A byte span of one part, within that part. */
export interface PartSpan {
  part: ManifestPart
  /** Index in the manifest's parts. */
  index: number
  start: number
  /** Inclusive, as HTTP ranges are. */
  end: number
}

/**
 * The parts a read of `span` (inclusive, of the whole object; all of it when absent) touches, each
 * with the span within it: a Range read opens only the parts it covers, from the offset within the
 * first. Empty parts are skipped.
 */
export function partSpans(parts: readonly ManifestPart[], span?: { start: number; end: number }): PartSpan[] {
  const out: PartSpan[] = []
  let offset = 0
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index] as ManifestPart
    const first = offset
    const last = offset + part.size - 1
    offset += part.size
    if (part.size === 0) continue
    if (span && (last < span.start || first > span.end)) continue
    const start = span ? Math.max(span.start, first) - first : 0
    const end = span ? Math.min(span.end, last) - first : part.size - 1
    out.push({ part, index, start, end })
  }
  return out
}
