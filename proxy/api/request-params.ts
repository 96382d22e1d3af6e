/** Parsing of the public API's common inputs: names, quorum knobs, contexts. Every defect is a 400. */
import type { Context } from 'koa'
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
  return decodeContext(token, cfg.secret)
}

export function headerContext(ctx: Context, cfg: ApiConfig): ReadContext | undefined {
  return contextFrom(ctx.get(HEADER_CONTEXT) || undefined, cfg)
}

export function requestId(ctx: Context): string {
  return String(ctx.state.requestId ?? '')
}
