/**
 * The `Range` header of a GET or HEAD (RFC 9110 14.2), against an object's size: one byte range,
 * none, or a range no byte of the object satisfies. Pure; the native API and the S3 endpoint share it.
 */

import type { ByteSpan } from '../../shared/wire/internal-api.js'

export type { ByteSpan }

/**
 * - `none`: serve the whole object (no header, another unit than bytes, a malformed header, or
 *   several ranges: RFC 9110 lets a server ignore Range, and one 200 beats a multipart answer).
 * - `range`: serve `start..end` with 206 and `Content-Range: bytes start-end/size`.
 * - `unsatisfiable`: 416, with the Content-Range of unsatisfiedRange (no range, the size).
 */
export type RangeRequest = { kind: 'none' } | ({ kind: 'range' } & ByteSpan) | { kind: 'unsatisfiable' }

const SPEC = /^(\d*)-(\d*)$/

/** The range `header` asks of an object of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(.*?)\s*$/i.exec(header)
  if (!m) return { kind: 'none' }
  const set = m[1] as string
  if (set.includes(',')) return { kind: 'none' }
  const spec = SPEC.exec(set)
  if (!spec) return { kind: 'none' }
  const [, first, last] = spec as unknown as [string, string, string]
  if (first === '' && last === '') return { kind: 'none' }
  if (first === '') {
    // A suffix: the last n bytes (all of them when n is larger than the object).
    const n = Number(last)
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? Number.POSITIVE_INFINITY : Number(last)
  // last < first is not a valid range-spec: the header is ignored, not refused.
  if (end < start) return { kind: 'none' }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'range', start, end: Math.min(end, size - 1) }
}

/** `Content-Range` of a 206 answer. */
export function contentRange(span: ByteSpan, size: number): string {
  return `bytes ${span.start}-${span.end}/${size}`
}

/** `Content-Range` of a 416 answer. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`
}

/** Number of bytes in a span. */
export function spanLength(span: ByteSpan): number {
  return span.end - span.start + 1
}
