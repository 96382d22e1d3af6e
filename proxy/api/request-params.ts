/** Parsing of the public API's common inputs: names, quorum knobs, contexts, listing pages. Every defect is a 400. */
import type { Context } from 'koa'
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from '../../shared/constants.js'
import { InvalidArgumentError } from '../../shared/errors.js'
import { assertBucketName, assertKey } from '../../shared/names.js'
import { decodeContext } from '../../shared/vclock/context-token.js'
import type { ReadContext } from '../../shared/vclock/versions.js'
import { HEADER_CONTEXT } from '../../shared/wire/headers.js'

export interface ApiConfig {
  n: number
  r: number
  w: number
  secret: string
  /** A cluster secret being rotated out (--previous-secret-file): contexts it signed are still accepted. */
  previousSecret?: string | undefined
  maxObjectBytes: number
}

export function bucketParam(ctx: Context): string {
  const bucket = String(ctx.params.bucket)
  assertBucketName(bucket)
  return bucket
}

export function keyParam(ctx: Context): string {
  const key = String(ctx.params.key)
  assertKey(key)
  return key
}

function quorumParam(ctx: Context, name: 'r' | 'w', fallback: number, n: number): number {
  const raw = ctx.query[name]
  if (raw === undefined) return fallback
  const v = Number(raw)
  if (typeof raw !== 'string' || !Number.isInteger(v) || v < 1 || v > n) throw new InvalidArgumentError(`?${name}= must be an integer from 1 to N=${n}`)
  return v
}

export const readQuorum = (ctx: Context, cfg: ApiConfig) => quorumParam(ctx, 'r', cfg.r, cfg.n)
export const writeQuorum = (ctx: Context, cfg: ApiConfig) => quorumParam(ctx, 'w', cfg.w, cfg.n)

/** The client's context from X-Context (or a multipart field), verified; undefined when absent. */
export function contextFrom(token: string | undefined, cfg: ApiConfig): ReadContext | undefined {
  if (token === undefined || token === '') return undefined
  return decodeContext(token, cfg.secret, cfg.previousSecret)
}

export function headerContext(ctx: Context, cfg: ApiConfig): ReadContext | undefined {
  return contextFrom(ctx.get(HEADER_CONTEXT) || undefined, cfg)
}

export function requestId(ctx: Context): string {
  return String(ctx.state.requestId ?? '')
}

/** One page of a listing, as both listings (files and buckets) take it: `?prefix=&limit=&cursor=`. */
export interface ListParams {
  prefix: string
  /** The page starts after this key (decoded from the cursor). */
  after: string | undefined
  limit: number
}

export function listParams(ctx: Context): ListParams {
  const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : ''
  const limit = ctx.query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(ctx.query.limit)
  if (typeof ctx.query.limit === 'object' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw new InvalidArgumentError(`?limit= must be an integer from 1 to ${MAX_LIST_LIMIT}`)
  const after = typeof ctx.query.cursor === 'string' && ctx.query.cursor !== '' ? decodeCursor(ctx.query.cursor) : undefined
  return { prefix, after, limit }
}

/** The answer's paging fields: where the next page starts (null on the last page). */
export function pageAnswer(next: string | undefined): { next_cursor: string | null; truncated: boolean } {
  return { next_cursor: next === undefined ? null : Buffer.from(next).toString('base64url'), truncated: next !== undefined }
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || Buffer.from(text).toString('base64url') !== cursor) throw new InvalidArgumentError('malformed ?cursor=')
  return text
}
