/** S3 GetObject and HeadObject: the winner of the key's versions (winner.ts), with Range or partNumber, conditional headers and response-content-* overrides. */
import type { Context } from 'koa'
import { InvalidRangeError, NoSuchVersionError, NotModifiedError, PreconditionFailedError } from '../../shared/errors.js'
import { versionId } from '../../shared/vclock/versions.js'
import type { Version } from '../../shared/wire/internal-api.js'
import { loadManifest } from '../coordinator/manifest-reader.js'
import type { ReadOutcome } from '../coordinator/read-outcome.js'
import { objectSize } from '../../shared/wire/object-metadata.js'
import { principalOf } from '../access/principal.js'
import { metadataHeaders } from '../objects/metadata-headers.js'
import { contentRange, parseRange, spanLength, unsatisfiedRange } from '../objects/byte-range.js'
import { evaluatePreconditions, preconditionsOf } from '../objects/preconditions.js'
import type { S3Handler } from './context.js'
import { notImplemented, S3Error } from './errors.js'
import { etagOf, HEADER_S3_SIBLINGS, winnerOf } from './winner.js'

/** `response-content-*` (and response-expires) query parameters override these answer headers of a GET. */
const OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
}

/** Reads the key's versions and picks the winner; retried when the winner's bytes vanished (superseded) between the read and the fetch. */
export async function readObject(h: S3Handler, ctx: Context, bucket: string, key: string, withBody: boolean): Promise<void> {
  if (ctx.query.versionId !== undefined && ctx.query.versionId !== 'null') throw notImplemented('reading an S3 version by versionId (the native API reads siblings with ?version=)')
  await h.allow(ctx, { bucket: 'read', publicRead: true }, bucket)
  await h.c.buckets.assertExists(bucket)
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(h, ctx, bucket, key, withBody)
    } catch (err) {
      if (!(err instanceof NoSuchVersionError) || attempt >= 3) throw err
    }
  }
}

async function readOnce(h: S3Handler, ctx: Context, bucket: string, key: string, withBody: boolean): Promise<void> {
  const requestId = String(ctx.state.requestId ?? '')
  const outcome = await h.c.reader.read(bucket, key, h.cfg.r, requestId, withBody)
  const { winner, siblings } = winnerOf(outcome, bucket, key)
  setObjectHeaders(ctx, winner, siblings)
  const verdict = evaluatePreconditions(
    preconditionsOf((n) => ctx.get(n)),
    { etags: [etagOf(winner)], lastModified: winner.lastModified },
    'read',
  )
  if (verdict === 'failed') throw new PreconditionFailedError('at least one of the preconditions you specified did not hold')
  if (verdict === 'not-modified') throw new NotModifiedError('not modified')
  applyOverrides(ctx)
  const size = objectSize(winner)
  const part = ctx.query.partNumber === undefined ? undefined : await partOf(h, ctx, bucket, key, outcome, winner)
  if (part === 'empty') {
    // An empty last part of a multipart object: S3 answers it as an empty body.
    ctx.status = 206
    ctx.body = ''
    return
  }
  const range = part ? { kind: 'none' as const } : parseRange(ctx.get('range') || undefined, size)
  if (range.kind === 'unsatisfiable') {
    ctx.set('Content-Range', unsatisfiedRange(size))
    throw new InvalidRangeError(`the requested range is not satisfiable: the object is ${size} bytes`)
  }
  const span = part && part !== 'whole' ? part : range.kind === 'range' ? range : undefined
  // S3 answers the stored checksum only when asked (x-amz-checksum-mode: ENABLED), and never for a range: it is the whole object's.
  if (!span && winner.meta?.checksum && ctx.get('x-amz-checksum-mode').toUpperCase() === 'ENABLED') ctx.set(`x-amz-checksum-${winner.meta.checksum.algorithm}`, winner.meta.checksum.value)
  ctx.status = span ? 206 : 200
  if (span) ctx.set('Content-Range', contentRange(span, size))
  // A range is read from the node as a range: only those bytes travel.
  if (withBody) ctx.body = await h.c.reader.openVersion(bucket, key, outcome, versionId(winner.dot), requestId, span ? { start: span.start, end: span.end } : undefined)
  ctx.length = span ? spanLength(span) : size
}

/**
 * `?partNumber=N`: the span of part N of a multipart object, as S3 answers it (206, with
 * `x-amz-mp-parts-count`); part 1 of any other object is all of it. Not with a Range.
 */
async function partOf(h: S3Handler, ctx: Context, bucket: string, key: string, outcome: ReadOutcome, winner: Version): Promise<{ start: number; end: number } | 'whole' | 'empty'> {
  const raw = ctx.query.partNumber
  const n = typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : 0
  if (n < 1 || n > 10_000) throw new S3Error('InvalidArgument', 400, 'Part number must be an integer between 1 and 10000, inclusive')
  if (ctx.get('range')) throw new S3Error('InvalidRequest', 400, 'Cannot specify both Range header and partNumber query parameter')
  if (!winner.meta?.manifest) {
    if (n !== 1) throw new S3Error('InvalidPartNumber', 416, `the object has one part, not ${n}`)
    return 'whole'
  }
  const manifest = await loadManifest(h.c.reader, bucket, key, outcome, winner, String(ctx.state.requestId ?? ''))
  ctx.set('x-amz-mp-parts-count', String(manifest.parts.length))
  if (n > manifest.parts.length) throw new S3Error('InvalidPartNumber', 416, `the object has ${manifest.parts.length} parts, not ${n}`)
  let start = 0
  for (const p of manifest.parts.slice(0, n - 1)) start += p.size
  const size = (manifest.parts[n - 1] as { size: number }).size
  return size === 0 ? 'empty' : { start, end: start + size - 1 }
}

/** The headers every object answer carries (GET, HEAD, and the 304 and 412 answers). */
export function setObjectHeaders(ctx: Context, v: Version, siblings: number): void {
  ctx.set('ETag', `"${etagOf(v)}"`)
  ctx.set('Last-Modified', new Date(v.lastModified).toUTCString())
  ctx.set('Accept-Ranges', 'bytes')
  ctx.set('x-amz-version-id', 'null')
  // As stored: Koa's ctx.type would add a charset the writer never sent.
  ctx.set('Content-Type', v.contentType)
  ctx.set(metadataHeaders(v.meta))
  if (siblings > 1) ctx.set(HEADER_S3_SIBLINGS, String(siblings))
  // A browser must not run what a bucket holds as this endpoint's page (the native API's rule).
  ctx.set('X-Content-Type-Options', 'nosniff')
}

function applyOverrides(ctx: Context): void {
  const names = Object.keys(OVERRIDES).filter((q) => ctx.query[q] !== undefined)
  if (names.length === 0) return
  if (principalOf(ctx).kind !== 'key') throw new S3Error('InvalidRequest', 400, 'response-* overrides need a signed request')
  for (const q of names) {
    const v = ctx.query[q]
    // Only what a header may carry: a control character would make node refuse the header (a 500).
    if (typeof v !== 'string' || /[^\t\x20-\x7e\x80-\xff]/.test(v)) throw new S3Error('InvalidArgument', 400, `${q} must be given once, as header-safe text`)
    ctx.set(OVERRIDES[q] as string, v)
  }
}
